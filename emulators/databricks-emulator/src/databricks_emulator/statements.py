"""SQL Statement Execution API 2.0: statements run on workers; responses, polling, cancel and chunks."""

from __future__ import annotations

import functools
import re
import threading
import time
import uuid
from dataclasses import dataclass, field

import pyarrow as pa

from .config import Knobs
from .engine import BoundParameters, Result, SqlError, Warehouse, data_type, normalize_type
from .types import column_info, render

TERMINAL = ("SUCCEEDED", "FAILED", "CANCELED", "CLOSED")
PARAMETER_TYPES = (
    "STRING",
    "INT",
    "INTEGER",
    "BIGINT",
    "SMALLINT",
    "TINYINT",
    "DECIMAL",
    "DOUBLE",
    "FLOAT",
    "BOOLEAN",
    "DATE",
    "TIMESTAMP",
    "TIMESTAMP_NTZ",
    "BINARY",
    "VOID",
)


@dataclass
class Statement:
    """One submitted statement and, once terminal, its outcome."""

    statement_id: str
    text: str
    catalog: str | None
    schema: str | None
    parameters: dict
    row_limit: int | None
    state: str = "PENDING"
    error_code: str | None = None
    message: str | None = None
    sql_state: str | None = None
    result: Result | None = None
    truncated: bool = False
    chunk_rows: int = 10_000
    done: threading.Event = field(default_factory=threading.Event)
    cancel_requested: threading.Event = field(default_factory=threading.Event)
    running_sql: bool = False
    finished_at: float | None = None  # time.monotonic() when it reached a terminal state


@functools.lru_cache(maxsize=1024)
def _type_key(type_text: str) -> str:
    type_key = normalize_type(type_text or "STRING")
    if type_key.split("(", 1)[0] not in PARAMETER_TYPES:
        raise ValueError(f"Unsupported parameter type {type_text!r}.")
    data_type(type_key)  # rejects malformed types such as DECIMAL(x)
    return type_key


def bind_parameters(parameters: list | None) -> BoundParameters:
    """``[{name, value, type}]`` -> typed values for the ``:name`` markers (bound, never spliced in)."""
    values: dict[str, str | None] = {}
    types: dict[str, str] = {}
    known: dict = {}
    for param in parameters or ():
        name = param.get("name") if isinstance(param, dict) else None
        if not name or not isinstance(name, str):
            raise ValueError("Each parameter needs a name.")
        raw_type = param.get("type")
        type_key = known.get(raw_type)
        if type_key is None:
            type_key = known[raw_type] = _type_key(raw_type or "STRING")
        value = param.get("value")
        if value is not None and value.__class__ is not str:
            value = ("true" if value else "false") if isinstance(value, bool) else str(value)
        values[name] = value
        types[name] = type_key
    return BoundParameters(values, types)


class StatementExecutor:
    """Runs statements on worker threads against the warehouse and keeps them for polling."""

    def __init__(self, warehouse: Warehouse, knobs: Knobs, stats) -> None:
        self.warehouse, self.knobs, self.stats = warehouse, knobs, stats
        self._lock = threading.Lock()
        self._statements: dict[str, Statement] = {}
        self._fail_next: list[str] = []
        self._fail_matching: list[list] = []  # [compiled pattern, statements left, error_code]
        self._last_purge = 0.0

    def fail_next(self, n: int, error_code: str) -> None:
        with self._lock:
            self._fail_next.extend([error_code] * n)

    def fail_matching(self, pattern: str, n: int, error_code: str) -> None:
        """The next ``n`` statements whose text matches ``pattern`` (``re.search``) end FAILED with
        ``error_code`` without running; other statements run as usual."""
        with self._lock:
            self._fail_matching.append([re.compile(pattern, re.S), n, error_code])

    def _take_injected(self, text: str) -> str | None:
        with self._lock:
            if self._fail_next:
                return self._fail_next.pop(0)
            for rule in self._fail_matching:
                if rule[1] > 0 and rule[0].search(text):
                    rule[1] -= 1
                    return rule[2]
            return None

    def get(self, statement_id: str) -> Statement | None:
        """The statement, CLOSED once ``statement_retention_s`` passed; None after ``statement_expiry_s``."""
        with self._lock:
            st = self._statements.get(statement_id)
            if st is None or st.finished_at is None:
                return st
            age = time.monotonic() - st.finished_at
            if age >= float(self.knobs.statement_expiry_s):
                del self._statements[statement_id]
                return None
            if st.state == "SUCCEEDED" and age >= float(self.knobs.statement_retention_s):
                st.state, st.result = "CLOSED", None
            return st

    def _purge(self) -> None:
        """Forget expired statements (called now and then on submit, so memory stays bounded)."""
        now = time.monotonic()
        if now - self._last_purge < 1.0:
            return
        self._last_purge = now
        expiry, retention = float(self.knobs.statement_expiry_s), float(self.knobs.statement_retention_s)
        for sid, st in list(self._statements.items()):
            if st.finished_at is None:
                continue
            if now - st.finished_at >= expiry:
                del self._statements[sid]
            elif st.state == "SUCCEEDED" and now - st.finished_at >= retention:
                st.state, st.result = "CLOSED", None

    def submit(
        self, text: str, catalog: str | None, schema: str | None, parameters: dict, row_limit: int | None
    ) -> Statement:
        st = Statement(
            uuid.uuid4().hex[:8] + "-" + str(uuid.uuid4())[9:],
            text,
            catalog,
            schema,
            parameters,
            row_limit,
            chunk_rows=max(1, int(self.knobs.chunk_rows)),
        )
        with self._lock:
            self._purge()
            self._statements[st.statement_id] = st
        threading.Thread(
            target=self._run, args=(st,), name=f"statement-{st.statement_id[:8]}", daemon=True
        ).start()
        return st

    def cancel(self, st: Statement) -> None:
        st.cancel_requested.set()
        if st.running_sql and not st.done.is_set():
            self.warehouse.interrupt()

    def _finish(self, st: Statement, state: str) -> None:
        st.state = state
        st.finished_at = time.monotonic()
        self.stats.count(f"statements_{state.lower()}")
        st.done.set()

    def _run(self, st: Statement) -> None:
        st.state = "RUNNING"
        delay = float(self.knobs.statement_delay_s)
        if delay > 0 and st.cancel_requested.wait(delay):
            return self._finish(st, "CANCELED")
        if st.cancel_requested.is_set():
            return self._finish(st, "CANCELED")
        injected = self._take_injected(st.text)
        if injected:
            st.error_code, st.message = injected, f"Injected failure: {injected}."
            return self._finish(st, "FAILED")
        try:
            with self.warehouse.lock:
                if st.cancel_requested.is_set():
                    return self._finish(st, "CANCELED")
                st.running_sql = True
                try:
                    result = self.warehouse.execute(st.text, st.parameters, st.catalog, st.schema)
                finally:
                    st.running_sql = False
        except SqlError as exc:
            if st.cancel_requested.is_set() and exc.error_code == "CANCELLED":
                return self._finish(st, "CANCELED")
            st.error_code, st.message, st.sql_state = exc.error_code, exc.message, exc.sql_state
            return self._finish(st, "FAILED")
        except Exception as exc:
            st.error_code, st.message = "INTERNAL_ERROR", f"{type(exc).__name__}: {exc}"
            return self._finish(st, "FAILED")
        self.stats.count(f"statements_{result.kind.lower()}")
        table = result.table
        if st.row_limit is not None and table.num_rows > st.row_limit:
            table, st.truncated = table.slice(0, st.row_limit), True
        st.result = Result(table, result.kind)
        self._finish(st, "SUCCEEDED")

    # ---- responses -----------------------------------------------------------------------
    def wait(self, st: Statement, timeout_s: float) -> None:
        st.done.wait(timeout_s)

    def response(self, st: Statement) -> dict:
        state = st.state
        body: dict = {"statement_id": st.statement_id, "status": {"state": state}}
        if state == "FAILED":
            body["status"]["error"] = {"error_code": st.error_code, "message": st.message}
            if st.sql_state:
                body["status"]["sql_state"] = st.sql_state
        if state == "SUCCEEDED" and st.result is not None:
            body["manifest"] = self.manifest(st)
            body["result"] = self.chunk(st, 0)
        return body

    def _chunk_bounds(self, st: Statement) -> list[tuple[int, int]]:
        rows = st.result.table.num_rows
        return [(off, min(st.chunk_rows, rows - off)) for off in range(0, rows, st.chunk_rows)] or [(0, 0)]

    def manifest(self, st: Statement) -> dict:
        schema = st.result.table.schema
        bounds = self._chunk_bounds(st)
        return {
            "format": "JSON_ARRAY",
            "schema": {
                "column_count": len(schema),
                "columns": [column_info(f.name, i, f.type) for i, f in enumerate(schema)],
            },
            "total_chunk_count": len(bounds),
            "chunks": [
                {"chunk_index": i, "row_offset": off, "row_count": n} for i, (off, n) in enumerate(bounds)
            ],
            "total_row_count": st.result.table.num_rows,
            "truncated": st.truncated,
        }

    def chunk(self, st: Statement, index: int) -> dict | None:
        bounds = self._chunk_bounds(st)
        if index < 0 or index >= len(bounds):
            return None
        offset, count = bounds[index]
        out: dict = {"chunk_index": index, "row_offset": offset, "row_count": count}
        if count:
            part: pa.Table = st.result.table.slice(offset, count)
            types = [f.type for f in part.schema]
            columns = [
                [render(v, t) for v in col.to_pylist()] for col, t in zip(part.columns, types, strict=False)
            ]
            out["data_array"] = [list(row) for row in zip(*columns, strict=False)]
        if index + 1 < len(bounds):
            out["next_chunk_index"] = index + 1
            out["next_chunk_internal_link"] = (
                f"/api/2.0/sql/statements/{st.statement_id}/result/chunks/{index + 1}"
            )
        return out
