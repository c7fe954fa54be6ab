"""tap-sage-intacct: API transactions, records/s and peak memory reading GLDETAIL from the emulator.

Starts the Intacct emulator in its own process with N GLDETAIL rows, runs tap-sage-intacct on the
gl_details stream with its output to /dev/null, and prints transactions per 10,000 records of the
sync (from the emulator's own counter: Intacct bills per function executed, the session included),
the transactions of one discovery (its lookups), records/s and the tap's peak memory (VmHWM).
Run at 100k and 1M rows, memory should stay flat.

    python bench/tap_sage_intacct_throughput.py [--records 100000] [--million] [--page-size 2000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from intacct_emulator import SANDBOX
from measure import BIN, EmulatorProcess, print_report, sync_one_stream

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
            f"{label}_discovery_transactions": run["discovery_transactions"],
            f"{label}_records_per_s": round(run["records"] / run["seconds"]),
            f"{label}_peak_memory_mib": round(run["peak_kib"] / 1024, 1),
        }
        print_report(report)


class Emulator(EmulatorProcess):
    command = "intacct-emulator"

    def __init__(self, gldetail: int) -> None:
        super().__init__("--size", f"GLDETAIL={gldetail}", "--timezone", TIMEZONE)

    @property
    def endpoint_url(self) -> str:
        return f"{self.root}/ia/xml/xmlgw.phtml"

    def transactions(self) -> int:
        return int(self.stats().get("transactions", 0))


def run_tap(emu: Emulator, page_size: int) -> dict:
    config = {**SANDBOX, "endpoint_url": emu.endpoint_url, "page_size": page_size, "timezone": TIMEZONE}
    with tempfile.TemporaryDirectory() as tmp:
        # Discovery alone first: its lookups (one per object) are a fixed cost per discovery, not
        # per record, so they are reported apart from the sync's calls.
        config_path = Path(tmp) / "config.json"
        config_path.write_text(json.dumps(config))
        before = emu.transactions()
        subprocess.run(
            [str(BIN / "tap-sage-intacct"), "--config", str(config_path), "--discover"],
            capture_output=True,
            check=True,
        )
        discovery = emu.transactions() - before
        before = emu.transactions()
        run, records = sync_one_stream("tap-sage-intacct", config, "gl_details", Path(tmp))
    return {
        "records": records,
        "seconds": run.seconds,
        "transactions": emu.transactions() - before - discovery,
        "discovery_transactions": discovery,
        "peak_kib": run.peak_kib,
    }


if __name__ == "__main__":
    main()
