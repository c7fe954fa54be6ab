"""Field catalog of the Acumatica Default endpoint, versions 20.200.001 to 24.200.001.

The catalog lists, per endpoint version and entity, each field and its contract type
(``StringValue``, ``DecimalValue``, ``BillDetail[]``, ``Contact`` ...). Both the tap (for
schemas) and the emulator (for records) read it, so they agree on what a version offers.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

#: Contract value types and the JSON-schema type each unwraps to.
SCALAR_TYPES: dict[str, dict[str, Any]] = {
    "StringValue": {"type": ["string", "null"]},
    "GuidValue": {"type": ["string", "null"]},
    "DateTimeValue": {"type": ["string", "null"], "format": "date-time"},
    "BooleanValue": {"type": ["boolean", "null"]},
    "IntValue": {"type": ["integer", "null"]},
    "ShortValue": {"type": ["integer", "null"]},
    "LongValue": {"type": ["integer", "null"]},
    "ByteValue": {"type": ["integer", "null"]},
    "DecimalValue": {"type": ["number", "null"]},
    "DoubleValue": {"type": ["number", "null"]},
}


@functools.cache
def _catalog() -> dict[str, dict[str, dict[str, Any]]]:
    text = (
        resources.files("acumatica_client")
        .joinpath("data/default-endpoint-fields.json")
        .read_text(encoding="utf-8")
    )
    catalog: dict[str, dict[str, dict[str, Any]]] = json.loads(text)
    return catalog


def versions() -> list[str]:
    """Endpoint versions the catalog describes, oldest first."""
    return sorted(_catalog())


def entities(version: str) -> list[str]:
    """Names of the top-level entities of one endpoint version."""
    return sorted(name for name, spec in _version(version).items() if spec["kind"] == "TopLevelEntity")


def fields(version: str, entity: str) -> dict[str, str]:
    """Field name to contract type for ``entity`` (top-level, detail or linked) in ``version``."""
    spec = _version(version).get(entity)
    if spec is None:
        msg = f"Entity {entity!r} is not part of the Default endpoint {version}"
        raise KeyError(msg)
    found: dict[str, str] = spec["fields"]
    return found


def has_entity(version: str, entity: str) -> bool:
    """Whether ``entity`` exists in ``version`` of the Default endpoint."""
    return entity in _version(version)


def _version(version: str) -> dict[str, dict[str, Any]]:
    catalog = _catalog()
    if version not in catalog:
        msg = (
            f"Endpoint version {version!r} is not in the field catalog; "
            f"known versions: {', '.join(sorted(catalog))}"
        )
        raise KeyError(msg)
    return catalog[version]


def is_scalar(field_type: str) -> bool:
    """Whether a contract type is a wrapped scalar value (``{"value": ...}``)."""
    return field_type in SCALAR_TYPES


def is_detail(field_type: str) -> bool:
    """Whether a contract type is a detail array (``BillDetail[]``)."""
    return field_type.endswith("[]")


def element_type(field_type: str) -> str:
    """The entity name inside a detail or linked type (``BillDetail[]`` -> ``BillDetail``)."""
    return field_type.removesuffix("[]")
