"""What the benchmarks share: an emulator in its own process, and a connector's console script run as
its own process and measured (wall time, peak memory, records counted from its metrics).

Peak memory is the process's VmHWM, sampled while it runs and completed by the ``ru_maxrss`` the
kernel reports when the process is reaped, so growth in its last moments is not missed. Linux carries
the peak of the process a child was forked from into the child's ``ru_maxrss`` (exec keeps it), so that
figure counts only when it is above this process's own peak at spawn time; otherwise it is this
benchmark's memory (an in-process emulator, a bare client), not the child's.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent


def sandbox_config(plugin: str) -> dict:
    """``plugin``'s config in meltano.yml's sandbox environment (the emulators' endpoints and demo data)."""
    import yaml

    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    sandbox = next(env for env in project["environments"] if env["name"] == "sandbox")
    plugins = [p for kind in sandbox["config"]["plugins"].values() for p in kind]
    return next(p for p in plugins if p["name"] == plugin)["config"]


def vm_hwm(pid: int) -> int:
    """Peak resident memory of a running process, in KiB (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a running process so far, in seconds (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    # utime and stime are fields 14 and 15 of stat(5); fields[0] here is field 3 (state).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def records_counted(log: str) -> int:
    """Records a Singer SDK tap reported in its ``record_count`` metrics."""
    total = 0
    for line in log.splitlines():
        if '"metric":"record_count"' in line:
            total += json.loads(line.split("METRIC: ", 1)[1])["value"]
    return total


class EmulatorProcess:
    """An emulator's console script in its own process, so it does not share the benchmark's GIL.

    Subclasses name the ``command``; ``args`` are its options besides ``--port``.
    """

    command: str

    def __init__(self, *args: str) -> None:
        self.args = args

    def __enter__(self):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.proc = subprocess.Popen(
            [str(BIN / self.command), "--port", str(port), *self.args], stdout=subprocess.PIPE, text=True
        )
        line = self.proc.stdout.readline()
        if "listening" not in line:
            raise SystemExit(f"{self.command} failed to start: {line!r}")
        self.root = f"http://127.0.0.1:{port}"
        return self

    def stats(self) -> dict:
        return requests.get(f"{self.root}/_emulator/stats", timeout=10).json()

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


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
    own_peak = vm_hwm(os.getpid())
    with log_path.open("wb") as log:
        proc = subprocess.Popen(args, stdin=stdin, stdout=subprocess.DEVNULL, stderr=log)
        peak = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, vm_hwm(proc.pid))
            time.sleep(0.02)
    seconds = time.perf_counter() - start
    if usage.ru_maxrss > own_peak:  # else it is this process's peak, inherited through fork and exec
        peak = max(peak, usage.ru_maxrss)
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = log_path.read_text(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"{Path(args[0]).name} failed ({proc.returncode}):\n{text[-3000:]}")
    return Measured(seconds, peak, text)


@dataclass
class MeasuredTree:
    """One finished run of a process and its descendants: wall time, and the peak memory (KiB) of each
    descendant that is a plugin or Meltano, by name (``tap-acumatica``, ``target-databricks``, ...),
    and their CPU seconds (user + system, last sample before each process ended), by the same names."""

    seconds: float
    peaks_kib: dict[str, int]
    log: str
    cpu_s: dict[str, float] = field(default_factory=dict)


def _plugin_name(pid: int) -> str | None:
    """``tap-x`` / ``target-x`` / ``meltano`` from a process's command line (a console script run by
    its venv's python shows as the script's path), else None."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    for arg in argv[:3]:
        name = Path(arg.decode(errors="replace")).name
        if name.startswith(("tap-", "target-")) or name == "meltano":
            return name
    return None


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found.append(child)
            todo.append(child)
    return found


def run_measured_tree(
    args: list[str],
    log_path: Path,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    on_start: Callable[[str, int], None] | None = None,
) -> MeasuredTree:
    """Run ``args`` (e.g. ``meltano run tap target``) with stdout to /dev/null and stderr to
    ``log_path``, sampling the VmHWM and CPU time of every plugin process it starts every 20 ms; exit
    with the log's tail when it fails. A plugin's growth (memory or CPU) in its last 20 ms may be missed
    (no ``ru_maxrss`` or ``rusage`` reaches this process for grandchildren). ``on_start(name, pid)`` is
    called once for the process started and once for each plugin process, when first seen (e.g. to
    attach a profiler)."""
    start = time.perf_counter()
    peaks: dict[str, int] = {}
    cpu: dict[int, tuple[str, float]] = {}  # pid -> (name, CPU seconds at its last sample)
    started: set[int] = set()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log, env=env, cwd=cwd)
        while proc.poll() is None:
            for pid in [proc.pid, *_descendants(proc.pid)]:
                # Read each time: a child forked but not yet exec'd still shows its parent's name.
                name = _plugin_name(pid)
                if name is not None:
                    if on_start is not None and pid not in started and (pid == proc.pid or name != "meltano"):
                        started.add(pid)
                        on_start(name, pid)
                    peaks[name] = max(peaks.get(name, 0), vm_hwm(pid))
                    used = cpu_seconds(pid)
                    if used:
                        cpu[pid] = (name, used)
            time.sleep(0.02)
    seconds = time.perf_counter() - start
    cpu_by_name: dict[str, float] = {}
    for name, used in cpu.values():
        cpu_by_name[name] = cpu_by_name.get(name, 0.0) + used
    text = log_path.read_text(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(
            f"{' '.join(Path(a).name for a in args[:4])} failed ({proc.returncode}):\n{text[-3000:]}"
        )
    return MeasuredTree(seconds, peaks, text, cpu_by_name)


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator`` rounded for a report line (times, rows/s or peaks of one run)."""
    return round(numerator / denominator, 2) if denominator else float("nan")


def print_report(report: dict) -> None:
    """One ``name  value`` line per figure, names aligned."""
    width = max(map(len, report))
    for name, value in report.items():
        print(f"{name:<{width}}  {value}")


def sync_one_stream(tap: str, config: dict, stream: str, tmp: Path) -> tuple[Measured, int]:
    """Discover, select only ``stream``, and run ``tap`` over it measured; the run and its record count."""
    config_path = tmp / "config.json"
    config_path.write_text(json.dumps(config))
    executable = str(BIN / tap)
    discovered = subprocess.run(
        [executable, "--config", str(config_path), "--discover"], capture_output=True, text=True, check=True
    )
    catalog = json.loads(discovered.stdout)
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if not meta["breadcrumb"]:
                meta["metadata"]["selected"] = entry["tap_stream_id"] == stream
    catalog_path = tmp / "catalog.json"
    catalog_path.write_text(json.dumps(catalog))
    run = run_measured(
        [executable, "--config", str(config_path), "--catalog", str(catalog_path)], tmp / "stderr.log"
    )
    return run, records_counted(run.log)
