"""`python -m tap_sage_intacct`: the same command line as the `tap-sage-intacct` script."""

from tap_sage_intacct.tap import TapSageIntacct

TapSageIntacct.cli()
