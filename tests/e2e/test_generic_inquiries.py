"""End to end: `meltano run tap-acumatica--inquiries <loader>` lands the emulator's Generic Inquiries
(AP aging through OData v3, trial balance through OData v4) row for row, and reruns land changes."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from tests.support.compare import same_value
from tests.support.inquiries import INQUIRY_STREAMS, source_rows
from tests.support.meltano import assert_same, meltano_run, warehouse

pytestmark = pytest.mark.e2e

TAP = "tap-acumatica--inquiries"


def assert_landed_equal_inquiries(tables: dict[str, list[dict]], emulator, exact: bool, column=str) -> None:
    """Every inquiry table holds the emulator's current rows: same keys, no duplicates, same values."""
    for stream, (inquiry, keys) in INQUIRY_STREAMS.items():
        source = {tuple(r[k] for k in keys): r for r in source_rows(emulator, inquiry)}
        rows = tables[stream]
        landed = {tuple(r[column(k)] for k in keys): r for r in rows}
        assert len(landed) == len(rows), f"{stream}: duplicate keys in the warehouse"
        assert landed.keys() == source.keys(), f"{stream}: keys differ from inquiry {inquiry}"
        for key, record in source.items():
            for field, value in record.items():
                got = landed[key][column(field)]
                where = f"{stream} {key} {field}"
                if exact:
                    got = got.isoformat() if hasattr(got, "isoformat") else got
                    assert same_value(got, value), (where, got, value)
                else:
                    assert_same(got, value, where)


def change_between_runs(emulator) -> str:
    """Change a bill's balance (its aging row) and a journal line (a trial balance row)."""
    open_refs = sorted(r["RefNbr"] for r in source_rows(emulator, "APAgingDetail"))
    emulator.store.modify("Bill", ("Bill", open_refs[5]), {"Balance": Decimal("17.25")})
    batch = emulator.store.records("JournalTransaction", "24.200.001", expand=("Details",))[0]
    # One more cent on each debit line, the sum more on the credit line: the batch stays balanced.
    lines = [dict(line) for line in batch["Details"]]
    debits = [line for line in lines if line["DebitAmount"]]
    for line in debits:
        line["DebitAmount"] += Decimal("0.01")
    next(line for line in lines if line["CreditAmount"])["CreditAmount"] += Decimal("0.01") * len(debits)
    emulator.store.modify("JournalTransaction", ("GL", batch["BatchNbr"]), {"Details": lines})
    return open_refs[5]


def test_meltano_run_lands_inquiries_into_duckdb_and_reruns_upsert(tmp_path, emulator):
    env = {
        "TAP_ACUMATICA_BASE_URL": emulator.base_url,
        "TARGET_DUCKDB_FILEPATH": str(tmp_path / "warehouse.duckdb"),
    }
    meltano_run(tmp_path, "target-duckdb", tap=TAP, **env)
    tables = lambda: {stream: warehouse(tmp_path, stream) for stream in INQUIRY_STREAMS}  # noqa: E731
    assert_landed_equal_inquiries(tables(), emulator, exact=False, column=str.lower)
    # The sandbox selects the inquiry streams only.
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        landed = {t for (t,) in con.execute("select table_name from information_schema.tables").fetchall()}
    assert landed == set(INQUIRY_STREAMS)

    changed = change_between_runs(emulator)
    meltano_run(tmp_path, "target-duckdb", tap=TAP, **env)
    landed = tables()
    assert_landed_equal_inquiries(landed, emulator, exact=False, column=str.lower)
    assert {r["refnbr"]: r for r in landed["ap_aging"]}[changed]["balance"] == pytest.approx(17.25)


def test_meltano_run_lands_inquiries_into_databricks_exactly(tmp_path, emulator):
    from databricks_emulator import DatabricksEmulator
    from databricks_emulator import EmulatorConfig as DatabricksConfig
    from deltalake import DeltaTable

    with DatabricksEmulator(DatabricksConfig(port=0, data_dir=str(tmp_path / "dbx"))) as databricks:
        env = {"TAP_ACUMATICA_BASE_URL": emulator.base_url, "TARGET_DATABRICKS_HOST": databricks.base_url}

        def tables() -> dict[str, list[dict]]:
            out = {}
            for stream in INQUIRY_STREAMS:
                path = databricks.table_path("workspace", "acumatica", stream)
                out[stream] = DeltaTable(path).to_pyarrow_table().to_pylist()
            return out

        meltano_run(tmp_path, "target-databricks", tap=TAP, **env)
        assert_landed_equal_inquiries(tables(), emulator, exact=True)
        changed = change_between_runs(emulator)
        meltano_run(tmp_path, "target-databricks", tap=TAP, **env)
        landed = tables()
        assert_landed_equal_inquiries(landed, emulator, exact=True)
        assert {r["RefNbr"]: r for r in landed["ap_aging"]}[changed]["Balance"] == Decimal("17.25")
