"""The Singer SDK's standard tap tests, run against the Acumatica emulator."""

from __future__ import annotations

import atexit

from acumatica_emulator import AcumaticaEmulator, EmulatorConfig
from singer_sdk.testing import get_tap_test_class
from tap_acumatica.tap import TapAcumatica

from tests.support.taprun import SANDBOX

# The suite is built at import time, so its emulator starts here and lives for the session.
_emulator = AcumaticaEmulator(EmulatorConfig(port=0))
_emulator.start()
atexit.register(_emulator.stop)

TestTapAcumatica = get_tap_test_class(
    TapAcumatica,
    config={**SANDBOX, "base_url": _emulator.base_url, "page_size": 25},
)
