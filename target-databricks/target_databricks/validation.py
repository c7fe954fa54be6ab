"""Record validation against the stream's SCHEMA at a few microseconds a record.

The SDK validates each record with ``jsonschema`` (Draft 2020-12), about 0.7 ms for a 25-field record:
most of a load's CPU. ``FastValidator`` first runs a check compiled from the schema that can only say
"valid for sure": the types of each property, nested objects and arrays, ``required``,
``additionalProperties: false``. Whenever it cannot say so (a value of another type, a keyword it does
not know, such as ``multipleOf``, ``enum``, ``pattern`` or ``$ref``), the record goes through the SDK's
validator, which raises the same ``InvalidRecord`` as before. So a record is accepted exactly when the
SDK's validator accepts it; only valid records of simple schemas skip the slow path.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from jsonschema.validators import validator_for
from singer_sdk.sinks.core import BaseJSONSchemaValidator

#: A compiled check: True when the value is valid for sure, False when the full validator must decide.
Check = Callable[[Any], bool]

#: Keywords that constrain nothing when string formats are not validated (the SDK's default), and
#: annotations. Any other keyword makes the subschema go through its own ``jsonschema`` validator.
_ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "default",
        "examples",
        "$comment",
        "$schema",
        "format",
        "readOnly",
        "writeOnly",
        "deprecated",
        "contentEncoding",
        "contentMediaType",
        "precision",
        "scale",
    }
)
_HANDLED = frozenset({"type", "properties", "items", "required", "additionalProperties", "anyOf"})

#: Python types that are certainly of each JSON type, as ``jsonschema`` decides it (a bool is not an
#: integer or a number; a float 1.0 is an integer there, but is left to the full validator).
_PY_TYPES: dict[str, tuple[type, ...]] = {
    "null": (type(None),),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float, Decimal),
    "string": (str,),
    "object": (dict,),
    "array": (list,),
}


def constraining_keywords(schema: Mapping[str, Any]) -> set[Any]:
    """The keywords of a subschema that may constrain a value: all but the annotations above and ``x-*``."""
    return {k for k in schema if k not in _ANNOTATIONS and not (isinstance(k, str) and k.startswith("x-"))}


def _never(value: Any) -> bool:
    return False


def _always(value: Any) -> bool:
    return True


def _delegate(subschema: Mapping[str, Any], root: Mapping[str, Any]) -> Check:
    """The subschema's own ``jsonschema`` validator; a schema with references is never split, so the
    whole record goes to the full validator."""
    if '"$' in json.dumps(root, default=str):
        return _never
    validator = validator_for(dict(root))(dict(subschema))
    return validator.is_valid  # type: ignore[no-any-return]  # jsonschema's protocol is untyped here


def compile_check(schema: Any, root: Mapping[str, Any]) -> Check:
    """A check for values of ``schema`` (see the module docstring)."""
    if schema is True or schema == {}:
        return _always
    if not isinstance(schema, Mapping):
        return _never
    keys = constraining_keywords(schema)
    if not keys <= _HANDLED:
        return _delegate(schema, root)
    parts: list[Check] = []
    declared = schema.get("type")
    if declared is not None:
        names = [declared] if isinstance(declared, str) else list(declared)
        if not all(isinstance(n, str) and n in _PY_TYPES for n in names):
            return _delegate(schema, root)
        allowed = frozenset(t for n in names for t in _PY_TYPES[n])
        parts.append(lambda v: type(v) in allowed)
    if "anyOf" in schema:
        branches = [compile_check(sub, root) for sub in schema["anyOf"]]
        parts.append(lambda v: any(check(v) for check in branches))
    if {"properties", "required", "additionalProperties"} & keys:
        parts.append(_object_check(schema, root))
    if "items" in schema:
        item = compile_check(schema["items"], root)
        parts.append(lambda v: type(v) is not list or all(item(x) for x in v))
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        first, second = parts
        return lambda v: first(v) and second(v)
    return lambda v: all(check(v) for check in parts)


def _simple_types(schema: Any) -> frozenset[type] | None:
    """The Python types of a subschema that declares only a ``type`` (and annotations), else None."""
    if not isinstance(schema, Mapping):
        return None
    keys = constraining_keywords(schema)
    declared = schema.get("type")
    if keys != {"type"}:
        return None
    names = [declared] if isinstance(declared, str) else declared
    if not isinstance(names, list) or not all(isinstance(n, str) and n in _PY_TYPES for n in names):
        return None
    return frozenset(t for n in names for t in _PY_TYPES[n])


def _object_check(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Check:
    properties = schema.get("properties") or {}
    # Properties that only declare a type are checked inline (most of a record); others call their check.
    simple = {name: types for name, sub in properties.items() if (types := _simple_types(sub)) is not None}
    checks = {name: compile_check(sub, root) for name, sub in properties.items() if name not in simple}
    required = tuple(schema.get("required") or ())
    extra = schema.get("additionalProperties", True)
    if extra is True or extra == {}:
        closed = False
    elif extra is False:
        closed = True
    else:
        return _delegate(schema, root)

    def check(value: Any) -> bool:
        if type(value) is not dict:
            return True  # not an object: the ``type`` keyword decides
        for name in required:
            if name not in value:
                return False
        for name, item in value.items():
            types = simple.get(name)
            if types is not None:
                if type(item) not in types:
                    return False
                continue
            prop = checks.get(name)
            if prop is None:
                if closed:
                    return False
            elif not prop(item):
                return False
        return True

    return check


class FastValidator(BaseJSONSchemaValidator):
    """The SDK's validator behind a compiled "valid for sure" check (see the module docstring)."""

    def __init__(self, schema: dict[str, Any], full: BaseJSONSchemaValidator) -> None:
        super().__init__(schema)
        self.full = full
        self._check = compile_check(schema, schema)

    def validate(self, record: dict[str, Any]) -> None:
        if not self._check(record):
            self.full.validate(record)
