"""End to end: `meltano run tap-acumatica target-duckdb`, warehouse rows equal the source."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.support.compare import instant
from tests.support.meltano import (
    FLOWS,
    KILLED_RUN_BATCH_ROWS,
    KILLED_RUN_LATENCY_MS,
    VERSION,
    assert_tables_equal_source,
    duckdb_run,
    meltano_run,
    warehouse,
)

pytestmark = pytest.mark.e2e


def test_meltano_run_lands_every_stream_and_reruns_upsert_changes(tmp_path, emulator):
    duckdb_run(tmp_path, emulator.base_url)
    assert_tables_equal_source(tmp_path, emulator)

    emulator.store.modify("Bill", ("Bill", "000003"), {"Description": "changed between runs"})
    emulator.store.modify("Vendor", ("V000002",), {"VendorName": "Renamed Vendor Ltd"})
    added = emulator.store.insert("Bill", {"Description": "added between runs"})

    second_started = datetime.now(UTC).replace(tzinfo=None)
    duckdb_run(tmp_path, emulator.base_url)
    assert_tables_equal_source(tmp_path, emulator)
    bills = {r["referencenbr"]: r for r in warehouse(tmp_path, "bills")}
    assert bills["000003"]["description"] == "changed between runs"
    assert added["ReferenceNbr"] in bills
    # The second run moved only the changed records (plus full-table subaccounts).
    moved = {
        stream: sum(1 for r in warehouse(tmp_path, stream) if r["_sdc_extracted_at"] >= second_started)
        for stream in FLOWS
    }
    subaccounts = len(emulator.store.records("Subaccount", VERSION))
    assert moved == {**dict.fromkeys(FLOWS, 0), "bills": 2, "vendors": 1, "subaccounts": subaccounts}, moved


def test_meltano_run_into_databricks_lands_every_stream_and_reruns_upsert(tmp_path, emulator):
    """The first run's loader is killed mid-load; the replayed job lands every stream once; reruns upsert."""
    from databricks_emulator import DatabricksEmulator
    from databricks_emulator import EmulatorConfig as DatabricksConfig
    from deltalake import DeltaTable

    from tests.support.replay import (
        assert_killed_mid_load,
        assert_traceable,
        kill_loader_mid_load,
        meltano_runs,
        replay,
    )

    with DatabricksEmulator(DatabricksConfig(port=0, data_dir=str(tmp_path / "dbx"))) as databricks:
        env = {"TAP_ACUMATICA_BASE_URL": emulator.base_url, "TARGET_DATABRICKS_HOST": databricks.base_url}

        def rows(table: str) -> list[dict]:
            path = databricks.table_path("workspace", "acumatica", table)
            return DeltaTable(path).to_pyarrow_table().to_pylist() if DeltaTable.is_deltatable(path) else []

        def check() -> None:
            for stream, (entity, keys) in FLOWS.items():
                source = {
                    tuple(r[k] for k in keys): r
                    for r in emulator.store.records(entity, VERSION, expand=("Details",))
                }
                landed_rows = rows(stream)
                landed = {tuple(r[k] for k in keys): r for r in landed_rows}
                assert len(landed) == len(landed_rows), f"{stream}: duplicate keys in the Delta table"
                assert landed.keys() == source.keys(), f"{stream}: keys differ"
                for key, record in source.items():
                    for field, value in record.items():
                        if field in ("id", "custom", "note") or field not in landed[key]:
                            continue
                        got = landed[key][field]
                        if isinstance(value, list):
                            got = json.loads(got)
                        elif hasattr(got, "isoformat"):
                            got = got.isoformat()
                        assert_exact(got, value, f"{stream} {key} {field}")

        # Slow requests and small batches: batches commit while the tap still reads later streams.
        emulator.knobs.latency_ms = KILLED_RUN_LATENCY_MS
        killed = kill_loader_mid_load(
            tmp_path,
            "target-databricks",
            lambda: bool(rows("_sdc_load_audit")),
            TARGET_DATABRICKS_BATCH_SIZE_ROWS=str(KILLED_RUN_BATCH_ROWS),
            **env,
        )
        emulator.knobs.latency_ms = 0
        assert_killed_mid_load(
            tmp_path,
            killed,
            "sandbox:tap-acumatica-to-target-databricks",
            {stream: rows(stream) for stream in FLOWS},
            emulator,
            column=str,
        )
        replayed, _ = replay(tmp_path, "acumatica-to-databricks", **env)
        assert meltano_runs(tmp_path)[replayed] == "SUCCESS"
        check()
        landed = {stream: rows(stream) for stream in FLOWS}
        runs = {killed.run_id, replayed}
        assert_traceable(landed, rows("_audit_runs"), emulator, run_ids=runs, replayed=replayed, column=str)
        # Each row's load token is a committed load of the audit table, made by one of the two runs.
        loads = {load["load_token"]: load for load in rows("_sdc_load_audit")}
        for stream, landed_rows in landed.items():
            for row in landed_rows:
                load = loads[row["_sdc_load_token"]]
                assert load["status"] == "committed" and load["stream"] == stream, (stream, load)
                assert load["run_id"] in runs, (stream, load["run_id"], runs)

        emulator.store.modify("Bill", ("Bill", "000008"), {"Description": "changed before run 2"})
        emulator.store.modify(
            "JournalTransaction",
            ("GL", emulator.store.records("JournalTransaction", VERSION)[0]["BatchNbr"]),
            {"Description": "journal changed"},
        )
        meltano_run(tmp_path, "target-databricks", **env)
        check()


def assert_exact(landed, source, where: str) -> None:
    """Databricks keeps types: decimals exact, timestamps as instants, lines as JSON."""
    if isinstance(source, list):
        assert len(landed) == len(source), where
        for got, want in zip(landed, source, strict=True):
            for name, value in want.items():
                if name in got and not isinstance(value, dict | list):
                    assert_exact(got[name], value, f"{where}.{name}")
    elif source is None:
        assert landed is None, where
    elif isinstance(source, bool):
        assert landed is source, where
    elif isinstance(source, int | Decimal):
        assert Decimal(str(landed)) == Decimal(str(source)), (where, landed, source)
    elif isinstance(source, str) and len(source) >= 19 and source[10] == "T":
        assert instant(str(landed)) == instant(source), (where, landed, source)
    else:
        assert landed == source, (where, landed, source)
