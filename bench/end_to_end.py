"""End to end: ``meltano run tap-acumatica target-databricks`` against the tap alone, in one run.

Starts the Acumatica emulator with N Bills and the Databricks emulator (each in its own process), then,
through Meltano's sandbox environment with only the ``bills`` stream selected:
1. ``meltano invoke tap-acumatica`` with its output to /dev/null (the tap alone);
2. ``meltano run tap-acumatica target-databricks`` (the pipeline, into a fresh Delta table).
Prints the wall time of both, their ratio (the pipeline's cost over the tap's), and the peak memory
(VmHWM) of every plugin process. Meltano's own start-up is in both figures. Asserts nothing.

    python bench/end_to_end.py [--bills 100000] [--million]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import BIN, ROOT, EmulatorProcess, print_report, ratio, run_measured_tree
from tap_throughput import Emulator as AcumaticaEmulator


class DatabricksEmulator(EmulatorProcess):
    command = "databricks-emulator"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bills", type=int, default=100_000)
    parser.add_argument("--million", action="store_true", help="also 1,000,000 Bills (several minutes)")
    args = parser.parse_args()
    if not (ROOT / ".meltano" / ".installed").exists():
        raise SystemExit("Meltano plugins are not installed: run `make plugins` first.")
    report: dict[str, object] = {}
    for bills in [args.bills, *([1_000_000] if args.million else [])]:
        report |= compare(bills)
    print_report(report)


def compare(bills: int) -> dict[str, object]:
    label = f"{bills // 1000}k"
    with (
        tempfile.TemporaryDirectory() as tmp,
        AcumaticaEmulator(bills) as acumatica,
        DatabricksEmulator("--data-dir", str(Path(tmp, "databricks"))) as databricks,
    ):
        env = {
            **os.environ,
            "MELTANO_DATABASE_URI": f"sqlite:///{Path(tmp, 'meltano.db')}",
            "TAP_ACUMATICA_BASE_URL": acumatica.base_url,
            "TAP_ACUMATICA__SELECT": json.dumps(["bills.*"]),
            "TARGET_DATABRICKS_HOST": databricks.root,
            "TARGET_DATABRICKS_FAILED_BATCH_DIR": str(Path(tmp, "failed_batches")),
        }
        meltano = [str(BIN / "meltano"), "--environment=sandbox"]
        tap = run_measured_tree(
            [*meltano, "invoke", "tap-acumatica"], Path(tmp, "tap.log"), env=env, cwd=ROOT
        )
        pipeline = run_measured_tree(
            [*meltano, "run", "tap-acumatica", "target-databricks"], Path(tmp, "run.log"), env=env, cwd=ROOT
        )
    report: dict[str, object] = {
        f"e2e_{label}_bills": bills,
        f"e2e_{label}_tap_alone_s": round(tap.seconds, 1),
        f"e2e_{label}_meltano_run_s": round(pipeline.seconds, 1),
        f"e2e_{label}_meltano_run_vs_tap_alone": ratio(pipeline.seconds, tap.seconds),
        f"e2e_{label}_tap_alone_records_per_s": round(bills / tap.seconds),
        f"e2e_{label}_meltano_run_records_per_s": round(bills / pipeline.seconds),
    }
    for name, kib in sorted(tap.peaks_kib.items()):
        report[f"e2e_{label}_tap_alone_peak_mib_{name}"] = round(kib / 1024, 1)
    for name, kib in sorted(pipeline.peaks_kib.items()):
        report[f"e2e_{label}_meltano_run_peak_mib_{name}"] = round(kib / 1024, 1)
    return report


if __name__ == "__main__":
    main()
