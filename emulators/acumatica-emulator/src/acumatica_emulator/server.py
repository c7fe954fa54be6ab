"""The in-process emulator: an Acumatica instance served over HTTP (see ``emulator_kit``)."""

from __future__ import annotations

from emulator_kit import HttpEmulator

from .app import AcumaticaApp, RequestInfo, Stats
from .clock import InstanceClock
from .config import DEFAULT_SIZES, EmulatorConfig
from .generator import SPECS, Generator
from .store import RecordStore


class AcumaticaEmulator(HttpEmulator):
    """A running emulated Acumatica instance; use ``start()``/``stop()`` or ``with``.

    ``knobs``, ``store``, ``stats`` and ``on_request`` are the test control surface; the same
    operations are served over HTTP under ``/_emulator`` for out-of-process use.
    """

    server_header = "Microsoft-IIS/10.0"

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        cfg = self.config
        sizes = {name: cfg.size_of(name) for name in set(SPECS) | set(DEFAULT_SIZES)}
        self.clock = InstanceClock(cfg.timezone_offset)
        generator = Generator(
            cfg.seed, sizes, tuple(cfg.versions), self.clock, cfg.lines_per_document, cfg.same_timestamp_group
        )
        self.knobs = cfg.initial_knobs()
        self.store = RecordStore(generator, self.clock, tuple(cfg.versions))
        self.stats = Stats()
        self.app = AcumaticaApp(cfg, self.knobs, self.store, self.stats)

    @property
    def base_url(self) -> str:
        return self.root_url + self.app.instance

    # ---- control -------------------------------------------------------------------------
    def on_request(self, callback) -> callable:
        """Call ``callback(RequestInfo)`` before each entity list GET; returns a remover."""
        return self.app.on_request(callback)

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        self.app.faults.fail_next(n, status)

    def reset_next(self, n: int = 1) -> None:
        self.app.faults.reset_next(n)

    def expire_tokens(self) -> int:
        return self.app.auth.expire_tokens()

    def api_users(self) -> int:
        return self.app.auth.api_users()


__all__ = ["AcumaticaEmulator", "RequestInfo"]
