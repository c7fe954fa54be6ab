"""The load-audit table (one row per applied batch) and the load token that identifies a batch."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from mlc_run_audit import AUDIT_COLUMNS as RECORD_AUDIT_COLUMNS

from target_databricks.sql import (
    AUDIT_COLUMN_TYPES,
    Column,
    Parameter,
    Statement,
    column_definitions,
    column_list,
    parameter_type,
    qualified_name,
    quote_identifier,
)
from target_databricks.values import parameter_value

AUDIT_TABLE = "_sdc_load_audit"

_json_sorted_encoder = msgspec.json.Encoder(decimal_format="number", order="sorted")

AUDIT_COLUMNS: list[Column] = [
    Column("stream", "STRING"),
    Column("table_name", "STRING"),
    Column("load_token", "STRING"),
    Column("load_method", "STRING"),
    Column("rows", "BIGINT"),
    Column("min_replication_value", "STRING"),
    Column("max_replication_value", "STRING"),
    Column("statement_ids", "STRING"),
    Column("status", "STRING"),
    Column("started_at", "TIMESTAMP"),
    Column("finished_at", "TIMESTAMP"),
    Column("run_id", "STRING"),
]


def create_audit_table(catalog: str, schema: str) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {qualified_name(catalog, schema, AUDIT_TABLE)} "
        f"({column_definitions(AUDIT_COLUMNS)}) USING DELTA"
    )


def audit_latest_query(catalog: str, schema: str, table: str) -> Statement:
    """The stream and load token of the table's most recent committed load (no row: never loaded).

    A batch is skipped only when its token is that of the table's LAST committed load: a replay of it
    changes nothing, while a batch equal to an older load (a full-table stream whose values went back)
    is applied, since loads committed after it changed the table.
    """
    return Statement(
        f"SELECT `stream`, `load_token` FROM {qualified_name(catalog, schema, AUDIT_TABLE)} "
        "WHERE `table_name` = :table_name AND `status` = 'committed' "
        "ORDER BY `finished_at` DESC, `started_at` DESC LIMIT 1",
        [Parameter("table_name", table)],
        kind="audit check",
    )


def audit_insert(catalog: str, schema: str, values: Mapping[str, Any]) -> Statement:
    """INSERT of one audit row; every value is a typed parameter.

    Safe to repeat: nothing is inserted when a row with the same stream, load token, status, run and
    start time exists (a retried request whose answer was lost does not write a second row). A batch
    applied again later (a replay after newer loads) gets a row of its own, so the audit table's
    latest committed load is the one that changed the table last.
    """
    params = [
        Parameter(
            f"a{i}", parameter_value(values.get(c.name), c.sql_type, c.name), parameter_type(c.sql_type)
        )
        for i, c in enumerate(AUDIT_COLUMNS)
    ]
    index = {c.name: i for i, c in enumerate(AUDIT_COLUMNS)}
    table = qualified_name(catalog, schema, AUDIT_TABLE)
    markers = ", ".join(
        f"CAST(:a{i} AS {c.sql_type}) AS {quote_identifier(c.name)}" for i, c in enumerate(AUDIT_COLUMNS)
    )
    types = {c.name: c.sql_type for c in AUDIT_COLUMNS}
    same = " AND ".join(
        f"a.{quote_identifier(name)} <=> CAST(:a{index[name]} AS {types[name]})"
        for name in ("stream", "load_token", "status", "run_id", "started_at")
    )
    return Statement(
        f"INSERT INTO {table} ({column_list(AUDIT_COLUMNS)}) SELECT {markers} "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} AS a WHERE {same})",
        params,
        kind="audit insert",
    )


#: Columns that vary between runs of the same records: this target's and the taps' audit stamps.
_NOT_IN_TOKEN = frozenset(AUDIT_COLUMN_TYPES) | frozenset(RECORD_AUDIT_COLUMNS)


class LoadToken:
    """Deterministic token of a batch, fed record by record: sha256 over the stream name and its records.

    Audit columns (``_sdc_*`` set by this target, and the ``_audit_*`` run and source stamps a tap
    sets, which vary between runs) are left out, and keys are sorted. Each record's ``time_extracted``
    (kept as ``_sdc_extracted_at``) is part of it: the same input (a replayed failed-batch file, a
    killed run's input piped again) gives the same token, while a new extraction that happens to
    carry the same values as an earlier one is a new load.

    A record whose RECORD line stands for it exactly (decoded checked, and unchanged by stream maps:
    ``typed_records``) is fed as that line, which holds its values and ``time_extracted`` too: the same
    input still gives the same token, without encoding the record again.
    """

    def __init__(self, stream_name: str) -> None:
        self._digest = hashlib.sha256()
        self._digest.update(_json_sorted_encoder.encode(stream_name))

    def add(self, record: Mapping[str, Any]) -> None:
        clean = {k: v for k, v in record.items() if k not in _NOT_IN_TOKEN}
        extracted = record.get("_sdc_extracted_at")
        self._digest.update(b"\n")
        if extracted is None:  # no time_extracted: the token of the values alone
            self._digest.update(_json_sorted_encoder.encode(clean))
        else:
            self._digest.update(_json_sorted_encoder.encode({"record": clean, "time_extracted": extracted}))

    def add_line(self, line: bytes) -> None:
        """A record as the RECORD message line it was read from."""
        self._digest.update(b"\nline:")
        self._digest.update(line)

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def load_token(stream_name: str, records: Sequence[Mapping[str, Any]]) -> str:
    """The ``LoadToken`` of a whole batch."""
    token = LoadToken(stream_name)
    for record in records:
        token.add(record)
    return token.hexdigest()
