"""A batch that fails for good is kept as a Singer file; piping that file into the target replays it,
once, however often it is piped (the load token and the load-audit table make re-applying a no-op).

Statements are failed with the emulator's ``fail_matching`` (by statement text), so the failure hits
exactly the statement the test names, with no timing involved.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from target_databricks.target import TargetDatabricks

from tests.support.command import run_command
from tests.support.databricks import (
    BILL_PROPS,
    audit,
    bills,
    record,
    replay,
    rows,
    run_in_process,
    schema,
    state,
    write_config,
)

DATA_STATEMENT = r"^(MERGE INTO|INSERT INTO) `workspace`\.`loads`\.`bills`"
AUDIT_INSERT = r"^INSERT INTO `workspace`\.`loads`\.`_sdc_load_audit`"


def landed(dbx) -> list[tuple]:
    return sorted((r["id"], r["memo"], r["amount"]) for r in rows(dbx, "bills"))


def source(messages) -> list[tuple]:
    return sorted(
        (m["record"]["id"], m["record"]["memo"], m["record"]["amount"])
        for m in messages
        if m["type"] == "RECORD"
    )


@pytest.mark.parametrize(
    "failing",
    [
        DATA_STATEMENT,  # nothing committed: the replay loads the rows
        AUDIT_INSERT,  # the rows committed, then the run failed: the replay adds nothing
    ],
)
def test_failed_batch_is_kept_and_replays_once(tmp_path, dbx, failing):
    failed_dir = tmp_path / "failed"
    # append-only: a batch applied twice would show as duplicate rows
    cfg = write_config(
        tmp_path, dbx, load_method="append-only", failed_batch_dir=str(failed_dir), max_retries=1
    )
    messages = [
        {**schema("bills", BILL_PROPS, ["id"]), "bookmark_properties": ["updated"]},
        *bills([1, 2, 3]),
        state(1),
    ]
    # Two attempts (max_retries 1: one retry), both TEMPORARILY_UNAVAILABLE: the statement fails for good.
    dbx.app.executor.fail_matching(failing, 2, "TEMPORARILY_UNAVAILABLE")

    first = run_in_process(cfg, messages)
    assert first.returncode != 0 and first.states == []  # STATE never passes the failed batch
    assert audit(dbx) == []
    assert landed(dbx) == (source(messages) if failing == AUDIT_INSERT else [])
    [kept] = failed_dir.iterdir()
    assert kept.name.startswith("bills-") and kept.suffix == ".singer"
    assert f"kept in {kept}" in first.stderr
    assert f"target-databricks --config <config.json> < {kept}" in first.stderr
    # The file holds the batch's SCHEMA and RECORD messages as they were received, nothing else.
    text = kept.read_text()
    assert [json.loads(line, parse_float=Decimal) for line in text.splitlines()] == messages[:-1]
    assert "sandbox-sp-secret" not in text and "client_secret" not in text

    replayed = replay(cfg, kept)
    assert replayed.returncode == 0, replayed.stderr[-3000:]
    assert landed(dbx) == source(messages)
    [entry] = audit(dbx)
    assert entry["status"] == "committed" and entry["rows"] == 3
    assert entry["min_replication_value"].startswith("2024-05-02")
    assert entry["max_replication_value"].startswith("2024-05-04")

    again = run_in_process(cfg, [json.loads(line, parse_float=Decimal) for line in text.splitlines()])
    assert again.returncode == 0, again.stderr[-3000:]
    assert "already committed; skipped" in again.stderr
    assert landed(dbx) == source(messages) and len(audit(dbx)) == 1


def test_failed_batch_file_holds_the_lines_as_received(tmp_path, dbx):
    """The kept file holds the SCHEMA and RECORD lines byte for byte as they were read (spacing, key
    order, escapes and the spelling of numbers included), not the messages encoded again."""
    failed_dir = tmp_path / "failed"
    cfg = write_config(tmp_path, dbx, failed_batch_dir=str(failed_dir), max_retries=1)
    lines = [
        '{"type": "SCHEMA", "stream": "bills", "key_properties": ["id"], "schema": {"type": "object", '
        '"properties": {"id": {"type": "integer"}, "amount": {"type": "number"}, "memo": {"type": '
        '["null", "string"]}, "updated": {"type": "string", "format": "date-time"}}}}',
        '{"type": "RECORD", "stream": "bills", "record": {"id": 1, "amount": 1.50, "memo": "caf\\u00e9", '
        '"updated": "2024-05-01T00:00:00Z"}}',
        '{ "stream":"bills" ,"type":"RECORD","record":{"memo":null,"amount":2E1,"id":2,'
        '"updated":"2024-05-02T00:00:00Z"},"time_extracted":"2024-05-02T12:00:00Z" }',
    ]
    feed = tmp_path / "input.singer"
    feed.write_text("\n".join(lines) + "\n")
    dbx.app.executor.fail_matching(DATA_STATEMENT, 2, "TEMPORARILY_UNAVAILABLE")

    done = run_command(TargetDatabricks, ["--config", cfg, "--input", str(feed)])
    assert done.returncode != 0
    [kept] = failed_dir.iterdir()
    assert kept.read_text().splitlines() == lines
    replayed = replay(cfg, kept)
    assert replayed.returncode == 0, replayed.stderr[-3000:]
    assert landed(dbx) == [(1, "caf\u00e9", Decimal("1.5")), (2, None, Decimal(20))]


def test_bad_value_fails_its_batch_which_is_kept_whole(tmp_path, dbx):
    """A value that cannot be stored exactly fails the batch at drain time, with the whole batch kept."""
    failed_dir = tmp_path / "failed"
    cfg = write_config(tmp_path, dbx, failed_batch_dir=str(failed_dir))
    good, bad = (
        bills([1, 2]),
        record(
            "bills",
            {"id": 3, "amount": Decimal("0.0000000001"), "memo": "x", "updated": "2024-05-01T00:00:00Z"},
        ),
    )
    result = run_in_process(cfg, [schema("bills", BILL_PROPS, ["id"]), good[0], bad, good[1], state(1)])
    assert result.returncode != 0 and result.states == []
    assert "value 1E-10 has more than 9 decimal places; it would be rounded" in result.stderr
    [kept] = failed_dir.iterdir()
    assert [json.loads(line)["record"]["id"] for line in kept.read_text().splitlines()[1:]] == [1, 3, 2]
    assert rows(dbx, "bills") == []


def test_keep_failed_records_false_keeps_no_file(tmp_path, dbx):
    """keep_failed_records false: the failed batch is named in the error and nothing of its records is
    written to local disk; no STATE."""
    failed_dir = tmp_path / "failed"
    cfg = write_config(tmp_path, dbx, failed_batch_dir=str(failed_dir), keep_failed_records=False)
    bad = record(
        "bills", {"id": 3, "amount": Decimal("0.0000000001"), "memo": "x", "updated": "2024-05-01T00:00:00Z"}
    )
    result = run_in_process(cfg, [schema("bills", BILL_PROPS, ["id"]), *bills([1, 2]), bad, state(1)])
    assert result.returncode != 0 and result.states == []
    assert "It was not kept (keep_failed_records is false)" in result.stderr
    assert not failed_dir.exists() and rows(dbx, "bills") == []
