"""`python -m target_acumatica`: the same command line as the `target-acumatica` script."""

from target_acumatica.target import TargetAcumatica

TargetAcumatica.cli()
