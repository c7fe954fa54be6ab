"""The Databricks SQL forms target-databricks emits, over raw HTTP; large VALUES loads; retention."""

from __future__ import annotations

import json
import time

import databricks_emulator.statements
from deltalake import DeltaTable

from tests.support.clock import emulator_clock

STATEMENTS = "/api/2.0/sql/statements"
T = "`lake`.`raw`.`we ird;``t`"
COLS = "`k`, `a b;c`, `x``y`, `ts`, `_sdc_load_token`"
TYPES = ("BIGINT", "STRING", "DECIMAL(38,9)", "TIMESTAMP", "STRING")
CREATE = (
    f"CREATE TABLE IF NOT EXISTS {T} (`k` BIGINT, `a b;c` STRING, `x``y` DECIMAL(38,9), `ts` TIMESTAMP, "
    "`_sdc_load_token` STRING) USING DELTA TBLPROPERTIES ('delta.columnMapping.mode' = 'name', "
    "'delta.minReaderVersion' = '2', 'delta.minWriterVersion' = '5')"
)
PROJECTION = (
    "CAST(c0 AS BIGINT) AS `k`, CAST(c1 AS STRING) AS `a b;c`, CAST(c2 AS DECIMAL(38,9)) AS `x``y`, "
    "CAST(c3 AS TIMESTAMP) AS `ts`, CAST(c4 AS STRING) AS `_sdc_load_token`"
)
BIG = "12345678901234567890123456789.123456789"


def values_statement(rows: list[list[str | None]]) -> tuple[str, list[dict]]:
    """``SELECT CAST(c0 ..) .. FROM VALUES (:p0, ..), .. AS v(c0, ..)`` and its parameters."""
    params, tuples = [], []
    for row in rows:
        tokens = []
        for value, sql_type in zip(row, TYPES, strict=False):
            if value is None:
                tokens.append("NULL")
            else:
                tokens.append(f":p{len(params)}")
                params.append({"name": f"p{len(params)}", "value": value, "type": sql_type})
        tuples.append("(" + ", ".join(tokens) + ")")
    return f"SELECT {PROJECTION} FROM VALUES {', '.join(tuples)} AS v(c0, c1, c2, c3, c4)", params


def merge(source: str) -> str:
    return (
        f"MERGE INTO {T} AS t USING ({source}) AS s ON t.`k` <=> s.`k` WHEN MATCHED THEN UPDATE SET "
        "t.`a b;c` = s.`a b;c`, t.`x``y` = s.`x``y`, t.`ts` = s.`ts`, "
        "t.`_sdc_load_token` = s.`_sdc_load_token` "
        f"WHEN NOT MATCHED THEN INSERT ({COLS}) "
        "VALUES (s.`k`, s.`a b;c`, s.`x``y`, s.`ts`, s.`_sdc_load_token`)"
    )


def test_create_describe_and_null_safe_merge_from_values(api, emulator):
    api.ok(CREATE)
    api.ok(CREATE)  # IF NOT EXISTS
    described = api.sql(f"DESCRIBE TABLE {T}")
    assert [c["name"] for c in described["manifest"]["schema"]["columns"]] == [
        "col_name",
        "data_type",
        "comment",
    ]
    assert described["result"]["data_array"] == [
        ["k", "bigint", None],
        ["a b;c", "string", None],
        ["x`y", "decimal(38,9)", None],
        ["ts", "timestamp", None],
        ["_sdc_load_token", "string", None],
    ]
    source, params = values_statement(
        [
            ["1", "x", BIG, "2024-01-02T03:04:05.123456+00:00", "t1"],
            [None, "null key", "0.000000001", None, "t1"],
        ]
    )
    assert api.ok(merge(source), params) == [["2", "0", "0", "2"]]
    # Re-running matches the NULL key with <=> instead of inserting it again.
    assert api.ok(merge(source), params) == [["2", "2", "0", "0"]]
    rows = api.ok(f"SELECT `k`, `x``y`, `ts`, `a b;c` FROM {T} ORDER BY `k` NULLS FIRST")
    assert rows == [[None, "0.000000001", None, "null key"], ["1", BIG, "2024-01-02T03:04:05.123Z", "x"]]
    assert api.ok(f"SELECT count(*) FROM {T} WHERE `ts` = TIMESTAMP'2024-01-02 03:04:05.123456'") == [["1"]]
    delta = DeltaTable(emulator.table_path("lake", "raw", "we ird;`t")).to_pyarrow_table().sort_by("k")
    assert [str(v) for v in delta.column("x`y").to_pylist()] == [BIG, "1E-9"]


def test_insert_replace_where_and_insert_overwrite(api, emulator):
    api.ok(CREATE)
    first, p1 = values_statement([["1", "a", "1.5", None, "tok1"], ["2", "b", "2.5", None, "tok1"]])
    api.ok(f"INSERT INTO {T} ({COLS}) {first}", p1)
    other, p2 = values_statement([["3", "c", "3.5", None, "tok2"]])
    api.ok(f"INSERT INTO {T} ({COLS}) {other}", p2)
    again, p3 = values_statement([["1", "a2", "1.5", None, "tok1"], ["2", "b2", "2.5", None, "tok1"]])
    replace = (
        f"INSERT INTO {T} REPLACE WHERE `_sdc_load_token` = :load_token SELECT {COLS} FROM ({again}) AS s"
    )
    api.ok(replace, [*p3, {"name": "load_token", "value": "tok1", "type": "STRING"}])
    assert api.ok(f"SELECT `k`, `a b;c` FROM {T} ORDER BY `k`") == [["1", "a2"], ["2", "b2"], ["3", "c"]]

    stage = "`lake`.`raw`.`__tdbx_stage_t`"
    api.ok(
        CREATE.replace(T, stage)
        .replace("IF NOT EXISTS", "")
        .replace("CREATE TABLE", "CREATE OR REPLACE TABLE")
    )
    api.ok(f"INSERT INTO {stage} ({COLS}) {first}", p1)
    api.ok(f"INSERT OVERWRITE {T} ({COLS}) SELECT {COLS} FROM {stage}")
    api.ok(f"DROP TABLE IF EXISTS {stage}")
    api.ok(f"DROP TABLE IF EXISTS {stage}")
    assert api.ok(f"SELECT `k`, `a b;c` FROM {T} ORDER BY `k`") == [["1", "a"], ["2", "b"]]
    assert sorted(
        DeltaTable(emulator.table_path("lake", "raw", "we ird;`t"))
        .to_pyarrow_table()
        .column("a b;c")
        .to_pylist()
    ) == ["a", "b"]
    assert api.ok(f"DELETE FROM {T} WHERE `k` = 1") == [["1", "1"]]
    assert api.ok(f"SELECT count(*) FROM {T}") == [["1"]]


def test_read_files_and_copy_into_cast_json_strings_exactly(api):
    api.ok(CREATE)
    api.ok("CREATE VOLUME IF NOT EXISTS lake.raw.stage")
    lines = [
        {"c0": "7", "c1": "2024-05-06", "c2": BIG, "c3": "2024-05-06T07:08:09.123456+00:00", "c4": "t"},
        {"c0": "8", "c1": None, "c2": "-0.000000001", "c3": "1999-12-31T23:59:59.999999+00:00", "c4": "t"},
    ]
    body = "".join(json.dumps(line) + "\n" for line in lines).encode()
    assert (
        api.put("/api/2.0/fs/files/Volumes/lake/raw/stage/b1/part-00000.json", data=body).status_code == 204
    )
    source = f"SELECT {PROJECTION} FROM read_files('/Volumes/lake/raw/stage/b1/', format => 'json')"
    assert api.ok(merge(source)) == [["2", "0", "0", "2"]]
    expected = [
        ["7", "2024-05-06", BIG, "2024-05-06T07:08:09.123Z", "456"],
        ["8", None, "-0.000000001", "1999-12-31T23:59:59.999Z", "999"],
    ]
    # Microseconds survive: the API renders milliseconds, so check the rest separately.
    query = (
        f"SELECT `k`, `a b;c`, `x``y`, `ts`, CAST(unix_micros(`ts`) % 1000 AS STRING) FROM {T} ORDER BY `k`"
    )
    assert api.ok(query) == expected

    api.ok(f"DELETE FROM {T}")
    raw = "`lake`.`raw`.`raw_copy`"
    api.ok(f"CREATE TABLE {raw} (c0 STRING, c1 STRING, c2 STRING, c3 STRING, c4 STRING) USING DELTA")
    assert api.ok(f"COPY INTO {raw} FROM '/Volumes/lake/raw/stage/b1/' FILEFORMAT = JSON")[0][0] == "2"
    # Strings that look like dates stay the text that was written.
    assert api.ok(f"SELECT c1, c3 FROM {raw} ORDER BY c0") == [
        ["2024-05-06", "2024-05-06T07:08:09.123456+00:00"],
        [None, "1999-12-31T23:59:59.999999+00:00"],
    ]
    api.ok(f"INSERT INTO {T} ({COLS}) SELECT {PROJECTION} FROM {raw}")
    assert api.ok(query) == expected


def test_values_fast_path_keeps_types_nulls_and_unbound_errors(api):
    api.ok(CREATE)
    assert api.ok(
        "SELECT * FROM VALUES (:a, :b), (:c, NULL) AS v(x, y)",
        [
            {"name": "a", "value": "1", "type": "BIGINT"},
            {"name": "b", "value": "x"},
            {"name": "c", "value": "2", "type": "BIGINT"},
        ],
    ) == [["1", "x"], ["2", None]]
    body = api.sql("SELECT * FROM VALUES (:a), (:zz) AS v(x)", [{"name": "a", "value": "1", "type": "INT"}])
    assert body["status"]["state"] == "FAILED"
    assert body["status"]["error"]["message"].startswith("[UNBOUND_SQL_PARAMETER]")
    source, params = values_statement([["1", "q", "1", None, None]])
    api.ok(f"INSERT INTO {T} ({COLS}) {source}", params)
    # The same statement shape with other types (cached plans are per parameter type).
    params[0]["type"] = "STRING"
    api.ok(f"INSERT INTO {T} ({COLS}) {source}", params)
    count, type_name = api.ok(f"SELECT count(*), typeof(max(`k`)) FROM {T}")[0]
    assert (count, type_name.lower()) == ("2", "bigint")


def test_large_values_merge_is_fast_and_exact(api, emulator):
    api.ok(CREATE)
    rows = [
        [str(i), f"name {i}", f"{i}.{i % 1000:09d}", "2024-01-01T00:00:00.000001+00:00", "t"]
        for i in range(20_000)
    ]
    started = time.perf_counter()
    for start in range(0, len(rows), 10_000):
        source, params = values_statement(rows[start : start + 10_000])
        assert api.ok(merge(source), params)[0][0] == "10000"
    elapsed = time.perf_counter() - started
    assert elapsed < 15, elapsed  # was about 10 s per 10,000 rows before the VALUES fast path
    assert api.ok(f"SELECT count(*), sum(`x``y`) FROM {T}") == [
        ["20000", str(sum(__import__("decimal").Decimal(r[2]) for r in rows))]
    ]
    table = DeltaTable(emulator.table_path("lake", "raw", "we ird;`t")).to_pyarrow_table()
    assert table.num_rows == 20_000


def test_delta_commits_per_statement_when_delay_is_zero(api, emulator):
    emulator.knobs.delta_commit_delay_s = 0
    api.ok(CREATE)
    path = emulator.warehouse.table_path("lake", "raw", "we ird;`t")
    for i in range(3):
        source, params = values_statement([[str(i), "x", "1", None, "t"]])
        api.ok(f"INSERT INTO {T} ({COLS}) {source}", params)
        assert DeltaTable(str(path)).to_pyarrow_table().num_rows == i + 1  # committed before the answer
    versions = DeltaTable(str(path)).version()
    emulator.knobs.delta_commit_delay_s = 30
    source, params = values_statement([["9", "x", "1", None, "t"]])
    api.ok(f"INSERT INTO {T} ({COLS}) {source}", params)
    assert DeltaTable(str(path)).version() == versions  # pending
    assert api.post("/_emulator/flush").status_code == 204
    assert DeltaTable(str(path)).version() == versions + 1
    assert DeltaTable(str(path)).to_pyarrow_table().num_rows == 4


def test_finished_statements_close_then_expire(api, emulator, monkeypatch):
    clock = emulator_clock(monkeypatch, databricks_emulator.statements)
    emulator.knobs.statement_retention_s = 0.3
    emulator.knobs.statement_expiry_s = 0.8
    body = api.sql("SELECT 1 AS one")
    assert body["status"]["state"] == "SUCCEEDED"
    sid = body["statement_id"]
    clock.advance(0.4)
    closed = api.get(f"{STATEMENTS}/{sid}")
    assert closed.status_code == 200
    assert closed.json()["status"]["state"] == "CLOSED" and "result" not in closed.json()
    assert api.get(f"{STATEMENTS}/{sid}/result/chunks/0").status_code == 400
    clock.advance(0.5)
    gone = api.get(f"{STATEMENTS}/{sid}")
    assert gone.status_code == 404 and gone.json()["error_code"] == "NOT_FOUND"
    unknown = api.get(f"{STATEMENTS}/01ef0000-0000-0000-0000-000000000000")
    assert unknown.status_code == 404 and unknown.json()["error_code"] == "NOT_FOUND"


def test_read_files_parquet_keeps_exact_decimals_and_utc_microseconds(api):
    """The bulk path's staged Parquet files: typed columns (DECIMAL(38,9), UTC TIMESTAMP) named c0...,
    merged with the same projection; nothing is rounded on the way."""
    import io
    from datetime import UTC, datetime
    from decimal import Decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    api.ok(CREATE)
    api.ok("CREATE VOLUME IF NOT EXISTS lake.raw.stage")
    table = pa.table(
        {
            "c0": pa.array([7, 8], pa.int64()),
            "c1": pa.array(["2024-05-06", None], pa.string()),
            "c2": pa.array([Decimal(BIG), Decimal("-0.000000001")], pa.decimal128(38, 9)),
            "c3": pa.array(
                [
                    datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
                    datetime(1999, 12, 31, 23, 59, 59, 999999),
                ],
                pa.timestamp("us", tz="UTC"),
            ),
            "c4": pa.array(["t", "t"], pa.string()),
        }
    )
    body = io.BytesIO()
    pq.write_table(table, body)
    url = "/api/2.0/fs/files/Volumes/lake/raw/stage/p1/part-00000.parquet"
    assert api.put(url, data=body.getvalue()).status_code == 204
    source = f"SELECT {PROJECTION} FROM read_files('/Volumes/lake/raw/stage/p1', format => 'parquet')"
    assert api.ok(merge(source)) == [["2", "0", "0", "2"]]
    query = (
        f"SELECT `k`, `a b;c`, `x``y`, `ts`, CAST(unix_micros(`ts`) % 1000 AS STRING) FROM {T} ORDER BY `k`"
    )
    assert api.ok(query) == [
        ["7", "2024-05-06", BIG, "2024-05-06T07:08:09.123Z", "456"],
        ["8", None, "-0.000000001", "1999-12-31T23:59:59.999Z", "999"],
    ]
