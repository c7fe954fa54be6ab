"""SQL Statement Execution API over raw HTTP: states, polling, cancel, validation, parameters, SQL forms."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests
from databricks_emulator import DatabricksEmulator, EmulatorConfig
from deltalake import DeltaTable

STATEMENTS = "/api/2.0/sql/statements"


def test_failed_statement_is_http_200_with_error(api):
    body = api.sql("SELECT * FROM lake.raw.nope")
    assert body["status"]["state"] == "FAILED"
    assert body["status"]["error"]["error_code"] == "BAD_REQUEST"
    assert body["status"]["error"]["message"].startswith("[TABLE_OR_VIEW_NOT_FOUND]")
    assert "result" not in body


def test_slow_statement_is_polled_until_succeeded(api, emulator):
    emulator.knobs.statement_delay_s = 1.0
    body = api.sql("SELECT 42 AS answer", wait_timeout="0s")
    assert body["status"]["state"] in ("PENDING", "RUNNING")
    states = []
    while body["status"]["state"] in ("PENDING", "RUNNING"):
        time.sleep(0.1)
        body = api.get(f"{STATEMENTS}/{body['statement_id']}").json()
        states.append(body["status"]["state"])
    assert states[-1] == "SUCCEEDED" and body["result"]["data_array"] == [["42"]]
    assert emulator.stats.polls >= 2


def test_cancel_a_running_statement(api, emulator):
    emulator.knobs.statement_delay_s = 5.0
    body = api.sql("INSERT INTO lake.raw.never VALUES (1)", wait_timeout="0s")
    answer = api.post(f"{STATEMENTS}/{body['statement_id']}/cancel")
    assert answer.status_code == 200
    for _ in range(50):
        body = api.get(f"{STATEMENTS}/{body['statement_id']}").json()
        if body["status"]["state"] == "CANCELED":
            break
        time.sleep(0.05)
    assert body["status"]["state"] == "CANCELED"


@pytest.mark.parametrize("wait", ["1s", "4s", "51s", "10", "ten"])
def test_wait_timeout_outside_0_or_5_to_50_is_400(api, wait):
    answer = api.post(
        STATEMENTS, json={"statement": "SELECT 1", "warehouse_id": "sandbox-warehouse", "wait_timeout": wait}
    )
    assert answer.status_code == 400 and answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_statement_over_16_mib_is_400_and_unknown_warehouse_404(api):
    huge = "SELECT '" + "x" * (16 * 1024 * 1024) + "'"
    answer = api.post(STATEMENTS, json={"statement": huge, "warehouse_id": "sandbox-warehouse"})
    assert answer.status_code == 400 and answer.json()["error_code"] == "BAD_REQUEST"
    answer = api.post(STATEMENTS, json={"statement": "SELECT 1", "warehouse_id": "nope"})
    assert answer.status_code == 404 and answer.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_named_parameters_null_decimal_date_timestamp(api):
    rows = api.ok(
        "SELECT :s AS s, :n AS n, :d AS d, :day AS day, :ts AS ts, :b AS b, :i + 1 AS i, :x AS x",
        [
            {"name": "s", "value": "it's; `x`"},
            {"name": "n"},
            {"name": "d", "value": "99999999999999999999999999999999.123456", "type": "DECIMAL(38,6)"},
            {"name": "day", "value": "2024-02-29", "type": "DATE"},
            {"name": "ts", "value": "2024-02-29T12:34:56.789Z", "type": "TIMESTAMP"},
            {"name": "b", "value": "true", "type": "BOOLEAN"},
            {"name": "i", "value": "41", "type": "INT"},
            {"name": "x", "value": None, "type": "BIGINT"},
        ],
    )
    assert rows == [
        [
            "it's; `x`",
            None,
            "99999999999999999999999999999999.123456",
            "2024-02-29",
            "2024-02-29T12:34:56.789Z",
            "true",
            "42",
            None,
        ]
    ]


def test_merge_from_values_upserts_and_delta_matches_duckdb(api, emulator):
    api.ok(
        "CREATE TABLE IF NOT EXISTS lake.raw.items (id BIGINT, name STRING, price DECIMAL(38,2), "
        "tags ARRAY<STRUCT<k: STRING, v: INT>>, attrs MAP<STRING, STRING>, at TIMESTAMP) USING DELTA"
    )
    api.ok(
        "INSERT INTO lake.raw.items VALUES (1, 'one', 1.10, array(named_struct('k', 'a', 'v', 1)), "
        "map('x', 'y'), TIMESTAMP'2024-01-01 00:00:00')"
    )
    merge = (
        "MERGE INTO lake.raw.items AS t USING (SELECT * FROM VALUES (1, 'uno', 9.99), (2, 'two', 2.20) "
        "AS s(id, name, price)) s ON t.id = s.id WHEN MATCHED THEN UPDATE SET t.name = s.name, "
        "t.price = s.price WHEN NOT MATCHED THEN INSERT (id, name, price) VALUES (s.id, s.name, s.price)"
    )
    assert api.ok(merge) == [["2", "1", "0", "1"]]
    api.ok(
        "MERGE INTO lake.raw.items t USING (SELECT * FROM VALUES (2, 'dos', 2.00, NULL, NULL, NULL) "
        "AS s(id, name, price, tags, attrs, at)) s ON t.id = s.id "
        "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
    )
    rows = api.ok("SELECT id, name, price, tags, attrs, at FROM lake.raw.items ORDER BY id")
    assert rows == [
        ["1", "uno", "9.99", '[{"k":"a","v":1}]', '{"x":"y"}', "2024-01-01T00:00:00.000Z"],
        ["2", "dos", "2.00", None, None, None],
    ]
    delta = DeltaTable(emulator.table_path("lake", "raw", "items")).to_pyarrow_table().sort_by("id")
    assert delta.column("id").to_pylist() == [1, 2]
    assert [str(p) for p in delta.column("price").to_pylist()] == ["9.99", "2.00"]
    assert emulator.query("SELECT count(*) FROM lake.raw.items") == [(2,)]
    assert emulator.stats.statements_merge == 2


def test_merge_from_read_files_over_uploaded_json(api, emulator):
    api.ok("CREATE TABLE lake.raw.people (id BIGINT, name STRING, balance DECIMAL(38,2))")
    api.ok("INSERT INTO lake.raw.people VALUES (1, 'ann', 1.00)")
    lines = [{"id": 1, "name": "ann b", "balance": 10.25}, {"id": 2, "name": "bob", "balance": 0.10}]
    put = api.put(
        "/api/2.0/fs/files/Volumes/lake/raw/stage/batch1/part-0.json?overwrite=true",
        data="\n".join(json.dumps(r) for r in lines).encode(),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert put.status_code in (200, 204)
    api.ok(
        "MERGE INTO lake.raw.people AS t USING (SELECT * FROM read_files('/Volumes/lake/raw/stage/batch1/', "
        "format => 'json')) AS s ON t.id = s.id WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
    )
    assert api.ok("SELECT * FROM lake.raw.people ORDER BY id") == [
        ["1", "ann b", "10.25"],
        ["2", "bob", "0.10"],
    ]


def test_copy_into_is_idempotent(api, emulator):
    api.ok("CREATE TABLE lake.raw.events (id INT, kind STRING, amount DECIMAL(10,3))")
    csv = b"id,kind,amount\n1,a,1.125\n2,b,2.250\n"
    api.put("/api/2.0/fs/files/Volumes/lake/raw/stage/csv/e1.csv", data=csv)
    copy = (
        "COPY INTO lake.raw.events FROM '/Volumes/lake/raw/stage/csv' FILEFORMAT = CSV "
        "FORMAT_OPTIONS ('header' = 'true') COPY_OPTIONS ('mergeSchema' = 'true')"
    )
    assert api.ok(copy)[0][:2] == ["2", "2"]
    assert api.ok(copy)[0][:2] == ["0", "0"]
    assert api.ok("SELECT count(*), sum(amount) FROM lake.raw.events") == [["2", "3.375"]]
    assert emulator.stats.statements_copy == 2


def test_alter_table_add_columns_keeps_rows(api):
    api.ok("CREATE TABLE lake.raw.grow (id BIGINT)")
    api.ok("INSERT INTO lake.raw.grow VALUES (1), (2)")
    api.ok("ALTER TABLE lake.raw.grow ADD COLUMNS (note STRING COMMENT 'new', amt DECIMAL(38,4))")
    assert api.ok("SELECT * FROM lake.raw.grow ORDER BY id") == [["1", None, None], ["2", None, None]]
    described = api.ok("DESCRIBE TABLE lake.raw.grow")
    assert [r[:2] for r in described] == [["id", "bigint"], ["note", "string"], ["amt", "decimal(38,4)"]]


def test_alter_table_add_columns_refuses_existing_and_repeated_names(api, emulator):
    api.ok("CREATE TABLE lake.raw.grow (id BIGINT, note STRING)")
    existing = api.sql("ALTER TABLE lake.raw.grow ADD COLUMNS (extra STRING, `NOTE` STRING)")
    assert existing["status"]["state"] == "FAILED" and existing["status"]["sql_state"] == "42710"
    assert existing["status"]["error"]["message"].startswith("[FIELD_ALREADY_EXISTS]")
    repeated = api.sql("ALTER TABLE lake.raw.grow ADD COLUMNS (extra STRING, Extra BIGINT)")
    assert repeated["status"]["sql_state"] == "42711"
    assert "DELTA_DUPLICATE_COLUMNS_FOUND" in repeated["status"]["error"]["message"]
    assert [r[0] for r in api.ok("DESCRIBE TABLE lake.raw.grow")] == ["id", "note"]
    assert DeltaTable(emulator.table_path("lake", "raw", "grow")).schema().to_arrow().names == ["id", "note"]


def test_hostile_identifiers_and_values_round_trip(api, emulator):
    table = 'lake.raw.`we``ird; "tbl" é`'
    api.ok(f'CREATE TABLE {table} (`select` STRING, `a``b;c` BIGINT, `ü "q"` STRING) USING DELTA')
    value = "quote ' dq \" bt ` semi ; nl \n emoji 🎉 \\ backslash"
    api.ok(f"INSERT INTO {table} VALUES (:v, 7, NULL)", [{"name": "v", "value": value}])
    assert api.ok(f'SELECT `select`, `a``b;c`, `ü "q"` FROM {table}') == [[value, "7", None]]
    names = [r[1] for r in api.ok("SHOW TABLES IN lake.raw")]
    assert 'we`ird; "tbl" é' in names
    delta = DeltaTable(emulator.table_path("lake", "raw", 'we`ird; "tbl" é')).to_pyarrow_table()
    assert delta.column("select").to_pylist() == [value]


def test_failure_injection_and_dropped_connection_still_applies(api, emulator):
    api.ok("CREATE TABLE lake.raw.once (id BIGINT)")
    emulator.fail_next_statements(1, "TEMPORARILY_UNAVAILABLE")
    body = api.sql("INSERT INTO lake.raw.once VALUES (1)")
    assert body["status"]["state"] == "FAILED"
    assert body["status"]["error"]["error_code"] == "TEMPORARILY_UNAVAILABLE"
    emulator.drop_after_accept_next(1)
    with pytest.raises(requests.ConnectionError):
        api.post(
            STATEMENTS,
            json={
                "statement": "INSERT INTO lake.raw.once VALUES (2)",
                "warehouse_id": "sandbox-warehouse",
                "wait_timeout": "10s",
            },
        )
    assert emulator.query("SELECT id FROM lake.raw.once") == [(2,)]
    emulator.http_fail_next(1, status=503)
    answer = api.post(STATEMENTS, json={"statement": "SELECT 1", "warehouse_id": "sandbox-warehouse"})
    assert answer.status_code == 503 and answer.headers["Retry-After"].isdigit()


def test_chunks_and_delete_and_drop(api, emulator):
    emulator.knobs.chunk_rows = 3
    api.ok("CREATE TABLE lake.raw.nums AS SELECT * FROM range(7) AS r(n)")
    body = api.sql("SELECT n FROM lake.raw.nums ORDER BY n")
    assert body["manifest"]["total_chunk_count"] == 3 and body["result"]["next_chunk_index"] == 1
    last = api.get(f"{STATEMENTS}/{body['statement_id']}/result/chunks/2").json()
    assert last["data_array"] == [["6"]] and last["row_offset"] == 6
    api.ok("DELETE FROM lake.raw.nums WHERE n > 2")
    assert api.ok("SELECT count(*) FROM lake.raw.nums") == [["3"]]
    api.ok("DROP TABLE IF EXISTS lake.raw.nums")
    api.ok("DROP TABLE IF EXISTS lake.raw.nums")


def test_restart_with_same_data_dir_keeps_tables(tmp_path):
    config = dict(data_dir=str(tmp_path / "keep"))
    with DatabricksEmulator(EmulatorConfig(**config)) as emu:
        emu.query("CREATE CATALOG c1")
        emu.query("CREATE SCHEMA c1.s1")
        emu.query("CREATE TABLE c1.s1.t (id BIGINT, amt DECIMAL(38,2))")
        emu.query("INSERT INTO c1.s1.t VALUES (1, 1.50), (2, NULL)")
        emu.query("CREATE VOLUME c1.s1.v")
    with DatabricksEmulator(EmulatorConfig(**config)) as emu:
        assert [(i, str(a)) for i, a in emu.query("SELECT * FROM c1.s1.t ORDER BY id")] == [
            (1, "1.50"),
            (2, "None"),
        ]
        assert emu.query("SHOW VOLUMES IN c1.s1") == [("s1", "v")]


def test_drop_table_removes_its_delta_directory_and_stays_dropped_after_restart(tmp_path):
    """Databricks deletes a dropped managed table's data (UNDROP aside); the emulator deletes it at once."""
    config = dict(data_dir=str(tmp_path / "drop"))
    with DatabricksEmulator(EmulatorConfig(**config)) as emu:
        emu.knobs.delta_commit_delay_s = 0.2  # a pending commit must not bring the table back either
        emu.query("CREATE SCHEMA workspace.s1")
        emu.query("CREATE TABLE workspace.s1.keep (id BIGINT)")
        emu.query("CREATE OR REPLACE TABLE workspace.s1.`__stage x` (id BIGINT)")
        emu.query("INSERT INTO workspace.s1.`__stage x` VALUES (1), (2)")
        path = Path(emu.table_path("workspace", "s1", "__stage x"))
        assert (path / "_delta_log").is_dir()
        emu.query("INSERT INTO workspace.s1.`__stage x` VALUES (3)")
        emu.query("DROP TABLE IF EXISTS `workspace`.`s1`.`__stage x`")
        emu.warehouse.flush()
        assert not path.exists()
        assert [r[1] for r in emu.query("SHOW TABLES IN workspace.s1")] == ["keep"]
    with DatabricksEmulator(EmulatorConfig(**config)) as emu:
        assert [r[1] for r in emu.query("SHOW TABLES IN workspace.s1")] == ["keep"]
        assert not path.exists()
