"""The Singer SDK's standard tap tests, run against the Looker emulator."""

from __future__ import annotations

import atexit

from looker_emulator import EmulatorConfig, LookerEmulator
from singer_sdk.testing import get_tap_test_class
from tap_looker.tap import TapLooker

from tests.support.looker import ALLOCATION_QUERY, tap_config

# The suite is built at import time, so its emulator starts here and lives for the session.
_emulator = LookerEmulator(EmulatorConfig(port=0))
_emulator.start()
atexit.register(_emulator.stop)

VENDORS = {
    "name": "vendors",
    "model": "finance",
    "explore": "vendors",
    "fields": [
        "vendors.vendor_id",
        "vendors.vendor_name",
        "vendors.status",
        "vendors.approved",
        "vendors.created_date",
    ],
    "key_properties": ["vendors.vendor_id"],
    "replication_field": "vendors.created_date",
}

TestTapLooker = get_tap_test_class(
    TapLooker,
    config=tap_config(_emulator, [ALLOCATION_QUERY, VENDORS], start_date="2024-01-01"),
)
