"""The fakesnow server, with the statement shapes of meltanolabs-target-snowflake made to work.

fakesnow 0.12.1 rejects how the target loads a batch (tekumara/fakesnow#403): PUT to the user
stage `@~`, `SELECT $1:col ... FROM '@~/path'(file_format => F)` inside a MERGE with QUALIFY,
COPY from a quoted stage path, REMOVE and DROP FILE FORMAT. This wraps the cursor's `execute`
and turns exactly those shapes into statements fakesnow runs; every other statement passes
through untouched. Pinned to fakesnow[server]==0.12.1: it relies on the cursor's internals.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import gzip
import json
import os
import re
import shutil
import signal
import threading

import fakesnow.arrow
import pyarrow as pa
import pyarrow.compute as pc
from fakesnow.cursor import FakeSnowflakeCursor
from fakesnow.transforms.stage import LOCAL_BUCKET_PATH
from snowflake.connector.errors import ProgrammingError

#: Where `@~` (the user stage, which fakesnow lacks) lives: a named stage in the session's database.
STAGE_SCHEMA = "_USER_STAGE"
STAGE_NAME = "FILES"
FLAGS = re.IGNORECASE | re.DOTALL
STAGED = r"'@~/target-snowflake/(?P<sync>[^'/]+)/?'"

PUT = re.compile(r"put\s+(?P<src>'[^']*'|\S+)\s+'@~/(?P<path>[^']*)'(?P<rest>.*)", FLAGS)
MERGE = re.compile(
    r"merge into (?P<table>\S+) d using \((?P<select>select .+) from "
    + STAGED
    + r"\s*\(file_format => [^)]+\)\s*(?P<qualify>QUALIFY .+?)\) s (?P<rest>on .+)",
    FLAGS,
)
COPY = re.compile(
    r"copy into (?P<table>\S+) (?P<columns>\([^)]*\)) from \((?P<select>select .+) from "
    + STAGED
    + r"\)\s*file_format = \(format_name='[^']*'\)",
    FLAGS,
)
REMOVE = re.compile(r"remove " + STAGED, FLAGS)
DROP_FILE_FORMAT = re.compile(r"drop file format\b.*", FLAGS)

_execute = FakeSnowflakeCursor.execute
_timestamp_to_sf_struct = fakesnow.arrow.timestamp_to_sf_struct


def execute(cursor: FakeSnowflakeCursor, command: str, *args, **kwargs) -> FakeSnowflakeCursor:
    """FakeSnowflakeCursor.execute, with the target's load statements rewritten."""
    statement = command.strip().rstrip(";").strip()
    for pattern, handler in HANDLERS:
        if match := pattern.fullmatch(statement):
            try:
                return handler(cursor, match, *args, **kwargs)
            except ProgrammingError:
                raise
            except Exception as error:
                # Anything else becomes an HTTP 500, which the connector retries for minutes:
                # answer with a SQL error instead, so the load fails at once and says why.
                message = f"snowflake-compat: {error!r}"
                raise ProgrammingError(msg=message, errno=9999, sqlstate="99999") from error
    return _execute(cursor, command, *args, **kwargs)


def _put(cursor, match, *args, **kwargs):
    database = cursor._conn.database
    cursor._duck_conn.execute(f"CREATE SCHEMA IF NOT EXISTS {database}.{STAGE_SCHEMA}")
    _execute(cursor, f"CREATE STAGE IF NOT EXISTS {database}.{STAGE_SCHEMA}.{STAGE_NAME}")
    stage = f"@{database}.{STAGE_SCHEMA}.{STAGE_NAME}/{match['path']}"
    return _execute(cursor, f"put {match['src']} {stage}{match['rest']}", *args, **kwargs)


#: The target merges several streams at once. fakesnow runs a MERGE as several statements around one
#: table named merge_candidates, so two at once fail with "duplicate key ... MERGE_CANDIDATES";
#: Snowflake runs them side by side. One MERGE at a time here.
_MERGE_LOCK = threading.Lock()


def _merge(cursor, match, *args, **kwargs):
    staged = _load_staged(cursor, match["sync"])
    # DuckDB cannot run QUALIFY inside MERGE ... USING (subquery): de-duplicate into a table first.
    _execute(
        cursor,
        f"CREATE OR REPLACE TABLE {staged}_SRC AS {_from_staged(match['select'], staged)} "
        f"from {staged} {_from_staged(match['qualify'], staged)}",
    )
    merge = f"merge into {match['table']} d using {staged}_SRC s {match['rest']}"
    with _MERGE_LOCK, _current_schema(cursor, match["table"]):
        return _execute(cursor, merge, *args, **kwargs)


@contextlib.contextmanager
def _current_schema(cursor, table: str):
    """fakesnow's MERGE needs a current schema; the target's session may have none (Snowflake's does not)."""
    conn = cursor._conn
    if conn.schema:
        yield
        return
    conn._schema = table.split(".")[-2]
    try:
        yield
    finally:
        conn._schema = None


def _copy(cursor, match, *args, **kwargs):
    staged = _load_staged(cursor, match["sync"])
    _execute(
        cursor,
        f"insert into {match['table']} {match['columns']} "
        f"{_from_staged(match['select'], staged)} from {staged}",
    )
    loaded = cursor.rowcount or 0
    # COPY answers one row per file; the target sums rows_loaded.
    return _execute(
        cursor,
        f"select '{match['sync']}' as file, 'LOADED' as status, "
        f"{loaded} as rows_parsed, {loaded} as rows_loaded",
        *args,
        **kwargs,
    )


def _remove(cursor, match, *args, **kwargs):
    for directory in _staged_dirs(match["sync"]):
        shutil.rmtree(directory, ignore_errors=True)
    staged = _staged_table(cursor, match["sync"])
    _execute(cursor, f"DROP TABLE IF EXISTS {staged}_SRC")
    _execute(cursor, f"DROP TABLE IF EXISTS {staged}")
    return _nothing(cursor, match, *args, **kwargs)


def _nothing(cursor, _match=None, *args, **kwargs):
    return _execute(cursor, "select 'Statement executed successfully.' as status", *args, **kwargs)


def _staged_dirs(sync_id: str) -> list[str]:
    pattern = os.path.join(glob.escape(LOCAL_BUCKET_PATH), "**", "target-snowflake", glob.escape(sync_id))
    return glob.glob(pattern, recursive=True)


def _staged_table(cursor, sync_id: str) -> str:
    name = re.sub(r"\W", "_", sync_id).upper()
    return f"{cursor._conn.database}.{STAGE_SCHEMA}.STAGED_{name}"


def _load_staged(cursor, sync_id: str) -> str:
    """The staged JSON-lines files as a table (seq, src variant), seq in file and line order."""
    table = _staged_table(cursor, sync_id)
    rows = []
    for directory in _staged_dirs(sync_id):
        for path in sorted(glob.glob(os.path.join(glob.escape(directory), "*"))):
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8") as lines:
                rows.extend(_without_nulls(line) for line in lines if line.strip())
    duck = cursor._duck_conn
    duck.execute(f"CREATE OR REPLACE TABLE {table} (seq BIGINT, src JSON)")
    if rows:
        duck.executemany(f"INSERT INTO {table} VALUES (?, ?)", list(enumerate(rows)))
    return table


def _without_nulls(line: str) -> str:
    """Top-level JSON nulls dropped: fakesnow casts a JSON null to TIMESTAMP as 1970-01-01, while
    Snowflake gives NULL; a missing path is NULL in both."""
    return json.dumps({name: value for name, value in json.loads(line).items() if value is not None})


def _from_staged(sql: str, table: str) -> str:
    """`$1:col` of a staged file is `src:col` of the loaded table; SEQ8() is its line order."""
    return re.sub(r"SEQ8\(\)", "seq", sql.replace("$1:", "src:"), flags=re.IGNORECASE)


HANDLERS = (
    (PUT, _put),
    (MERGE, _merge),
    (COPY, _copy),
    (REMOVE, _remove),
    (DROP_FILE_FORMAT, _nothing),
)


def _timestamps_keeping_nulls(ts):
    """fakesnow's server encodes a NULL timestamp as epoch 0, read back as 1970-01-01: mark it null."""
    struct = _timestamp_to_sf_struct(ts)
    if not struct.null_count and ts.null_count:
        ts = ts.combine_chunks() if isinstance(ts, pa.ChunkedArray) else ts
        children = [pc.fill_null(struct.field(i), 0) for i in range(struct.type.num_fields)]
        struct = pa.StructArray.from_arrays(children, fields=list(struct.type), mask=pc.is_null(ts))
    return struct


def install() -> None:
    FakeSnowflakeCursor.execute = execute
    fakesnow.arrow.timestamp_to_sf_struct = _timestamps_keeping_nulls


def main() -> None:
    parser = argparse.ArgumentParser(description="fakesnow server that loads target-snowflake batches")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args()
    install()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with fakesnow.server(port=options.port, host=options.host):
        print(f"fakesnow listening on http://{options.host}:{options.port}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()


if __name__ == "__main__":
    main()
