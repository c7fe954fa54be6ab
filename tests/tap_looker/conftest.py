"""A live Looker emulator per test (shared by the session per distinct config, reset before each)."""

from tests.support.looker import _emulators, emulator, emulator_config

__all__ = ["_emulators", "emulator", "emulator_config"]
