"""``databricks-emulator``: run the emulator as a process (target tests, demos)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .config import EmulatorConfig
from .server import DatabricksEmulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="databricks-emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8822)
    parser.add_argument("--data-dir", default=None, help="Delta tables and volume files (default: a temp dir)")
    parser.add_argument("--token-lifetime", type=float, default=3600.0)
    parser.add_argument("--statement-delay", type=float, default=0.0)
    parser.add_argument("--chunk-rows", type=int, default=10_000)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    config = EmulatorConfig(host=args.host, port=args.port, data_dir=args.data_dir,
                            token_lifetime_s=args.token_lifetime, statement_delay_s=args.statement_delay,
                            chunk_rows=args.chunk_rows, verbose=args.verbose)
    emulator = DatabricksEmulator(config).start()
    stop = threading.Event()

    def _stop(signum, frame) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"Databricks emulator listening on {emulator.base_url}", flush=True)
    while not stop.wait(0.5):
        pass
    emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
