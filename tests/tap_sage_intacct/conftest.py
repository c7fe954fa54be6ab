"""A live Intacct emulator per test and a tap configuration for it."""

from __future__ import annotations

import pytest
from intacct_emulator import SANDBOX, EmulatorConfig, IntacctEmulator

from tests.support.intacct import SIZES, TIMEZONE


@pytest.fixture
def emulator_config(request) -> EmulatorConfig:
    """Parametrize indirectly with a dict to override fields."""
    overrides = getattr(request, "param", {}) or {}
    # Changes take the gateway's clock second, so several may share one WHENMODIFIED.
    defaults = {
        "port": 0,
        "seed": 42,
        "sizes": SIZES,
        "timezone": TIMEZONE,
        "strictly_increasing_changes": False,
    }
    return EmulatorConfig(**{**defaults, **overrides})


@pytest.fixture
def intacct(emulator_config):
    with IntacctEmulator(emulator_config) as emu:
        yield emu


@pytest.fixture
def config(intacct) -> dict:
    return {
        **SANDBOX,
        "endpoint_url": intacct.endpoint_url,
        "timezone": TIMEZONE,
        "page_size": 50,
        "start_date": "2020-01-01T00:00:00Z",
        "max_backoff_seconds": 0.05,
    }
