"""What every emulator's console script shares: common flags and the run-until-signal loop."""

from __future__ import annotations

import argparse
import signal
import threading


def common_arguments(parser: argparse.ArgumentParser, port: int) -> None:
    """``--host``, ``--port``, ``--token-lifetime`` and ``--verbose``."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument(
        "--token-lifetime", type=float, default=3600.0, help="seconds an access token or session lives"
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")


def seeded_data_arguments(
    parser: argparse.ArgumentParser, unit: str, example: str, upper: bool = False
) -> None:
    """``--seed`` and repeatable ``--size <unit>=N`` (``args.size`` is then a dict)."""

    def size(text: str) -> tuple[str, int]:
        name, sep, value = text.partition("=")
        if not sep or not value.strip().isdigit():
            raise argparse.ArgumentTypeError(f"use {unit}=N, e.g. {example}")
        return (name.upper() if upper else name), int(value)

    parser.add_argument("--seed", type=int, default=42, help="seed of the generated data")
    parser.add_argument(
        "--size",
        type=size,
        action="append",
        default=[],
        metavar=f"{unit}=N",
        help=f"records of one {unit.lower()} (repeatable), e.g. {example}",
    )


def comma_list(text: str) -> tuple[str, ...]:
    """``"a, b,"`` -> ``("a", "b")``."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


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
