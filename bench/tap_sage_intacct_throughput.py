"""tap-sage-intacct: API transactions, records/s and peak memory reading GLDETAIL from the emulator.

Starts the Intacct emulator in its own process with N GLDETAIL rows, runs tap-sage-intacct on the
gl_details stream with its output to /dev/null, and prints transactions per 10,000 records (from
the emulator's own counter: Intacct bills per function executed, the session included), records/s
and the tap's peak memory (VmHWM). Run at 100k and 1M rows, memory should stay flat.

    python bench/tap_sage_intacct_throughput.py [--records 100000] [--million] [--page-size 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

BIN = Path(sys.executable).parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from intacct_emulator import SANDBOX  # noqa: E402
from tap_throughput import records_counted, vm_hwm  # noqa: E402

TIMEZONE = "America/Los_Angeles"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=2000)
    parser.add_argument("--million", action="store_true", help="also run over 1,000,000 GLDETAIL rows")
    args = parser.parse_args()
    sizes = [args.records] + ([1_000_000] if args.million else [])
    rows = []
    for size in sizes:
        with Emulator(size) as emu:
            rows.append((size, run_tap(emu, args.page_size)))
    for size, run in rows:
        label = f"gl_details_{size // 1000}k"
        report = {
            f"{label}_records": run["records"],
            f"{label}_transactions_per_10k_records": round(run["transactions"] * 10_000 / run["records"], 2),
            f"{label}_records_per_s": round(run["records"] / run["seconds"]),
            f"{label}_peak_memory_mib": round(run["peak_kib"] / 1024, 1),
        }
        width = max(map(len, report))
        for name, value in report.items():
            print(f"{name:<{width}}  {value}")


class Emulator:
    """The emulator CLI in its own process, so it does not share the benchmark's GIL."""

    def __init__(self, gldetail: int) -> None:
        self.gldetail = gldetail

    def __enter__(self) -> Emulator:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.proc = subprocess.Popen(
            [
                str(BIN / "intacct-emulator"),
                "--port",
                str(port),
                "--size",
                f"GLDETAIL={self.gldetail}",
                "--timezone",
                TIMEZONE,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()
        if "listening" not in line:
            raise SystemExit(f"emulator failed to start: {line!r}")
        self.root = f"http://127.0.0.1:{port}"
        self.endpoint_url = f"{self.root}/ia/xml/xmlgw.phtml"
        return self

    def transactions(self) -> int:
        stats = requests.get(f"{self.root}/_emulator/stats", timeout=10).json()
        return int(stats.get("transactions", 0))

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def run_tap(emu: Emulator, page_size: int) -> dict:
    config = {**SANDBOX, "endpoint_url": emu.endpoint_url, "page_size": page_size, "timezone": TIMEZONE}
    tap = str(BIN / "tap-sage-intacct")
    with tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp, "config.json")
        config_path.write_text(json.dumps(config))
        catalog = json.loads(
            subprocess.run(
                [tap, "--config", str(config_path), "--discover"], capture_output=True, text=True, check=True
            ).stdout
        )
        for entry in catalog["streams"]:
            for meta in entry["metadata"]:
                if not meta["breadcrumb"]:
                    meta["metadata"]["selected"] = entry["tap_stream_id"] == "gl_details"
        catalog_path = Path(tmp, "catalog.json")
        catalog_path.write_text(json.dumps(catalog))
        before = emu.transactions()
        start = time.perf_counter()
        with open(os.devnull, "wb") as sink, open(Path(tmp, "stderr.log"), "wb") as log:
            proc = subprocess.Popen(
                [tap, "--config", str(config_path), "--catalog", str(catalog_path)], stdout=sink, stderr=log
            )
            peak = 0
            while proc.poll() is None:
                peak = max(peak, vm_hwm(proc.pid))
                time.sleep(0.1)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(Path(tmp, "stderr.log").read_text()[-3000:])
        records = records_counted(Path(tmp, "stderr.log").read_text())
    return {
        "records": records,
        "seconds": seconds,
        "transactions": emu.transactions() - before,
        "peak_kib": peak,
    }


if __name__ == "__main__":
    main()
