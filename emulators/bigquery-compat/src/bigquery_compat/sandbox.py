"""`bigquery-sandbox`: bqemulator with the offline fixes, and a token endpoint for a fresh service account.

    bigquery-sandbox --rest-port 9050 --grpc-port 9060 --project test-project \
        --credentials-out sandbox-sa.json

writes the service-account key file the loader signs in with (`credentials_path`), then serves
BigQuery's REST API on --rest-port (point BIGQUERY_EMULATOR_HOST at it) and gRPC on --grpc-port,
in memory, until stopped.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bigquery_compat import offline
from bigquery_compat.oauth import TokenEndpoint


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bigquery-sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--rest-port", type=int, default=9050)
    parser.add_argument("--grpc-port", type=int, default=9060)
    parser.add_argument("--project", default="test-project")
    parser.add_argument("--credentials-out", type=Path, required=True)
    args = parser.parse_args(argv)

    tokens = TokenEndpoint().start()
    tokens.write_service_account(args.credentials_out, args.project)
    offline.install()

    from bqemulator.cli import main as bqemulator

    try:
        bqemulator(
            [
                "start",
                "--rest-port",
                str(args.rest_port),
                "--grpc-port",
                str(args.grpc_port),
                "--project",
                args.project,
                "--ephemeral",
            ],
            prog_name="bqemulator",
        )
    finally:
        tokens.stop()


if __name__ == "__main__":
    main()
