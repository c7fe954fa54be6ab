"""Record values as the exact text of typed statement parameters, checked against their column type.

A value that its column cannot hold exactly (a decimal that would be rounded, an integer out of range,
a timestamp past year 9999 in UTC) raises ``ValueConversionError`` naming the column and the value;
nothing is ever rounded or cut silently.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from target_databricks.sql import _DECIMAL_RE, _INT_RANGES, EXACT, Column, SqlBuildError, normalize_type

_json_encoder = msgspec.json.Encoder(decimal_format="number")


class ValueConversionError(SqlBuildError):
    """A record value that cannot be stored exactly in its column."""

    def __init__(self, column: str, sql_type: str, reason: str) -> None:
        super().__init__(f"column {column!r} ({sql_type}): {reason}")
        self.column = column
        self.sql_type = sql_type


def _to_decimal(value: Any, column: str, sql_type: str) -> Decimal:
    if isinstance(value, bool):
        raise ValueConversionError(column, sql_type, "a boolean is not a number")
    try:
        if isinstance(value, Decimal):
            number = value
        elif isinstance(value, int):
            number = Decimal(value)
        elif isinstance(value, float):
            number = Decimal(repr(value))  # shortest round-trip text, not the binary expansion
        elif isinstance(value, str):
            number = Decimal(value.strip())
        else:
            raise ValueConversionError(column, sql_type, f"{type(value).__name__} is not a number")
    except InvalidOperation:
        raise ValueConversionError(column, sql_type, "text is not a number") from None
    if not number.is_finite():
        raise ValueConversionError(column, sql_type, "NaN and infinity cannot be stored")
    return number


def _decimal_text(number: Decimal, precision: int, scale: int, column: str, sql_type: str) -> str:
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > scale:
        reduced = number.normalize(EXACT)
        reduced_exp = reduced.as_tuple().exponent
        assert isinstance(reduced_exp, int)
        if -reduced_exp > scale:
            raise ValueConversionError(
                column, sql_type, f"value {number} has more than {scale} decimal places; it would be rounded"
            )
        number = number.quantize(Decimal(1).scaleb(-scale, EXACT), context=EXACT)
    text = format(number, "f")
    integer_digits = len(text.lstrip("-").split(".")[0].lstrip("0"))
    if integer_digits > precision - scale:
        raise ValueConversionError(
            column, sql_type, f"value {number} has more than {precision - scale} integer digits"
        )
    return text


def _to_datetime(value: Any, column: str, sql_type: str) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueConversionError(column, sql_type, "text is not an ISO 8601 timestamp") from None
    raise ValueConversionError(column, sql_type, f"{type(value).__name__} is not a timestamp")


def utc_moment(moment: datetime, value: Any, column: str, sql_type: str) -> datetime:
    """``moment`` in UTC (naive read as UTC); one past year 9999 in UTC is refused with its value."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueConversionError(
            column, sql_type, f"{_shown(value)} is after 9999-12-31 in UTC, beyond Databricks timestamps"
        ) from None


def _shown(value: Any) -> str:
    """A value for an error message, cut to 80 characters."""
    text = value.isoformat() if isinstance(value, datetime | date) else str(value)
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _double_text(number: Decimal, value: Any, column: str, sql_type: str) -> str:
    """The shortest text of the DOUBLE nearest ``number``; magnitudes a DOUBLE cannot hold are refused
    (rather than becoming infinity or zero)."""
    as_float = float(number)
    if math.isinf(as_float):
        raise ValueConversionError(column, sql_type, f"{_shown(value)} is beyond the range of a DOUBLE")
    if as_float == 0.0 and number != 0:
        raise ValueConversionError(
            column, sql_type, f"{_shown(value)} is too small for a DOUBLE (it would be 0)"
        )
    return repr(as_float)


def to_json_text(value: Any) -> str:
    """JSON text for objects and arrays stored in STRING columns; decimals stay exact numbers."""
    return _json_encoder.encode(value).decode("utf-8")


def parameter_value(value: Any, sql_type: str, column: str = "?") -> str | None:
    """The exact text of a value for a typed statement parameter, or None for NULL.

    TIMESTAMP values are converted to UTC and sent with an explicit ``+00:00`` offset (text without
    an offset is read as UTC, since the warehouse session time zone is not ours to assume); digits
    past microseconds are cut, as Databricks timestamps hold microseconds. DATE takes the calendar
    date as written. DECIMAL refuses values that would be rounded or overflow; integer types refuse
    fractions and out-of-range values. Objects and arrays become JSON text.
    """
    if value is None:
        return None
    base = normalize_type(sql_type)
    if base in ("STRING", "VARCHAR") or base.startswith(("VARCHAR(", "CHAR(")):
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (dict, list, tuple)):
            return to_json_text(value)
        if isinstance(value, float):
            return repr(value)
        if isinstance(value, datetime | date):
            return value.isoformat()
        return str(value)
    if base in _INT_RANGES:
        number = _to_decimal(value, column, base)
        if number != number.to_integral_value():
            raise ValueConversionError(column, base, "a fraction would be cut off")
        integer = int(number)
        low, high = _INT_RANGES[base]
        if not low <= integer <= high:
            raise ValueConversionError(
                column,
                base,
                f"{integer} is out of range; declare the property's maximum/minimum or "
                "x-sql-datatype decimal(38,0) for a DECIMAL(38,0) column",
            )
        return str(integer)
    match = _DECIMAL_RE.match(base)
    if match:
        precision = int(match.group(1))
        scale = int(match.group(2) or 0)
        return _decimal_text(_to_decimal(value, column, base), precision, scale, column, base)
    if base in ("DOUBLE", "FLOAT", "REAL"):
        return _double_text(_to_decimal(value, column, base), value, column, base)
    if base == "BOOLEAN":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower()
        raise ValueConversionError(column, base, f"{type(value).__name__} is not a boolean")
    if base in ("TIMESTAMP", "TIMESTAMP_LTZ"):
        moment = _to_datetime(value, column, base)
        # isoformat, not strftime: %Y does not pad years before 1000 to four digits
        return (
            utc_moment(moment, value, column, base).replace(tzinfo=None).isoformat("T", "microseconds")
            + "+00:00"
        )
    if base == "TIMESTAMP_NTZ":
        return _to_datetime(value, column, base).replace(tzinfo=None).isoformat("T", "microseconds")
    if base == "DATE":
        if isinstance(value, date) and not isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, str) and len(value.strip()) == 10:
            try:
                return date.fromisoformat(value.strip()).isoformat()
            except ValueError:
                raise ValueConversionError(column, base, "text is not an ISO 8601 date") from None
        return _to_datetime(value, column, base).date().isoformat()
    # Other existing column types (DOUBLE, ARRAY, ...): send text and let CAST convert it.
    if isinstance(value, (dict, list, tuple)):
        return to_json_text(value)
    return str(value)


def convert_row(record: Mapping[str, Any], columns: Sequence[Column]) -> list[str | None]:
    """Parameter texts of one record, in column order; absent properties are NULL."""
    return [parameter_value(record.get(c.name), c.sql_type, c.name) for c in columns]


# --- batches -----------------------------------------------------------------------------------


def dedupe_last(
    records: Sequence[Mapping[str, Any]], key_properties: Sequence[str]
) -> list[Mapping[str, Any]]:
    """Keep the LAST record per primary key, in the order of those last occurrences.

    MERGE rejects several source rows matching one target row; the last record of a key in the
    batch is the newest state of that row. Without keys, records are returned unchanged.
    """
    if not key_properties:
        return list(records)
    latest: dict[tuple[Any, ...], int] = {}
    for index, record in enumerate(records):
        key = tuple(key_part(record.get(k)) for k in key_properties)
        latest.pop(key, None)  # re-insert so order follows the last occurrence
        latest[key] = index
    return [records[i] for i in latest.values()]


def key_part(value: Any) -> Any:
    """A key property value in a hashable form that treats equal keys as equal (``1.0`` and ``1``)."""
    if isinstance(value, dict | list):
        return to_json_text(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


# --- columns of many values at once (the bulk path's Parquet files) ------------------------------

#: Microseconds since the epoch of the first and last instants a Databricks TIMESTAMP holds.
_FIRST_US = -62_135_596_800_000_000  # 0001-01-01T00:00:00Z
_LAST_US = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z
_NONE = type(None)
_ARROW_INTS = {"TINYINT": pa.int8(), "SMALLINT": pa.int16(), "INT": pa.int32(), "INTEGER": pa.int32()}


def arrow_type(sql_type: str) -> pa.DataType:
    """The Arrow (and Parquet) type that holds values of a column type exactly."""
    base = normalize_type(sql_type)
    if base in ("BIGINT", "LONG"):
        return pa.int64()
    if base in _ARROW_INTS:
        return _ARROW_INTS[base]
    match = _DECIMAL_RE.match(base)
    if match:
        return pa.decimal128(int(match.group(1)), int(match.group(2) or 0))
    if base in ("DOUBLE", "FLOAT", "REAL"):
        return pa.float64()
    if base == "BOOLEAN":
        return pa.bool_()
    if base in ("TIMESTAMP", "TIMESTAMP_LTZ"):
        return pa.timestamp("us", tz="UTC")
    if base == "TIMESTAMP_NTZ":
        return pa.timestamp("us")
    if base == "DATE":
        return pa.date32()
    return pa.string()


def _from_text(text: str, arrow: pa.DataType) -> Any:
    """A parameter text (``parameter_value``) as the Python value Arrow stores for its type."""
    if pa.types.is_decimal(arrow):
        return Decimal(text)
    if pa.types.is_integer(arrow):
        return int(text)
    if pa.types.is_floating(arrow):
        return float(text)
    if pa.types.is_boolean(arrow):
        return text == "true"
    if pa.types.is_timestamp(arrow):
        return datetime.fromisoformat(text)
    if pa.types.is_date(arrow):
        return date.fromisoformat(text)
    return text


def _fast_array(values: list[Any], arrow: pa.DataType) -> pa.Array | None:
    """Values whose Python types Arrow converts exactly, as an array of ``arrow``; None when another
    type is present or Arrow refuses a value (``arrow_column`` then converts them one by one)."""
    kinds = set(map(type, values))
    kinds.discard(_NONE)
    try:
        if pa.types.is_string(arrow):
            if kinds <= {str}:
                return pa.array(values, arrow)
            if kinds <= {str, dict, list}:  # objects and arrays as JSON text, as parameter_value writes them
                return pa.array(
                    [v if v is None or type(v) is str else to_json_text(v) for v in values], arrow
                )
            return None
        if pa.types.is_integer(arrow):
            return pa.array(values, arrow) if kinds <= {int} else None
        if pa.types.is_decimal(arrow):
            # Arrow refuses what it would have to round and what passes the precision.
            return pa.array(values, arrow) if kinds <= {Decimal, int} else None
        if pa.types.is_boolean(arrow):
            return pa.array(values, arrow) if kinds <= {bool} else None
        if pa.types.is_date(arrow):
            return pa.array(values, arrow) if kinds <= {date} else None
        if pa.types.is_floating(arrow):
            if not kinds <= {float, int, Decimal}:
                return None
            floats = [None if v is None else float(v) for v in values]
            for f, v in zip(floats, values, strict=True):
                # NaN, infinity and magnitudes that would become 0 or infinity are refused one by one.
                if f is not None and (f != f or f in (math.inf, -math.inf) or (f == 0.0 and v != 0)):
                    return None
            return pa.array(floats, arrow)
        if pa.types.is_timestamp(arrow) and arrow.tz == "UTC":
            if not kinds <= {datetime}:
                return None
            array = pa.array(values, arrow)  # aware values become UTC; naive ones are read as UTC
            low, high = pc.min_max(array.cast(pa.int64())).values()
            if low.is_valid and (low.as_py() < _FIRST_US or high.as_py() > _LAST_US):
                return None
            return array
    except (pa.ArrowException, OverflowError, ValueError, TypeError):
        return None
    return None


def arrow_column(values: list[Any], column: Column) -> pa.Array:
    """One column of many records as an Arrow array, converted and checked exactly as
    ``parameter_value`` does value by value (which raises ``ValueConversionError`` the same way).

    Values of the types a JSON message and the SDK's parsing give (str, int, Decimal, bool, datetime,
    date) convert in Arrow; anything else, and any value Arrow refuses, goes through
    ``parameter_value``."""
    arrow = arrow_type(column.sql_type)
    fast = _fast_array(values, arrow)
    if fast is not None:
        return fast
    texts = [parameter_value(v, column.sql_type, column.name) for v in values]
    if pa.types.is_string(arrow):
        return pa.array(texts, arrow)
    return pa.array([None if t is None else _from_text(t, arrow) for t in texts], arrow)


def arrow_record_batch(
    records: Sequence[Mapping[str, Any]], columns: Sequence[Column], positions: Sequence[int]
) -> pa.RecordBatch:
    """Records as an Arrow record batch of the columns at ``positions``, named ``c<position>``.

    A value that cannot be stored exactly raises the ``ValueConversionError`` that converting the
    records one by one (``convert_row``) raises first, so the error is the same on every path."""
    arrays = []
    try:
        for i in positions:
            name = columns[i].name
            arrays.append(arrow_column([r.get(name) for r in records], columns[i]))
    except ValueConversionError:
        for record in records:
            convert_row(record, columns)
        raise
    return pa.RecordBatch.from_arrays(arrays, names=[f"c{i}" for i in positions])


def arrow_value(text: str, column: Column) -> Any:
    """A parameter text of ``column`` (``parameter_value``) as the Python value its Arrow type stores."""
    return _from_text(text, arrow_type(column.sql_type))
