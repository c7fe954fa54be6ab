"""Audit columns are declared through the SDK's metadata-column hook: typed, validated, no warnings."""

from __future__ import annotations

import io
import json
import logging

from target_databricks.client import StatementResult
from target_databricks.target import TargetDatabricks

CONFIG = {
    "host": "https://example.invalid",
    "warehouse_id": "w",
    "catalog": "main",
    "schema": "fin",
    "token": "x",
}


class Recorder:
    def __init__(self) -> None:
        self.statements = []

    def execute(self, statement, *, catalog=None, schema=None):
        self.statements.append(statement)
        if statement.kind == "audit check":
            return StatementResult("s", [])  # the table was never loaded
        return StatementResult(f"s{len(self.statements)}")


def _run(messages, config=CONFIG) -> tuple[TargetDatabricks, Recorder]:
    target = TargetDatabricks(config=config, validate_config=True)
    recorder = Recorder()
    target.__dict__["client"] = recorder
    target.listen(file_input=io.StringIO("".join(json.dumps(m) + "\n" for m in messages)))
    return target, recorder


SCHEMA = {
    "type": "SCHEMA",
    "stream": "bills",
    "key_properties": ["id"],
    "schema": {"type": "object", "properties": {"id": {"type": "integer"}, "amt": {"type": "number"}}},
}
RECORDS = [
    {
        "type": "RECORD",
        "stream": "bills",
        "record": {"id": 1, "amt": 1.5},
        "time_extracted": "2024-03-01T10:00:00Z",
    },
    {"type": "RECORD", "stream": "bills", "record": {"id": 2, "amt": 2}},
]


def test_no_missing_schema_warnings_and_typed_audit_columns(caplog):
    caplog.set_level(logging.WARNING)
    _, recorder = _run([SCHEMA, *RECORDS])
    warnings = [r.getMessage() for r in caplog.records if "No schema for record field" in r.getMessage()]
    assert warnings == []
    create = next(s for s in recorder.statements if s.kind == "create table")
    for text in (
        "`_sdc_extracted_at` TIMESTAMP",
        "`_sdc_received_at` TIMESTAMP",
        "`_sdc_batched_at` TIMESTAMP",
        "`_sdc_sequence` BIGINT",
        "`_sdc_load_token` STRING",
    ):
        assert text in create.sql
    merge = next(s for s in recorder.statements if s.kind == "merge")
    values = {p.value for p in merge.parameters}
    assert "2024-03-01T10:00:00.000000+00:00" in values  # time_extracted parsed and sent as a TIMESTAMP
    assert {p.type for p in merge.parameters} >= {"TIMESTAMP", "BIGINT", "STRING"}


def test_audit_properties_are_in_the_sink_schema_even_without_add_record_metadata():
    target, _ = _run([SCHEMA, *RECORDS], {**CONFIG, "add_record_metadata": False})
    sink = target._sinks_active["bills"]
    props = sink.schema["properties"]
    assert props["_sdc_extracted_at"] == {"type": ["null", "string"], "format": "date-time"}
    assert props["_sdc_sequence"] == {"type": ["null", "integer"]}
    assert "_sdc_deleted_at" not in props  # only the columns this target writes


def test_tap_declared_audit_fields_do_not_change_column_types():
    schema = json.loads(json.dumps(SCHEMA))
    schema["schema"]["properties"]["_sdc_sequence"] = {"type": "string"}
    _, recorder = _run([schema, *RECORDS])
    create = next(s for s in recorder.statements if s.kind == "create table")
    assert "`_sdc_sequence` BIGINT" in create.sql
