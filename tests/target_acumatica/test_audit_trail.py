"""The audit trail names runs: Meltano's run id on every journals.jsonl line, the tap runs that extracted
the rows (``source_run_ids``), a source hash that ignores audit stamps, and a tap's ``_audit_runs``
records in runs.jsonl."""

from __future__ import annotations

import json
import logging
import uuid

import pytest

from tests.support.acumatica_target import (
    SCHEMA,
    STREAM,
    allocation_rows,
    assert_posted_equal_rows,
    audit_lines,
    posted_journals,
    run_target,
    singer_input,
    target_config,
)

#: What taps stamp on every record besides the source data.
STAMPS = {
    "_audit_run_id": {"type": ["string", "null"]},
    "_audit_source_id": {"type": ["string", "null"]},
    "_audit_source_version": {"type": ["string", "null"]},
    "_sdc_extracted_at": {"type": ["string", "null"], "format": "date-time"},
}


def stamped_input(rows: list[dict], run_ids: list[str | None]) -> str:
    """``singer_input`` of the rows, each stamped by the tap run of the same position in ``run_ids``."""
    stamped = [
        {
            **row,
            "_audit_run_id": run_id,
            "_audit_source_id": f"{row['allocation_id']}/{row['line']}",
            "_audit_source_version": run_id and run_id[:8],
            "_sdc_extracted_at": "2024-04-01T00:00:00+00:00",
        }
        for row, run_id in zip(rows, run_ids, strict=True)
    ]
    properties = {**SCHEMA["schema"]["properties"], **STAMPS}
    schema = {**SCHEMA, "schema": {**SCHEMA["schema"], "properties": properties}}
    _, *rest = singer_input(stamped).splitlines(keepends=True)
    return json.dumps(schema) + "\n" + "".join(rest)


def test_lines_carry_the_run_id_and_the_runs_that_extracted_the_rows(emulator, tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    run_id = str(uuid.uuid4())
    monkeypatch.setenv("MELTANO_RUN_ID", run_id)
    rows = allocation_rows(allocations=3, lines=2)  # 3 rows per journal
    tap_a, tap_b = sorted(str(uuid.uuid4()) for _ in range(2))
    # A-0001 was extracted by one tap run, A-0002 by two, A-0003's rows carry no run id.
    stamps = [tap_a, tap_a, tap_a, tap_b, tap_a, tap_b, None, None, None]
    run = run_target(target_config(emulator, tmp_path / "audit"), stamped_input(rows, stamps), tmp_path)
    assert run.returncode == 0, run.stderr
    assert [r.getMessage() for r in caplog.records].count(f"Run id {run_id}") == 1
    assert_posted_equal_rows(emulator, rows)
    audit = audit_lines(tmp_path / "audit")
    assert [(a["key"], a["run_id"], a["source_run_ids"]) for a in audit] == [
        ("OH:2024-03:A-0001", run_id, [tap_a]),
        ("OH:2024-03:A-0002", run_id, [tap_a, tap_b]),
        ("OH:2024-03:A-0003", run_id, []),
    ]


def test_stamped_rows_hash_and_post_as_the_same_rows_without_stamps(emulator, tmp_path, monkeypatch):
    rows = allocation_rows(allocations=2, lines=2)
    changed = [dict(row) for row in rows]
    changed[0]["description"] = "changed"  # not part of a line's match, but of the source rows
    config = target_config(emulator, tmp_path / "audit")
    inputs = {
        "stamped": stamped_input(rows, [str(uuid.uuid4())] * len(rows)),
        "stamped again": stamped_input(rows, [str(uuid.uuid4())] * len(rows)),
        "plain": singer_input(rows),
        "changed": singer_input(changed),
    }
    run_ids = {name: str(uuid.uuid4()) for name in inputs}
    puts = None
    for name, text in inputs.items():
        monkeypatch.setenv("MELTANO_RUN_ID", run_ids[name])
        run = run_target(config, text, tmp_path)
        assert run.returncode == 0, run.stderr
        if puts is None:
            puts, posted = emulator.stats.requests[("PUT", "entity")], posted_journals(emulator)
            assert_posted_equal_rows(emulator, rows)
    assert emulator.stats.requests[("PUT", "entity")] == puts and posted_journals(emulator) == posted

    audit = audit_lines(tmp_path / "audit")
    lines = {(a["run_id"], a["key"]): (a["status"], a["source_hash"]) for a in audit}
    first, second = "OH:2024-03:A-0001", "OH:2024-03:A-0002"
    hashes = {name: {key: lines[run_ids[name], key][1] for key in (first, second)} for name in inputs}
    assert [lines[run_ids["stamped"], key][0] for key in (first, second)] == ["posted", "posted"]
    assert {lines[run_ids[name], key][0] for name in list(inputs)[1:] for key in (first, second)} == {
        "already-posted"
    }
    assert hashes["stamped"] == hashes["stamped again"] == hashes["plain"]
    assert hashes["changed"][second] == hashes["plain"][second]
    assert hashes["changed"][first] != hashes["plain"][first]


def test_a_taps_run_records_go_to_runs_jsonl_without_a_mapping(emulator, tmp_path, monkeypatch):
    run_id = str(uuid.uuid4())
    monkeypatch.setenv("MELTANO_RUN_ID", run_id)
    record = {
        "run_id": run_id,
        "tap": "tap-looker",
        "tap_version": "0.1.0",
        "source": "http://looker.example",
        "started_at": "2024-04-01T00:00:00+00:00",
        "finished_at": "2024-04-01T00:00:05+00:00",
        "status": "extracted",
        "error": None,
        "streams": [{"stream": STREAM, "records": 5, "bookmark": None}],
        "state": json.dumps({"bookmarks": {}}),
    }
    runs_schema = {
        "type": "SCHEMA",
        "stream": "_audit_runs",
        "key_properties": ["run_id"],
        "schema": {
            "type": "object",
            "properties": {
                name: {} if name == "streams" else {"type": ["string", "null"]} for name in record
            },
        },
    }
    *data, state = singer_input(allocation_rows(allocations=1, lines=4)).splitlines(keepends=True)
    run_messages = [runs_schema, {"type": "RECORD", "stream": "_audit_runs", "record": record}]
    text = "".join(data) + "".join(json.dumps(m) + "\n" for m in run_messages) + state

    run = run_target(target_config(emulator, tmp_path / "audit"), text, tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.states == [{"bookmarks": {STREAM: {"done": True}}}]
    assert sorted(posted_journals(emulator)) == ["OH:2024-03:A-0001"]
    runs = [json.loads(line) for line in (tmp_path / "audit" / "runs.jsonl").read_text().splitlines()]
    assert runs == [{**record, "target_run_id": run_id}]
    assert [a["key"] for a in audit_lines(tmp_path / "audit")] == ["OH:2024-03:A-0001"]


@pytest.mark.parametrize("value", ["42", "not a uuid"])
def test_an_invalid_meltano_run_id_fails_naming_the_variable(emulator, tmp_path, monkeypatch, value):
    monkeypatch.setenv("MELTANO_RUN_ID", value)
    text = singer_input(allocation_rows(1, 2))
    run = run_target(target_config(emulator, tmp_path / "audit"), text, tmp_path)
    assert run.returncode == 1
    assert "RunIdError: MELTANO_RUN_ID must be a UUID" in run.stderr and f"got {value!r}" in run.stderr
    assert posted_journals(emulator) == {} and not (tmp_path / "audit").exists()
