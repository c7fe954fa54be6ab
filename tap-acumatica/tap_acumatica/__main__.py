"""`python -m tap_acumatica`: the same command line as the `tap-acumatica` script."""

from tap_acumatica.tap import TapAcumatica

TapAcumatica.cli()
