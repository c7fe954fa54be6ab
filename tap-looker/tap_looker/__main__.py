"""`python -m tap_looker`: the same command line as the `tap-looker` script."""

from tap_looker.tap import TapLooker

TapLooker.cli()
