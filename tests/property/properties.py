"""The round-trip properties, one function each, run by every loader's test module on drawn batches."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import strategies as st

from tests.property.support import (
    ROWS,
    SPECIAL_TEXT,
    assert_names,
    assert_value_stream,
    decimal_values,
    in_utc_range,
    text_values,
    timestamps,
    value_stream,
)

NULLABLE_STRING = {"type": ["string", "null"]}
NUMBER = {"type": ["number", "null"]}
DATE_TIME = {"type": ["string", "null"], "format": "date-time"}

strings = st.lists(st.one_of(st.none(), text_values), **ROWS).map(lambda v: [*SPECIAL_TEXT, None, *v])
#: 38 significant digits at most, scale 0-38, with the ends of DECIMAL(38,9) and of a double's exact
#: range, 1E30 and trailing zeros drawn often.
DECIMAL_EDGES = (
    "0",
    "-0.00",
    "1.10",
    "0.000000001",
    "-0.0000000001",
    "99999999999999999999999999999.999999999",
    "-99999999999999999999999999999.999999999",
    "100000000000000000000000000000",
    "1E30",
    "12345678901234.56",
    "123456789012345.67",
    "9007199254740993",
    "0.1",
    "1E-38",
    "12345678901234567890123456789012345678",
)
decimals = st.lists(st.one_of(st.none(), decimal_values(edges=DECIMAL_EDGES)), **ROWS)
#: What a double holds exactly as text: up to 15 significant digits, exponent within -20..20.
decimals_15 = st.lists(st.one_of(st.none(), decimal_values(max_digits=15, max_scale=15)), **ROWS)
datetimes = st.lists(st.one_of(st.none(), timestamps), **ROWS)


def strings_land(loader, values: list) -> None:
    stream = value_stream("p_strings", "text", NULLABLE_STRING, values)
    assert_value_stream(stream, loader.run([stream]), must_land=lambda v: True)


def decimals_land(loader, values: list, must_land) -> None:
    stream = value_stream("p_decimals", "decimal", NUMBER, values)
    assert_value_stream(stream, loader.run([stream]), must_land=must_land)


def timestamps_land(loader, values: list) -> None:
    stream = value_stream("p_timestamps", "timestamp", DATE_TIME, values)
    assert_value_stream(stream, loader.run([stream]), must_land=in_utc_range)


def names_land(loader, streams) -> dict:
    return assert_names(streams, loader.run(streams))


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
