"""The taps' message writer: records reach stdout in blocks, and every other message flushes them first."""

from __future__ import annotations

import io
import json

from mlc_run_audit.writer import BufferedRecordWriter
from singer_sdk.singerlib import RecordMessage, StateMessage


class CountingPipe(io.RawIOBase):
    """The pipe under stdout: counts the writes that reach it."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.writes = 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.writes += 1
        self.data += bytes(b)
        return len(b)


def test_records_reach_the_pipe_in_blocks_and_a_state_flushes_them_first(monkeypatch):
    # Set here, not in a fixture: pytest's output capture sets sys.stdout again after fixtures.
    pipe = CountingPipe()
    monkeypatch.setattr("sys.stdout", io.TextIOWrapper(io.BufferedWriter(pipe, buffer_size=8192)))
    writer = BufferedRecordWriter()
    records = [
        {"ReferenceNbr": f"{n:06d}", "Amount": "1234.5600", "Description": "x" * 200} for n in range(100)
    ]
    for record in records:
        writer.write_message(RecordMessage(stream="bills", record=record))
    # Before: the SDK's writer flushed after every record, 100 writes to the pipe.
    assert pipe.writes <= 5
    writer.write_message(StateMessage(value={"bookmarks": {"bills": {"replication_key_value": "x"}}}))
    lines = [json.loads(line) for line in pipe.data.decode().splitlines()]
    assert [m["record"] for m in lines[:-1]] == records
    assert lines[-1]["type"] == "STATE"
    assert pipe.writes <= 6
