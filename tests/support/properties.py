"""The round-trip properties, one function each, run by every loader's test module on drawn batches."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import strategies as st

from tests.support.roundtrip import (
    ROWS,
    SPECIAL_TEXT,
    TIMESTAMP_EDGES,
    assert_names,
    assert_value_stream,
    decimal_values,
    find_table,
    in_utc_range,
    streams_named,
    text_values,
    timestamps,
    value_stream,
)

NULLABLE_STRING = {"type": ["string", "null"]}
NUMBER = {"type": ["number", "null"]}
DATE_TIME = {"type": ["string", "null"], "format": "date-time"}

#: In every decimal batch: the ends of DECIMAL(38,9), a double's first inexact integer, trailing zeros.
DECIMAL_EDGES = (
    "0",
    "-0.00",
    "1.10",
    "0.1",
    "0.000000001",
    "99999999999999999999999999999.999999999",
    "-99999999999999999999999999999.999999999",
    "12345678901234.56",
    "123456789012345.67",
    "9007199254740993",
)
#: Drawn often besides: beyond DECIMAL(38,9) (38 digits, 1E30, 1E-38), which a loader may refuse.
DECIMAL_OUTSIDE = (
    "-0.0000000001",
    "100000000000000000000000000000",
    "1E30",
    "1E-38",
    "12345678901234567890123456789012345678",
)
#: One batch with every edge value and every value outside DECIMAL(38,9): the fixed example of a loader's
#: known defect with decimals (hypothesis then runs it once instead of searching for it and replaying it).
DECIMAL_BATCH = [Decimal(e) for e in DECIMAL_EDGES + DECIMAL_OUTSIDE] + [None]
#: Likewise for text and timestamps (these hold the instants outside years 1-9999 UTC as well).
STRING_BATCH = [*SPECIAL_TEXT, None]
TIMESTAMP_BATCH = [*TIMESTAMP_EDGES, None]
DECIMAL_15_EDGES = ("999999999999999", "-0.000000000000001", "0.1", "123456789.123456", "1E-15", "-1E+14")


def _with(edges, values: st.SearchStrategy, rows: dict) -> st.SearchStrategy:
    """Lists of ``values`` (or None) that always start with ``edges``: even the first, simplest example
    holds every edge value, so a loader that breaks on one fails in any number of examples."""
    return st.lists(st.one_of(st.none(), values), **rows).map(lambda v: [*edges, None, *v])


def _decimals(rows: dict) -> st.SearchStrategy:
    edges = [Decimal(e) for e in DECIMAL_EDGES]
    return _with(edges, decimal_values(edges=DECIMAL_EDGES + DECIMAL_OUTSIDE), rows)


def _decimals_15(rows: dict) -> st.SearchStrategy:
    return _with([Decimal(e) for e in DECIMAL_15_EDGES], decimal_values(max_digits=15, max_scale=15), rows)


def _datetimes(rows: dict) -> st.SearchStrategy:
    return _with([t for t in TIMESTAMP_EDGES if in_utc_range(t)], timestamps, rows)


strings = _with(SPECIAL_TEXT, text_values, ROWS)
decimals = _decimals(ROWS)
#: What a double holds exactly: up to 15 significant digits.
decimals_15 = _decimals_15(ROWS)
datetimes = _datetimes(ROWS)

#: Smaller batches for the emulators that take seconds per row batch (fakesnow inserts staged rows one
#: by one: a run of 200 rows takes about a minute here); the edge values are in every batch anyway.
FEW = {"min_size": 5, "max_size": 20}
few_strings = _with(SPECIAL_TEXT, text_values, FEW)
few_decimals = _decimals(FEW)
few_decimals_15 = _decimals_15(FEW)
few_datetimes = _datetimes(FEW)


def strings_land(loader, values: list) -> None:
    stream = value_stream("p_strings", "text", NULLABLE_STRING, values)
    assert_value_stream(stream, loader.run([stream]), must_land=lambda v: True)


def decimals_land(
    loader, values: list, must_land, schema: dict = NUMBER, kind: str = "decimal", **run
) -> None:
    """``values`` as the numbers of a column of ``schema``; ``kind`` "double" compares them as the nearest
    double (a loader that stores plain numbers as DOUBLE), "decimal" exactly. A string ``schema`` (the
    SDK's ``x-singer.decimal``) gets the values as their exact text."""
    if "string" in schema.get("type", ()):
        values = [None if v is None else str(v) for v in values]
    stream = value_stream("p_decimals", kind, schema, values)
    assert_value_stream(stream, loader.run([stream], **run), must_land=lambda v: must_land(Decimal(v)))


def timestamps_land(loader, values: list) -> None:
    stream = value_stream("p_timestamps", "timestamp", DATE_TIME, values)
    assert_value_stream(stream, loader.run([stream]), must_land=in_utc_range)


def names_land(loader, streams, **run) -> dict:
    return assert_names(streams, loader.run(streams, **run))


def fits_decimal(precision: int, scale: int):
    """Whether a value is a DECIMAL(precision, scale) without rounding (trailing zeros do not count)."""

    def fits(value: Decimal) -> bool:
        exponent = value.normalize().as_tuple().exponent
        places = max(0, -exponent) if isinstance(exponent, int) else 0
        whole = abs(int(value))
        return places <= scale and (whole == 0 or len(str(whole)) <= precision - scale)

    return fits


def anything(_value) -> bool:
    return True


#: Names that close the quoting of one SQL dialect or another and run statements of their own (the
#: first is issue 12's, which dropped a table through target-duckdb 0.8.0).
INJECTIONS = [
    'x" (i int); DROP TABLE {schema}.t; CREATE TABLE "y',
    "x\" (i int); SET schema = '{schema}'; DROP TABLE t; CREATE TABLE \"y",
    "x` STRING); DROP TABLE {schema}.t; --",
    "x'); DROP TABLE {schema}.t; --",
]


def injection_leaves_other_tables_alone(loader, payload: str, fresh_schema: str) -> None:
    """A stream ``t`` lands; then a stream named ``payload`` (which names ``t``) goes to the same schema:
    it lands apart or is refused by name, and ``t`` keeps every row."""
    payload = payload.format(schema=fresh_schema)
    (canary,) = streams_named("t")
    first = loader.run([canary], schema=fresh_schema)
    assert_names([canary], first)
    (hostile,) = streams_named(payload)
    second = loader.run([hostile], schema=fresh_schema)
    table = find_table(first.tables, "t")
    kept = second.tables.pop(table, [])
    assert sorted(map(repr, kept)) == sorted(map(repr, first.tables[table])), (
        f"table {table!r} changed by loading a stream named {payload!r}: {len(kept)} rows left of "
        f"{len(first.tables[table])}; {second.describe()}"
    )
    assert_names([hostile], second)
