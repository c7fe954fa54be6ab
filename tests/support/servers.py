"""Emulators that run as their own processes (fakesnow, bqemulator): a free port, start and wait until
ready, stop with the whole process group."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def listening(port: int) -> Callable[[], bool]:
    """Ready when something accepts connections on ``port``."""

    def ready() -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    return ready


def answering(url: str) -> Callable[[], bool]:
    """Ready when a GET of ``url`` answers 2xx."""

    def ready() -> bool:
        try:
            return requests.get(url, timeout=2).ok
        except requests.ConnectionError:
            return False

    return ready


def start_server(
    command: list[str], log_path: Path, ready: Callable[[], bool], what: str, timeout: float
) -> subprocess.Popen[bytes]:
    """Start ``command`` in its own process group, output to ``log_path``, and wait until ``ready()``."""
    with log_path.open("w") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, log_path.read_text()[-3000:]
        if time.monotonic() > deadline:
            stop(proc)
            raise AssertionError(f"{what} did not start within {timeout:.0f} s")
        time.sleep(0.1)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group, SIGKILL if it is still there 10 s later."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
