"""What every emulator's console script shares: common flags and the run-until-signal loop."""

from __future__ import annotations

import argparse
import signal
import threading


def common_arguments(parser: argparse.ArgumentParser, port: int) -> None:
    """``--host``, ``--port``, ``--token-lifetime`` and ``--verbose``."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--token-lifetime", type=float, default=3600.0,
                        help="seconds an access token or session lives")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")


def serve_until_signal(emulator, label: str) -> int:
    """Start ``emulator``, print where it listens, and stop it cleanly on SIGTERM or Ctrl-C."""
    emulator.start()
    stop = threading.Event()

    def _stop(signum, frame) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"{label} listening on {emulator.base_url}", flush=True)
    while not stop.wait(0.5):
        pass
    emulator.stop()
    return 0
