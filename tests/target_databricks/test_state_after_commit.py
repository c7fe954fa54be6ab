"""STATE is written only after the batch it covers committed (SDK drain order), and never on failure.

The target's ``client`` is replaced by a recorder that answers like the Statement Execution API
would (DESCRIBE rows, audit counts) and can fail the data statement; no HTTP is involved.
"""

from __future__ import annotations

import io
import json
import threading

import pytest
from target_databricks.client import StatementError, StatementResult
from target_databricks.target import TargetDatabricks

CONFIG = {
    "host": "https://example.invalid",
    "warehouse_id": "w",
    "catalog": "main",
    "schema": "fin",
    "token": "x",
}


class RecordingClient:
    def __init__(self, fail_kind: str | None = None, committed: str | None = None) -> None:
        self.fail_kind = fail_kind
        self.committed = committed  # load token of the table's latest committed load
        self.kinds: list[str] = []
        self.statements = []

    def execute(self, statement, *, catalog=None, schema=None):
        self.kinds.append(statement.kind)
        self.statements.append(statement)
        if statement.kind == self.fail_kind:
            raise StatementError(statement.kind, "FAILED", "BAD_REQUEST", "boom", "s-1")
        if statement.kind == "describe table":
            return StatementResult("s", [["id", "bigint", None]])
        if statement.kind == "audit check":
            return StatementResult("s", [["bills", self.committed]] if self.committed else [])
        return StatementResult(f"s{len(self.kinds)}")


def _lines(*messages):
    return io.StringIO("".join(json.dumps(m) + "\n" for m in messages))


SCHEMA = {
    "type": "SCHEMA",
    "stream": "bills",
    "key_properties": ["id"],
    "schema": {"type": "object", "properties": {"id": {"type": "integer"}, "amt": {"type": "number"}}},
}
RECORD = {
    "type": "RECORD",
    "stream": "bills",
    "record": {"id": 1, "amt": 10.25},
    "time_extracted": "2024-01-01T00:00:00Z",
}
STATE = {"type": "STATE", "value": {"bookmarks": {"bills": {"replication_key_value": "2024-01-01"}}}}


RECORD2 = {"type": "RECORD", "stream": "bills", "record": {"id": 2, "amt": 0.000000001}}


def _run(client, config=CONFIG, messages=(SCHEMA, RECORD, STATE), drain_every_record=False):
    target = TargetDatabricks(config=config, validate_config=True)
    target.__dict__["client"] = client
    if drain_every_record:  # the SDK's max-record-age drain_all (which writes STATE) after every record
        target._MAX_RECORD_AGE_IN_MINUTES = -1.0
    target.listen(file_input=_lines(*messages))


def test_state_emitted_after_merge_and_audit(capsys):
    client = RecordingClient()
    _run(client)
    out = capsys.readouterr().out.strip().splitlines()
    assert json.loads(out[-1]) == STATE["value"]
    assert client.kinds.index("merge") < client.kinds.index("audit insert")


def test_no_state_when_the_batch_fails(capsys):
    client = RecordingClient(fail_kind="merge")
    with pytest.raises(StatementError, match="merge statement s-1 ended FAILED: BAD_REQUEST: boom"):
        _run(client)
    assert "bookmarks" not in capsys.readouterr().out
    assert "audit insert" not in client.kinds


def test_committed_token_is_skipped(capsys):
    first = RecordingClient()
    _run(first)
    audit_row = next(s for s in first.statements if s.kind == "audit insert")
    token = next(p.value for p in audit_row.parameters if p.name == "a2")  # load_token
    capsys.readouterr()
    client = RecordingClient(committed=token)
    _run(client)
    assert "merge" not in client.kinds and "audit insert" not in client.kinds
    assert "bookmarks" in capsys.readouterr().out


def test_state_after_each_drained_batch(capsys):
    client = RecordingClient()
    _run(client, CONFIG, (SCHEMA, RECORD, STATE, RECORD2), drain_every_record=True)
    assert client.kinds.count("merge") == 2
    assert capsys.readouterr().out.count("bookmarks") == 2  # mid-run drain_all and end of pipe


def test_overwrite_holds_state_until_swap(capsys):
    client = RecordingClient(fail_kind="insert overwrite")
    overwrite = {**CONFIG, "load_method": "overwrite", "batch_size_rows": 1}
    with pytest.raises(StatementError):
        _run(client, overwrite, (SCHEMA, RECORD, STATE, RECORD2), drain_every_record=True)
    assert client.kinds.count("stage insert") == 2  # a batch was drained mid-run, yet no STATE
    assert "bookmarks" not in capsys.readouterr().out
    assert "bookmarks" not in capsys.readouterr().out
    ok = RecordingClient()
    _run(ok, {**CONFIG, "load_method": "overwrite"})
    assert ok.kinds.index("insert overwrite") < len(ok.kinds)
    assert "bookmarks" in capsys.readouterr().out


class HeldMergeClient(RecordingClient):
    """Holds the first MERGE until the target has read the record after that batch (10 s at most)."""

    def __init__(self) -> None:
        super().__init__()
        self.next_record_read = threading.Event()
        self.read_while_merging: bool | None = None

    def execute(self, statement, *, catalog=None, schema=None):
        if statement.kind == "merge" and self.read_while_merging is None:
            self.read_while_merging = self.next_record_read.wait(timeout=10)
        return super().execute(statement, catalog=catalog, schema=schema)


def test_a_drained_batch_loads_while_the_next_records_are_read(capsys):
    """The reading thread goes on with the next record while a full batch merges (it used to wait for
    the load); STATE still comes after both batches committed."""
    client = HeldMergeClient()
    target = TargetDatabricks(config={**CONFIG, "batch_size_rows": 1}, validate_config=True)
    target.__dict__["client"] = client
    read = target._process_record_message

    def process_record(message):
        if message["record"]["id"] == 2:
            client.next_record_read.set()
        read(message)

    target._process_record_message = process_record
    target.listen(file_input=_lines(SCHEMA, RECORD, {**RECORD2, "record": {"id": 2, "amt": 1}}, STATE))
    assert client.read_while_merging is True
    assert client.kinds.count("merge") == 2 and client.kinds.count("audit insert") == 2
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == STATE["value"]


def test_a_batch_that_fails_to_load_stops_the_run_before_the_next_batch_loads(capsys):
    client = RecordingClient(fail_kind="merge")
    records = [{**RECORD, "record": {"id": i, "amt": i}} for i in (1, 2, 3)]
    with pytest.raises(StatementError, match="merge statement s-1 ended FAILED"):
        _run(client, {**CONFIG, "batch_size_rows": 1}, (SCHEMA, *records, STATE))
    assert client.kinds.count("merge") == 1 and "audit insert" not in client.kinds
    assert "bookmarks" not in capsys.readouterr().out
