"""From Intacct's text values to typed Singer records, and the JSON schema that says so.

Every value arrives as text. Amounts become exact ``Decimal`` (never binary floats), dates
``YYYY-MM-DD`` and timestamps UTC ISO 8601: Intacct writes timestamps in the user's time
zone, so they are read in that zone and converted. Text is passed on exactly as received.

Column names. A field whose Intacct name is not a safe column name in every loader (Intacct's
related fields have dots: ``DISPLAYCONTACT.EMAIL1``) is emitted under ``mlc_run_audit.checks.safe_name``
of it (``DISPLAYCONTACT_EMAIL1``): each character outside ``A-Za-z0-9_`` becomes ``_``. Two fields of
one object landing on one column (ignoring case) stop the tap before it reads anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from mlc_run_audit import AUDIT_COLUMNS
from mlc_run_audit.checks import SettingError, safe_name

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

DELETED_AT = "_sdc_deleted_at"
#: Schema keyword naming the Intacct field of a column whose name differs from it (``title``: a
#: catalog keeps standard keywords only).
INTACCT_FIELD = "title"

_JSON_TYPES: dict[str, dict[str, Any]] = {
    "text": {"type": ["string", "null"]},
    "integer": {"type": ["integer", "null"]},
    # x-sql-datatype (the SDK's SQL-type hint) tells loaders the amounts are exact: a DECIMAL column, not
    # a float. 9 decimal places and 29 integer digits hold every Intacct amount, rate and percentage, and
    # equal the columns loaders made for plain numbers before.
    "decimal": {"type": ["number", "null"], "x-sql-datatype": "decimal(38,9)"},
    "boolean": {"type": ["boolean", "null"]},
    "date": {"type": ["string", "null"], "format": "date"},
    "timestamp": {"type": ["string", "null"], "format": "date-time"},
}


def fields_of(schema: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(Intacct field, type) of each property of a schema this tap wrote (a catalog's): what a run
    with that catalog reads. Audit columns, deletion marks and line arrays are not fields."""
    out = []
    for column, prop in (schema.get("properties") or {}).items():
        if column in AUDIT_COLUMNS or column == DELETED_AT or not isinstance(prop, dict):
            continue
        types = prop.get("type") or []
        types = [types] if isinstance(types, str) else types
        if "array" in types or "object" in types:
            continue
        if "integer" in types:
            kind = "integer"
        elif "number" in types:
            kind = "decimal"
        elif "boolean" in types:
            kind = "boolean"
        elif prop.get("format") == "date":
            kind = "date"
        elif prop.get("format") == "date-time":
            kind = "timestamp"
        else:
            kind = "text"
        out.append((str(prop.get(INTACCT_FIELD) or column), kind))
    return out


class BadValue(ValueError):
    """A value that does not read as its field's type; names record and field."""


def json_type(field_type: str) -> dict[str, Any]:
    return dict(_JSON_TYPES[field_type])


def parse_local(text: str) -> datetime:
    """``MM/DD/YYYY HH:MM:SS`` (or ``MM/DD/YYYY``, or ISO) as a naive local datetime."""
    text = text.strip()
    if len(text) >= 10 and text[2] == "/" and text[5] == "/":
        day = datetime(int(text[6:10]), int(text[0:2]), int(text[3:5]))
        if len(text) >= 19:
            return day.replace(hour=int(text[11:13]), minute=int(text[14:16]), second=int(text[17:19]))
        if len(text) >= 16:
            return day.replace(hour=int(text[11:13]), minute=int(text[14:16]))
        return day
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is None else parsed.replace(tzinfo=None)


def parse_date(text: str) -> str:
    """``MM/DD/YYYY`` (or ISO) as ``YYYY-MM-DD``."""
    text = text.strip()
    if len(text) >= 10 and text[2] == "/" and text[5] == "/":
        return date(int(text[6:10]), int(text[0:2]), int(text[3:5])).isoformat()
    return date.fromisoformat(text[:10]).isoformat()


def fixed_offset(text: str) -> tzinfo:
    """A ``gmtoffset`` such as ``+09:30`` or ``-08:00`` as a time zone."""
    text = text.strip()
    sign = -1 if text.startswith("-") else 1
    hours, _, minutes = text.lstrip("+-").partition(":")
    return timezone(sign * timedelta(hours=int(hours or 0), minutes=int(minutes or 0)))


class Clock:
    """Converts between the user's local timestamps and UTC.

    In a daylight-saving fold (the repeated hour in autumn) the local text does not say
    which instant is meant; the earlier one is taken, so a bookmark can only be early
    (rows re-read), never late (rows lost).
    """

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        self.to_utc = lru_cache(maxsize=8192)(self._to_utc)

    def _to_utc(self, text: str) -> str:
        local = parse_local(text).replace(tzinfo=self.zone, fold=0)
        return local.astimezone(UTC).isoformat()

    def ambiguous(self, text: str) -> bool:
        """Whether a local timestamp falls in a daylight-saving fold (it names two instants)."""
        return self._ambiguous(parse_local(text))

    def _ambiguous(self, local: datetime) -> bool:
        return (
            local.replace(tzinfo=self.zone, fold=0).utcoffset()
            != local.replace(tzinfo=self.zone, fold=1).utcoffset()
        )

    def fold_bounds(self, text: str) -> tuple[datetime, datetime]:
        """The local [start, end) of the fold ``text`` lies in (e.g. 01:00 to 02:00)."""
        minute = parse_local(text).replace(second=0)
        start = end = minute
        while self._ambiguous(start - timedelta(minutes=1)):
            start -= timedelta(minutes=1)
        while self._ambiguous(end):
            end += timedelta(minutes=1)
        return start, end

    def to_local(self, value: str | datetime) -> datetime:
        """An instant (ISO text or aware datetime) as a naive datetime in the user's zone."""
        instant = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
        return instant.astimezone(self.zone).replace(tzinfo=None)


def _converter(field_type: str, clock: Clock) -> Callable[[str], Any]:
    if field_type == "integer":
        return int
    if field_type == "decimal":
        return Decimal
    if field_type == "boolean":
        return _boolean
    if field_type == "date":
        return parse_date
    if field_type == "timestamp":
        return clock.to_utc
    return str


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "t", "1", "yes"):
        return True
    if lowered in ("false", "f", "0", "no"):
        return False
    raise ValueError(f"not a boolean: {text!r}")


class Shape:
    """A stream's fields, their JSON schema, and the conversion of one row to a record."""

    def __init__(
        self,
        field_types: Iterable[tuple[str, str]],
        *,
        arrays: Mapping[str, Shape] | None = None,
        deletes: bool = False,
        what: str = "",
    ) -> None:
        self.field_types = dict(field_types)
        self.arrays = dict(arrays or {})
        self.deletes = deletes
        #: Intacct field name -> the column it is emitted as (itself when it is safe).
        self.columns = {name: safe_name(name) for name in self.field_types}
        seen: dict[str, str] = {}
        for name, column in [*self.columns.items(), *((a, a) for a in self.arrays)]:
            other = seen.setdefault(column.casefold(), name)
            if other != name:
                msg = (
                    f"{what or 'Intacct'} fields {other} and {name} would both be emitted as column "
                    f"{column}; leave one out (setting objects 'fields', or custom_fields false)."
                )
                raise SettingError(msg)

    def column(self, name: str) -> str:
        """The column an Intacct field is emitted as."""
        return self.columns.get(name, name)

    def json_schema(self) -> dict[str, Any]:
        properties = {}
        for name, t in self.field_types.items():
            prop = json_type(t)
            if self.columns[name] != name:
                # A run with this catalog reads the field by its Intacct name again.
                prop[INTACCT_FIELD] = name
            properties[self.columns[name]] = prop
        for name, lines in self.arrays.items():
            properties[name] = {"type": ["array", "null"], "items": lines.json_schema()}
        if self.deletes:
            properties[DELETED_AT] = json_type("timestamp")
        return {"type": "object", "properties": properties}

    def converter(
        self, selected: Iterable[str], what: str, clock: Clock
    ) -> Callable[[Mapping[str, str | None]], dict[str, Any]]:
        """A function turning one row (text values) into a record with every selected field.
        Empty text is null for every type but text; timestamps are read in ``clock``'s zone."""
        plan = [
            (name, self.columns[name], _converter(kind, clock), kind == "text")
            for name in selected
            if (kind := self.field_types.get(name)) is not None
        ]

        def convert(row: Mapping[str, str | None]) -> dict[str, Any]:
            record: dict[str, Any] = {}
            for name, column, to_value, is_text in plan:
                text = row.get(name)
                if text is None or (text == "" and not is_text):
                    record[column] = None
                    continue
                try:
                    record[column] = to_value(text)
                except (ValueError, InvalidOperation):
                    msg = (
                        f"{what} record {row.get('RECORDNO', '?')}: field {name} value {text!r} "
                        f"is not a valid {self.field_types[name]}"
                    )
                    raise BadValue(msg) from None
            return record

        return convert
