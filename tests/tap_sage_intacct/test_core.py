"""The Singer SDK's standard tap tests, run against the Intacct emulator."""

from __future__ import annotations

import atexit

from intacct_emulator import SANDBOX, EmulatorConfig, IntacctEmulator
from singer_sdk import Stream
from singer_sdk.testing import get_tap_test_class
from tap_sage_intacct.tap import TapSageIntacct

from tests.support.intacct import SIZES, TIMEZONE

# The suite is built at import time, so its emulator starts here and lives for the session.
_emulator = IntacctEmulator(EmulatorConfig(port=0, sizes=SIZES, timezone=TIMEZONE))
_emulator.start()
atexit.register(_emulator.stop)
# AUDITHISTORY holds only the changes made in the emulator: make a few, so every standard test of the
# audit_history stream has events to check (none is skipped for want of records).
_emulator.store.modify("VENDOR", 3, {"NAME": "Renamed for the standard tests"})
_emulator.store.insert("APBILL", {"TOTALENTERED": "0.00", "DESCRIPTION": "inserted for the standard tests"})
_emulator.store.delete("VENDOR", 5)


class EveryStreamSelected(TapSageIntacct):
    """The tap as a user who also selected audit_history (read only when selected) would run it."""

    def discover_streams(self) -> list[Stream]:
        streams = super().discover_streams()
        for stream in streams:
            stream.selected_by_default = True
        return streams


TestTapSageIntacct = get_tap_test_class(
    EveryStreamSelected,
    config={**SANDBOX, "endpoint_url": _emulator.endpoint_url, "timezone": TIMEZONE, "page_size": 50},
)
