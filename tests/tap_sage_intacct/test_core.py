"""The Singer SDK's standard tap tests, run against the Intacct emulator."""

from __future__ import annotations

import atexit

from intacct_emulator import SANDBOX, EmulatorConfig, IntacctEmulator
from singer_sdk.testing import get_tap_test_class
from tap_sage_intacct.tap import TapSageIntacct

from tests.support.intacct import SIZES, TIMEZONE

# The suite is built at import time, so its emulator starts here and lives for the session.
_emulator = IntacctEmulator(EmulatorConfig(port=0, sizes=SIZES, timezone=TIMEZONE))
_emulator.start()
atexit.register(_emulator.stop)

TestTapSageIntacct = get_tap_test_class(
    TapSageIntacct,
    config={**SANDBOX, "endpoint_url": _emulator.endpoint_url, "timezone": TIMEZONE, "page_size": 50},
)
