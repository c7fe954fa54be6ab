"""The run id in the load-audit table: Meltano's (MELTANO_RUN_ID) when set, checked, and added to an
audit table made by an earlier version."""

from __future__ import annotations

import uuid

from target_databricks import sql
from target_databricks.audit import AUDIT_COLUMNS, AUDIT_TABLE

from tests.support.databricks import (
    BILL_PROPS,
    CATALOG,
    SCHEMA_NAME,
    audit,
    bills,
    by_id,
    rows,
    run_in_process,
    run_target,
    schema,
    stat,
    state,
    write_config,
)

AUDIT_TABLE = sql.qualified_name(CATALOG, SCHEMA_NAME, AUDIT_TABLE)


def test_audit_rows_carry_the_run_id_meltano_set(tmp_path, dbx, monkeypatch):
    upsert_id, overwrite_id = str(uuid.uuid4()), str(uuid.uuid4())
    monkeypatch.setenv("MELTANO_RUN_ID", upsert_id)
    messages = [schema("bills", BILL_PROPS, ["id"]), *bills([1, 2, 3]), state(1)]
    first = run_in_process(write_config(tmp_path, dbx, batch_size_rows=2), messages)
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stderr.count(f"Run id {upsert_id}") == 1
    assert [(a["status"], a["run_id"]) for a in audit(dbx)] == [("committed", upsert_id)] * 2

    # Overwrite stages under the run's id (hex, a valid name) and audits the swap with it.
    monkeypatch.setenv("MELTANO_RUN_ID", overwrite_id.upper())
    second = run_in_process(write_config(tmp_path, dbx, load_method="overwrite"), messages)
    assert second.returncode == 0, second.stderr[-3000:]
    assert sorted(by_id(rows(dbx, "bills"))) == [1, 2, 3]
    by_run = sorted((a["status"], a["run_id"]) for a in audit(dbx) if a["run_id"] != upsert_id)
    assert by_run == [("committed", overwrite_id), ("staged", overwrite_id)]
    swap = next(a for a in audit(dbx) if a["run_id"] == overwrite_id and a["status"] == "committed")
    assert swap["load_token"] == f"overwrite:{overwrite_id}"


def test_an_invalid_meltano_run_id_fails_naming_the_variable(tmp_path, dbx, monkeypatch):
    monkeypatch.setenv("MELTANO_RUN_ID", "run-42")
    result = run_target(write_config(tmp_path, dbx), [schema("bills", BILL_PROPS, ["id"]), *bills([1])])
    assert result.returncode != 0
    assert "MELTANO_RUN_ID must be a UUID" in result.stderr and "'run-42'" in result.stderr
    assert stat(dbx, "statements_succeeded") == 0


def test_an_audit_table_without_run_id_gets_the_column(tmp_path, dbx, monkeypatch):
    earlier = [c for c in AUDIT_COLUMNS if c.name != "run_id"]
    dbx.query(sql.create_schema(CATALOG, SCHEMA_NAME))
    dbx.query(f"CREATE TABLE {AUDIT_TABLE} ({sql.column_definitions(earlier)}) USING DELTA")
    dbx.query(f"INSERT INTO {AUDIT_TABLE} (`stream`, `status`) VALUES ('x', 'committed')")
    run_id = str(uuid.uuid4())
    monkeypatch.setenv("MELTANO_RUN_ID", run_id)
    messages = [schema("bills", BILL_PROPS, ["id"]), *bills([1, 2])]

    result = run_in_process(write_config(tmp_path, dbx), messages)
    assert result.returncode == 0, result.stderr[-3000:]
    described = sql.parse_describe(dbx.query(f"DESCRIBE TABLE {AUDIT_TABLE}"))
    assert list(described.values()) == AUDIT_COLUMNS
    assert {a["stream"]: a["run_id"] for a in audit(dbx)} == {"x": None, "bills": run_id}
    assert sorted(by_id(rows(dbx, "bills"))) == [1, 2]

    again = run_in_process(write_config(tmp_path, dbx), messages)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Adding columns" not in again.stderr and "already committed; skipped" in again.stderr
    assert len(audit(dbx)) == 2
