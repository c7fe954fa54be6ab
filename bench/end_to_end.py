"""End to end: ``meltano run tap-acumatica target-databricks`` against the tap alone, in one run.

Starts the Acumatica emulator with N Bills and the Databricks emulator (each in its own process), then,
through Meltano's sandbox environment with only the ``bills`` stream selected, alternates ``--repeat``
times (5 by default; the tap first in even turns, the pipeline first in odd ones):
1. ``meltano invoke tap-acumatica`` with its output to /dev/null (the tap alone);
2. ``meltano run tap-acumatica target-databricks`` (the pipeline, into a fresh Delta table: each
   repetition has its own Meltano system database, so no state, and its own schema).
Prints the wall time of every repetition of both, the ratio of their medians (the pipeline's cost over
the tap's; alternating them exposes both to the same spells of a shared machine's slowness, which move
single runs by a third here), and, for the median repetition of each, the peak memory (VmHWM) and CPU
seconds of every process (the emulators' too). Meltano's own start-up is in both figures; both plugins
are invoked once with ``--about`` first, so start-up is an installed plugin's, not Python compiling its
imports. Asserts nothing. With ``--profile DIR``, py-spy samples every process of the pipeline runs
(Meltano, each plugin process) into ``DIR/<label>-<name>-<pid>.txt`` (collapsed stacks, for flame graph
tools or ``sort``); the profiler's own CPU then weighs on the times.

    python bench/end_to_end.py [--bills 100000] [--repeat 5] [--million] [--profile DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import (
    BIN,
    ROOT,
    EmulatorProcess,
    MeasuredTree,
    cpu_seconds,
    print_report,
    ratio,
    run_measured_tree,
)
from tap_throughput import Emulator as AcumaticaEmulator


class DatabricksEmulator(EmulatorProcess):
    command = "databricks-emulator"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bills", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5, help="alternated runs of each (default 5)")
    parser.add_argument(
        "--million", action="store_true", help="also 1,000,000 Bills, once each (several minutes)"
    )
    parser.add_argument("--profile", type=Path, help="py-spy profiles of the pipeline's processes here")
    args = parser.parse_args()
    if not (ROOT / ".meltano" / ".installed").exists():
        raise SystemExit("Meltano plugins are not installed: run `make plugins` first.")
    report: dict[str, object] = {}
    for bills, repeat in [(args.bills, args.repeat), *([(1_000_000, 1)] if args.million else [])]:
        report |= compare(bills, repeat, args.profile)
    print_report(report)


class Profiler:
    """py-spy attached to each process of a run as it starts (``run_measured_tree``'s ``on_start``)."""

    def __init__(self, directory: Path, label: str) -> None:
        self.directory = directory
        self.label = label
        self.procs: list[subprocess.Popen[bytes]] = []
        directory.mkdir(parents=True, exist_ok=True)

    def __call__(self, name: str, pid: int) -> None:
        out = self.directory / f"{self.label}-{name}-{pid}.txt"
        self.procs.append(
            subprocess.Popen(
                [
                    str(BIN / "py-spy"),
                    *("record", "--pid", str(pid), "--rate", "100", "--format", "raw"),
                    *("--nonblocking", "--output", str(out)),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )

    def wait(self) -> None:
        """py-spy writes its file once the process it samples has ended."""
        for proc in self.procs:
            proc.wait(timeout=60)


def compare(bills: int, repeat: int, profile: Path | None = None) -> dict[str, object]:
    label = f"{bills // 1000}k"
    taps: list[MeasuredTree] = []
    pipelines: list[MeasuredTree] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        AcumaticaEmulator(bills) as acumatica,
        DatabricksEmulator("--data-dir", str(Path(tmp, "databricks"))) as databricks,
    ):
        env = {
            # Bytecode may be written, as an installed plugin's is (pip compiles it at install): the
            # figures are then not Python compiling every import at every start.
            **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
            "MELTANO_DATABASE_URI": f"sqlite:///{Path(tmp, 'meltano.db')}",
            "TAP_ACUMATICA_BASE_URL": acumatica.base_url,
            "TAP_ACUMATICA__SELECT": json.dumps(["bills.*"]),
            "TARGET_DATABRICKS_HOST": databricks.root,
            "TARGET_DATABRICKS_FAILED_BATCH_DIR": str(Path(tmp, "failed_batches")),
        }
        meltano = [str(BIN / "meltano"), "--environment=sandbox"]
        for plugin in ("tap-acumatica", "target-databricks"):  # imports everything once, unmeasured
            subprocess.run(
                [*meltano, "invoke", plugin, "--about"], env=env, cwd=ROOT, check=True, capture_output=True
            )
        emulators = {"acumatica-emulator": acumatica.proc.pid, "databricks-emulator": databricks.proc.pid}
        for turn in range(repeat):
            # Each pipeline run starts without state (its own system database) into a table of its own.
            fresh = {
                **env,
                "MELTANO_DATABASE_URI": f"sqlite:///{Path(tmp, f'meltano-{turn}.db')}",
                "TARGET_DATABRICKS_SCHEMA": f"acumatica_e2e_{turn}",
            }
            profiler = None if profile is None else Profiler(profile, f"{label}-{turn}")
            commands = {
                "tap": ([*meltano, "invoke", "tap-acumatica"], Path(tmp, "tap.log"), None),
                "pipeline": (
                    [*meltano, "run", "tap-acumatica", "target-databricks"],
                    Path(tmp, "run.log"),
                    profiler,
                ),
            }
            # The tap first in even turns, the pipeline first in odd ones: a machine slowing down (or
            # speeding up) over the runs weighs on both alike.
            measured: dict[str, MeasuredTree] = {}
            for kind in ("tap", "pipeline") if turn % 2 == 0 else ("pipeline", "tap"):
                args, log, on_start = commands[kind]
                before = {name: cpu_seconds(pid) for name, pid in emulators.items()}
                measured[kind] = run_measured_tree(args, log, env=fresh, cwd=ROOT, on_start=on_start)
                for name, pid in emulators.items():
                    measured[kind].cpu_s[name] = cpu_seconds(pid) - before[name]
            if profiler is not None:
                profiler.wait()
            taps.append(measured["tap"])
            pipelines.append(measured["pipeline"])
    tap, pipeline = _median(taps), _median(pipelines)
    report: dict[str, object] = {
        f"e2e_{label}_bills": bills,
        f"e2e_{label}_tap_alone_s_each": " ".join(f"{t.seconds:.1f}" for t in taps),
        f"e2e_{label}_meltano_run_s_each": " ".join(f"{t.seconds:.1f}" for t in pipelines),
        f"e2e_{label}_tap_alone_s": round(tap.seconds, 1),
        f"e2e_{label}_meltano_run_s": round(pipeline.seconds, 1),
        f"e2e_{label}_meltano_run_vs_tap_alone": ratio(pipeline.seconds, tap.seconds),
        f"e2e_{label}_meltano_run_vs_tap_alone_each": " ".join(
            f"{ratio(p.seconds, t.seconds):.2f}" for t, p in zip(taps, pipelines, strict=True)
        ),
        f"e2e_{label}_tap_alone_records_per_s": round(bills / tap.seconds),
        f"e2e_{label}_meltano_run_records_per_s": round(bills / pipeline.seconds),
    }
    for name, kib in sorted(tap.peaks_kib.items()):
        report[f"e2e_{label}_tap_alone_peak_mib_{name}"] = round(kib / 1024, 1)
    for name, kib in sorted(pipeline.peaks_kib.items()):
        report[f"e2e_{label}_meltano_run_peak_mib_{name}"] = round(kib / 1024, 1)
    # CPU seconds of each process (the emulators' during each run): on a machine of few cores the
    # pipeline's time is mostly the CPU its processes add to the tap's.
    for run, measured in (("tap_alone", tap), ("meltano_run", pipeline)):
        for name, used in sorted(measured.cpu_s.items()):
            report[f"e2e_{label}_{run}_cpu_s_{name}"] = round(used, 1)
        report[f"e2e_{label}_{run}_cpu_s_total"] = round(sum(measured.cpu_s.values()), 1)
    return report


def _median(runs: list[MeasuredTree]) -> MeasuredTree:
    """The run of median wall time (the lower middle one of an even number)."""
    return sorted(runs, key=lambda run: run.seconds)[(len(runs) - 1) // 2]


if __name__ == "__main__":
    main()
