"""Databricks type names of result columns and the JSON_ARRAY rendering of values."""

from __future__ import annotations

import base64
import datetime as dt
import json
from decimal import Decimal

import pyarrow as pa
import pyarrow.types as pt


def type_text(t: pa.DataType) -> str:
    """Databricks' ``type_text`` (as DESCRIBE shows it) of an Arrow type produced by DuckDB."""
    if pt.is_string(t) or pt.is_large_string(t) or pt.is_string_view(t):
        return "STRING"
    if pt.is_boolean(t):
        return "BOOLEAN"
    if pt.is_int8(t):
        return "TINYINT"
    if pt.is_int16(t):
        return "SMALLINT"
    if pt.is_int32(t) or pt.is_uint8(t) or pt.is_uint16(t):
        return "INT"
    if pt.is_integer(t):
        return "BIGINT"
    if pt.is_float32(t):
        return "FLOAT"
    if pt.is_floating(t):
        return "DOUBLE"
    if pt.is_decimal(t):
        return f"DECIMAL({t.precision},{t.scale})"
    if pt.is_date(t):
        return "DATE"
    if pt.is_timestamp(t):
        return "TIMESTAMP" if t.tz else "TIMESTAMP_NTZ"
    if pt.is_binary(t) or pt.is_large_binary(t) or pt.is_binary_view(t) or pt.is_fixed_size_binary(t):
        return "BINARY"
    if pt.is_map(t):
        return f"MAP<{type_text(t.key_type)},{type_text(t.item_type)}>"
    if pt.is_list(t) or pt.is_large_list(t) or pt.is_list_view(t) or pt.is_fixed_size_list(t):
        return f"ARRAY<{type_text(t.value_type)}>"
    if pt.is_struct(t):
        return "STRUCT<" + ",".join(f"{f.name}:{type_text(f.type)}" for f in t) + ">"
    if pt.is_null(t):
        return "VOID"
    if pt.is_interval(t) or pt.is_duration(t):
        return "INTERVAL"
    return "STRING"


_TYPE_NAMES = {
    "TINYINT": "BYTE",
    "SMALLINT": "SHORT",
    "BIGINT": "LONG",
    "TIMESTAMP_NTZ": "TIMESTAMP",
    "VOID": "NULL",
}


def type_name(text: str) -> str:
    """The ``type_name`` enum of the manifest for a ``type_text``."""
    base = text.split("<", 1)[0].split("(", 1)[0]
    return _TYPE_NAMES.get(base, base)


def column_info(name: str, position: int, t: pa.DataType) -> dict:
    text = type_text(t)
    info = {"name": name, "position": position, "type_name": type_name(text), "type_text": text}
    if pt.is_decimal(t):
        info["type_precision"], info["type_scale"] = t.precision, t.scale
    return info


def _timestamp(value: dt.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(timespec="milliseconds") + "Z"
    return value.isoformat(timespec="milliseconds")


def _dump(value, t: pa.DataType) -> str:
    """Nested ARRAY/STRUCT/MAP members as the JSON text Databricks renders (decimals kept exact)."""
    if value is None:
        return "null"
    if pt.is_map(t):
        return (
            "{"
            + ",".join(json.dumps(str(k), ensure_ascii=False) + ":" + _dump(v, t.item_type) for k, v in value)
            + "}"
        )
    if pt.is_struct(t):
        return (
            "{"
            + ",".join(
                json.dumps(f.name, ensure_ascii=False) + ":" + _dump(value.get(f.name), f.type) for f in t
            )
            + "}"
        )
    if isinstance(value, list):
        return "[" + ",".join(_dump(v, t.value_type) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return format(value, "f") if isinstance(value, Decimal) else str(value)
    if isinstance(value, float):
        return repr(value) if value == value and abs(value) != float("inf") else json.dumps(render(value, t))
    return json.dumps(render(value, t), ensure_ascii=False)


def render(value, t: pa.DataType) -> str | None:
    """One value of a JSON_ARRAY result: a string, or None for NULL."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return (
            repr(value)
            if value == value and value not in (float("inf"), float("-inf"))
            else ("NaN" if value != value else ("Infinity" if value > 0 else "-Infinity"))
        )
    if isinstance(value, dt.datetime):
        return _timestamp(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, (list, dict)):
        return _dump(value, t)
    return str(value)
