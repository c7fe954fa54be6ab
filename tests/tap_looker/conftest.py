"""A live Looker emulator per test (shared by the session per distinct config, reset before each)."""

from __future__ import annotations

import pytest
from looker_emulator import LookerEmulator

from tests.support.looker import shared_emulator, stop_all


@pytest.fixture(scope="session")
def _emulators():
    running: dict[str, LookerEmulator] = {}
    yield running
    stop_all(running)


@pytest.fixture
def emulator_config(request) -> dict:
    """Overrides of the default config; parametrize indirectly with a dict."""
    return getattr(request, "param", {}) or {}


@pytest.fixture
def emulator(emulator_config: dict, _emulators: dict) -> LookerEmulator:
    """A running emulator in its start state; one per distinct config, shared by the session."""
    return shared_emulator(_emulators, emulator_config)
