"""End to end: detect_deletes through `meltano run` into DuckDB and into Delta tables (Databricks
emulator): records deleted in Acumatica between runs are marked with _sdc_deleted_at."""

from __future__ import annotations

import json

import pytest
from databricks_emulator import DatabricksEmulator
from databricks_emulator import EmulatorConfig as DatabricksConfig
from deltalake import DeltaTable

from tests.support.meltano import meltano_run, warehouse

pytestmark = pytest.mark.e2e

DELETED = {("Bill", "000007"), ("Bill", "000042")}


def deletes_env(tmp_path, base_url: str) -> dict[str, str]:
    return {
        "TAP_ACUMATICA_BASE_URL": base_url,
        "TAP_ACUMATICA_DETECT_DELETES": json.dumps(["bills"]),
        "TAP_ACUMATICA_DETECT_DELETES_DIR": str(tmp_path / "keys"),
        "TAP_ACUMATICA__SELECT": json.dumps(["bills.*"]),
    }


def check(rows: list[dict], emulator, column=str) -> None:
    """Every bill of the source is live, every deleted one is marked, nothing else is."""
    live = {(r["Type"], r["ReferenceNbr"]) for r in emulator.store.records("Bill", "24.200.001")}
    landed = {(r[column("Type")], r[column("ReferenceNbr")]): r for r in rows}
    assert len(landed) == len(rows), "duplicate bills"
    assert set(landed) == live | DELETED
    marked = {key for key, row in landed.items() if row["_sdc_deleted_at"] is not None}
    assert marked == DELETED


def test_deleted_bills_are_marked_in_duckdb(tmp_path, emulator):
    env = {
        **deletes_env(tmp_path, emulator.base_url),
        "TARGET_DUCKDB_FILEPATH": str(tmp_path / "warehouse.duckdb"),
    }
    meltano_run(tmp_path, "target-duckdb", **env)
    for key in DELETED:
        emulator.store.delete("Bill", key)
    meltano_run(tmp_path, "target-duckdb", **env)
    check(warehouse(tmp_path, "bills"), emulator, column=str.lower)


def test_deleted_bills_are_soft_deleted_in_databricks(tmp_path, emulator):
    with DatabricksEmulator(DatabricksConfig(port=0, data_dir=str(tmp_path / "dbx"))) as databricks:
        env = {**deletes_env(tmp_path, emulator.base_url), "TARGET_DATABRICKS_HOST": databricks.base_url}
        meltano_run(tmp_path, "target-databricks", **env)
        descriptions = {
            (r["Type"], r["ReferenceNbr"]): r["Description"]
            for r in emulator.store.records("Bill", "24.200.001")
        }
        for key in DELETED:
            emulator.store.delete("Bill", key)
        meltano_run(tmp_path, "target-databricks", **env)
        path = databricks.table_path("workspace", "acumatica", "bills")
        rows = DeltaTable(path).to_pyarrow_table().to_pylist()
    check(rows, emulator)
    # Soft delete: the marked rows keep what they held before.
    for row in rows:
        key = (row["Type"], row["ReferenceNbr"])
        if key in DELETED:
            assert row["Description"] == descriptions[key]
