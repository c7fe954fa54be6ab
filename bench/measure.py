"""Run a connector's console script as its own process and measure it: wall time and peak memory.

Peak memory is the process's VmHWM, sampled while it runs (``tap_throughput.vm_hwm``) and completed
by the ``ru_maxrss`` the kernel reports when the process is reaped, so growth in its last moments
is not missed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tap_throughput import vm_hwm

BIN = Path(sys.executable).parent


@dataclass
class Measured:
    """One finished run: wall time (start-up included), peak memory in KiB, and its stderr."""

    seconds: float
    peak_kib: int
    log: str


def run_measured(args: list[str], log_path: Path, stdin=None) -> Measured:
    """Run ``args`` with stdout to /dev/null and stderr to ``log_path``; exit with the log's tail when
    it fails."""
    start = time.perf_counter()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(args, stdin=stdin, stdout=subprocess.DEVNULL, stderr=log)
        peak = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, vm_hwm(proc.pid))
            time.sleep(0.05)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = log_path.read_text(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"{Path(args[0]).name} failed ({proc.returncode}):\n{text[-3000:]}")
    return Measured(seconds, max(peak, usage.ru_maxrss), text)


def print_report(report: dict) -> None:
    """One ``name  value`` line per figure, names aligned."""
    width = max(map(len, report))
    for name, value in report.items():
        print(f"{name:<{width}}  {value}")
