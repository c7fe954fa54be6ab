"""Records of plain-typed schemas are decoded checked in one go (``typed_records``): the rows are those of
the general way (decode, validate with the SDK's validator, parse date-likes, encode nested values
again), and every record it does not vouch for still goes the general way, refused or warned about as
before."""

from __future__ import annotations

import gc
import json
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from singer_sdk.helpers._compat import datetime_fromisoformat
from singer_sdk.sinks.core import JSONSchemaValidator
from target_databricks import sql, validation, values
from target_databricks.reader import LineKeepingReader
from target_databricks.typed_records import TypedRecordDecoder

from tests.support.databricks import (
    BILL_PROPS,
    audit,
    bills,
    record,
    rows,
    run_in_process,
    schema,
    state,
    write_config,
)

PROPS = {
    "id": {"type": "integer"},
    "name": {"type": ["string", "null"], "description": "annotations are fine", "x-note": 1},
    "amount": {"type": ["number", "null"], "x-sql-datatype": "decimal(38,9)"},
    "rate": {"type": ["number", "null"]},
    "paid": {"type": ["boolean", "null"]},
    "updated": {"type": ["string", "null"], "format": "date-time"},
    "lines": {
        "type": ["array", "null"],
        "items": {
            "type": "object",
            "properties": {"qty": {"type": ["number", "null"]}, "sku": {"type": "string"}},
            "required": ["sku"],
        },
    },
    "meta": {
        "type": ["object", "null"],
        "properties": {"tags": {"type": "array", "items": {"type": "string"}}},
    },
}
SCHEMA = {"type": "object", "properties": PROPS}
_general = msgspec.json.Decoder(float_hook=Decimal)


NESTED = ("lines", "meta")


def loaded(record: dict, columns: list[sql.Column]) -> list:
    """The row a record loads as, nested JSON text read back as values (numbers exact): the general way
    writes its own notation of the same values (see ``typed_records``)."""
    if record.get("updated") is not None:
        record["updated"] = datetime_fromisoformat(record["updated"])
    row: list = values.convert_row(record, columns)
    for i, column in enumerate(columns):
        if column.name in NESTED and row[i] is not None:
            row[i] = repr(_general.decode(row[i]))
    return row


def general_row(raw: bytes, columns: list[sql.Column]) -> list:
    """The row the general way loads: decode, parse date-times, convert (nested values encoded again)."""
    return loaded(_general.decode(raw), columns)


def typed_row(raw: bytes, columns: list[sql.Column]) -> list:
    record = TypedRecordDecoder(SCHEMA).decode(raw)
    assert record is not None, raw
    return loaded(record, columns)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"id": 1, "name": "a", "amount": 1.10, "rate": 2, "paid": true, "updated": "2024-05-01T12:00:00Z"}',
        b'{"id": 2, "amount": 12345678901234567890123456789.123456789, '
        b'"updated": "2024-05-01T12:00:00.1234567+02:00"}',
        b'{"id": 3, "name": null, "amount": null, "lines": null, "meta": null}',
        b'{"id": 4, "lines": [{"sku": "x", "qty": 1.50}, '
        b'{"sku": "y z", "qty": null, "extra": [1, {"a": 2}]}]}',
        b'{"id": 5, "lines": [ {"sku" : "\\u00e9\\n", "qty" : 1e2} ], "meta": {"tags": ["a", "b"]}}',
        b'{"id": 6, "lines": [], "meta": {}, "rate": -0.0000001, "amount": 0}',
        b'{"id": 7, "meta": {"tags": [], "other": -0}, "updated": "2024-05-01 12:00:00"}',
    ],
)
def test_a_typed_record_loads_the_row_of_the_general_way(raw):
    columns = sql.columns_for_schema(SCHEMA)
    assert typed_row(raw, columns) == general_row(raw, columns)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"id": "1"}',  # a string where the SCHEMA says integer
        b'{"id": true}',  # a bool is not an integer
        b'{"id": 1.0}',  # jsonschema takes 1.0 as an integer: the general way decides
        b'{"id": 1, "amount": "1.10"}',  # a number as text
        b'{"id": 1, "paid": 1}',
        b'{"id": null}',  # not nullable
        b'{"id": 1, "note": null}',  # undeclared, even null: the general way warns or refuses
        b'{"id": 1, "lines": [{"qty": 1}]}',  # a required nested property is missing
        b'{"id": 1, "lines": [{"sku": 5}]}',
        b'{"id": 1, "lines": {"sku": "x"}}',
        b'{"id": 1, "meta": {"tags": [1]}}',
        b'{"id": 1, "updated": 5}',
        b'["not", "an", "object"]',
    ],
)
def test_a_record_it_does_not_vouch_for_goes_the_general_way(raw):
    assert TypedRecordDecoder(SCHEMA).decode(raw) is None


@pytest.mark.parametrize(
    "prop",
    [
        {"anyOf": [{"type": "string"}, {"type": "null"}]},
        {"type": "string", "enum": ["a"]},
        {"type": "string", "pattern": "^a"},
        {"type": "string", "maxLength": 3},
        {"type": "number", "multipleOf": 0.01},
        {"type": ["string", "number"]},
        {"$ref": "#/definitions/x"},
        {"type": "object", "additionalProperties": {"type": "string"}},
        {"type": "array", "items": {"type": "integer", "minimum": 0}},
        {},
        {"type": "integer", "properties": {"a": {"type": "string"}}},
    ],
)
def test_a_schema_beyond_plain_types_goes_the_general_way(prop):
    assert (
        TypedRecordDecoder.for_schema(
            {"type": "object", "properties": {"id": {"type": "integer"}, "x": prop}}
        )
        is None
    )


# --- nested values: the text the tap sent, compact -------------------------------------------------------

_numbers = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(
        ["-0", "0", "-0.0", "0.0000001", "0.000000", "1.50", "1e2", "2.50E-3", "1E+400", "-12.0e5"]
    ),
    st.decimals(allow_nan=False, allow_infinity=False, places=9).map(str),
)
_strings = st.text(max_size=8).map(lambda s: json.dumps(s, ensure_ascii=False)) | st.text(max_size=8).map(
    json.dumps
)
_keys = _strings.filter(lambda k: json.loads(k) != "tags")  # meta's one declared property
_space = st.sampled_from(["", " ", "\n", "\t "])


def _json(children):
    arrays = st.tuples(st.lists(children, max_size=4), _space).map(
        lambda t: "[" + (t[1] + "," + t[1]).join(t[0]) + "]"
    )
    objects = st.tuples(st.lists(st.tuples(_keys, children), max_size=4), _space).map(
        lambda t: "{" + ",".join(f"{t[1]}{k}{t[1]}:{t[1]}{v}" for k, v in t[0]) + "}"
    )
    return arrays | objects


_documents = st.recursive(
    _numbers | _strings | st.sampled_from(["true", "false", "null"]), _json, max_leaves=12
)


@settings(max_examples=400, deadline=None)
@given(_json(_documents).filter(lambda t: t.startswith("{")))
def test_nested_text_holds_the_values_of_the_general_reader(text):
    raw = f'{{"id": 1, "meta": {text}}}'.encode()
    typed = TypedRecordDecoder(SCHEMA).decode(raw)
    assert typed is not None
    general = _general.decode(raw)["meta"]
    assert typed["meta"] == msgspec.json.format(text.encode(), indent=-1).decode()  # as sent, compact
    assert repr(_general.decode(typed["meta"])) == repr(general)  # the same values, every digit


def test_records_of_streams_in_turn_are_each_decoded_with_their_own_schema():
    # The reader first tries a line as a record of the stream it decoded last: a record of another
    # stream, whose fields would fit that one too, is decoded with its own stream's decoder.
    text = {"type": "object", "properties": {"id": {"type": "integer"}, "v": {"type": ["string", "null"]}}}
    number = {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "v": {"type": ["number", "null"]}},
        "required": ["id"],
    }
    reader = LineKeepingReader()
    reader.record_decoders.update(a=TypedRecordDecoder(text), b=TypedRecordDecoder(number))
    lines = [
        b'{"type": "RECORD", "stream": "a", "record": {"id": 1, "v": "x"}}',
        b'{"type": "RECORD", "stream": "b", "record": {"v": null}}',  # valid for a, not for b
        b'{"type": "RECORD", "stream": "b", "record": {"id": 2, "v": 1.50}}',
        b'{"type": "RECORD", "stream": "b", "record": {"id": 3, "v": null}}',
        b'{"type": "STATE", "value": {"stream": "b", "record": {"id": 4}}}',
        b'{"type": "RECORD", "stream": "a", "record": {"id": 5, "v": "1.5"}}',
        b'{"type": "RECORD", "stream": "b", "record": {"id": 6, "v": "1.5"}}',  # b does not vouch for it
        b'{"type": "RECORD", "stream": "c", "record": {"id": 7}}',  # no decoder
    ]
    seen = []
    for line in lines:
        message = reader.deserialize_json(line)
        seen.append((message.get("stream"), message.get("record"), reader.prevalidated(message)))
    assert seen == [
        ("a", {"id": 1, "v": "x"}, True),
        ("b", {"v": None}, False),
        ("b", {"id": 2, "v": Decimal("1.50")}, True),
        ("b", {"id": 3, "v": None}, True),
        (None, None, False),
        ("a", {"id": 5, "v": "1.5"}, True),
        ("b", {"id": 6, "v": "1.5"}, False),
        ("c", {"id": 7}, False),
    ]


# --- in a run ----------------------------------------------------------------------------------------


def test_records_of_a_plain_schema_land_without_the_validator(tmp_path, dbx, monkeypatch):
    calls = []
    real = validation.FastValidator.validate
    monkeypatch.setattr(
        validation.FastValidator, "validate", lambda self, r: calls.append(r) or real(self, r)
    )
    messages = [schema("bills", BILL_PROPS, ["id"]), *bills([1, 2, 3]), state(1)]
    run = run_in_process(write_config(tmp_path, dbx), messages)
    assert run.returncode == 0, run.stderr[-3000:]
    assert calls == []
    landed = {r["id"]: r for r in rows(dbx, "bills")}
    assert {i: (landed[i]["amount"], landed[i]["memo"]) for i in landed} == {
        i: (Decimal(f"{i}.10"), f"v1-{i}") for i in (1, 2, 3)
    }


def test_records_decoded_checked_keep_the_sdks_record_flow(tmp_path, dbx):
    # They skip the SDK's per-record path, not what it does: a full sink drains (batch_size_rows: three
    # batches, three audit rows), the record counter counts them, the audit columns are set.
    messages = [schema("bills", BILL_PROPS, ["id"]), *bills([1, 2, 3, 4, 5]), state(1)]
    run = run_in_process(write_config(tmp_path, dbx, batch_size_rows=2), messages)
    assert run.returncode == 0, run.stderr[-3000:]
    landed = rows(dbx, "bills")
    assert sorted(r["id"] for r in landed) == [1, 2, 3, 4, 5]
    assert all(r["_sdc_received_at"] and r["_sdc_extracted_at"] and r["_sdc_sequence"] for r in landed)
    assert [a["rows"] for a in sorted(audit(dbx), key=lambda a: a["started_at"])] == [2, 2, 1]
    assert '"metric":"record_count","value":5' in run.stderr.replace(" ", "")
    assert run.states == [state(1)["value"]]


def test_a_checked_record_without_its_key_property_fails_as_the_sdk_fails_it(tmp_path, dbx):
    # "id" is the key but not required by the SCHEMA: the typed decoding vouches for the record, and
    # the SDK's check of key properties still refuses it, before any STATE.
    messages = [schema("bills", BILL_PROPS, ["id"]), record("bills", {"amount": 1, "memo": None}), state(1)]
    run = run_in_process(write_config(tmp_path, dbx), messages)
    assert run.returncode == 1
    assert "missing one or more key_properties" in run.stderr
    assert run.states == []


def test_flattened_records_are_not_decoded_before_the_map(tmp_path, dbx):
    # Decoded with the tap's SCHEMA, "meta" would be JSON text before flattening, and meta__code lost.
    props = {
        "id": {"type": "integer"},
        "meta": {"type": "object", "properties": {"code": {"type": "string"}}},
    }
    messages = [schema("codes", props, ["id"]), record("codes", {"id": 1, "meta": {"code": "A"}}), state(1)]
    config = write_config(tmp_path, dbx, flattening_enabled=True, flattening_max_depth=1)
    run = run_in_process(config, messages)
    assert run.returncode == 0, run.stderr[-3000:]
    assert [(r["id"], r["meta__code"]) for r in rows(dbx, "codes")] == [(1, "A")]


def test_records_a_stream_map_changes_are_validated_after_it(tmp_path, dbx, monkeypatch):
    # The typed decoding vouches for the tap's record; what the map makes of it is validated as before.
    calls = []
    real = validation.FastValidator.validate
    monkeypatch.setattr(
        validation.FastValidator, "validate", lambda self, r: calls.append(r) or real(self, r)
    )
    messages = [schema("bills", BILL_PROPS, ["id"]), *bills([1, 2]), state(1)]
    config = write_config(tmp_path, dbx, stream_maps={"bills": {"memo": "memo.upper()"}})
    run = run_in_process(config, messages)
    assert run.returncode == 0, run.stderr[-3000:]
    assert [c["memo"] for c in calls] == ["V1-1", "V1-2"]
    assert sorted((r["id"], r["memo"]) for r in rows(dbx, "bills")) == [(1, "V1-1"), (2, "V1-2")]


def test_a_run_in_process_leaves_the_garbage_collector_as_it_found_it(tmp_path, dbx):
    # The reader runs the collector seldom while it reads; the caller's settings come back afterwards.
    before = gc.get_threshold()
    run = run_in_process(write_config(tmp_path, dbx), [schema("bills", BILL_PROPS, ["id"]), *bills([1])])
    assert run.returncode == 0, run.stderr[-3000:]
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


# --- the typed decoding vouches only for what the SDK's validator accepts ---------------------------

#: JSON texts each property of SCHEMA takes, and texts of every kind (valid or not for any of them).
_VALID = {
    "id": ["0", "1", "-7", "18446744073709551616"],
    "name": ["null", '""', '"a"'],
    "amount": ["null", "0", "1.50", "-0", "2e3", "1.0"],
    "rate": ["null", "1", "0.1", "1E-7"],
    "paid": ["null", "true", "false"],
    "updated": ["null", '"2024-05-01T12:00:00Z"', '"2024-05-01 12:00:00.1234567+02:00"', '"not a time"'],
    "lines": ["null", "[]", '[{"sku": "x"}]', '[{"sku": "x", "qty": 1.25, "more": [1]}]'],
    "meta": ["null", "{}", '{"tags": ["a"]}', '{"other": 1}'],
}
_ANY = sorted(
    {text for texts in _VALID.values() for text in texts}
    | {
        '"1.5"',
        "[null]",
        '["x"]',
        '[{"qty": 1}]',
        '[{"sku": 1}]',
        '{"tags": [1]}',
        '{"tags": "a"}',
        "{}",
    }
)


@st.composite
def _records(draw):
    """A record of valid values for some properties, and one value of any kind for one field (declared
    or not), so that most records are nearly valid and the one odd value is what is tested."""
    names = draw(st.lists(st.sampled_from(sorted(_VALID)), unique=True))
    fields = {name: draw(st.sampled_from(_VALID[name])) for name in names}
    if draw(st.booleans()):
        fields[draw(st.sampled_from([*_VALID, "undeclared"]))] = draw(st.sampled_from(_ANY))
    return "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"


@settings(max_examples=600, deadline=None)
@given(_records())
def test_a_record_the_typed_decoding_vouches_for_is_one_the_validator_accepts(text):
    raw = text.encode()
    decoder = TypedRecordDecoder(SCHEMA)
    typed = decoder.decode(raw)
    # Decoding the whole message line gives the same values, and vouches for the same records.
    line = b'{"type": "RECORD", "stream": "s", "record": ' + raw + b', "time_extracted": null}'
    message = decoder.decode_message(line, "s")
    assert (None if message is None else message["record"]) == typed
    if typed is None:
        return  # the general way decides, as before
    general = _general.decode(raw)
    JSONSchemaValidator(SCHEMA).validate(general)  # raises InvalidRecord if it should not have vouched
    columns = sql.columns_for_schema(SCHEMA)
    assert _outcome(typed, columns) == _outcome(general, columns)


def _outcome(record: dict, columns: list[sql.Column]) -> object:
    """The row a record loads as, or the error that refuses it (a value, a time that does not parse)."""
    try:
        return loaded(record, columns)
    except ValueError as exc:
        return f"{type(exc).__name__}: {exc}"
