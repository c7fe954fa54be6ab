"""Records that would not land as sent are refused by name before any STATE moves: a field the SCHEMA
does not declare (no column would hold it; ``undeclared_fields``), a null key property when upserting
(MERGE cannot match it, and rows with null keys would be taken for one), a record the SCHEMA rejects.
Each ends the run in one line naming the stream, the record and what to change; no traceback."""

from __future__ import annotations

import pytest

from tests.support.databricks import (
    BILL_PROPS,
    bills,
    error_lines,
    record,
    rows,
    run_in_process,
    run_target,
    schema,
    state,
    write_config,
)


def with_extra(messages: list[dict], at: int, **fields) -> list[dict]:
    """``messages`` with ``fields`` added to the record of the message at index ``at``."""
    out = list(messages)
    out[at] = {**out[at], "record": {**out[at]["record"], **fields}}
    return out


def test_an_undeclared_field_fails_the_run_naming_stream_record_field_and_setting(tmp_path, dbx):
    # Before: the field was dropped with the warning "No schema for record field", exit 0, STATE out.
    messages = [schema("bills", BILL_PROPS, ["id"]), *bills([1, 2, 3]), state(1)]
    run = run_target(write_config(tmp_path, dbx), with_extra(messages, 2, note="kept?"))
    assert run.returncode == 1 and run.states == []
    (error,) = error_lines(run.stderr)
    assert "Stream 'bills', record 2: field 'note' is not declared in the stream's SCHEMA" in error
    assert "set undeclared_fields to ignore" in error


def test_undeclared_fields_ignore_loads_the_rest_and_warns_once_per_field(tmp_path, dbx):
    messages = [schema("bills", BILL_PROPS, ["id"]), *bills([1, 2, 3]), state(1)]
    messages = with_extra(with_extra(messages, 1, note="a"), 3, note="b", extra=1)
    run = run_in_process(write_config(tmp_path, dbx, undeclared_fields="ignore"), messages)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.states == [state(1)["value"]]
    landed = rows(dbx, "bills")
    assert sorted(r["id"] for r in landed) == [1, 2, 3] and not any("note" in r for r in landed)
    warnings = [line for line in run.stderr.splitlines() if "(undeclared_fields: ignore)" in line]
    assert len(warnings) == 2 and "'note'" in warnings[0] and "'extra'" in warnings[1]


def test_an_undeclared_field_that_is_null_loses_nothing_and_loads(tmp_path, dbx):
    messages = [schema("bills", BILL_PROPS, ["id"]), *bills([1, 2]), state(1)]
    run = run_in_process(write_config(tmp_path, dbx), with_extra(messages, 1, note=None))
    assert run.returncode == 0, run.stderr[-3000:]
    assert sorted(r["id"] for r in rows(dbx, "bills")) == [1, 2]


def test_a_schema_that_forbids_other_fields_refuses_them_in_one_line(tmp_path, dbx):
    closed = schema("bills", BILL_PROPS, ["id"])
    closed["schema"]["additionalProperties"] = False
    run = run_target(write_config(tmp_path, dbx), with_extra([closed, *bills([1, 2]), state(1)], 2, note="x"))
    assert run.returncode == 1 and run.states == []
    # Before: the validator's traceback and instance dump at ERROR level.
    (error,) = error_lines(run.stderr)
    assert "Stream 'bills', record 2: it does not match the stream's SCHEMA" in error
    assert "'note' was unexpected" in error


def test_a_value_of_the_wrong_type_is_refused_naming_the_property(tmp_path, dbx):
    messages = [schema("bills", BILL_PROPS, ["id"]), *bills([1]), record("bills", {"id": "two"}), state(1)]
    run = run_in_process(write_config(tmp_path, dbx), messages)
    assert run.returncode == 1 and run.states == []
    assert (
        "Stream 'bills', record 2: it does not match the stream's SCHEMA (property 'id': 'two' is not of"
        in (run.stderr)
    )


NULLABLE_KEY = {**BILL_PROPS, "id": {"type": ["null", "integer"]}, "line": {"type": ["null", "integer"]}}


def test_a_null_key_property_fails_an_upsert_naming_it_before_state(tmp_path, dbx):
    # Before: both rows with a null line were de-duplicated as one key; 3 of 4 rows landed, exit 0.
    keyed = [record("bills", {"id": 1, "line": n, "memo": f"m{n}"}) for n in (1, 2)]
    nulls = [record("bills", {"id": 1, "line": None, "memo": f"null {n}"}) for n in (1, 2)]
    messages = [schema("bills", NULLABLE_KEY, ["id", "line"]), *keyed, *nulls, state(1)]
    run = run_target(write_config(tmp_path, dbx), messages)
    assert run.returncode == 1 and run.states == []
    (error,) = error_lines(run.stderr)
    assert "Stream 'bills', record 3: key property 'line' is null" in error and "append-only" in error


def test_null_keys_in_every_key_property_are_named_together(tmp_path, dbx):
    messages = [schema("bills", NULLABLE_KEY, ["id", "line"]), record("bills", {"id": None, "line": None})]
    run = run_in_process(write_config(tmp_path, dbx), messages)
    assert run.returncode == 1
    assert "Stream 'bills', record 1: key properties 'id', 'line' are null" in run.stderr


@pytest.mark.parametrize("load_method", ["append-only", "overwrite"])
def test_null_keys_land_as_rows_when_nothing_merges_on_them(tmp_path, dbx, load_method):
    messages = [
        schema("bills", NULLABLE_KEY, ["id", "line"]),
        *[record("bills", {"id": 1, "line": None, "memo": f"null {n}"}) for n in (1, 2)],
        state(1),
    ]
    run = run_in_process(write_config(tmp_path, dbx, load_method=load_method), messages)
    assert run.returncode == 0, run.stderr[-3000:]
    assert sorted(r["memo"] for r in rows(dbx, "bills")) == ["null 1", "null 2"]
