"""The in-process emulator: a Databricks workspace served over HTTP (see ``emulator_kit``)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from emulator_kit import HttpEmulator

from .app import DatabricksApp, Stats
from .config import EmulatorConfig
from .engine import Warehouse


class DatabricksEmulator(HttpEmulator):
    """A running emulated Databricks workspace with one SQL warehouse; ``start()``/``stop()`` or ``with``.

    ``knobs``, ``stats`` and the fault methods are the test control surface; the same operations are
    served over HTTP under ``/_emulator`` for out-of-process use.
    """

    server_header = "databricks-emulator"
    stream_uploads_under = "/api/2.0/fs/files/"

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self._tmp: tempfile.TemporaryDirectory | None = None
        if self.config.data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="databricks-emulator-")
            self.config.data_dir = self._tmp.name
        self.data_dir = Path(self.config.data_dir)
        self.knobs = self.config.initial_knobs()
        self.stats = Stats()
        self.warehouse = Warehouse(
            str(self.data_dir), self.config.default_catalog, self.config.default_schema, self.knobs
        )
        self.app = DatabricksApp(self.config, self.knobs, self.warehouse, self.stats)

    # ---- lifecycle -----------------------------------------------------------------------
    def upload_dir(self) -> Path:
        path = self.data_dir / "_emulator" / "uploads"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _bound(self) -> None:
        self.app.host = self.base_url

    def _closed(self) -> None:
        self.warehouse.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    @property
    def warehouse_id(self) -> str:
        return self.config.warehouse_ids[0]

    # ---- data access for tests -----------------------------------------------------------
    def table_path(self, catalog: str, schema: str, table: str) -> str:
        """Directory of the Delta table ``catalog.schema.table`` (open with ``deltalake.DeltaTable``).

        Pending Delta commits (``delta_commit_delay_s``) are written first, so the table is current.
        """
        self.warehouse.flush()
        return str(self.warehouse.table_path(catalog, schema, table))

    def volume_path(self, volume_path: str) -> str:
        """Local file behind ``/Volumes/c/s/v/...``."""
        return str(self.warehouse.local_path(volume_path))

    def query(self, sql: str) -> list[tuple]:
        """Run Databricks SQL directly on the warehouse (no HTTP, no stats) and return Python rows."""
        return self.warehouse.query(sql)

    # ---- faults --------------------------------------------------------------------------
    def fail_next_statements(self, n: int = 1, error_code: str = "TEMPORARILY_UNAVAILABLE") -> None:
        """The next ``n`` statements end FAILED with ``error_code`` without running."""
        self.app.executor.fail_next(n, error_code)

    def http_fail_next(self, n: int = 1, status: int = 429) -> None:
        """The next ``n`` API requests answer ``status`` (429 or 503) with ``Retry-After``."""
        self.app.http_fail_next(n, status)

    def html_next(self, n: int = 1, status: int = 200) -> None:
        """The next ``n`` requests (API, OAuth discovery and token) answer an HTML page with ``status``
        (200 sign-in page, 404/502/503/504 proxy pages), as what sits in front of a workspace does."""
        self.app.html_next(n, status)

    def drop_after_accept_next(self, n: int = 1) -> None:
        """The next ``n`` statement submissions run, then the connection closes without an answer."""
        with self.app.faults._lock:
            self.app.faults.drop_after_accept += n

    def revoke_tokens(self) -> int:
        """Invalidate every OAuth access token issued so far (PATs stay valid)."""
        return self.app.auth.revoke_tokens()


__all__ = ["DatabricksEmulator"]
