"""``looker-emulator``: run the emulator as a process (sandbox, demos, out-of-process tests)."""

from __future__ import annotations

import argparse
import sys

from emulator_kit.cli import common_arguments, seeded_data_arguments, serve_until_signal

from .config import EmulatorConfig
from .server import LookerEmulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="looker-emulator", description=__doc__)
    common_arguments(parser, port=8844)
    seeded_data_arguments(parser, "TABLE", "overhead_allocation=6000")
    parser.add_argument(
        "--query-task-polls",
        type=int,
        default=1,
        help="status polls answered 'running' before a query task completes",
    )
    args = parser.parse_args(argv)
    config = EmulatorConfig(
        host=args.host,
        port=args.port,
        seed=args.seed,
        sizes=dict(args.size),
        token_lifetime_s=args.token_lifetime,
        query_task_polls=args.query_task_polls,
        verbose=args.verbose,
    )
    return serve_until_signal(LookerEmulator(config), "Looker emulator")


if __name__ == "__main__":
    sys.exit(main())
