"""Numbers from any tap (issue 11, item 5) and values at the edges (issue 12, case 7), on the emulator."""

from __future__ import annotations

import json
from decimal import Decimal

from target_databricks import sql

from tests.support.databricks import (
    CATALOG,
    SCHEMA_NAME,
    audit,
    by_id,
    rows,
    run_in_process,
    schema,
    stat,
    write_config,
)


def rec(stream: str, record: dict) -> dict:
    return {"type": "RECORD", "stream": stream, "record": record, "time_extracted": "2024-05-01T12:00:00Z"}


def column_types(dbx, table: str) -> dict[str, str]:
    described = sql.parse_describe(
        dbx.query(f"DESCRIBE TABLE {sql.qualified_name(CATALOG, SCHEMA_NAME, table)}")
    )
    return {c.name: c.sql_type for c in described.values()}


FLOATS = [
    Decimal("0.1234567890123"),  # more than 9 decimals: failed the batch as DECIMAL(38,9)
    Decimal("3.141592653589793"),
    Decimal("1.7976931348623157E+308"),
    Decimal("-2.2250738585072014E-308"),
    Decimal("5E-324"),
    Decimal("123456789012345678901234567890.5"),
    Decimal("0"),
]


def test_plain_numbers_from_any_tap_land_as_doubles(tmp_path, dbx):
    cfg = write_config(tmp_path, dbx, number_type="double")
    props = {"id": {"type": "integer"}, "reading": {"type": ["null", "number"]}}
    messages = [schema("readings", props, ["id"])]
    messages += [rec("readings", {"id": i, "reading": v}) for i, v in enumerate(FLOATS)]
    result = run_in_process(cfg, messages)
    assert result.returncode == 0, result.stderr[-3000:]
    assert column_types(dbx, "readings")["reading"] == "DOUBLE"
    landed = by_id(rows(dbx, "readings"))
    assert {i: landed[i]["reading"] for i in landed} == {i: float(v) for i, v in enumerate(FLOATS)}


def test_declared_decimals_stay_exact_whatever_number_type_says(tmp_path, dbx):
    cfg = write_config(tmp_path, dbx, number_type="double")
    props = {
        "id": {"type": "integer"},
        "cents": {"type": ["null", "number"], "multipleOf": 0.01},
        "rate": {"type": ["null", "number"], "multipleOf": Decimal("1E-12")},
        "cost": {"type": ["null", "number"], "x-sql-datatype": "decimal(19,4)"},
        "text_amount": {
            "type": ["null", "string"],
            "format": "x-singer.decimal",
            "precision": 38,
            "scale": 18,
        },
        "huge": {"type": ["null", "integer"], "maximum": 10**30},
        "count": {"type": ["null", "integer"]},
    }
    record = {
        "id": 1,
        "cents": Decimal("123456789012345678901234567890123.45"),
        "rate": Decimal("0.000000000123"),
        "cost": Decimal("-123456789012345.6789"),
        "text_amount": "12345678901234567890.123456789012345678",
        "huge": 123456789012345678901234567890,  # beyond 64 bits
        "count": 2**63 - 1,
    }
    result = run_in_process(cfg, [schema("amounts", props, ["id"]), rec("amounts", record)])
    assert result.returncode == 0, result.stderr[-3000:]
    assert (
        column_types(dbx, "amounts").items()
        >= {
            "cents": "DECIMAL(38,2)",
            "rate": "DECIMAL(38,12)",
            "cost": "DECIMAL(19,4)",
            "text_amount": "DECIMAL(38,18)",
            "huge": "DECIMAL(38,0)",
            "count": "BIGINT",
        }.items()
    )
    [row] = rows(dbx, "amounts")
    for name, value in record.items():
        assert Decimal(str(row[name])) == Decimal(str(value)), name


def test_an_integer_beyond_bigint_is_refused_by_stream_column_and_value(tmp_path, dbx):
    failed = tmp_path / "failed"
    cfg = write_config(tmp_path, dbx, failed_batch_dir=str(failed))
    props = {"id": {"type": "integer"}, "count": {"type": ["null", "integer"]}}
    result = run_in_process(cfg, [schema("counts", props, ["id"]), rec("counts", {"id": 1, "count": 2**64})])
    assert result.returncode != 0 and result.states == []
    assert (
        "stream counts failed: column 'count' (BIGINT): 18446744073709551616 is out of range" in result.stderr
    )
    assert len(list(failed.iterdir())) == 1


def test_a_decimal_column_keeps_its_type_and_a_conflicting_declaration_is_an_error(tmp_path, dbx):
    # A table made when plain numbers were DECIMAL(38,9): the column stays exact.
    old = write_config(tmp_path, dbx, number_type="decimal")
    props = {"id": {"type": "integer"}, "amount": {"type": ["null", "number"]}}
    assert (
        run_in_process(old, [schema("bills", props, ["id"]), rec("bills", {"id": 1, "amount": 1})]).returncode
        == 0
    )
    new = write_config(tmp_path, dbx, number_type="double")
    result = run_in_process(
        new, [schema("bills", props, ["id"]), rec("bills", {"id": 2, "amount": Decimal("0.1")})]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert column_types(dbx, "bills")["amount"] == "DECIMAL(38,9)"
    assert by_id(rows(dbx, "bills"))[2]["amount"] == Decimal("0.100000000")
    # A DOUBLE column cannot hold what the stream now declares exact: refused before any row is written.
    assert (
        run_in_process(new, [schema("rates", props, ["id"]), rec("rates", {"id": 1, "amount": 1})]).returncode
        == 0
    )
    exact = {"id": {"type": "integer"}, "amount": {"type": ["null", "number"], "multipleOf": 0.01}}
    refused = run_in_process(new, [schema("rates", exact, ["id"]), rec("rates", {"id": 2, "amount": 2})])
    assert refused.returncode != 0
    assert "column 'amount' is DOUBLE but the stream now declares DECIMAL(38,2)" in refused.stderr
    assert sorted(by_id(rows(dbx, "rates"))) == [1]


def test_a_year_10000_utc_timestamp_is_refused_by_stream_column_and_value_and_kept(tmp_path, dbx):
    failed = tmp_path / "failed"
    cfg = write_config(tmp_path, dbx, failed_batch_dir=str(failed))
    props = {"id": {"type": "integer"}, "due": {"type": ["null", "string"], "format": "date-time"}}
    messages = [
        schema("bills", props, ["id"]),
        rec("bills", {"id": 1, "due": "9999-12-31T18:59:59.999-05:00"}),  # 23:59:59.999 UTC: lands
        rec("bills", {"id": 2, "due": "9999-12-31T23:59:59.999-05:00"}),  # year 10000 in UTC
        rec("bills", {"id": 3, "due": "0001-01-01T00:00:00Z"}),
    ]
    result = run_in_process(cfg, messages)
    assert result.returncode != 0 and result.states == []
    assert "stream bills failed: column 'due' (TIMESTAMP): '9999-12-31T23:59:59.999000-05:00' is after" in (
        result.stderr
    )
    assert result.stderr.splitlines()[-1].startswith(
        "SqlBuildError: Stream 'bills': column 'due' (TIMESTAMP)"
    )
    [kept] = failed.iterdir()
    assert [json.loads(line)["record"]["id"] for line in kept.read_text().splitlines()[1:]] == [1, 2, 3]
    # Without the refused record the batch lands exactly, years 1 and 9999 included.
    ok = run_in_process(cfg, [messages[0], messages[1], messages[3]])
    assert ok.returncode == 0, ok.stderr[-3000:]
    landed = by_id(rows(dbx, "bills"))
    assert landed[1]["due"].isoformat() == "9999-12-31T23:59:59.999000+00:00"
    assert landed[3]["due"].isoformat() == "0001-01-01T00:00:00+00:00"


def test_a_value_over_the_statement_budget_goes_through_the_volume(tmp_path, dbx):
    cfg = write_config(tmp_path, dbx)
    props = {"id": {"type": "integer"}, "attachment": {"type": ["null", "string"]}}
    big = "x" * (5 * 1024 * 1024)  # one value over max_statement_bytes (4 MiB)
    result = run_in_process(
        cfg,
        [schema("notes", props, ["id"]), rec("notes", {"id": 1, "attachment": big}), rec("notes", {"id": 2})],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    landed = by_id(rows(dbx, "notes"))
    assert landed[1]["attachment"] == big and landed[2]["attachment"] is None
    assert stat(dbx, "uploads") == 1 and len(audit(dbx)) == 1
