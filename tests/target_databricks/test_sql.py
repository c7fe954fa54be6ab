"""Unit tests of the pure SQL builders of target-databricks (no I/O)."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from target_databricks import audit, sql, staging, values
from target_databricks.sql import Budget, Column, SqlBuildError
from target_databricks.values import ValueConversionError

TABLE = sql.qualified_name("main", "finance", "ap_bills")


def _cols(props: dict) -> list[Column]:
    return sql.columns_for_schema({"properties": props})


# --- identifiers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("plain", "`plain`"),
        ("a`b", "`a``b`"),
        ("``", "``````"),
        ("x'; DROP TABLE t; --", "`x'; DROP TABLE t; --`"),
        ('say "hi"', '`say "hi"`'),
        ("select", "`select`"),
        ("Größe €", "`Größe €`"),
        ("a.b", "`a.b`"),
    ],
)
def test_quote_identifier(name, quoted):
    assert sql.quote_identifier(name) == quoted


def test_quoted_identifier_round_trips():
    for name in ["a`b`c", "`", "x``y", "; `) --"]:
        quoted = sql.quote_identifier(name)
        assert quoted.startswith("`") and quoted.endswith("`")
        inner = quoted[1:-1]
        assert "`" not in inner.replace("``", "")  # no lone backtick can close the identifier
        assert inner.replace("``", "`") == name


@pytest.mark.parametrize("bad", ["", None, "a\x00b"])
def test_quote_identifier_rejects(bad):
    with pytest.raises(SqlBuildError):
        sql.quote_identifier(bad)


def test_qualified_name():
    assert sql.qualified_name("main", "fin`x", "t") == "`main`.`fin``x`.`t`"


@pytest.mark.parametrize(
    ("stream", "prefix", "expected"),
    [
        ("APBill", "", "apbill"),
        ("public-AP Bills", "acu_", "acu_public_ap_bills"),
        ("Grüße", "", "gru_e"),
        ("Café Ledger", "", "cafe_ledger"),
        ("a;b`c", "", "a_b_c"),
        ("select", "", "select"),
        ("_audit_runs", "", "_audit_runs"),
        (" Bills! ", "", "bills"),
    ],
)
def test_table_name_is_safe(stream, prefix, expected):
    name = sql.table_name(stream, prefix)
    assert name == expected
    assert re.fullmatch(r"[a-z0-9_]+", name)


def test_table_name_rejects_empty():
    with pytest.raises(SqlBuildError):
        sql.table_name("€€€")


def test_table_name_length_capped():
    assert len(sql.table_name("x" * 400)) == 255


# --- types -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prop", "sql_type"),
    [
        ({"type": "integer"}, "BIGINT"),
        ({"type": ["null", "integer"]}, "BIGINT"),
        ({"type": ["number", "null"]}, "DOUBLE"),
        ({"type": ["integer", "number"]}, "DOUBLE"),
        ({"type": "number", "multipleOf": 0.01}, "DECIMAL(38,2)"),
        ({"type": "boolean"}, "BOOLEAN"),
        ({"type": ["string", "null"], "format": "date-time"}, "TIMESTAMP"),
        ({"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]}, "TIMESTAMP"),
        ({"type": "string", "format": "date"}, "DATE"),
        ({"type": "string"}, "STRING"),
        ({"type": "array", "items": {"type": "object"}}, "STRING"),
        ({"type": "object"}, "STRING"),
        ({"type": ["string", "number"]}, "STRING"),
        ({}, "STRING"),
    ],
)
def test_type_mapping(prop, sql_type):
    assert sql.sql_type_for(prop) == sql_type


def test_number_type_decimal_never_gives_double():
    assert sql.sql_type_for({"type": "number"}, sql.NUMBER_TYPES["decimal"]) == "DECIMAL(38,9)"


def test_columns_keep_order_and_add_audit_columns():
    cols = _cols(
        {"id": {"type": "integer"}, "Amount": {"type": "number"}, "_sdc_sequence": {"type": "integer"}}
    )
    assert [c.name for c in cols] == [
        "id",
        "Amount",
        "_sdc_extracted_at",
        "_sdc_received_at",
        "_sdc_batched_at",
        "_sdc_sequence",
        "_sdc_load_token",
    ]
    assert cols[-1].sql_type == "STRING" and cols[-2].sql_type == "BIGINT"


def test_case_colliding_properties_rejected():
    with pytest.raises(SqlBuildError, match="case-insensitive"):
        _cols({"Amount": {"type": "number"}, "amount": {"type": "number"}})


def test_empty_property_name_rejected():
    with pytest.raises(SqlBuildError):
        _cols({"": {"type": "string"}})


# --- DDL ---------------------------------------------------------------------------------------


def test_create_schema():
    assert sql.create_schema("main", "fin") == "CREATE SCHEMA IF NOT EXISTS `main`.`fin`"


def test_create_table_shape():
    cols = [Column("id", "BIGINT"), Column("odd `name`; --", "STRING")]
    stmt = sql.create_table(TABLE, cols)
    assert stmt.startswith(
        "CREATE TABLE IF NOT EXISTS `main`.`finance`.`ap_bills` "
        "(`id` BIGINT, `odd ``name``; --` STRING) USING DELTA"
    )
    assert "'delta.columnMapping.mode' = 'name'" in stmt
    assert sql.create_table(TABLE, cols, or_replace=True).startswith("CREATE OR REPLACE TABLE ")


def test_describe_parse_and_add_missing_columns():
    rows = [
        ["id", "bigint", None],
        ["Amount", "decimal(38, 9)", None],
        ["", "", ""],
        ["# Partition Information", "", ""],
        ["ignored", "string", None],
    ]
    existing = sql.parse_describe(rows)
    assert list(existing) == ["id", "amount"]
    assert existing["amount"] == Column("Amount", "DECIMAL(38,9)")
    wanted = [Column("id", "BIGINT"), Column("amount", "DECIMAL(38,9)"), Column("Details", "STRING")]
    missing = sql.missing_columns(existing, wanted)
    assert missing == [Column("Details", "STRING")]
    assert (
        sql.add_columns(TABLE, missing)
        == "ALTER TABLE `main`.`finance`.`ap_bills` ADD COLUMNS (`Details` STRING)"
    )
    resolved = sql.resolve_columns(existing, wanted)
    assert resolved[1] == Column("Amount", "DECIMAL(38,9)")  # the table's spelling and type win


def test_add_columns_requires_columns():
    with pytest.raises(SqlBuildError):
        sql.add_columns(TABLE, [])


def test_existing_column_type_is_kept_and_values_checked_against_it():
    existing = {"qty": Column("qty", "BIGINT")}
    resolved = sql.resolve_columns(existing, [Column("qty", "DECIMAL(38,9)")])
    with pytest.raises(ValueConversionError):
        values.convert_row({"qty": Decimal("1.5")}, resolved)


# --- values ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("12345678901234567890123456789.123456789"), "12345678901234567890123456789.123456789"),
        (Decimal("-0.000000001"), "-0.000000001"),
        (Decimal("1E+3"), "1000"),
        (Decimal("1.10"), "1.10"),
        (Decimal("2.500000000000"), "2.500000000"),
        ("0.1", "0.1"),
        (0.1, "0.1"),
        (3, "3"),
        (Decimal("0"), "0"),
    ],
)
def test_decimal_values_exact(value, expected):
    assert values.parameter_value(value, "DECIMAL(38,9)", "amount") == expected


@pytest.mark.parametrize(
    "value",
    [
        Decimal("0.0000000001"),
        Decimal("123456789012345678901234567890"),
        Decimal("NaN"),
        float("inf"),
        "abc",
        True,
        [1],
    ],
)
def test_decimal_values_refused_rather_than_rounded(value):
    with pytest.raises(ValueConversionError, match="amount"):
        values.parameter_value(value, "DECIMAL(38,9)", "amount")


def test_decimal_with_other_precision():
    assert values.parameter_value("12.34", "DECIMAL(10, 2)") == "12.34"
    with pytest.raises(ValueConversionError):
        values.parameter_value("12.345", "decimal(10,2)")
    with pytest.raises(ValueConversionError):
        values.parameter_value("123456789", "DECIMAL(10,2)")


def test_integers():
    assert values.parameter_value(2**63 - 1, "BIGINT") == str(2**63 - 1)
    assert values.parameter_value(Decimal("5.000"), "BIGINT") == "5"
    for bad in (2**63, Decimal("1.5"), True, "x"):
        with pytest.raises(ValueConversionError):
            values.parameter_value(bad, "BIGINT", "n")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-01T10:15:30+02:00", "2024-03-01T08:15:30.000000+00:00"),
        ("2024-03-01T23:30:00-05:00", "2024-03-02T04:30:00.000000+00:00"),
        ("2024-03-01T10:15:30Z", "2024-03-01T10:15:30.000000+00:00"),
        ("2024-03-01T10:15:30.1234567+00:00", "2024-03-01T10:15:30.123456+00:00"),
        ("2024-03-01T10:15:30", "2024-03-01T10:15:30.000000+00:00"),
        (datetime(2024, 3, 1, 1, 0, tzinfo=timezone(timedelta(hours=9))), "2024-02-29T16:00:00.000000+00:00"),
    ],
)
def test_timestamps_normalised_to_utc(value, expected):
    assert values.parameter_value(value, "TIMESTAMP") == expected


def test_bad_timestamp_refused():
    with pytest.raises(ValueConversionError, match="ts"):
        values.parameter_value("yesterday", "TIMESTAMP", "ts")


def test_dates():
    assert values.parameter_value("2024-02-29", "DATE") == "2024-02-29"
    assert values.parameter_value("2024-02-29T23:00:00-05:00", "DATE") == "2024-02-29"
    assert values.parameter_value(date(2024, 1, 2), "DATE") == "2024-01-02"
    with pytest.raises(ValueConversionError):
        values.parameter_value("2024-02-30", "DATE")


def test_booleans():
    assert values.parameter_value(True, "BOOLEAN") == "true"
    assert values.parameter_value("FALSE", "BOOLEAN") == "false"
    with pytest.raises(ValueConversionError):
        values.parameter_value(1, "BOOLEAN")


def test_nulls_and_strings():
    for t in ("STRING", "BIGINT", "DECIMAL(38,9)", "TIMESTAMP", "DATE", "BOOLEAN"):
        assert values.parameter_value(None, t) is None
    hostile = "O'Brien \\ `x` ; -- \n\t ünï 😀"
    assert values.parameter_value(hostile, "STRING") == hostile


def test_nested_arrays_become_exact_json():
    details = [
        {"LineNbr": 1, "Amount": Decimal("100.10"), "Memo": 'a"b'},
        {"LineNbr": 2, "Tags": ["x", None]},
    ]
    text = values.parameter_value(details, "STRING", "Details")
    assert json.loads(text, parse_float=Decimal) == details
    assert '"Amount":100.10' in text  # the decimal is a JSON number with its digits intact


# --- dedupe and tokens -------------------------------------------------------------------------


def test_dedupe_keeps_last_record_per_key():
    records = [
        {"id": 1, "v": "a"},
        {"id": 2, "v": "b"},
        {"id": 1, "v": "c"},
        {"id": 3, "v": "d"},
        {"id": 2, "v": "e"},
    ]
    out = values.dedupe_last(records, ["id"])
    assert sorted((r["id"], r["v"]) for r in out) == [(1, "c"), (2, "e"), (3, "d")]
    assert [r["id"] for r in out] == [1, 3, 2]


def test_dedupe_composite_and_no_keys():
    records = [{"a": 1, "b": "x", "v": 1}, {"a": 1, "b": "y", "v": 2}, {"a": 1, "b": "x", "v": 3}]
    assert [r["v"] for r in values.dedupe_last(records, ["a", "b"])] == [2, 3]
    assert values.dedupe_last(records, []) == records


def test_load_token_deterministic_and_distinct():
    batch = [{"id": 1, "amt": Decimal("1.10")}, {"id": 2, "amt": Decimal("2")}]
    same = [{"amt": Decimal("1.10"), "id": 1, "_sdc_received_at": "later"}, {"id": 2, "amt": Decimal("2")}]
    token = audit.load_token("bills", batch)
    assert re.fullmatch(r"[0-9a-f]{64}", token)
    assert token == audit.load_token("bills", same)  # key order and audit columns do not matter
    assert token != audit.load_token("payments", batch)
    assert token != audit.load_token("bills", batch[:1])
    assert token != audit.load_token("bills", [batch[1], batch[0]])
    assert token != audit.load_token("bills", [{"id": 1, "amt": Decimal("1.1")}, batch[1]])


# --- statements --------------------------------------------------------------------------------


def _rows(cols, records):
    return [values.convert_row(r, cols) for r in records]


def test_merge_shape_and_parameters():
    cols = [Column("id", "BIGINT"), Column("Amount", "DECIMAL(38,9)"), Column("note", "STRING")]
    rows = _rows(
        cols, [{"id": 7, "Amount": Decimal("1.25"), "note": None}, {"id": 8, "Amount": Decimal("1.25")}]
    )
    [stmt] = sql.chunk_statements(sql.merge_template(TABLE, cols, ["id"]), cols, rows, Budget(), "merge")
    assert stmt.sql == (
        "MERGE INTO `main`.`finance`.`ap_bills` AS t USING (SELECT CAST(c0 AS BIGINT) AS `id`, "
        "CAST(c1 AS DECIMAL(38,9)) AS `Amount`, CAST(c2 AS STRING) AS `note` FROM VALUES "
        "(:p0, :p1, NULL), (:p2, :p1, NULL) AS v(c0, c1, c2)) AS s ON t.`id` <=> s.`id` "
        "WHEN MATCHED THEN UPDATE SET t.`Amount` = s.`Amount`, t.`note` = s.`note` "
        "WHEN NOT MATCHED THEN INSERT (`id`, `Amount`, `note`) VALUES (s.`id`, s.`Amount`, s.`note`)"
    )
    assert [p.as_json() for p in stmt.parameters] == [
        {"name": "p0", "type": "BIGINT", "value": "7"},
        {"name": "p1", "type": "DECIMAL(38,9)", "value": "1.25"},
        {"name": "p2", "type": "BIGINT", "value": "8"},
    ]
    assert stmt.rows == 2 and stmt.kind == "merge"


def test_merge_composite_keys_only_keys():
    cols = [Column("a", "BIGINT"), Column("B", "STRING")]
    text = sql.merge_template(TABLE, cols, ["a", "b"])
    assert "ON t.`a` <=> s.`a` AND t.`B` <=> s.`B`" in text
    assert "WHEN MATCHED" not in text  # nothing to update when every column is a key
    with pytest.raises(SqlBuildError):
        sql.merge_template(TABLE, cols, ["missing"])
    with pytest.raises(SqlBuildError):
        sql.merge_template(TABLE, cols, [])


def test_values_never_appear_in_sql_text():
    cols = [Column("id", "BIGINT"), Column("s", "STRING")]
    evil = "'); DROP TABLE x; --"
    [stmt] = sql.chunk_statements(
        sql.insert_template(TABLE, cols), cols, _rows(cols, [{"id": 1, "s": evil}]), Budget(), "insert"
    )
    assert evil not in stmt.sql and "DROP" not in stmt.sql
    assert stmt.parameters[1].value == evil


def test_append_only_inserts_only_a_new_token():
    cols = [Column("id", "BIGINT"), Column("_sdc_load_token", "STRING")]
    extra = [sql.Parameter("load_token", "tok")]
    [stmt] = sql.chunk_statements(
        sql.insert_new_token_template(TABLE, cols),
        cols,
        _rows(cols, [{"id": 1, "_sdc_load_token": "tok"}]),
        Budget(),
        "insert",
        extra,
    )
    assert stmt.sql.startswith(
        "INSERT INTO `main`.`finance`.`ap_bills` (`id`, `_sdc_load_token`) "
        "SELECT s.`id`, s.`_sdc_load_token` FROM (SELECT CAST(c0 AS BIGINT)"
    )
    assert stmt.sql.endswith(
        "AS s WHERE NOT EXISTS (SELECT 1 FROM `main`.`finance`.`ap_bills` AS t "
        "WHERE t.`_sdc_load_token` = :load_token)"
    )
    assert stmt.parameters[0] == sql.Parameter("load_token", "tok")


def test_overwrite_and_staging_shapes():
    cols = [Column("id", "BIGINT")]
    assert sql.insert_overwrite(TABLE, cols, "`main`.`finance`.`stg`") == (
        "INSERT OVERWRITE `main`.`finance`.`ap_bills` (`id`) SELECT DISTINCT `id` FROM `main`.`finance`.`stg`"
    )
    assert (
        sql.staging_table_name("ap_bills", "abcdef0123456789ffff") == "__tdbx_stage_ap_bills_abcdef0123456789"
    )
    assert sql.drop_table(TABLE) == "DROP TABLE IF EXISTS `main`.`finance`.`ap_bills`"


def test_audit_statements_parameterised():
    check = audit.audit_latest_query("main", "fin", "bi`lls'")
    assert "bi`lls'" not in check.sql and check.parameters[0].value == "bi`lls'"
    row = audit.audit_insert(
        "main",
        "fin",
        {"stream": "bills", "rows": 3, "status": "committed", "started_at": datetime(2024, 1, 1, tzinfo=UTC)},
    )
    assert row.sql.startswith("INSERT INTO `main`.`fin`.`_sdc_load_audit` (`stream`, ")
    assert (
        "WHERE NOT EXISTS (SELECT 1 FROM `main`.`fin`.`_sdc_load_audit` AS a WHERE a.`stream` <=>" in row.sql
    )
    values = {p.name: (p.value, p.type) for p in row.parameters}
    assert values["a0"] == ("bills", "STRING") and values["a4"] == ("3", "BIGINT")
    assert values["a9"] == ("2024-01-01T00:00:00.000000+00:00", "TIMESTAMP")
    assert values["a10"] == (None, "TIMESTAMP")


# --- chunking ----------------------------------------------------------------------------------


def _finance_rows(n: int):
    cols = _cols(
        {
            "id": {"type": "integer"},
            "Amount": {"type": "number"},
            "Currency": {"type": "string"},
            "Date": {"type": "string", "format": "date-time"},
            "Details": {"type": "array"},
        }
    )
    records = [
        {
            "id": i,
            "Amount": Decimal(f"{i}.{i % 100:02d}"),
            "Currency": "USD" if i % 3 else "EUR",
            "Date": f"2024-01-{1 + i % 28:02d}T00:00:00+01:00",
            "Details": [{"line": j, "x": "y" * (i % 50)} for j in range(i % 4)] or None,
            "_sdc_load_token": "t" * 64,
            "_sdc_sequence": i,
        }
        for i in range(n)
    ]
    return cols, _rows(cols, records)


@pytest.mark.parametrize(
    ("max_bytes", "max_params"), [(20_000, 256), (8_000, 40), (4 * 1024 * 1024, 256), (3_000, 1000)]
)
def test_chunks_respect_budgets_and_keep_every_row(max_bytes, max_params):
    cols, rows = _finance_rows(500)
    budget = Budget(max_bytes=max_bytes, max_parameters=max_params)
    stmts = sql.chunk_statements(sql.merge_template(TABLE, cols, ["id"]), cols, rows, budget, "merge")
    assert sum(s.rows for s in stmts) == len(rows)
    for s in stmts:
        assert s.size_bytes() <= max_bytes
        assert len(s.parameters) <= max_params
        names = [p.name for p in s.parameters]
        assert len(names) == len(set(names))
        assert set(re.findall(r":(p\d+)", s.sql)) == set(names)  # every marker defined, none unused
        assert s.sql.count("), (") + 1 == s.rows  # whole tuples only
    if max_params == 256 and max_bytes == 4 * 1024 * 1024:
        assert len(stmts) > 1  # the parameter budget, not bytes, forces the split


def test_chunk_rows_reassemble_in_order():
    cols, rows = _finance_rows(120)
    stmts = sql.chunk_statements(
        sql.insert_template(TABLE, cols), cols, rows, Budget(max_parameters=50), "insert"
    )
    rebuilt = []
    for s in stmts:
        values = {p.name: p.value for p in s.parameters}
        source = s.sql.split("FROM VALUES ", 1)[1].rsplit(" AS v(", 1)[0]
        for tup in re.findall(r"\(([^()]*)\)", source):
            rebuilt.append([None if tok == "NULL" else values[tok[1:]] for tok in tup.split(", ")])
    assert rebuilt == rows


def test_repeated_values_share_parameters():
    cols = [Column("c", "STRING"), Column("d", "STRING")]
    [stmt] = sql.chunk_statements(
        sql.insert_template(TABLE, cols), cols, [["USD", "USD"]] * 10, Budget(), "insert"
    )
    assert len(stmt.parameters) == 1 and stmt.rows == 10


def test_same_text_different_types_not_shared():
    cols = [Column("a", "BIGINT"), Column("b", "STRING")]
    [stmt] = sql.chunk_statements(sql.insert_template(TABLE, cols), cols, [["1", "1"]], Budget(), "insert")
    assert [(p.name, p.type) for p in stmt.parameters] == [("p0", "BIGINT"), ("p1", "STRING")]


def test_row_too_big_for_a_statement_raises():
    cols = [Column("a", "STRING"), Column("b", "STRING")]
    with pytest.raises(SqlBuildError, match="over the statement budget"):
        sql.chunk_statements(
            sql.insert_template(TABLE, cols), cols, [["x", "y"]], Budget(max_parameters=1), "insert"
        )
    with pytest.raises(SqlBuildError):
        sql.chunk_statements(
            sql.insert_template(TABLE, cols), cols, [["x" * 5000, None]], Budget(max_bytes=2000), "i"
        )


def test_extra_parameters_count_against_budget():
    cols = [Column("a", "STRING")]
    rows = [[str(i)] for i in range(10)]
    extra = [sql.Parameter("load_token", "t")]
    stmts = sql.chunk_statements(
        sql.insert_new_token_template(TABLE, cols), cols, rows, Budget(max_parameters=4), "insert", extra
    )
    assert [s.rows for s in stmts] == [3, 3, 3, 1]
    assert all(s.parameters[0].name == "load_token" and len(s.parameters) <= 4 for s in stmts)


def test_budget_validation():
    with pytest.raises(SqlBuildError):
        Budget(max_bytes=17 * 1024 * 1024)
    with pytest.raises(SqlBuildError):
        Budget(max_parameters=0)


def test_no_rows_no_statements():
    assert (
        sql.chunk_statements(
            sql.insert_template(TABLE, [Column("a", "STRING")]),
            [Column("a", "STRING")],
            [],
            Budget(),
            "insert",
        )
        == []
    )


# --- staged files ---------------------------------------------------------------------------------


def test_row_lines_complete_with_batch_constants_and_parse_back():
    line = staging.row_line(["1", None, 'x"y', "tok?"], omit=[3])
    assert line == b'{"c0":"1","c1":null,"c2":"x\\"y"}\n'
    done = staging.complete_line(line, staging.constants_suffix({3: "tok"}))
    assert json.loads(done) == {"c0": "1", "c1": None, "c2": 'x"y', "c3": "tok"}
    assert staging.parse_row_line(done, 5) == ["1", None, 'x"y', "tok", None]
    assert staging.complete_line(b"{}\n", staging.constants_suffix({0: "a"})) == b'{"c0":"a"}\n'
