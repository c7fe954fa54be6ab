"""JSON schemas and record unwrapping, both derived from the Default endpoint catalog.

A stream's shape depends on the endpoint version (fields come and go between versions),
on what it expands (detail arrays and linked entities appear only with ``$expand``) and on
the custom fields configured for it. ``RecordShape`` holds all three and gives both the
Singer schema and a fast ``unwrap`` that turns ``{"Amount": {"value": 12.5}}`` into
``{"Amount": Decimal("12.5")}``: the records it emits already match the schema exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from acumatica_client import catalog
from mlc_run_audit.checks import SettingError, safe_name

#: Schema of an exact decimal (the catalog's ``DecimalValue``: amounts, quantities, prices, rates).
#: ``x-sql-datatype`` is the SDK's SQL-type hint: loaders that honour it make an exact DECIMAL column
#: instead of a float. 38 digits with 9 decimal places hold every Acumatica decimal (amounts have 4
#: places, quantities and unit prices 6, exchange rates 8) and equal the columns loaders made before.
DECIMAL_SCHEMA: dict[str, Any] = {"type": ["number", "null"], "x-sql-datatype": "decimal(38,9)"}

#: Custom field types a user may declare, and the JSON schema of each.
CUSTOM_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": ["string", "null"]},
    "integer": {"type": ["integer", "null"]},
    # Read as exact Decimals, so declared like the catalog's decimals.
    "number": DECIMAL_SCHEMA,
    "boolean": {"type": ["boolean", "null"]},
    "date-time": {"type": ["string", "null"], "format": "date-time"},
}

# ASCII only: the view and field make the column name, which must be safe in every loader.
_CUSTOM_SPEC = re.compile(
    r"^(?:(?P<detail>[A-Za-z0-9_]+)/)?(?P<view>[A-Za-z0-9_]+)\.(?P<field>[A-Za-z0-9_]+)(?::(?P<type>[\w-]+))?$"
)


@dataclass(frozen=True)
class CustomField:
    """A custom field requested with ``$custom``: ``View.Field``, optionally ``:type``.

    ``Details/Transactions.UsrPhase`` names a field of the detail lines.
    """

    view: str
    field: str
    type: str = "string"
    detail: str | None = None

    @classmethod
    def parse(cls, spec: str) -> CustomField:
        match = _CUSTOM_SPEC.match(spec.strip())
        if not match or (match["type"] or "string") not in CUSTOM_TYPES:
            msg = (
                f"Setting custom_fields: {spec!r} is not of the form View.Field or View.Field:type "
                "(optionally Details/View.Field; names of ASCII letters, digits and _), type one of "
                f"{', '.join(CUSTOM_TYPES)}."
            )
            raise SettingError(msg)
        return cls(match["view"], match["field"], match["type"] or "string", match["detail"])

    @property
    def column(self) -> str:
        """Column name in the emitted record: ``custom_<View>_<Field>``, cut to the name length limit
        with a hash of the whole name when longer."""
        return safe_name(f"custom_{self.view}_{self.field}")

    @property
    def query(self) -> str:
        """The ``$custom`` term for this field."""
        return f"{self.detail}/{self.view}.{self.field}" if self.detail else f"{self.view}.{self.field}"

    def convert(self, value: Any) -> Any:
        if value is None:
            return None
        if self.type == "string":
            return value if isinstance(value, str) else str(value)
        if self.type == "integer":
            return int(value)
        if self.type == "number":
            return value if isinstance(value, Decimal) else Decimal(str(value))
        if self.type == "boolean":
            return value if isinstance(value, bool) else str(value).lower() == "true"
        return str(value)


def utc_timestamp(value: str) -> str:
    """An Acumatica datetime as fixed-width UTC ISO-8601, so text order is time order."""
    return datetime.fromisoformat(value).astimezone(UTC).isoformat(timespec="microseconds")


@dataclass
class RecordShape:
    """Fields of one entity in one endpoint version, with expansions and custom fields."""

    version: str
    entity: str
    expand: tuple[str, ...] = ()
    custom: tuple[CustomField, ...] = ()
    #: Field normalised to UTC (the replication key), so bookmarks compare as text.
    utc_field: str | None = None
    _plan: list[Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        fields = catalog.fields(self.version, self.entity)
        for path in self.expand:
            head = path.split("/", 1)[0]
            if head not in fields or catalog.is_scalar(fields[head]):
                msg = (
                    f"Setting expand: cannot expand {path!r}: {self.entity} in endpoint version "
                    f"{self.version} has no detail or linked entity named {head!r}."
                )
                raise SettingError(msg)
        self._plan = self._make_plan(self.entity, prefix="")

    # Schema -----------------------------------------------------------------------

    def json_schema(self) -> dict[str, Any]:
        """JSON schema of the unwrapped records."""
        props = {"id": {"type": ["string", "null"]}, "note": {"type": ["string", "null"]}}
        props.update(self._properties(self.entity, prefix=""))
        for custom in self.custom:
            if custom.detail is None:
                props[custom.column] = dict(CUSTOM_TYPES[custom.type])
        return {"type": "object", "properties": props}

    def _properties(self, entity: str, prefix: str) -> dict[str, Any]:
        props: dict[str, dict[str, Any]] = {}
        for name, kind in sorted(catalog.fields(self.version, entity).items()):
            if kind == "DecimalValue":
                props[name] = dict(DECIMAL_SCHEMA)
            elif catalog.is_scalar(kind):
                props[name] = dict(catalog.SCALAR_TYPES[kind])
            elif self._expanded(prefix + name):
                inner = {"id": {"type": ["string", "null"]}}
                inner.update(self._properties(catalog.element_type(kind), prefix + name + "/"))
                for custom in self.custom:
                    if custom.detail == prefix + name:
                        inner[custom.column] = dict(CUSTOM_TYPES[custom.type])
                obj = {"type": ["object", "null"], "properties": inner}
                props[name] = {"type": ["array", "null"], "items": obj} if catalog.is_detail(kind) else obj
        return props

    def _expanded(self, path: str) -> bool:
        return path in self.expand

    # Unwrapping -------------------------------------------------------------------

    def _make_plan(self, entity: str, prefix: str) -> list[Any]:
        scalars: list[str] = []
        nested: list[tuple[str, bool, list[Any]]] = []
        for name, kind in sorted(catalog.fields(self.version, entity).items()):
            if catalog.is_scalar(kind):
                scalars.append(name)
            elif self._expanded(prefix + name):
                sub = self._make_plan(catalog.element_type(kind), prefix + name + "/")
                nested.append((name, catalog.is_detail(kind), sub))
        detail = prefix.rstrip("/") or None
        customs = [c for c in self.custom if c.detail == detail]
        return [scalars, nested, customs]

    def unwrap(self, raw: dict[str, Any]) -> dict[str, Any]:
        """The record as emitted: plain values, detail lines as arrays, custom columns."""
        record = _unwrap(raw, self._plan)
        note = raw.get("note")
        record["note"] = note.get("value") if isinstance(note, dict) else note
        if self.utc_field and record.get(self.utc_field):
            record[self.utc_field] = utc_timestamp(record[self.utc_field])
        return record


def _unwrap(raw: dict[str, Any], plan: list[Any]) -> dict[str, Any]:
    scalars, nested, customs = plan
    get = raw.get
    # A wrapped field is {"value": x}, {} or absent; all but the first mean null.
    out: dict[str, Any] = {name: (w.get("value") if (w := get(name)) else None) for name in scalars}
    out["id"] = get("id")
    for name, is_array, sub in nested:
        value = get(name)
        if value is None:
            out[name] = None
        elif is_array:
            out[name] = [_unwrap(line, sub) for line in value]
        else:
            out[name] = _unwrap(value, sub)
    if customs:
        custom = get("custom") or {}
        for spec in customs:
            wrapped = (custom.get(spec.view) or {}).get(spec.field)
            out[spec.column] = spec.convert(wrapped.get("value") if wrapped else None)
    return out


# Records of entities outside the Default endpoint catalog (custom endpoints).
class GenericShape:
    """Unwraps any ``{"value": ...}`` field against a user-given JSON schema. Only the schema's
    properties are emitted: a field the server adds reaches no loader under a name nobody checked."""

    def __init__(
        self,
        schema: dict[str, Any],
        utc_field: str | None,
        expand: tuple[str, ...],
        custom: tuple[CustomField, ...],
    ) -> None:
        self._schema = schema
        self._keep = frozenset(schema.get("properties") or ())
        self.utc_field = utc_field
        self.expand = expand
        self.custom = custom

    def json_schema(self) -> dict[str, Any]:
        return self._schema

    def unwrap(self, raw: dict[str, Any]) -> dict[str, Any]:
        keep = self._keep
        record = {k: _plain(v) for k, v in raw.items() if k in keep}
        custom = raw.get("custom") or {}
        for spec in self.custom:
            wrapped = (custom.get(spec.view) or {}).get(spec.field)
            record[spec.column] = spec.convert(wrapped.get("value") if wrapped else None)
        if self.utc_field and record.get(self.utc_field):
            record[self.utc_field] = utc_timestamp(record[self.utc_field])
        return record


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        if "value" in value and len(value) <= 2:
            return value["value"]
        return {k: _plain(v) for k, v in value.items() if k not in ("rowNumber", "_links")}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


#: What a stream reads records as: a catalog entity, or an extra entity with its own schema.
Shape = RecordShape | GenericShape
