"""The command line (`tap-sage-intacct` and `python -m tap_sage_intacct`)."""

import sys


def main() -> None:
    """Run the tap. The Singer SDK imports joblib (for targets), and joblib imports numpy when it
    is installed: about 11 MiB the tap never uses, so numpy is kept out of this process."""
    sys.modules.setdefault("numpy", None)  # type: ignore[arg-type]  # None makes `import numpy` fail
    from tap_sage_intacct.tap import TapSageIntacct

    TapSageIntacct.cli()


if __name__ == "__main__":
    main()
