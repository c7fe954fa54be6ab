"""Which path a batch takes (one inline statement, or files in the volume and one statement), the bulk
path of overwrite, and that staging tables and staged files are gone after loads and after failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.databricks import (
    BILL_PROPS,
    CATALOG,
    SCHEMA_NAME,
    audit,
    bills,
    by_id,
    rows,
    run_in_process,
    schema,
    state,
    write_config,
)


def leftovers(dbx) -> list[str]:
    """Staging tables (in the catalog or on disk) and anything in the staging volume."""
    tables = [r[1] for r in dbx.query(f"SHOW TABLES IN {CATALOG}.{SCHEMA_NAME}") if r[1].startswith("__tdbx")]
    schema_dir = Path(dbx.table_path(CATALOG, SCHEMA_NAME, "x")).parent
    on_disk = [p.name for p in schema_dir.iterdir() if p.name.startswith("__tdbx")]
    volume = Path(dbx.warehouse.volume_root(CATALOG, SCHEMA_NAME, "_sdc_staging"))
    staged = [str(p.relative_to(volume)) for p in volume.rglob("*")]
    return tables + on_disk + staged


def test_batch_that_fits_one_statement_goes_inline_else_through_the_volume(tmp_path, dbx):
    cfg = write_config(tmp_path, dbx)  # bulk_threshold_rows 5000, 256 parameters per statement
    small = run_in_process(cfg, [schema("bills", BILL_PROPS, ["id"]), *bills([1, 2]), state(1)])
    assert small.returncode == 0, small.stderr[-3000:]
    assert dbx.stats.uploads == 0 and dbx.stats.statements_merge == 1
    # 60 rows need more than one statement of parameters: no staging table and chunked inserts, but
    # one upload and one MERGE from read_files.
    merges, inserts = dbx.stats.statements_merge, dbx.stats.statements_insert
    larger = run_in_process(cfg, [schema("bills", BILL_PROPS, ["id"]), *bills(range(3, 63)), state(2)])
    assert larger.returncode == 0, larger.stderr[-3000:]
    assert dbx.stats.uploads == 1
    assert dbx.stats.statements_merge - merges == 1 and dbx.stats.statements_insert - inserts == 1  # + audit
    assert sorted(by_id(rows(dbx, "bills"))) == list(range(1, 63))
    assert leftovers(dbx) == []


@pytest.mark.parametrize("repeated", [False, True])
def test_bulk_rows_carry_their_batchs_load_token_and_time(tmp_path, dbx, repeated):
    # A batch without repeated keys is staged as its local spool, the token and time given by the
    # MERGE; one with repeated keys is rewritten with one row per key and them as columns.
    cfg = write_config(tmp_path, dbx, bulk_threshold_rows=10)
    again = bills(range(1, 11), "v2") if repeated else []
    run = run_in_process(cfg, [schema("bills", BILL_PROPS, ["id"]), *bills(range(1, 41)), *again, state(1)])
    assert run.returncode == 0, run.stderr[-3000:]
    assert dbx.stats.uploads == 1
    landed = by_id(rows(dbx, "bills"))
    assert sorted(landed) == list(range(1, 41))
    (entry,) = audit(dbx)
    assert {r["_sdc_load_token"] for r in landed.values()} == {entry["load_token"]}
    (batched_at,) = {r["_sdc_batched_at"] for r in landed.values()}
    assert entry["started_at"] <= batched_at <= entry["finished_at"]
    assert entry["rows"] == 40 and landed[1]["memo"] == ("v2-1" if repeated else "v1-1")


def test_overwrite_bulk_path_replaces_the_table_once_at_the_end(tmp_path, dbx):
    cfg = write_config(tmp_path, dbx, load_method="overwrite", bulk_threshold_rows=50, batch_size_rows=60)
    before = run_in_process(cfg, [schema("bills", BILL_PROPS, ["id"]), *bills([1000, 1001]), state(1)])
    assert before.returncode == 0, before.stderr[-3000:]
    assert dbx.stats.uploads == 0
    result = run_in_process(cfg, [schema("bills", BILL_PROPS, ["id"]), *bills(range(150)), state(2)])
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.states == [state(2)["value"]]  # held back while batches were staged, emitted after the swap
    # batches of 60, 60 and 30 rows: the two larger ones are one file and one INSERT into the stage each,
    # the last fits one INSERT of parameters
    assert dbx.stats.uploads == 2
    assert sorted(by_id(rows(dbx, "bills"))) == list(range(150))
    assert leftovers(dbx) == []


@pytest.mark.parametrize(
    ("settings", "failing"),
    [
        ({"bulk_threshold_rows": 0}, r"^MERGE INTO .*FROM `workspace`\.`loads`\.`__tdbx_stage_bills_"),
        ({"bulk_threshold_rows": 10}, r"^MERGE INTO .*read_files"),
        ({"load_method": "overwrite", "bulk_threshold_rows": 10}, r"^INSERT OVERWRITE"),
    ],
)
def test_staging_objects_are_dropped_after_a_load_and_after_a_failure(tmp_path, dbx, settings, failing):
    cfg = write_config(tmp_path, dbx, max_retries=1, failed_batch_dir=str(tmp_path / "failed"), **settings)
    ok = run_in_process(cfg, [schema("bills", BILL_PROPS, ["id"]), *bills(range(60)), state(1)])
    assert ok.returncode == 0, ok.stderr[-3000:]
    assert len(rows(dbx, "bills")) == 60
    assert leftovers(dbx) == []
    dbx.app.executor.fail_matching(failing, 1, "BAD_REQUEST")
    failed = run_in_process(cfg, [schema("bills", BILL_PROPS, ["id"]), *bills(range(60, 120)), state(2)])
    assert failed.returncode != 0 and failed.states == []
    assert "Injected failure: BAD_REQUEST." in failed.stderr  # the failure was the one injected
    assert sorted(by_id(rows(dbx, "bills"))) == list(range(60))
    assert leftovers(dbx) == []
