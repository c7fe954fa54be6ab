"""The Singer SDK's standard target tests, run against the Databricks emulator.

Every test of the SDK's suite runs (SDK 0.54.9 marks none as not applicable to a target like this
one). The SDK's tests fail when the target raises, or, for the three malformed inputs (invalid
schema, record before schema, record without its key property), when it does not raise. On top of
that, after each test whose input loads, the Delta tables the emulator wrote are compared with the
test's own ``.singer`` file: one table per stream with a column per property, the last record per key
(every record for streams without keys), values as sent.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from deltalake import DeltaTable
from singer_sdk.testing import get_target_test_class
from singer_sdk.testing.runners import TargetTestRunner
from target_databricks import sql
from target_databricks.target import TargetDatabricks

from tests.support.databricks import connection

CATALOG, SCHEMA_NAME = "workspace", "standard"

# The SDK's own tests of these inputs pass only when the target raises; nothing is meant to land.
EXPECTED_TO_RAISE = {
    "test_target_invalid_schema",
    "test_target_record_before_schema",
    "test_target_record_missing_key_property",
}


def target_config(dbx) -> dict:
    return {**connection(dbx, SCHEMA_NAME), "retry_backoff_seconds": 0.05}


StandardTargetTests = get_target_test_class(TargetDatabricks, config={})


class TestTargetDatabricks(StandardTargetTests):
    """The SDK's standard target suite, one fresh emulator per test."""

    @pytest.fixture
    def runner(self, dbx) -> TargetTestRunner:
        return TargetTestRunner(target_class=TargetDatabricks, config=target_config(dbx))

    @pytest.fixture(autouse=True)
    def landed_as_sent(self, request, runner, dbx):
        """After the SDK's test: the tables hold exactly what its input file says should land."""
        yield
        if request.node.name in EXPECTED_TO_RAISE or runner.input_filepath is None:
            return
        expected = expected_tables(runner.input_filepath.read_text(encoding="utf-8"))
        assert expected, "the test's input names no stream"
        for table, (properties, _keys, records) in expected.items():
            landed = DeltaTable(dbx.table_path(CATALOG, SCHEMA_NAME, table)).to_pyarrow_table().to_pylist()
            assert_landed(table, properties, records, landed)


def expected_tables(singer_text: str) -> dict[str, tuple[dict, list[str], list[dict]]]:
    """Per table: the last schema's properties, its key properties and the records that should remain."""
    tables: dict[str, tuple[dict, list[str], list[dict]]] = {}
    for line in singer_text.splitlines():
        if not line.strip():
            continue
        message = json.loads(line, parse_float=Decimal)
        table = sql.table_name(message.get("stream", ""), "") if message.get("stream") else None
        if message["type"] == "SCHEMA":
            _, _, records = tables.get(table, ({}, [], []))
            properties = message["schema"].get("properties") or {}
            tables[table] = (properties, message.get("key_properties") or [], records)
        elif message["type"] == "RECORD":
            tables[table][2].append(message["record"])
    out = {}
    for table, (properties, keys, records) in tables.items():
        if keys:
            latest = {tuple(json.dumps(r.get(k)) for k in keys): r for r in records}
            records = list(latest.values())
        out[table] = (properties, keys, records)
    return out


def assert_landed(table: str, properties: dict, records: list[dict], landed: list[dict]) -> None:
    assert len(landed) == len(records), f"{table}: {len(landed)} rows landed, {len(records)} expected"
    for row in landed:
        assert set(properties) <= set(row), f"{table}: columns {sorted(set(properties) - set(row))} missing"
        assert row["_sdc_load_token"] and row["_sdc_sequence"] and row["_sdc_batched_at"], table
    unmatched = list(landed)
    for record in records:
        match = next((row for row in unmatched if all(same(row[p], record.get(p)) for p in properties)), None)
        assert match is not None, f"{table}: no row holds {record!r}; rows: {unmatched!r}"
        unmatched.remove(match)


def same(stored, sent) -> bool:
    """A stored Delta value against the JSON value that was sent for it."""
    if sent is None or stored is None:
        return sent is None and stored is None
    if isinstance(sent, dict | list):
        return json.loads(stored, parse_float=Decimal) == sent
    if isinstance(stored, Decimal):
        return stored == Decimal(str(sent))
    if isinstance(stored, datetime):
        moment = datetime.fromisoformat(sent)
        return stored == (moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    return stored == sent
