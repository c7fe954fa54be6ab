"""RECORD messages decoded straight into checked values, in msgspec's typed decoding.

Reading a RECORD the general way costs three passes in Python over every value: decoding the line into
dicts and lists, validating them against the stream's SCHEMA (``validation.FastValidator``), and
encoding nested objects and arrays again as the JSON text their STRING column holds. For a stream whose
SCHEMA only declares types (the properties' types, nested ``properties``, ``items``, ``required``,
``additionalProperties: false``, and annotations such as ``format``), a ``TypedRecordDecoder`` does the
same in C, in two typed decodings of the record's bytes:

1. a check, into structs generated from the schema: strictly typed (a string is not a number, a bool is
   not an integer, ``1.0`` is not an integer), nested objects and arrays included, a top-level field
   the SCHEMA does not declare refused. It only decides "valid for sure";
2. the values: numbers with a fraction or exponent as exact ``Decimal`` (as the general reader gives
   them), and each nested object or array as the JSON text its STRING column holds: the text the tap
   sent, insignificant whitespace removed (``msgspec.json.format``). Decoding it into dicts and lists
   and encoding it again, as the general way does, cost three times as much. The general way writes
   the same values, but its own notation: a number in exponent form or below 0.000001 as ``Decimal``
   writes it (``1E+2``, ``1E-7``), ``-0`` as ``0``, escapes decoded, and of a key given twice only the
   last.

Whenever the check fails, or the schema holds anything else (``anyOf``, ``enum``, ``pattern``, mixed
types, references), the decoder gives nothing and the record goes the general way, which accepts,
refuses, warns and names the field exactly as before. Date, time and date-time strings stay strings
here: the sink parses them as the SDK does (``Sink._parse_timestamps_in_record``), digits past
microseconds cut.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypedDict, Union

import msgspec

from target_databricks.validation import constraining_keywords

#: The fields of a RECORD message around its record, as the reader keeps them (any JSON value).
ENVELOPE_FIELDS: dict[str, Any] = {"type": Any, "stream": Any, "time_extracted": Any, "version": Any}

#: The keywords checked here (``validation.constraining_keywords``); any other keyword sends the
#: stream the general way.
_STRUCTURE = frozenset({"type", "properties", "items", "required", "additionalProperties"})
_names = (f"f{i}" for i in itertools.count())


class NotTyped(Exception):
    """The schema holds something the typed decoding does not check exactly as ``jsonschema`` does."""


def _keywords(schema: Any) -> tuple[Mapping[str, Any], list[str]]:
    """The subschema and its declared type names; NotTyped when it is not a plain typed schema."""
    if not isinstance(schema, Mapping):
        raise NotTyped
    if not constraining_keywords(schema) <= _STRUCTURE:
        raise NotTyped
    declared = schema.get("type")
    names = [declared] if isinstance(declared, str) else declared
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise NotTyped
    if len(set(names)) != len(names):
        raise NotTyped
    return schema, names


def _object_struct(schema: Mapping[str, Any], *, closed: bool) -> type:
    """A struct checking an object's declared properties; unknown fields refused when ``closed``."""
    properties = schema.get("properties") or {}
    required = schema.get("required") or []
    extra = schema.get("additionalProperties", True)
    if not isinstance(properties, Mapping) or not isinstance(required, list):
        raise NotTyped
    if extra is False:
        closed = True
    elif not (extra is True or extra == {}):
        raise NotTyped
    fields: list[tuple[str, Any, Any] | tuple[str, Any]] = []
    rename: dict[str, str] = {}
    for name in dict.fromkeys([*properties, *required]):
        if not isinstance(name, str):
            raise NotTyped
        attribute = next(_names)
        rename[attribute] = name
        kind = _check_type(properties[name]) if name in properties else Any
        fields.append((attribute, kind) if name in required else (attribute, kind, msgspec.UNSET))
    # Checked values are dropped at once and hold no cycles: not tracked by the garbage collector.
    return msgspec.defstruct(
        "Checked", fields, kw_only=True, forbid_unknown_fields=closed, rename=rename, gc=False
    )


def _check_type(schema: Any) -> Any:
    """The strict type whose decoding accepts exactly the values ``schema`` accepts."""
    if schema is True or schema == {}:
        return Any
    schema, names = _keywords(schema)
    kinds: list[Any] = []
    for name in names:
        if name == "null":
            kinds.append(None)
        elif name == "boolean":
            kinds.append(bool)
        elif name == "integer":
            kinds.append(int)
        elif name == "number":
            kinds.extend([int, float])
        elif name == "string":
            kinds.append(str)
        elif name == "object":
            shaped = any(k in schema for k in ("properties", "required", "additionalProperties"))
            kinds.append(_object_struct(schema, closed=False) if shaped else dict[str, Any])
        elif name == "array":
            item = _check_type(schema["items"]) if "items" in schema else Any
            kinds.append(list[item])  # type: ignore[valid-type]  # a type computed at run time
        else:
            raise NotTyped
    if ("properties" in schema or "required" in schema) and "object" not in names:
        raise NotTyped  # object keywords on a value that is never an object: left to jsonschema
    if "items" in schema and "array" not in names:
        raise NotTyped
    return Union[tuple(dict.fromkeys(kinds))]  # noqa: UP007 (a runtime union of computed types)


def _value_type(schema: Mapping[str, Any]) -> tuple[Any, bool]:
    """The type a property's value is decoded into, and whether it is nested JSON kept as text."""
    _, names = _keywords(schema)
    types = set(names) - {"null"}
    if types <= {"object", "array"} and types:
        return msgspec.Raw, True  # a null arrives as the text ``null``
    if types == {"string"}:
        kind: Any = str
    elif types == {"integer"}:
        kind = int
    elif types and types <= {"integer", "number"}:
        kind = Union[int, Decimal]  # noqa: UP007 (integers stay int, the rest exact, as the reader gives)
    elif types == {"boolean"}:
        kind = bool
    else:
        raise NotTyped  # mixed types: their values stay as the general reader gives them
    return (Union[kind, None] if "null" in names else kind), False  # noqa: UP007


class TypedRecordDecoder:
    """Decodes the records of one stream whose SCHEMA is plain types (see the module docstring)."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        properties = schema.get("properties")
        if not isinstance(properties, Mapping) or any(not isinstance(k, str) for k in properties):
            raise NotTyped
        checked = _object_struct(schema, closed=True)
        self._check: msgspec.json.Decoder[Any] = msgspec.json.Decoder(checked)
        values: dict[str, Any] = {}
        text_keys: list[str] = []
        for name, prop in properties.items():
            values[name], as_text = _value_type(prop)
            if as_text:
                text_keys.append(name)
        typed_values: Any = TypedDict("Values", values, total=False)  # type: ignore[misc]
        self._values: msgspec.json.Decoder[Any] = msgspec.json.Decoder(typed_values)
        self._text_keys = tuple(text_keys)
        # The same two decodings over a whole RECORD message line (its other fields those of
        # ENVELOPE_FIELDS), for the reader to try first on a line of the stream it read last.
        self._message_check = msgspec.json.Decoder(
            msgspec.defstruct("CheckedMessage", [("record", checked)], gc=False)
        )
        self._message_values: msgspec.json.Decoder[Any] = msgspec.json.Decoder(
            TypedDict("Message", {**ENVELOPE_FIELDS, "record": typed_values}, total=False)  # type: ignore[operator]
        )

    @classmethod
    def for_schema(cls, schema: Mapping[str, Any]) -> TypedRecordDecoder | None:
        """The decoder of ``schema``'s records, or None when they must go the general way."""
        try:
            return cls(schema)
        except (NotTyped, TypeError, ValueError):
            return None

    def decode(self, raw: bytes | msgspec.Raw) -> dict[str, Any] | None:
        """The record's values, or None when it is not valid for sure (the general way decides)."""
        try:
            self._check.decode(raw)
            record: dict[str, Any] = self._values.decode(raw)
        except msgspec.DecodeError:
            return None
        return self._nested_as_text(record)

    def decode_message(self, line: bytes | str, stream: str) -> dict[str, Any] | None:
        """The RECORD message of ``stream`` on ``line`` with its record's values, or None: another
        message, another stream's, or a record not valid for sure (``decode`` of its record then
        decides the same; this saves decoding the message's envelope on its own)."""
        try:
            message: dict[str, Any] = self._message_values.decode(line)
            if message.get("type") != "RECORD" or message.get("stream") != stream or "record" not in message:
                return None
            self._message_check.decode(line)
        except msgspec.DecodeError:
            return None
        self._nested_as_text(message["record"])
        return message

    def _nested_as_text(self, record: dict[str, Any]) -> dict[str, Any]:
        for key in self._text_keys:
            value = record.get(key)
            if value is not None:
                text = bytes(value)
                record[key] = None if text == b"null" else msgspec.json.format(text, indent=-1).decode()
        return record
