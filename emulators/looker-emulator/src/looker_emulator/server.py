"""The in-process emulator: a Looker instance served over HTTP (see ``emulator_kit``)."""

from __future__ import annotations

from emulator_kit import HttpEmulator, Stats

from .app import LookerApp
from .config import KNOB_NAMES, EmulatorConfig
from .data import FinanceData
from .lookml import MODEL, QueryError, build_explores, encode_rows, execute


class LookerEmulator(HttpEmulator):
    """A running emulated Looker instance (API 4.0, model ``finance``); ``start()``/``stop()`` or ``with``.

    ``knobs``, ``stats`` and the fault methods are the test control surface; the same operations are
    served over HTTP under ``/_emulator`` for out-of-process use.
    """

    server_header = "looker-emulator"

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.knobs = self.config.initial_knobs()
        self.stats = Stats()
        self.data = FinanceData(self.config)
        self.explores = build_explores(self.data)
        self.app = LookerApp(self.config, self.knobs, self.explores, self.stats)

    def _bound(self) -> None:
        self.app.host = self.base_url

    # ---- data access for tests -----------------------------------------------------------
    def run(
        self,
        model: str,
        explore: str,
        fields: list[str],
        filters: dict[str, str] | None = None,
        sorts: list[str] | None = None,
    ) -> list[dict]:
        """The full, untruncated answer of a query (no HTTP, no stats, no row caps), as the ``json``
        format returns it: rows keyed by ``view.field``, numbers as ``int``/``Decimal``."""
        import json
        from decimal import Decimal

        if model != MODEL or explore not in self.explores:
            raise QueryError(f"Unknown explore {model}::{explore}.", "view")
        rows = execute(self.explores[explore], list(fields), filters, sorts, None, self.app.today())
        return json.loads(encode_rows(rows), parse_float=Decimal)

    def reset(self) -> None:
        """Back to the state at start: knobs from the config, no tokens, queries, tasks, faults or stats."""
        start = self.config.initial_knobs()
        for name in KNOB_NAMES:
            setattr(self.knobs, name, getattr(start, name))
        self.app.reset()
        self.stats.reset()

    # ---- faults --------------------------------------------------------------------------
    def fail_next(self, n: int = 1, status: int = 429, operation: str | None = None) -> None:
        """The next ``n`` API requests (only those of ``operation``, e.g. ``"run_inline_query"``, when
        given) answer ``status`` (429 or 5xx) with Looker's error body."""
        self.app.fail_next(n, status, operation)

    def expire_tokens(self) -> int:
        """Invalidate every access token issued so far, as their expiry would; returns how many."""
        return self.app.expire_tokens()


__all__ = ["LookerEmulator", "Stats"]
