"""tap-looker: rows/s, HTTP requests, query tasks and peak memory running the overhead allocation query.

Starts the Looker emulator in this process with N overhead allocation rows, runs the ``tap-looker``
console script with the sandbox example query of meltano.yml's sandbox environment (stdout to /dev/null),
and prints rows/s (wall time of the tap process, start-up included), HTTP requests per 10,000 rows and
query tasks (from the emulator's own counters), and the tap's peak memory (VmHWM). Above 5,000 rows
the inline run reaches its limit and the tap runs the query again as a query task. Prints figures;
asserts nothing.

    python bench/tap_looker_throughput.py [--rows 10000 100000] [--million]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from looker_emulator import SANDBOX, EmulatorConfig, LookerEmulator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import BIN, print_report, ratio, records_counted, run_measured, sandbox_config


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--million", action="store_true", help="also 1,000,000 rows (several minutes)")
    args = parser.parse_args()
    queries = sandbox_config("tap-looker")["queries"]
    sizes = [*args.rows, *([1_000_000] if args.million else [])]
    peaks: dict[int, float] = {}
    for size in sizes:
        with LookerEmulator(EmulatorConfig(port=0, sizes={"overhead_allocation": size})) as emu:
            report = run_tap(emu, queries, f"allocation_{size // 1000}k")
        peaks[size] = report[f"allocation_{size // 1000}k_peak_memory_mib"]
        print_report(report)
    if len(peaks) > 1:  # flat memory: the largest answer's peak against the smallest's
        low, high = min(peaks), max(peaks)
        print_report({f"peak_memory_ratio_{high // 1000}k_to_{low // 1000}k": ratio(peaks[high], peaks[low])})


def run_tap(emu: LookerEmulator, queries: list[dict], label: str) -> dict:
    config = {
        **SANDBOX,
        "base_url": emu.base_url,
        "queries": queries,
        "poll_interval_seconds": 0.01,
        "max_backoff_seconds": 0.01,
    }
    with tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp, "config.json")
        config_path.write_text(json.dumps(config))
        emu.stats.reset()
        run = run_measured([str(BIN / "tap-looker"), "--config", str(config_path)], Path(tmp, "stderr.log"))
    rows = records_counted(run.log)
    requests = emu.stats.requests
    return {
        f"{label}_rows": rows,
        f"{label}_rows_per_s": round(rows / run.seconds),
        f"{label}_requests_per_10k_rows": round(sum(requests.values()) * 10_000 / rows, 2),
        f"{label}_requests": {f"{m} {op}": n for (m, op), n in sorted(requests.items())},
        f"{label}_query_tasks": emu.stats.query_tasks,
        f"{label}_rows_served": emu.stats.rows_served,
        f"{label}_peak_memory_mib": round(run.peak_kib / 1024, 1),
    }


if __name__ == "__main__":
    main()
