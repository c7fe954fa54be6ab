"""Type mapping, number conversion and column-type changes (pure functions of ``sql``)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from target_databricks import audit, sql, values
from target_databricks.sql import Column


@pytest.mark.parametrize(
    ("prop", "sql_type"),
    [
        ({"type": ["number", "null"]}, "DOUBLE"),
        ({"type": "number", "multipleOf": Decimal("0.01")}, "DECIMAL(38,2)"),
        ({"type": "number", "multipleOf": 0.25}, "DECIMAL(38,2)"),
        ({"type": "number", "multipleOf": 5}, "DECIMAL(38,0)"),
        ({"type": "number", "multipleOf": Decimal("1E-40")}, "DOUBLE"),  # no DECIMAL holds it
        ({"anyOf": [{"type": "number", "multipleOf": 0.001}, {"type": "null"}]}, "DECIMAL(38,3)"),
        ({"type": "number", "x-sql-datatype": "DECIMAL(19, 4)"}, "DECIMAL(19,4)"),
        ({"type": "number", "x-sql-datatype": "numeric"}, "DECIMAL(38,0)"),
        ({"type": "number", "x-sql-datatype": "decimal(60,2)"}, "DOUBLE"),  # too wide: not honoured
        ({"type": "integer", "x-sql-datatype": "smallint"}, "SMALLINT"),
        ({"type": "string", "x-sql-datatype": "decimal(10,2)"}, "STRING"),  # hints are for numbers only
        ({"type": "string", "format": "x-singer.decimal", "precision": 20, "scale": 6}, "DECIMAL(20,6)"),
        ({"type": "string", "format": "x-singer.decimal"}, "DECIMAL(38,9)"),
        ({"type": "string", "format": "x-singer.decimal", "precision": 76, "scale": 38}, "STRING"),
        ({"type": "integer"}, "BIGINT"),
        ({"type": "integer", "maximum": 2**63 - 1, "minimum": -(2**63)}, "BIGINT"),
        ({"type": "integer", "maximum": 2**64}, "DECIMAL(38,0)"),
        ({"type": "integer", "exclusiveMinimum": -(2**70)}, "DECIMAL(38,0)"),
    ],
)
def test_number_types(prop, sql_type):
    assert sql.sql_type_for(prop) == sql_type


def test_number_type_setting_only_changes_plain_numbers():
    decimal = sql.NUMBER_TYPES["decimal"]
    assert sql.sql_type_for({"type": "number"}, decimal) == "DECIMAL(38,9)"
    assert sql.sql_type_for({"type": "number", "multipleOf": 0.01}, decimal) == "DECIMAL(38,2)"
    assert sql.sql_type_for({"type": "integer"}, decimal) == "BIGINT"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("0.1234567890123"), "0.1234567890123"),
        (Decimal("1.7976931348623157E+308"), "1.7976931348623157e+308"),
        (Decimal("5E-324"), "5e-324"),
        (Decimal("123456789012345678901234567890.5"), "1.2345678901234568e+29"),
        (2**70, "1.1805916207174113e+21"),
        (0.1, "0.1"),
        (Decimal("-0"), "-0.0"),
    ],
)
def test_double_values_are_the_nearest_double(value, text):
    assert values.parameter_value(value, "DOUBLE", "x") == text


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (Decimal("1E+309"), "'1E+309' is beyond the range of a DOUBLE"),
        (Decimal("1E-400"), "'1E-400' is too small for a DOUBLE (it would be 0)"),
        (True, "a boolean is not a number"),
    ],
)
def test_doubles_that_would_change_are_refused_by_column(value, reason):
    with pytest.raises(values.ValueConversionError) as raised:
        values.parameter_value(value, "DOUBLE", "x")
    assert str(raised.value) == f"column 'x' (DOUBLE): {reason}"


def test_exact_decimals_past_28_digits_are_checked_without_rounding():
    value = Decimal("123456789012345678901234567890123456.78")
    assert values.parameter_value(value, "DECIMAL(38,2)", "a") == "123456789012345678901234567890123456.78"
    with pytest.raises(values.ValueConversionError, match="more than 2 decimal places"):
        values.parameter_value(Decimal("12345678901234567890123456789012345.678"), "DECIMAL(38,2)", "a")
    assert values.parameter_value(Decimal("1.5000000000000000000000000000001E+30"), "DECIMAL(38,1)", "a") == (
        "1500000000000000000000000000000.1"
    )


def test_an_integer_out_of_bigint_names_its_value():
    with pytest.raises(
        values.ValueConversionError, match=r"column 'n' \(BIGINT\): 9223372036854775808 is out"
    ):
        values.parameter_value(2**63, "BIGINT", "n")
    assert values.parameter_value(2**100, "DECIMAL(38,0)", "n") == str(2**100)


def test_timestamps_keep_four_digit_years_and_refuse_year_10000():
    assert values.parameter_value("0001-01-01T00:00:00Z", "TIMESTAMP") == "0001-01-01T00:00:00.000000+00:00"
    assert (
        values.parameter_value(datetime(999, 5, 1, tzinfo=UTC), "TIMESTAMP_NTZ")
        == "0999-05-01T00:00:00.000000"
    )
    with pytest.raises(
        values.ValueConversionError, match=r"column 'due' \(TIMESTAMP\): '9999-12-31T23:59:59.999-05:00'"
    ):
        values.parameter_value("9999-12-31T23:59:59.999-05:00", "TIMESTAMP", "due")


def test_column_type_conflicts():
    existing = {
        "amount": Column("Amount", "DECIMAL(38,9)"),
        "rate": Column("rate", "DOUBLE"),
        "n": Column("n", "BIGINT"),
        "memo": Column("memo", "STRING"),
    }
    fine = [Column("amount", "DOUBLE"), Column("amount", "DECIMAL(38,2)"), Column("n", "DECIMAL(38,0)")]
    fine += [Column("memo", "DECIMAL(38,2)"), Column("rate", "BIGINT"), Column("new", "DECIMAL(38,2)")]
    assert sql.type_conflicts(existing, fine) == []
    assert sql.type_conflicts(
        existing,
        [Column("amount", "DECIMAL(38,12)"), Column("rate", "DECIMAL(38,2)"), Column("n", "DECIMAL(20,2)")],
    ) == [
        "column 'Amount' is DECIMAL(38,9) but the stream now declares DECIMAL(38,12)",
        "column 'rate' is DOUBLE but the stream now declares DECIMAL(38,2)",
        "column 'n' is BIGINT but the stream now declares DECIMAL(20,2)",
    ]


def test_load_token_includes_time_extracted_when_there_is_one():
    record = {"id": 1, "v": "a"}
    assert audit.load_token("s", [record]) == audit.load_token("s", [{**record, "_sdc_extracted_at": None}])
    first = audit.load_token("s", [{**record, "_sdc_extracted_at": "2024-05-01T00:00:00Z"}])
    assert first == audit.load_token("s", [{**record, "_sdc_extracted_at": "2024-05-01T00:00:00Z"}])
    assert first != audit.load_token("s", [{**record, "_sdc_extracted_at": "2024-05-02T00:00:00Z"}])
    assert first != audit.load_token("s", [record])


def test_audit_insert_is_guarded_per_application():
    row = audit.audit_insert(
        "main",
        "fin",
        {"stream": "s", "load_token": "t", "status": "committed", "run_id": "r", "started_at": None},
    )
    assert "a.`run_id` <=> CAST(:a11 AS STRING) AND a.`started_at` <=> CAST(:a9 AS TIMESTAMP)" in row.sql
