"""Records of entities outside the Default endpoint catalog (custom endpoints)."""

from __future__ import annotations

from typing import Any

from tap_acumatica.schema import CustomField, utc_timestamp


class GenericShape:
    """Unwraps any ``{"value": ...}`` field against a user-given JSON schema. Only the schema's
    properties are emitted: a field the server adds reaches no loader under a name nobody checked."""

    def __init__(
        self, schema: dict, utc_field: str | None, expand: tuple[str, ...], custom: tuple[CustomField, ...]
    ) -> None:
        self._schema = schema
        self._keep = frozenset(schema.get("properties") or ())
        self.utc_field = utc_field
        self.expand = expand
        self.custom = custom

    def json_schema(self) -> dict:
        return self._schema

    def unwrap(self, raw: dict) -> dict:
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
