"""An in-process emulator's clock, moved forward by a test instead of waited for.

The emulators read time through their modules' ``time`` (``time.time()``, ``time.monotonic()``): a test
replaces that name in the modules whose deadlines it needs to pass (token and session lifetimes,
statement retention) with a clock it advances, so an expiry is reached at once and exactly.
"""

from __future__ import annotations

import time as _time
from types import ModuleType
from typing import Any

import pytest


class EmulatorClock:
    """``time`` as the emulator's modules see it: the real clock plus what the test advanced."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return _time.time() + self.offset

    def monotonic(self) -> float:
        return _time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def __getattr__(self, name: str) -> Any:  # sleep, perf_counter, ...: the real ones
        return getattr(_time, name)


def emulator_clock(monkeypatch: pytest.MonkeyPatch, *modules: ModuleType) -> EmulatorClock:
    """One clock for ``modules`` (each must ``import time``), put back when the test ends."""
    clock = EmulatorClock()
    for module in modules:
        assert module.time is _time, f"{module.__name__} does not read the clock as time.*"
        monkeypatch.setattr(module, "time", clock)
    return clock
