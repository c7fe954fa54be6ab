"""A `meltano run` killed mid-load, what Meltano kept of it, and the documented replay.

The replay of a failed load is the run's own job again: `meltano --environment=<env> run <job>`.
Meltano keeps only the STATE the loader emitted after its data committed, so the replay extracts
again from the last bookmark that landed; keyed loads (MERGE / upsert, journals found by key) make
the rows it sends a second time update instead of duplicate.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.compare import instant
from tests.support.meltano import (
    FLOWS,
    MELTANO,
    ROOT,
    VERSION,
    meltano,
    meltano_env,
)


@dataclass
class KilledRun:
    run_id: str
    loader_pid: int
    returncode: int
    stderr: str


def _loader_pids(session: int, executable: str) -> list[int]:
    """Processes of the run's session whose command runs the loader's console script."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getsid(int(entry.name)) != session:
                continue
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ProcessLookupError):
            continue
        if any(arg.decode(errors="replace").endswith(f"/bin/{executable}") for arg in argv[:2]):
            found.append(int(entry.name))
    return found


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def kill_loader_mid_load(
    tmp_path: Path,
    target: str,
    landed: Callable[[], bool],
    *,
    tap: str = "tap-acumatica",
    command_prefix: tuple[str, ...] | list[str] = (),
    timeout: float = 300,
    executable: str | None = None,
    **env_overrides: str,
) -> KilledRun:
    """Run `meltano --environment=sandbox run <tap> <target>` and SIGKILL the loader once ``landed()``.

    ``landed`` is polled while the run goes on; it says the loader has committed some of the data.
    The loader dies as a crash or the OOM killer would end it: no chance to drain, emit STATE or
    clean up. Fails the test if the run ends before ``landed()`` holds (nothing was killed).
    ``executable`` is the loader's console script when it is not named as the plugin (an inherited
    plugin such as target-snowflake--sandbox).
    """
    run_id = str(uuid.uuid4())
    env = meltano_env(tmp_path, MELTANO_RUN_ID=run_id, **env_overrides)
    with (tmp_path / f"killed-{run_id}.log").open("w+") as log:
        proc = subprocess.Popen(
            [*command_prefix, MELTANO, "--environment=sandbox", "run", tap, target],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + timeout
            while not landed():
                if proc.poll() is not None:
                    log.seek(0)
                    pytest.fail(
                        f"the run ended (exit {proc.returncode}) before any data landed; "
                        f"nothing was killed:\n{log.read()[-4000:]}"
                    )
                assert time.monotonic() < deadline, f"nothing landed within {timeout} s"
                time.sleep(0.2)
            found = _loader_pids(proc.pid, executable or target)
            # A loader may fork workers (target-bigquery loads through a process pool): the loader is
            # the one whose parent is not itself a loader process, and its workers die with it.
            loaders = [pid for pid in found if _parent(pid) not in found]
            assert len(loaders) == 1, f"expected one {target} process in the run, found {found}"
            for pid in [loaders[0], *(p for p in found if p != loaders[0])]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            returncode = proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.seek(0)
        stderr = log.read()
    assert returncode != 0, "meltano must report the run whose loader was killed as failed"
    return KilledRun(run_id, loaders[0], returncode, stderr)


def replay(
    tmp_path: Path, job: str, *, command_prefix: tuple[str, ...] | list[str] = (), **env_overrides: str
) -> tuple[str, subprocess.CompletedProcess]:
    """The documented replay: `meltano --environment=sandbox run <job>` (a job, or blocks separated by
    spaces); returns its run id."""
    run_id = str(uuid.uuid4())
    proc = meltano(
        tmp_path, *job.split(), command_prefix=command_prefix, MELTANO_RUN_ID=run_id, **env_overrides
    )
    return run_id, proc


def meltano_runs(tmp_path: Path) -> dict[str, str]:
    """Meltano's own record of each run in the test's system database: run id -> state."""
    with sqlite3.connect(tmp_path / "meltano.db") as db:
        runs = db.execute("SELECT run_id, state FROM runs").fetchall()
    return {str(uuid.UUID(run_id)): state for run_id, state in runs}


def kept_state(tmp_path: Path, state_id: str) -> dict:
    """The state Meltano would hand the next run of ``state_id``: completed, with partial merged over it."""
    with sqlite3.connect(tmp_path / "meltano.db") as db:
        row = db.execute(
            "SELECT partial_state, completed_state FROM state WHERE state_id = ?", (state_id,)
        ).fetchone()
    if row is None:
        return {}
    partial, completed = (json.loads(text) if text else {} for text in row)
    return _merged(completed.get("singer_state", {}), partial.get("singer_state", {}))


def _merged(base: dict, over: dict) -> dict:
    merged = dict(base)
    for key, value in over.items():
        merged[key] = (
            _merged(merged[key], value)
            if isinstance(merged.get(key), dict) and isinstance(value, dict)
            else value
        )
    return merged


def bookmarks(state: dict) -> dict[str, str]:
    """stream -> replication key value reached, from a Singer state (SDK layout)."""
    return {
        stream: entry["replication_key_value"]
        for stream, entry in state.get("bookmarks", {}).items()
        if isinstance(entry, dict) and entry.get("replication_key_value") is not None
    }


def assert_killed_mid_load(
    tmp_path: Path,
    killed: KilledRun,
    state_id: str,
    tables: dict[str, list[dict]],
    emulator,
    streams: dict[str, str] | None = None,
    column=str.lower,
) -> None:
    """A killed `tap-acumatica` run: part of the records had landed in ``tables``, Meltano recorded the
    run failed and kept no state beyond what landed (see the two assertions)."""
    assert_part_landed(tables, emulator, streams)
    assert_failed_state_behind_landed(tmp_path, killed.run_id, state_id, tables, emulator, streams, column)


def assert_part_landed(tables: dict[str, list[dict]], emulator, streams: dict[str, str] | None = None):
    """Some rows and fewer than the Acumatica source's records: the kill came mid-load.

    ``tables`` maps a table to its rows (tables not created yet are missing), ``streams`` a table to
    its stream in FLOWS (default: the same name).
    """
    streams = streams or {stream: stream for stream in FLOWS}
    landed = {table: len(tables.get(table, ())) for table in streams}
    source = {table: len(emulator.store.records(FLOWS[s][0], VERSION)) for table, s in streams.items()}
    assert 0 < sum(landed.values()) < sum(source.values()), (
        f"the kill must come mid-load: rows landed {landed}, source records {source}"
    )


def assert_failed_state_behind_landed(
    tmp_path: Path,
    run_id: str,
    state_id: str,
    tables: dict[str, list[dict]],
    emulator,
    streams: dict[str, str] | None = None,
    column=str.lower,
) -> None:
    """Meltano recorded the run failed, and every Acumatica record at or before a bookmark it kept is
    in ``tables``: the replay starts after those bookmarks, so a record behind one that had not landed
    would never land. Keeping nothing passes.

    ``column`` maps a source field to its column name in the warehouse.
    """
    assert meltano_runs(tmp_path).get(run_id) == "FAIL", meltano_runs(tmp_path)
    streams = streams or {stream: stream for stream in FLOWS}
    kept = kept_state(tmp_path, state_id).get("bookmarks", {})
    for table, stream in streams.items():
        entry = kept.get(stream)
        if not isinstance(entry, dict) or entry.get("replication_key_value") is None:
            continue
        bookmark, field = entry["replication_key_value"], entry["replication_key"]
        entity, keys = FLOWS[stream]
        present = {tuple(row[column(k)] for k in keys) for row in tables.get(table, ())}
        behind = [
            tuple(r[k] for k in keys)
            for r in emulator.store.records(entity, VERSION)
            if r.get(field) and instant(r[field]) <= instant(bookmark)
        ]
        missing = [key for key in behind if key not in present]
        assert not missing, f"{stream}: Meltano kept {field} {bookmark}; {missing[:5]} behind it never landed"


#: An Acumatica record's version: the replication key tap-acumatica reads (StockItem has the second).
MODIFIED_FIELDS = ("LastModifiedDateTime", "LastModified")


def assert_traceable(
    tables: dict[str, list[dict]],
    runs: list[dict],
    emulator,
    *,
    run_ids: set[str],
    replayed: str,
    streams: dict[str, str] | None = None,
    column=str.lower,
) -> None:
    """Every landed row of an Acumatica flow names its run (one of ``run_ids``), its Acumatica record
    (``id``) and that record's version (its last-modified time, none for full-table streams), when it
    was extracted and which loader batch wrote it; the replay's own record in the ``_audit_runs``
    table (``runs``) says it extracted every source record of each stream.

    ``tables`` maps a table to its rows, ``streams`` a table to its stream in FLOWS (default: the same
    name), ``column`` a field to the warehouse's column name.
    """
    streams = streams or {stream: stream for stream in FLOWS}
    extracted = {}
    for table, stream in streams.items():
        entity, keys = FLOWS[stream]
        source = {tuple(r[k] for k in keys): r for r in emulator.store.records(entity, VERSION)}
        extracted[stream] = len(source)
        for row in tables[table]:
            key = tuple(row[column(k)] for k in keys)
            record, where = source[key], f"{table} {key}"
            assert row[column("_audit_run_id")] in run_ids, (where, row[column("_audit_run_id")], run_ids)
            assert row[column("_audit_source_id")] == record["id"], where
            modified = next((record[f] for f in MODIFIED_FIELDS if record.get(f)), None)
            version = row[column("_audit_source_version")]
            assert (version is None and modified is None) or instant(str(version)) == instant(modified), (
                where,
                version,
                modified,
            )
            assert row[column("_sdc_extracted_at")] is not None, where
            assert row[column("_sdc_batched_at")] is not None, where
    mine = [run for run in runs if run[column("run_id")] == replayed]
    assert len(mine) == 1, f"the replay {replayed} has {len(mine)} records in _audit_runs: {runs}"
    run = mine[0]
    assert run[column("status")] == "extracted" and run[column("tap")] == "tap-acumatica", run
    per_stream = run[column("streams")]
    per_stream = json.loads(per_stream) if isinstance(per_stream, str) else per_stream
    counts = {entry["stream"]: entry["records"] for entry in per_stream}
    assert {s: int(counts.get(s, 0)) for s in extracted} == extracted, (counts, extracted)
