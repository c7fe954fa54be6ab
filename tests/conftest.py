"""Fixtures shared by the tap and end-to-end tests: a live emulator and a tap runner."""

from __future__ import annotations

import pytest
from acumatica_emulator import AcumaticaEmulator, EmulatorConfig

from tests.support.taprun import SANDBOX, TapRunner


@pytest.fixture
def emulator_config(request) -> EmulatorConfig:
    """Small deterministic data; parametrize indirectly with a dict to override fields."""
    overrides = getattr(request, "param", {}) or {}
    return EmulatorConfig(port=0, **overrides)


@pytest.fixture
def emulator(emulator_config: EmulatorConfig):
    with AcumaticaEmulator(emulator_config) as emu:
        yield emu


@pytest.fixture
def tap_config(emulator: AcumaticaEmulator) -> dict:
    return {**SANDBOX, "base_url": emulator.base_url, "max_backoff_seconds": 0.2}


@pytest.fixture
def tap(tap_config: dict, emulator: AcumaticaEmulator) -> TapRunner:
    return TapRunner(tap_config, emulator)
