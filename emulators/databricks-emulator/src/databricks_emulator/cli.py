"""``databricks-emulator``: run the emulator as a process (target tests, demos)."""

from __future__ import annotations

import argparse
import sys

from emulator_kit.cli import common_arguments, serve_until_signal

from .config import EmulatorConfig
from .server import DatabricksEmulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="databricks-emulator", description=__doc__)
    common_arguments(parser, port=8822)
    parser.add_argument(
        "--data-dir", default=None, help="Delta tables and volume files (default: a temp dir)"
    )
    parser.add_argument("--statement-delay", type=float, default=0.0)
    parser.add_argument("--chunk-rows", type=int, default=10_000)
    args = parser.parse_args(argv)
    config = EmulatorConfig(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        token_lifetime_s=args.token_lifetime,
        statement_delay_s=args.statement_delay,
        chunk_rows=args.chunk_rows,
        verbose=args.verbose,
    )
    return serve_until_signal(DatabricksEmulator(config), "Databricks emulator")


if __name__ == "__main__":
    sys.exit(main())
