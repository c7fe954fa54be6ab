"""tap-acumatica with 1 and with 4 concurrent requests at a real instance's latency.

Starts the Acumatica emulator in its own process with N Bills (3 lines each) and a latency of
300 ms per request (applied while the request holds a license slot), then runs tap-acumatica's
bills stream twice over the same data, with max_concurrent_requests 1 and 4. Prints for each
run the time reading the stream (the SDK's sync_duration metric), the process's wall time
(interpreter start-up included), the requests the emulator served and the most it served at
once, then the ratio of the read times, 4 concurrent over 1 (the goal is at most 0.35).

    python bench/tap_acumatica_parallel.py [--records 6000] [--page-size 100] [--latency-ms 300]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import tap_throughput
from measure import BIN, print_report, records_counted, run_measured

from tests.support.taprun import SANDBOX


class Emulator(tap_throughput.Emulator):
    """The throughput benchmark's emulator, whose request counts can be reset between runs."""

    def reset_stats(self) -> None:
        requests.delete(f"{self.root}/_emulator/stats", timeout=10).raise_for_status()


def sync_seconds(log: str) -> float:
    """The bills stream's sync_duration metric, in seconds."""
    for line in log.splitlines():
        if '"metric":"sync_duration"' in line and '"stream":"bills"' in line:
            return float(json.loads(line.split("METRIC: ", 1)[1])["value"])
    raise SystemExit("tap-acumatica logged no sync_duration for bills")


def run(emu: Emulator, page_size: int, concurrent: int) -> dict:
    emu.reset_stats()
    config = {
        **SANDBOX,
        "base_url": emu.base_url,
        "page_size": page_size,
        "max_concurrent_requests": concurrent,
        "audit_columns": False,
    }
    catalog_args = [str(BIN / "tap-acumatica"), "--config"]
    with tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp, "config.json")
        config_path.write_text(json.dumps(config))
        catalog = json.loads(
            subprocess.run(
                [*catalog_args, str(config_path), "--discover"], capture_output=True, text=True, check=True
            ).stdout
        )
        for entry in catalog["streams"]:
            selected = entry["tap_stream_id"] == "bills"
            for metadata in entry["metadata"]:
                if not metadata["breadcrumb"]:
                    metadata["metadata"]["selected"] = selected
        catalog_path = Path(tmp, "catalog.json")
        catalog_path.write_text(json.dumps(catalog))
        emu.reset_stats()
        measured = run_measured(
            [*catalog_args, str(config_path), "--catalog", str(catalog_path)], Path(tmp, "tap.log")
        )
    stats = emu.stats()
    return {
        "records": records_counted(measured.log),
        "read_s": sync_seconds(measured.log),
        "wall_s": measured.seconds,
        "requests": sum(stats.get("requests", {}).values()),
        "peak": stats["peak_concurrent_requests"],
        "queued": stats["queued_requests"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=6000)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--latency-ms", type=int, default=300)
    args = parser.parse_args()

    with Emulator(args.records) as emu:
        emu.knobs(latency_ms=args.latency_ms)
        one = run(emu, args.page_size, 1)
        four = run(emu, args.page_size, 4)
    if one["records"] != args.records or four["records"] != args.records:
        raise SystemExit(f"expected {args.records} bills per run, got {one['records']} and {four['records']}")
    report = {"bills": args.records, "page_size": args.page_size, "latency_ms": args.latency_ms}
    for name, figures in (("1_concurrent", one), ("4_concurrent", four)):
        report[f"{name}_read_s"] = round(figures["read_s"], 2)
        report[f"{name}_wall_s"] = round(figures["wall_s"], 2)
        report[f"{name}_requests"] = figures["requests"]
        report[f"{name}_peak_in_flight"] = figures["peak"]
    report["read_time_ratio_4_vs_1"] = round(four["read_s"] / one["read_s"], 3)
    report["wall_time_ratio_4_vs_1"] = round(four["wall_s"] / one["wall_s"], 3)
    print_report(report)


if __name__ == "__main__":
    main()
