"""The in-process emulator: a Sage Intacct XML gateway served over HTTP (see ``emulator_kit``)."""

from __future__ import annotations

from emulator_kit import HttpEmulator

from .app import FunctionInfo, IntacctApp, IntacctStats
from .clock import UserClock
from .config import GATEWAY_PATH, EmulatorConfig
from .generator import Generator
from .store import RecordStore


class IntacctEmulator(HttpEmulator):
    """A running emulated Intacct company; use ``start()``/``stop()`` or ``with``.

    ``knobs``, ``store``, ``stats``, ``expire_sessions()`` and ``on_request`` are the test control
    surface; the same operations are served over HTTP under ``/_emulator`` for out-of-process use.
    """

    server_header = "Apache"

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.clock = UserClock(self.config.timezone)
        self.knobs = self.config.initial_knobs()
        self.store = RecordStore(Generator(self.config, self.clock), self.clock, self.knobs)
        self.stats = IntacctStats()
        self.app = IntacctApp(self.config, self.knobs, self.store, self.clock, self.stats)

    @property
    def endpoint_url(self) -> str:
        """Where clients post requests before ``getAPISession`` names a session endpoint."""
        return self.root_url + GATEWAY_PATH

    @property
    def base_url(self) -> str:
        return self.endpoint_url

    def on_request(self, callback) -> callable:
        """Call ``callback(FunctionInfo)`` before each function is answered; returns a remover."""
        return self.app.on_request(callback)

    def expire_sessions(self) -> int:
        """Every session issued so far is rejected from now on; returns how many were open."""
        return self.app.sessions.expire_all()


__all__ = ["FunctionInfo", "IntacctEmulator"]
