"""The Singer SDK's standard tap tests, run against the Intacct emulator."""

from __future__ import annotations

import atexit

from intacct_emulator import SANDBOX, EmulatorConfig, IntacctEmulator
from singer_sdk.testing import SuiteConfig, get_tap_test_class
from tap_sage_intacct.tap import TapSageIntacct

from tests.tap_sage_intacct.conftest import SIZES, TIMEZONE

# The suite is built at import time, so its emulator starts here and lives for the session.
_emulator = IntacctEmulator(EmulatorConfig(port=0, sizes=SIZES, timezone=TIMEZONE))
_emulator.start()
atexit.register(_emulator.stop)

TestTapSageIntacct = get_tap_test_class(
    TapSageIntacct,
    config={**SANDBOX, "endpoint_url": _emulator.endpoint_url, "timezone": TIMEZONE, "page_size": 50},
    # AUDITHISTORY holds only the changes made in the emulator, none here (test_streams reads some).
    suite_config=SuiteConfig(ignore_no_records_for_streams=["audit_history"]),
)
