"""`python -m target_databricks`: the same command line as the `target-databricks` script."""

from target_databricks.target import TargetDatabricks

TargetDatabricks.cli()
