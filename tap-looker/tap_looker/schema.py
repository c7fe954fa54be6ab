"""From an explore's field metadata to a stream's columns: warehouse-safe names, JSON Schema types and
the conversion of Looker ``json`` values.

Column names: a field of the explore's base view keeps its field name (``overhead_allocation.account``
-> ``account``); a field of a joined view becomes ``<view>__<field>`` (``vendors.vendor_name`` ->
``vendors__vendor_name``). Names are lower-cased, anything but ``a-z0-9_`` becomes ``_``, a leading
digit gets a ``_`` prefix, and names over 63 characters are cut with a hash suffix. A query's
``column_names`` setting overrides any of them, with a name of letters, digits and ``_`` (refused
otherwise). Two fields landing on one name, ignoring case, is an error.

Types: Looker numbers stay exact decimals (``count`` and ``count_distinct`` measures are integers);
numbers that are amounts (not averages, medians, percentiles or percent-formatted) carry the SQL-type
hint ``x-sql-datatype: decimal(38,9)``;
``date_date``/``date_week`` are JSON Schema dates; ``date_time``/``date_raw``/``date_second`` are
date-times (Looker's ``2026-01-31 10:00:00`` becomes ``2026-01-31T10:00:00``); ``yesno`` is boolean;
everything else (months ``2026-01``, quarters, tiers) is a string.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mlc_run_audit.checks import SettingError, check_name

MAX_NAME = 63
INTEGER_TYPES = ("count", "count_distinct")
DATE_TYPES = ("date_date", "date_week")
DATETIME_TYPES = ("date_time", "date_raw", "date_second")
#: Measures that compute a statistic rather than add up amounts: their values may have any number of
#: decimal places, so they stay plain numbers (a float column in loaders that ignore exactness).
STATISTIC_TYPES = (
    "average",
    "average_distinct",
    "median",
    "median_distinct",
    "percentile",
    "percentile_distinct",
)
#: SQL-type hint (the SDK's ``x-sql-datatype``) of numbers that are amounts: loaders that honour it make
#: an exact DECIMAL column instead of a float; 38 digits with 9 places equal what loaders made before.
DECIMAL_HINT = "decimal(38,9)"


def safe_name(field_name: str, base_view: str) -> str:
    view, _, name = field_name.partition(".")
    raw = name if view == base_view and name else field_name.replace(".", "__")
    text = re.sub(r"[^a-z0-9_]", "_", raw.lower())
    if not text or text[0].isdigit():
        text = "_" + text
    if len(text) > MAX_NAME:
        digest = hashlib.sha1(field_name.encode()).hexdigest()[:8]
        text = f"{text[: MAX_NAME - 9]}_{digest}"
    return text


def _number(value: object) -> int | Decimal | None:
    if value is None or isinstance(value, (int, Decimal)):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


def _integer(value: object) -> int | None:
    if value is None or isinstance(value, int):
        return value
    return int(Decimal(str(value)))


def _yesno(value: object) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("yes", "true", "1")


def _datetime(value: object) -> str | None:
    if value is None:
        return None
    return str(value).replace(" ", "T", 1)


def _string(value: object) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class Column:
    """One stream column: where it comes from and how its values are typed."""

    name: str
    field: str
    looker_type: str
    category: str
    label: str
    schema: dict[str, Any]
    convert: Callable[[object], object]


def column_for(meta: dict[str, Any], name: str) -> Column:
    looker_type = str(meta.get("type") or "string")
    category = str(meta.get("category") or "dimension")
    schema: dict[str, Any]
    convert: Callable[[object], object]
    if looker_type in INTEGER_TYPES:
        schema, convert = {"type": ["integer", "null"]}, _integer
    elif meta.get("is_numeric") or looker_type == "number":
        schema, convert = {"type": ["number", "null"]}, _number
        percent = str(meta.get("value_format_name") or "").startswith("percent")
        if looker_type not in STATISTIC_TYPES and not percent:
            schema["x-sql-datatype"] = DECIMAL_HINT
    elif looker_type == "yesno":
        schema, convert = {"type": ["boolean", "null"]}, _yesno
    elif looker_type in DATE_TYPES:
        schema, convert = {"type": ["string", "null"], "format": "date"}, _string
    elif looker_type in DATETIME_TYPES:
        schema, convert = {"type": ["string", "null"], "format": "date-time"}, _datetime
    else:
        schema, convert = {"type": ["string", "null"]}, _string
    label = str(meta.get("label") or meta.get("name"))
    schema = {**schema, "description": f"Looker field {meta['name']} ({looker_type}): {label}"}
    return Column(name, meta["name"], looker_type, category, label, schema, convert)


def columns_for(
    explore: dict[str, Any], fields: list[str], overrides: dict[str, str] | None, where: str
) -> list[Column]:
    """Columns for ``fields`` of ``explore`` (its ``lookml_model_explore`` answer), in query order."""
    by_name: dict[str, dict[str, Any]] = {}
    for group in ("dimensions", "measures"):
        for meta in (explore.get("fields") or {}).get(group) or []:
            by_name[meta["name"]] = meta
    base_view = explore.get("view_name") or explore.get("name") or ""
    unknown = [f for f in fields if f not in by_name]
    if unknown:
        raise SettingError(
            f"{where}: explore {explore.get('model_name')}::{explore.get('name')} has no field "
            f"{', '.join(unknown)} (it has {len(by_name)} fields, e.g. {', '.join(list(by_name)[:5])})"
        )
    overrides = overrides or {}
    stray = set(overrides) - set(fields)
    if stray:
        raise SettingError(f"{where}: column_names names fields not in the query: {', '.join(sorted(stray))}")
    columns: list[Column] = []
    seen: dict[str, str] = {}
    for field in fields:
        if field in overrides:
            name = check_name(overrides[field], f"Setting {where}: column_names[{field!r}]")
        else:
            name = safe_name(field, base_view)
        if name.casefold() in seen:
            raise SettingError(
                f"Setting {where}: fields {seen[name.casefold()]} and {field} both become column {name!r} "
                "(loaders ignore case); set column_names for one of them"
            )
        seen[name.casefold()] = field
        columns.append(column_for(by_name[field], name))
    return columns
