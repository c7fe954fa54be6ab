"""The Delta store: every table change of the warehouse written as Delta commits under ``data_dir``, and
the tables read back from there at start-up."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from .base import _q, duck_catalog, quote, unquote

_EXTRA_DIRS = {"volumes", "_emulator"}


class DeltaStore:
    """The warehouse's persistence (a part of ``engine.Warehouse``, which owns the DuckDB connection and
    the lock): table directories, start-up restore, and pending changes flushed as Delta commits."""

    data_dir: Path
    conn: Any
    lock: Any
    knobs: Any
    copy_log: dict[str, list[str]]

    def table_path(self, catalog: str, schema: str, table: str) -> Path:
        return self.data_dir.joinpath(*(quote(p.lower(), safe="") for p in (catalog, schema, table)))

    def _load(self) -> None:
        with self.lock:
            self._attach(self.default_catalog)
            self.conn.execute(
                f"CREATE SCHEMA IF NOT EXISTS {_q(duck_catalog(self.default_catalog))}."
                f"{_q(self.default_schema)}"
            )
            self._mkdir(self.default_catalog, self.default_schema)
            if self._copy_log_path.exists():
                self.copy_log = json.loads(self._copy_log_path.read_text())
            for cat_dir in sorted(
                p for p in self.data_dir.iterdir() if p.is_dir() and p.name not in _EXTRA_DIRS
            ):
                catalog = unquote(cat_dir.name)
                self._attach(catalog)
                for sch_dir in sorted(p for p in cat_dir.iterdir() if p.is_dir()):
                    schema = unquote(sch_dir.name)
                    self.conn.execute(f"CREATE SCHEMA IF NOT EXISTS {_q(duck_catalog(catalog))}.{_q(schema)}")
                    for tbl_dir in sorted(p for p in sch_dir.iterdir() if (p / "_delta_log").is_dir()):
                        data = DeltaTable(str(tbl_dir)).to_pyarrow_table()
                        self.conn.register("__restore", data)
                        self.conn.execute(
                            f"CREATE TABLE {self._duck_name(catalog, schema, unquote(tbl_dir.name))}"
                            " AS SELECT * FROM __restore"
                        )
                        self.conn.unregister("__restore")

    def _mkdir(self, catalog: str, schema: str | None = None) -> None:
        parts = [catalog] + ([schema] if schema else [])
        self.data_dir.joinpath(*(quote(p.lower(), safe="") for p in parts)).mkdir(parents=True, exist_ok=True)

    # ---- persistence ---------------------------------------------------------------------
    def _persist(self, changed: set, dropped: set, appended: dict | None = None) -> None:
        """Record a statement's table changes; written as Delta commits now or by the flusher."""
        for target in dropped:
            self._pending.pop(target, None)
            shutil.rmtree(self.table_path(*target), ignore_errors=True)
            self.copy_log.pop(self._copy_key(*target), None)
        for target in changed - dropped:
            self._pending[target] = None  # rewrite from DuckDB
        for target, tables in (appended or {}).items():
            if target in changed or target in dropped:
                continue
            if target not in self._pending:
                self._pending[target] = list(tables)
            elif self._pending[target] is not None:
                self._pending[target].extend(tables)
        if dropped:
            self._save_copy_log()
        if not self._pending:
            return
        delay = float(getattr(self.knobs, "delta_commit_delay_s", 0) or 0)
        if delay <= 0:
            self.flush()
            return
        if self._pending_since is None:
            self._pending_since = time.monotonic()
        if self._flusher is None:
            self._flusher = threading.Thread(target=self._flush_loop, name="delta-flusher", daemon=True)
            self._flusher.start()
        self._wake.set()

    def _flush_loop(self) -> None:
        while not self._closed:
            self._wake.wait()
            self._wake.clear()
            while not self._closed and self._pending_since is not None:
                delay = float(getattr(self.knobs, "delta_commit_delay_s", 0) or 0)
                left = self._pending_since + delay - time.monotonic()
                if left > 0:
                    time.sleep(min(left, 0.05))
                    continue
                with self.lock:
                    if not self._closed:
                        self.flush()

    def flush(self) -> None:
        """Write every pending table change as one Delta commit per table (append or overwrite)."""
        with self.lock:
            pending, self._pending, self._pending_since = self._pending, {}, None
            for target, tables in pending.items():
                path = str(self.table_path(*target))
                if tables is not None:
                    try:
                        data = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
                        write_deltalake(path, data, mode="append")
                        continue
                    except Exception:
                        pass
                try:
                    data = self.conn.sql(f"SELECT * FROM {self._duck_name(*target)}").to_arrow_table()
                except duckdb.CatalogException:
                    continue
                write_deltalake(path, data, mode="overwrite", schema_mode="overwrite")

    def _save_copy_log(self) -> None:
        self._copy_log_path.parent.mkdir(parents=True, exist_ok=True)
        self._copy_log_path.write_text(json.dumps(self.copy_log))

    @staticmethod
    def _copy_key(catalog: str, schema: str, table: str) -> str:
        return ".".join(p.lower() for p in (catalog, schema, table))
