"""Run target-databricks against the Databricks emulator, as its console script (Singer messages on
stdin, as a user's pipeline does) or in this process, and read what landed in the emulator's Delta
tables."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import msgspec
from deltalake import DeltaTable
from target_databricks.target import TargetDatabricks

from tests.support.command import run_command
from tests.support.taprun import BIN

TARGET = str(BIN / "target-databricks")
ENCODER = msgspec.json.Encoder(decimal_format="number")  # Decimal("1.10") -> 1.10, exactly
CATALOG, SCHEMA_NAME = "workspace", "loads"


@dataclass
class Run:
    returncode: int
    states: list[dict]
    stderr: str


def connection(dbx, schema: str = SCHEMA_NAME) -> dict:
    """The settings that reach the emulator's sandbox warehouse (nothing else: the target's defaults)."""
    return {
        "host": dbx.base_url,
        "warehouse_id": "sandbox-warehouse",
        "catalog": CATALOG,
        "schema": schema,
        "client_id": "sandbox-sp",
        "client_secret": "sandbox-sp-secret",
    }


def write_config(tmp_path, dbx, **extra) -> str:
    path = tmp_path / f"target-{len(list(tmp_path.glob('target-*.json')))}.json"
    path.write_text(
        json.dumps(
            {
                **connection(dbx),
                "retry_backoff_seconds": 0.05,
                # These tests check exact decimals for plain numbers, as the project's flows configure it.
                "number_type": "decimal",
                **extra,
            }
        )
    )
    return str(path)


def run_target(
    config: str,
    messages: list[dict],
    *,
    watcher: Callable[[None], None] | None = None,
) -> Run:
    """The console command ``target-databricks --config <config>`` run in this process, ``messages`` its
    input; ``watcher(None)`` runs on a thread meanwhile. The same command, settings, logging, error
    handling and exit status as the console script, without an interpreter start-up per run."""
    with tempfile.TemporaryDirectory(prefix="singer-input-") as folder:
        feed = Path(folder) / "input.singer"
        feed.write_text("".join(ENCODER.encode(m).decode() + "\n" for m in messages))
        thread = None
        if watcher:
            thread = threading.Thread(target=watcher, args=(None,), daemon=True)
            thread.start()
        try:
            done = run_command(TargetDatabricks, ["--config", config, "--input", str(feed)])
        finally:
            if thread:
                thread.join(timeout=5)
    states = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return Run(done.returncode, states, done.stderr)


def run_console_script(
    config: str,
    messages: list[dict],
    *,
    timeout: float = 120,
    watcher: Callable[[subprocess.Popen], None] | None = None,
) -> Run:
    """Pipe ``messages`` into the console script; ``watcher(proc)`` runs on a thread meanwhile. For what
    only a process shows: its exit status when killed or signalled, its output stream as a whole."""
    proc = subprocess.Popen(
        [TARGET, "--config", config],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    thread = None
    if watcher:
        thread = threading.Thread(target=watcher, args=(proc,), daemon=True)
        thread.start()
    out, err = proc.communicate("".join(ENCODER.encode(m).decode() + "\n" for m in messages), timeout=timeout)
    if thread:
        thread.join(timeout=5)
    states = [json.loads(line) for line in out.splitlines() if line.strip()]
    return Run(proc.returncode, states, err)


def replay(config: str, path, timeout: float = 120) -> Run:
    """``target-databricks --config <config> < <path>``: pipe a Singer file into the target."""
    with open(path, "rb") as stdin:
        proc = subprocess.run(
            [TARGET, "--config", config], stdin=stdin, capture_output=True, text=True, timeout=timeout
        )
    states = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return Run(proc.returncode, states, proc.stderr)


def wait_for(predicate: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.002)


def rows(dbx, table: str) -> list[dict]:
    return DeltaTable(dbx.table_path(CATALOG, SCHEMA_NAME, table)).to_pyarrow_table().to_pylist()


def audit(dbx) -> list[dict]:
    return rows(dbx, "_sdc_load_audit")


def schema(stream: str, properties: dict, keys: list[str] | None) -> dict:
    return {
        "type": "SCHEMA",
        "stream": stream,
        "key_properties": keys or [],
        "schema": {"type": "object", "properties": properties},
    }


def record(stream: str, rec: dict) -> dict:
    return {"type": "RECORD", "stream": stream, "record": rec, "time_extracted": "2024-05-01T12:00:00Z"}


def state(n: int) -> dict:
    return {"type": "STATE", "value": {"bookmarks": {"bills": {"replication_key_value": n}}}}


BILL_PROPS = {
    "id": {"type": "integer"},
    "amount": {"type": "number"},
    "memo": {"type": ["null", "string"]},
    "updated": {"type": "string", "format": "date-time"},
}


def bills(ids, memo="v1") -> list[dict]:
    return [
        record(
            "bills",
            {
                "id": i,
                "amount": Decimal(f"{i}.10"),
                "memo": f"{memo}-{i}",
                "updated": f"2024-05-0{1 + i % 9}T00:00:00Z",
            },
        )
        for i in ids
    ]


def by_id(table_rows: list[dict]) -> dict:
    out = {r["id"]: r for r in table_rows}
    assert len(out) == len(table_rows), "duplicate rows"
    return out


def consume_pending_fault(dbx) -> None:
    """Run ``SELECT 1`` over the API: it takes a still pending injected failure, if any."""
    request = urllib.request.Request(
        f"{dbx.base_url}/api/2.0/sql/statements",
        method="POST",
        data=json.dumps(
            {"statement": "SELECT 1", "warehouse_id": "sandbox-warehouse", "wait_timeout": "10s"}
        ).encode(),
        headers={"Authorization": "Bearer dapi-sandbox-token", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        json.loads(response.read())


def stat(dbx, name: str) -> int:
    return getattr(dbx.stats, name)


def run_in_process(config: str, messages: list[dict]) -> Run:
    """The same run as ``run_target`` inside the test process (no interpreter start-up per run): STATE
    lines from stdout, log records as ``stderr``, and a failure as return code 1 with its message."""
    lines = io.StringIO()
    handler = _Collect()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)  # as the console script logs
    returncode = 0
    try:
        target = TargetDatabricks(config=json.loads(Path(config).read_text()), validate_config=True)
        feed = io.StringIO("".join(ENCODER.encode(m).decode() + "\n" for m in messages))
        with contextlib.redirect_stdout(lines):
            target.listen(file_input=feed)
    except Exception as exc:  # the console script would exit non-zero with this message
        returncode = 1
        handler.lines.append(f"{type(exc).__name__}: {exc}")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    states = [json.loads(line) for line in lines.getvalue().splitlines() if line.strip()]
    return Run(returncode, states, "\n".join(handler.lines))


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "| ERROR" in line or "Traceback" in line]


def land_with_defaults(tmp_path, dbx, messages: list[dict], stream: str, column: str) -> tuple[str, list]:
    """Pipe ``messages`` into target-databricks with default settings; the column's type and values."""
    config = tmp_path / "target.json"
    # No number_type: the target's default (DOUBLE for plain numbers) is what users outside the project get.
    config.write_text(json.dumps(connection(dbx)))
    run = run_target(str(config), messages)
    assert run.returncode == 0, run.stderr[-3000:]
    fields = DeltaTable(dbx.table_path(CATALOG, SCHEMA_NAME, stream)).schema().fields
    sql_type = next(str(f.type) for f in fields if f.name == column)
    return sql_type, sorted(row[column] for row in rows(dbx, stream))
