"""``intacct-emulator``: run the Sage Intacct XML gateway emulator as a process (sandbox, benchmarks)."""

from __future__ import annotations

import argparse
import sys

from emulator_kit.cli import comma_list, common_arguments, seeded_data_arguments, serve_until_signal

from .config import EmulatorConfig
from .server import IntacctEmulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="intacct-emulator", description=__doc__)
    common_arguments(parser, port=8833)
    seeded_data_arguments(parser, "OBJECT", "GLDETAIL=1000000", upper=True)
    parser.add_argument("--timezone", default="America/Los_Angeles", help="the user's time zone (IANA)")
    parser.add_argument("--entities", default="E100,E200", help="entity location IDs, comma-separated")
    parser.add_argument(
        "--session-endpoint-path",
        default=None,
        help="path getAPISession returns as the session endpoint (default: the gateway path)",
    )
    parser.add_argument(
        "--requests-per-window", type=int, default=None, help="GW-0010 above this many per window"
    )
    parser.add_argument("--max-concurrent-requests", type=int, default=None)
    args = parser.parse_args(argv)
    config = EmulatorConfig(
        host=args.host,
        port=args.port,
        seed=args.seed,
        sizes=dict(args.size),
        timezone=args.timezone,
        entities=comma_list(args.entities),
        session_timeout_s=args.token_lifetime,
        session_endpoint_path=args.session_endpoint_path,
        requests_per_window=args.requests_per_window,
        max_concurrent_requests=args.max_concurrent_requests,
        verbose=args.verbose,
    )
    return serve_until_signal(IntacctEmulator(config), "Intacct emulator")


if __name__ == "__main__":
    sys.exit(main())
