"""`python -m mlc_secrets`: the same command line as the `mlc-secrets` script."""

import sys

from mlc_secrets.cli import main

sys.exit(main())
