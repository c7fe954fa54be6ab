"""Reference records (vendors and the like) written by natural key: insert, update or both.

The entity's current records are read once per stream (``$select`` of the mapped fields); a record
whose mapped values already match is not written again, one that exists is updated with
``If-Match: *`` and a new one is created with ``If-None-Match: *``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from acumatica_client import catalog
from acumatica_client.api import decode
from acumatica_client.errors import describe_error, field_errors

from target_acumatica.journals import unwrap
from target_acumatica.mapping import ConfigError, FieldSpec, RowError, text
from target_acumatica.poster import Outcome, PostError

if TYPE_CHECKING:
    from acumatica_client.api import AcumaticaApi


#: A record's natural key: its key fields as Acumatica text.
Key = tuple[str | None, ...]


@dataclass
class ReferenceMapping:
    """One stream's ``reference_records`` entry, parsed and checked against the endpoint's fields."""

    stream: str
    entity: str
    key: list[str]
    fields: dict[str, FieldSpec]
    mode: str = "upsert"

    @classmethod
    def parse(cls, stream: str, raw: dict[str, Any], version: str) -> ReferenceMapping:
        where = f"reference_records.{stream}"
        if not isinstance(raw, dict) or not isinstance(raw.get("entity"), str):
            raise ConfigError(f'Setting {where} needs an entity name, e.g. {{"entity": "Vendor", ...}}.')
        entity = raw["entity"]
        if not catalog.has_entity(version, entity):
            raise ConfigError(
                f"Setting {where}.entity: {entity} is not an entity of the Default endpoint {version}."
            )
        known = catalog.fields(version, entity)
        fields: dict[str, FieldSpec] = {}
        for name, spec in (raw.get("fields") or {}).items():
            if name not in known or not catalog.is_scalar(known[name]):
                raise ConfigError(
                    f"Setting {where}.fields: {entity} has no field {name} in endpoint {version}."
                )
            parsed = FieldSpec.parse(spec, f"{where}.fields.{name}")
            if parsed is None:
                raise ConfigError(
                    f"Setting {where}.fields.{name} is empty; map it to a column, value or template, "
                    "or remove it."
                )
            fields[name] = parsed
        key = raw.get("key") or []
        if not key or any(k not in fields for k in key):
            raise ConfigError(f"Setting {where}.key must list key fields that are also mapped in fields.")
        mode = raw.get("mode") or "upsert"
        if mode not in ("upsert", "insert", "update"):
            raise ConfigError(f"Setting {where}.mode must be upsert, insert or update, not {mode!r}.")
        return cls(stream, entity, list(key), fields, mode)

    def values(self, record: dict[str, Any], number: int) -> dict[str, Any]:
        out = {}
        for name, spec in self.fields.items():
            value = spec.get(record)
            out[name] = value.strip() if isinstance(value, str) else value
        for k in self.key:
            if text(out.get(k)) is None:
                raise RowError(
                    f"row {number} of stream {self.stream}: key field {k} "
                    f"({self.fields[k].describe()}) is empty"
                )
        return out

    def key_of(self, values: dict[str, Any]) -> Key:
        return tuple(text(values.get(k)) for k in self.key)


class ReferenceWriter:
    """Writes one stream's records; ``existing`` is read on first use."""

    def __init__(self, api: AcumaticaApi, mapping: ReferenceMapping, *, dry_run: bool = False) -> None:
        self.api = api
        self.mapping = mapping
        self.dry_run = dry_run
        self._existing: dict[Key, dict[str, Any]] | None = None

    @property
    def existing(self) -> dict[Key, dict[str, Any]]:
        if self._existing is None:
            rows = self.api.get_list(self.mapping.entity, **{"$select": ",".join(self.mapping.fields)})
            self._existing = {}
            for row in rows:
                plain = {name: unwrap(row.get(name)) for name in self.mapping.fields}
                self._existing[self.mapping.key_of(plain)] = plain
        return self._existing

    def write(self, values: dict[str, Any]) -> Outcome:
        m = self.mapping
        key = m.key_of(values)
        label = "/".join(k or "" for k in key)
        current = self.existing.get(key)
        if current is not None and all(_same(current.get(n), v) for n, v in values.items()):
            return Outcome("unchanged", label)
        if current is not None and m.mode == "insert":
            return Outcome("exists", label)
        if current is None and m.mode == "update":
            raise PostError(f"{m.entity} {label} does not exist in Acumatica (mode is update)")
        if self.dry_run:
            return Outcome("would-update" if current is not None else "would-create", label)
        body = {name: {"value": value} for name, value in values.items()}
        # Key fields are sent, so a repeated create answers 412 instead of creating twice.
        response = self.api.put(
            m.entity,
            body,
            create_only=current is None,
            update_only=current is not None,
            accept=(412, 422),
            repeatable=True,
        )
        status = "updated" if current is not None else "created"
        if response.status_code == 412 and current is None:  # created meanwhile (or by a lost answer)
            response = self.api.put(m.entity, body, update_only=True, accept=(412, 422))
            status = "updated"
        if response.status_code == 422:
            problems = "; ".join(
                f"{e.field} '{e.value}': {e.error}" for e in field_errors(decode(response.content))
            )
            raise PostError(f"{m.entity} {label}: Acumatica rejected {problems or describe_error(response)}")
        if response.status_code == 412:
            raise PostError(f"{m.entity} {label}: {describe_error(response)}")
        self.existing[key] = dict(values)
        saved = decode(response.content) or {}
        return Outcome(status, label, saved.get("id"))


def _same(stored: Any, sent: Any) -> bool:
    if isinstance(sent, int | float | Decimal) and not isinstance(sent, bool) and stored is not None:
        try:
            return Decimal(str(stored)) == Decimal(str(sent))
        except ArithmeticError:
            return False
    return text(stored) == text(sent)
