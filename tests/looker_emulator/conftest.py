"""A live Looker emulator per test, and a raw-HTTP client that reads like the API 4.0 reference."""

from __future__ import annotations

import pytest
from looker_emulator import LookerEmulator

from tests.support.looker import Api, _emulators, emulator, emulator_config

__all__ = ["_emulators", "emulator", "emulator_config"]


@pytest.fixture
def api(emulator: LookerEmulator) -> Api:
    return Api(emulator)
