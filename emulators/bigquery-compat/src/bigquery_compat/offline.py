"""What bqemulator 1.4.0 needs to serve z3-target-bigquery on a machine without internet access.

Each fix wraps one bqemulator function at start-up; nothing in site-packages is edited.
"""

from __future__ import annotations

import functools
import gzip
import logging
import shutil
from pathlib import Path

import sqlglot
from sqlglot import exp

log = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"


def skip_spatial_extension() -> None:
    """Start without DuckDB's `spatial` extension, which is downloaded on first use.

    Only GEOGRAPHY columns and ST_* functions need it; the finance tables have neither.
    """
    from bqemulator.storage.engine import DuckDBEngine

    def _load_spatial(self) -> None:
        log.warning("bigquery-compat: DuckDB spatial extension not loaded (offline); GEOGRAPHY unsupported")

    DuckDBEngine._load_spatial = _load_spatial


def unqualify_merge_set_targets() -> None:
    """Rewrite `UPDATE SET target.col = ...` in MERGE to `UPDATE SET col = ...`.

    BigQuery accepts the qualified form the target's upsert emits; DuckDB rejects it.
    """
    from bqemulator.domain.result import Ok
    from bqemulator.sql.translator import SQLTranslator

    original = SQLTranslator.translate

    @functools.wraps(original)
    def translate(self, bq_sql: str, **kwargs):
        result = original(self, bq_sql, **kwargs)
        if isinstance(result, Ok) and "MERGE" in result.value.upper():
            return Ok(unqualified_merge(result.value))
        return result

    SQLTranslator.translate = translate


def unqualified_merge(duckdb_sql: str) -> str:
    statements = sqlglot.parse(duckdb_sql, read="duckdb")
    if not any(isinstance(s, exp.Merge) for s in statements):
        return duckdb_sql
    for statement in statements:
        for update in statement.find_all(exp.Update):
            if not isinstance(update.parent, exp.When):
                continue
            for assignment in update.expressions:
                target = assignment.this
                if isinstance(target, exp.Column) and target.table:
                    assignment.set("this", exp.column(target.this))
    return "; ".join(s.sql("duckdb") for s in statements if s is not None)


def decompress_gzip_uploads() -> None:
    """Decompress gzip load files before the load job reads them.

    The target gzips every batch-job upload; bqemulator reads the file as plain NDJSON and the
    job ends DONE with 0 rows and no error, so rows would be lost silently.
    """
    from bqemulator.api.routes import upload

    original = upload._run_load

    @functools.wraps(original)
    async def _run_load(*, media_path: str, **kwargs):
        path = Path(media_path)
        with path.open("rb") as fh:
            compressed = fh.read(2) == GZIP_MAGIC
        if compressed:
            plain = path.with_name(path.name + ".plain")
            with gzip.open(path, "rb") as src, plain.open("wb") as dst:
                shutil.copyfileobj(src, dst)
            plain.replace(path)
        return await original(media_path=media_path, **kwargs)

    upload._run_load = _run_load


def install() -> None:
    """Apply every fix; call before bqemulator starts."""
    # bqemulator declares numpy only in optional extras but needs it at run time: fail at start, not mid-load.
    import numpy  # noqa: F401

    skip_spatial_extension()
    unqualify_merge_set_targets()
    decompress_gzip_uploads()
