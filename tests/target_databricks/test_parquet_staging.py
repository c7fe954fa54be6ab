"""The bulk path's columnar conversion and Parquet files, and the compiled record check in front of the
SDK's validator: same values, same refusals, same errors as the value-by-value path."""

from __future__ import annotations

import io
import random
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from singer_sdk.exceptions import InvalidRecord
from singer_sdk.sinks.core import JSONSchemaValidator
from target_databricks import audit, sql, staging, values
from target_databricks.batch import ParquetBatch
from target_databricks.sql import Column
from target_databricks.validation import FastValidator

# --- columns -------------------------------------------------------------------------------------

MINUS_5 = timezone(timedelta(hours=-5))
COLUMN_VALUES = [
    ("BIGINT", [1, None, -(2**63), 2**63 - 1]),
    ("INT", [5, None, -(2**31)]),
    ("DECIMAL(38,9)", [Decimal("1.10"), 2, None, Decimal("-0.000000001"), Decimal("1.2000000000000")]),
    ("DECIMAL(10,2)", [Decimal("12345678.5"), Decimal("-0.01"), None]),
    ("DOUBLE", [Decimal("0.1"), 3, 2.5, None, Decimal("1e-300"), 2**60 + 1]),
    ("BOOLEAN", [True, False, None]),
    ("TIMESTAMP", [datetime(2024, 3, 1, 9, 0, 0, 123000, tzinfo=timezone(timedelta(hours=1))), None]),
    (
        "TIMESTAMP",
        [datetime(2024, 3, 1), datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 18, 0, tzinfo=MINUS_5)],
    ),
    ("TIMESTAMP", ["2024-03-01T09:00:00+01:00", "2024-03-01T09:00:00.1234567Z"]),
    ("DATE", [date(2024, 2, 29), None, "2024-03-01", datetime(2024, 1, 1, 23, 0)]),
    ("STRING", ["a", None, "", "é;`'"]),
    (
        "STRING",
        [{"a": Decimal("1.10")}, [1, 2], True, 2.5, Decimal("3.30"), 7, datetime(2024, 1, 1, tzinfo=UTC)],
    ),
]


@pytest.mark.parametrize(("sql_type", "column_values"), COLUMN_VALUES)
def test_arrow_columns_hold_what_the_parameter_texts_say(sql_type, column_values):
    column = Column("c", sql_type)
    array = values.arrow_column(column_values, column)
    assert array.type == values.arrow_type(sql_type)
    expected = [values.parameter_value(v, sql_type, "c") for v in column_values]
    got = array.to_pylist()
    for text, value in zip(expected, got, strict=True):
        if text is None:
            assert value is None
        else:
            assert value == values.arrow_value(text, column), (text, value)


REFUSED = [
    ("BIGINT", [1, 2**63]),
    ("BIGINT", [1, Decimal("1.5")]),
    ("BIGINT", [True]),
    ("INT", [2**31]),
    ("DECIMAL(38,9)", [Decimal("1"), Decimal("0.0000000001")]),
    ("DECIMAL(38,9)", [Decimal("1e29")]),
    ("DECIMAL(10,2)", [Decimal("123456789.5")]),
    ("DECIMAL(38,9)", [Decimal("NaN")]),
    ("DECIMAL(38,9)", [True]),
    ("DOUBLE", [Decimal("1e400")]),
    ("DOUBLE", [Decimal("1e-400")]),
    ("DOUBLE", [10**400]),
    ("DOUBLE", [True]),
    ("BOOLEAN", [1]),
    ("TIMESTAMP", [datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=MINUS_5)]),
    ("TIMESTAMP", ["yesterday"]),
    ("DATE", ["2024-02-30"]),
]


@pytest.mark.parametrize(("sql_type", "column_values"), REFUSED)
def test_arrow_columns_refuse_what_parameters_refuse_with_the_same_error(sql_type, column_values):
    column = Column("amount", sql_type)
    with pytest.raises(values.ValueConversionError) as per_value:
        for v in column_values:
            values.parameter_value(v, sql_type, "amount")
    with pytest.raises(values.ValueConversionError) as columnar:
        values.arrow_column(column_values, column)
    assert str(columnar.value) == str(per_value.value)


def test_record_batch_raises_the_first_error_in_record_order():
    cols = [Column("a", "BIGINT"), Column("b", "DECIMAL(38,2)")]
    records = [{"a": 1, "b": Decimal("1.5")}, {"a": 2, "b": Decimal("1.555")}, {"a": 2**64, "b": 1}]
    with pytest.raises(values.ValueConversionError, match=r"column 'b' \(DECIMAL\(38,2\)\): value 1.555"):
        values.arrow_record_batch(records, cols, [0, 1])


# --- Parquet batches ------------------------------------------------------------------------------

SCHEMA = {
    "properties": {
        "id": {"type": "integer"},
        "amount": {"type": "number", "x-sql-datatype": "decimal(38,9)"},
        "name": {"type": ["null", "string"]},
        "at": {"type": "string", "format": "date-time"},
    }
}


def _records(n: int) -> list[dict]:
    return [
        {
            "id": i % 7,
            "amount": Decimal(i) / 1000,
            "name": f"n{i}" * (i % 5) or None,
            "at": datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=i),
            "_sdc_extracted_at": None,
            "_sdc_received_at": datetime(2024, 5, 1, tzinfo=UTC),
            "_sdc_sequence": i,
        }
        for i in range(n)
    ]


def _read(bodies: list[bytes]) -> pa.Table:
    return pa.concat_tables(pq.read_table(io.BytesIO(body)) for body in bodies)


@pytest.mark.parametrize("keys", [["id"], None])
def test_parquet_batch_files_hold_the_rows_to_load(keys):
    cols = sql.columns_for_schema(SCHEMA)
    records = _records(50)
    batch = ParquetBatch("bills", cols, keys, "at", inline_rows=10, chunk_rows=8)
    for record in records:
        batch.add(record)
    assert batch.token == audit.load_token("bills", records) and not batch.inline_ready
    constants = batch.constants(datetime(2024, 6, 1, tzinfo=UTC), batch.token)
    table = _read(list(batch.parquet_files(constants, 32 * 1024 * 1024)))
    kept = [r for i, r in enumerate(records) if keys is None or i >= len(records) - 7]
    assert table.num_rows == batch.rows == len(kept)
    names = [c.name for c in cols]
    assert table.column(f"c{names.index('id')}").to_pylist() == [r["id"] for r in kept]
    assert table.column(f"c{names.index('amount')}").type == pa.decimal128(38, 9)
    assert table.column(f"c{names.index('amount')}").to_pylist() == [r["amount"] for r in kept]
    assert table.column(f"c{names.index('at')}").to_pylist() == [r["at"] for r in kept]
    assert set(table.column(f"c{names.index('_sdc_load_token')}").to_pylist()) == {batch.token}
    assert set(table.column(f"c{names.index('_sdc_batched_at')}").to_pylist()) == {
        datetime(2024, 6, 1, tzinfo=UTC)
    }
    batch.close()


@pytest.mark.parametrize(
    ("keys", "n", "max_bytes", "as_is"),
    [
        (["id"], 50, 32 * 1024 * 1024, True),
        (None, 50, 32 * 1024 * 1024, True),
        (["id"], 50, 1024, False),  # larger than a staged file may be
        (["at"], 50, 32 * 1024 * 1024, False),  # keys repeat: one row per key is rewritten
    ],
)
def test_a_spool_is_staged_as_it_is_when_every_row_loads_and_it_fits(keys, n, max_bytes, as_is):
    cols = sql.columns_for_schema(SCHEMA)
    records = _records(n)
    for i, r in enumerate(records):
        r["id"], r["at"] = i, records[0]["at"]  # ids differ, times repeat
    batch = ParquetBatch("bills", cols, keys, None, inline_rows=10, chunk_rows=8)
    for record in records:
        batch.add(record)
    body = batch.spooled_file(max_bytes)
    assert (body is not None) == as_is
    if body is not None:
        table = pq.read_table(io.BytesIO(body))
        names = [c.name for c in cols]
        assert f"c{names.index('_sdc_load_token')}" not in table.column_names  # given by the statement
        assert table.column(f"c{names.index('id')}").to_pylist() == [r["id"] for r in records]
    batch.close()


def test_parquet_batch_cuts_files_at_the_size_limit_and_keeps_every_row_once():
    cols = sql.columns_for_schema(SCHEMA)
    records = _records(3000)
    for r in records:
        r["name"] = "x" * 200 + str(r["_sdc_sequence"])
    batch = ParquetBatch("bills", cols, None, None, inline_rows=10, chunk_rows=1000)
    for record in records:
        batch.add(record)
    bodies = list(batch.parquet_files(batch.constants(datetime.now(tz=UTC), batch.token), 96 * 1024))
    assert len(bodies) > 2
    assert all(len(body) <= 96 * 1024 for body in bodies)
    seq = [c.name for c in cols].index("_sdc_sequence")
    assert _read(bodies).column(f"c{seq}").to_pylist() == list(range(3000))
    batch.close()


def test_parquet_batch_keeps_a_conversion_error_for_the_drain_and_small_batches_go_inline():
    cols = [Column("id", "BIGINT")]
    batch = ParquetBatch("bills", cols, None, None, inline_rows=10, chunk_rows=2)
    for record in ({"id": 1}, {"id": Decimal("1.5")}, {"id": 3}):
        batch.add(record)
    batch.finish()
    assert isinstance(batch.error, values.ValueConversionError) and batch.received == 3
    batch.close()
    small = ParquetBatch("bills", cols, ["id"], None, inline_rows=10)
    for record in ({"id": 1}, {"id": 2}, {"id": 1}):
        small.add(record)
    small.finish()
    assert small.error is None and small.inline_ready
    assert small.row_values({}) == [["2"], ["1"]]
    small.close()


def test_parquet_source_reads_positional_columns_with_casts():
    source = staging.bulk_parquet_source([Column("a`b", "DECIMAL(38,9)")], "/Volumes/c/s/v/x'y")
    assert source == (
        "SELECT CAST(c0 AS DECIMAL(38,9)) AS `a``b` "
        "FROM read_files('/Volumes/c/s/v/x\\'y', format => 'parquet')"
    )


def test_parquet_source_gives_batch_constants_as_escaped_literals():
    cols = [Column("a", "BIGINT"), Column("t", "STRING"), Column("b", "TIMESTAMP")]
    source = staging.bulk_parquet_source(cols, "/Volumes/c/s/v/x", {1: "it's", 2: None})
    assert source == (
        "SELECT CAST(c0 AS BIGINT) AS `a`, CAST('it\\'s' AS STRING) AS `t`, CAST(NULL AS TIMESTAMP) AS `b` "
        "FROM read_files('/Volumes/c/s/v/x', format => 'parquet')"
    )


# --- the compiled record check --------------------------------------------------------------------

CHECKED_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "amount": {"type": ["number", "null"], "x-sql-datatype": "decimal(38,9)"},
        "step": {"type": "number", "multipleOf": Decimal("0.01")},  # as a SCHEMA message decodes
        "when": {"type": "string", "format": "date-time"},
        "kind": {"enum": ["a", "b"]},
        "lines": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"n": {"type": "integer"}},
                "required": ["n"],
                "additionalProperties": False,
            },
        },
        "either": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "flag": {"type": "boolean"},
    },
    "required": ["id"],
}
# Numbers as the target's reader decodes them: int, or Decimal (never float).
SAMPLES = [
    1,
    Decimal("1.0"),
    Decimal("1.5"),
    Decimal("2.50"),
    Decimal("2.505"),
    True,
    None,
    "a",
    "c",
    "",
    [],
    [{"n": 1}],
    [{"n": "1"}],
    [{"m": 1}],
    [{}],
    {},
    {"n": 1},
    2**70,
]


class _Counting:
    def __init__(self, full: JSONSchemaValidator) -> None:
        self.full, self.calls = full, 0

    def validate(self, record: dict) -> None:
        self.calls += 1
        self.full.validate(record)


def test_compiled_check_accepts_and_refuses_exactly_as_the_sdk_validator():
    rng = random.Random(7)
    full = JSONSchemaValidator(CHECKED_SCHEMA)
    counting = _Counting(full)
    fast = FastValidator(CHECKED_SCHEMA, counting)  # type: ignore[arg-type]
    names = [*CHECKED_SCHEMA["properties"], "extra"]
    for _ in range(3000):
        record = {name: rng.choice(SAMPLES) for name in rng.sample(names, rng.randint(0, len(names)))}
        try:
            full.validate(record)
            valid = True
        except InvalidRecord:
            valid = False
        if valid:
            fast.validate(record)
        else:
            with pytest.raises(InvalidRecord):
                fast.validate(record)


def test_compiled_check_skips_the_full_validator_for_records_it_knows_valid():
    schema = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "amount": {"type": "number", "x-sql-datatype": "decimal(38,9)"},
            "when": {"type": ["string", "null"], "format": "date-time"},
            "lines": {"type": "array", "items": {"type": "object"}},
        },
        "additionalProperties": False,
    }
    counting = _Counting(JSONSchemaValidator(schema))
    fast = FastValidator(schema, counting)  # type: ignore[arg-type]
    fast.validate({"id": 1, "amount": Decimal("1.10"), "when": "2024-01-01T00:00:00Z", "lines": [{"a": 1}]})
    fast.validate({"id": 2, "amount": 3, "when": None, "lines": []})
    assert counting.calls == 0
    with pytest.raises(InvalidRecord, match="'x' was unexpected"):
        fast.validate({"id": 3, "x": 1})
    with pytest.raises(InvalidRecord, match="is not of type 'integer'"):
        fast.validate({"id": "3"})
    assert counting.calls == 2
