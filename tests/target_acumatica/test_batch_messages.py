"""BATCH messages (the Singer SDK's batch manifests) post exactly what the same rows post as RECORD
messages: tap-looker with ``batch_config`` against RECORD output, hand-made jsonl and parquet batches,
and batches the target cannot honour failing the run before STATE moves."""

from __future__ import annotations

import gzip
import json
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from acumatica_emulator import AcumaticaEmulator, EmulatorConfig
from looker_emulator import EmulatorConfig as LookerConfig
from looker_emulator import LookerEmulator

from tests.support.acumatica_target import (
    PREFIX,
    SANDBOX_MAPPING,
    SCHEMA,
    STREAM,
    allocation_rows,
    assert_posted_equal_rows,
    audit_lines,
    journal_lines,
    posted_journals,
    run_target,
    singer_input,
    target_config,
)
from tests.support.looker import tap_output


def _messages(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _state(text: str) -> dict:
    return [m["value"] for m in _messages(text) if m["type"] == "STATE"][-1]


@pytest.mark.parametrize("encoding", [{"format": "jsonl", "compression": "gzip"}, {"format": "parquet"}])
def test_tap_looker_batches_post_the_journals_its_records_post(tmp_path, encoding):
    batches = tmp_path / "batches"
    with (
        LookerEmulator(LookerConfig(port=0, sizes={"overhead_allocation": 400})) as looker,
        AcumaticaEmulator(EmulatorConfig(port=0)) as by_records,
        AcumaticaEmulator(EmulatorConfig(port=0)) as by_batches,
    ):
        records = tap_output(looker)
        batched = tap_output(
            looker,
            batch_config={
                "encoding": encoding,
                "storage": {"root": batches.as_uri(), "prefix": "looker-"},
            },
        )
        types = Counter(m["type"] for m in _messages(batched))
        assert types["BATCH"] >= 2 and types["RECORD"] == 0, types  # allocation rows and the run record
        journals = {"overhead_allocation": SANDBOX_MAPPING}
        results = {}
        for name, emulator, text in (("records", by_records, records), ("batches", by_batches, batched)):
            audit = tmp_path / name
            run = run_target(target_config(emulator, audit, journals=journals), text, tmp_path)
            assert run.returncode == 0, run.stderr[-3000:]
            assert run.states == [_state(text)]
            results[name] = (posted_journals(emulator, PREFIX), audit_lines(audit), audit)

    (posted, audit, _), (posted_b, audit_b, audit_dir_b) = results["records"], results["batches"]
    assert len(posted) > 10 and sorted(posted_b) == sorted(posted)
    for key, journal in posted.items():
        assert journal_lines(posted_b[key]) == journal_lines(journal), key
        for field in ("Description", "PostPeriod", "TransactionDate", "Status"):
            assert posted_b[key][field] == journal[field], (key, field)
    sent = [m for m in _messages(records) if m["type"] == "RECORD" and m["stream"] == "overhead_allocation"]
    assert sum(len(j["Details"]) for j in posted_b.values()) == len(sent)
    same = ("key", "status", "rows", "debit", "credit", "source_hash")
    assert [{k: a[k] for k in same} for a in audit_b] == [{k: a[k] for k in same} for a in audit]
    runs = [json.loads(line) for line in (audit_dir_b / "runs.jsonl").read_text().splitlines()]
    assert [r["tap"] for r in runs] == ["tap-looker"]


def _batch_message(urls: list[str], fmt: str = "jsonl", compression: str | None = "gzip") -> dict:
    return {
        "type": "BATCH",
        "stream": STREAM,
        "encoding": {"format": fmt, "compression": compression},
        "manifest": urls,
    }


def _jsonl_gz(path, rows: list[dict]) -> str:
    with gzip.open(path, "wt") as f:
        for row in rows:
            f.write(json.dumps(row, default=float) + "\n")
    return path.as_uri()


def _input(*messages: dict, state: dict | None = None) -> str:
    lines = [SCHEMA, *messages, {"type": "STATE", "value": state or {"bookmarks": {STREAM: {"done": True}}}}]
    return "".join(json.dumps(m, default=float) + "\n" for m in lines)


def test_parquet_batches_post_exact_amounts(emulator, tmp_path):
    rows = allocation_rows(allocations=3, lines=3)
    path = tmp_path / "batch-1.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    text = _input(_batch_message([path.as_uri()], "parquet", None))
    run = run_target(target_config(emulator, tmp_path / "audit"), text, tmp_path)
    assert run.returncode == 0, run.stderr
    assert_posted_equal_rows(emulator, rows)
    assert run.states == [{"bookmarks": {STREAM: {"done": True}}}]


def test_rows_repeated_across_records_and_batches_post_once(emulator, tmp_path):
    rows = allocation_rows(allocations=2, lines=2)
    # RECORDs of A-0001 and one row of A-0002, then batches of A-0001's last rows and all of A-0002.
    first, second = (
        _jsonl_gz(tmp_path / "b1.json.gz", rows[1:3]),
        _jsonl_gz(tmp_path / "b2.json.gz", rows[3:]),
    )
    records = [{"type": "RECORD", "stream": STREAM, "record": r} for r in rows[:4]]
    text = _input(*records, _batch_message([first, second]))
    run = run_target(target_config(emulator, tmp_path / "audit"), text, tmp_path)
    assert run.returncode == 0, run.stderr
    assert_posted_equal_rows(emulator, rows)


def test_a_failed_journal_of_a_batch_is_kept_as_records_for_replay(emulator, tmp_path):
    rows = allocation_rows(allocations=2, lines=2)
    rows[4]["account"] = "99999"  # A-0002
    text = _input(_batch_message([_jsonl_gz(tmp_path / "b.json.gz", rows)]))
    config = target_config(emulator, tmp_path / "audit")
    run = run_target(config, text, tmp_path)
    assert run.returncode == 1 and "Account '99999' does not exist in Acumatica" in run.stderr
    assert sorted(posted_journals(emulator)) == ["OH:2024-03:A-0001"] and run.states == []
    (kept,) = (tmp_path / "audit" / "failed").glob("*.singer")
    messages = _messages(kept.read_text())
    assert [m["type"] for m in messages] == ["SCHEMA", "RECORD", "RECORD", "RECORD"]
    assert [m["record"]["allocation_id"] for m in messages[1:]] == ["A-0002"] * 3

    emulator.store.insert("Account", {"AccountCD": "99999", "Active": True, "Type": "Expense"})
    replay = run_target(config, kept.read_text(), tmp_path)
    assert replay.returncode == 0, replay.stderr
    assert sorted(posted_journals(emulator)) == ["OH:2024-03:A-0001", "OH:2024-03:A-0002"]


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (
            _batch_message(["file:///nowhere/b.json.gz"]),
            "BATCH message of stream overhead_allocation: cannot read file:///nowhere/b.json.gz",
        ),
        (_batch_message([], "avro"), "format 'avro' is not supported (jsonl or parquet)"),
        (_batch_message([], "jsonl", "zstd"), "compression 'zstd' is not supported for jsonl (gzip or none)"),
        (
            {"type": "ACTIVATE_VERSION", "stream": STREAM, "version": 1},
            "ACTIVATE_VERSION message of stream overhead_allocation: target-acumatica never deletes",
        ),
    ],
)
def test_a_message_the_target_cannot_honour_fails_before_state_moves(emulator, tmp_path, message, error):
    rows = allocation_rows(allocations=1, lines=2)
    records = [{"type": "RECORD", "stream": STREAM, "record": r} for r in rows]
    text = _input(*records, {"type": "STATE", "value": {"bookmarks": {STREAM: {"n": 1}}}}, message)
    run = run_target(target_config(emulator, tmp_path / "audit"), text, tmp_path)
    assert run.returncode == 1 and error in run.stderr
    assert run.states == [] and posted_journals(emulator) == {}


def test_a_batch_before_its_schema_fails(emulator, tmp_path):
    rows = allocation_rows(allocations=1, lines=1)
    text = json.dumps(_batch_message([_jsonl_gz(tmp_path / "b.json.gz", rows)])) + "\n" + singer_input(rows)
    run = run_target(target_config(emulator, tmp_path / "audit"), text, tmp_path)
    assert run.returncode == 1 and "before a corresponding schema" in run.stderr
    assert run.states == [] and posted_journals(emulator) == {}
