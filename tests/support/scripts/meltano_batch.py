"""Run many `meltano` commands in one process: `python meltano_batch.py '<json list of argv lists>'`.

Each command goes through Meltano's own command line (its click group), exactly as typed at a shell,
without paying Meltano's start-up once per command. Prints one JSON line per command: its argv,
exit code, output, and the exception when one escaped.
"""

from __future__ import annotations

import json
import sys

from click.testing import CliRunner
from meltano.cli import cli


def main() -> None:
    runner = CliRunner()
    for argv in json.loads(sys.argv[1]):
        result = runner.invoke(cli, argv, catch_exceptions=True)
        escaped = result.exception if not isinstance(result.exception, SystemExit | type(None)) else None
        print(
            json.dumps(
                {
                    "argv": argv,
                    "exit_code": result.exit_code,
                    "stdout": result.stdout,
                    "exception": repr(escaped) if escaped else None,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
