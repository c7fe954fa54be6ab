"""``acumatica-emulator``: run the emulator as a process (benchmarks, demos)."""

from __future__ import annotations

import argparse
import sys

from emulator_kit.cli import comma_list, common_arguments, seeded_data_arguments, serve_until_signal

from .config import DEFAULT_VERSIONS, EmulatorConfig
from .server import AcumaticaEmulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="acumatica-emulator", description=__doc__)
    common_arguments(parser, port=8811)
    seeded_data_arguments(parser, "ENTITY", "Bill=1000000")
    parser.add_argument("--versions", default=",".join(DEFAULT_VERSIONS))
    parser.add_argument("--requests-per-minute", type=int, default=None)
    parser.add_argument("--max-api-users", type=int, default=None)
    parser.add_argument("--instance-path", default="/AcumaticaERP")
    parser.add_argument("--timezone-offset", default="-05:00")
    args = parser.parse_args(argv)
    config = EmulatorConfig(
        host=args.host,
        port=args.port,
        seed=args.seed,
        sizes=dict(args.size),
        versions=comma_list(args.versions),
        token_lifetime_s=args.token_lifetime,
        requests_per_minute=args.requests_per_minute,
        max_api_users=args.max_api_users,
        instance_path=args.instance_path,
        timezone_offset=args.timezone_offset,
        verbose=args.verbose,
    )
    return serve_until_signal(AcumaticaEmulator(config), "Acumatica emulator")


if __name__ == "__main__":
    sys.exit(main())
