"""tap-acumatica | target-databricks into the Databricks emulator: Delta tables equal the source."""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from databricks_emulator import DatabricksEmulator
from databricks_emulator import EmulatorConfig as DatabricksConfig
from deltalake import DeltaTable

from tests.support.taprun import BIN, SANDBOX, TAP, _catalog, start_in_a_new_second

VERSION = "24.200.001"
TARGET = str(BIN / "target-databricks")


@pytest.fixture
def databricks(tmp_path):
    with DatabricksEmulator(DatabricksConfig(port=0, data_dir=str(tmp_path / "dbx"))) as emu:
        yield emu


def pipe(tmp_path, acumatica, databricks, state: dict | None = None) -> list[dict]:
    """One run of the tap into the target; returns the STATE messages the target wrote."""
    tap_config = {**SANDBOX, "base_url": acumatica.base_url}
    (tmp_path / "tap.json").write_text(json.dumps(tap_config))
    discovery_config = json.dumps({k: v for k, v in tap_config.items() if k != "base_url"}, sort_keys=True)
    (tmp_path / "catalog.json").write_text(json.dumps(_catalog(discovery_config, ["bills", "vendors"])))
    (tmp_path / "target.json").write_text(
        json.dumps(
            {
                "host": databricks.base_url,
                "warehouse_id": "sandbox-warehouse",
                "catalog": "workspace",
                "schema": "acumatica",
                "client_id": "sandbox-sp",
                "client_secret": "sandbox-sp-secret",
            }
        )
    )
    args = [TAP, "--config", str(tmp_path / "tap.json"), "--catalog", str(tmp_path / "catalog.json")]
    if state is not None:
        (tmp_path / "state.json").write_text(json.dumps(state))
        args += ["--state", str(tmp_path / "state.json")]
    tap = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    target = subprocess.run(
        [TARGET, "--config", str(tmp_path / "target.json")],
        stdin=tap.stdout,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert tap.wait(timeout=60) == 0
    assert target.returncode == 0, target.stderr[-4000:]
    return [json.loads(line) for line in target.stdout.splitlines() if line.strip()]


def exact(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def delta_rows(databricks, table: str) -> list[dict]:
    return DeltaTable(databricks.table_path("workspace", "acumatica", table)).to_pyarrow_table().to_pylist()


def test_bills_and_vendors_land_exactly_and_a_rerun_upserts(tmp_path, emulator, databricks):
    states = pipe(tmp_path, emulator, databricks)
    assert states, "the target emitted no STATE"

    def check() -> dict[str, dict]:
        source = {r["ReferenceNbr"]: r for r in emulator.store.records("Bill", VERSION)}
        rows = delta_rows(databricks, "bills")
        landed = {r["ReferenceNbr"]: r for r in rows}
        assert len(landed) == len(rows), "duplicate bills in the Delta table"
        assert landed.keys() == source.keys()
        for key, record in source.items():
            row = landed[key]
            assert isinstance(row["Amount"], Decimal), "amounts must land as exact decimals"
            assert exact(row["Amount"]) == record["Amount"], key
            lines = json.loads(row["Details"])
            assert [exact(line["Amount"]) for line in lines] == [d["Amount"] for d in record["Details"]]
            assert row["Description"] == record["Description"]
        vendors = {r["VendorID"]: r for r in delta_rows(databricks, "vendors")}
        assert vendors.keys() == {r["VendorID"] for r in emulator.store.records("Vendor", VERSION)}
        return landed

    check()
    emulator.store.modify("Bill", ("Bill", "000004"), {"Description": "changed for the rerun"})
    emulator.store.insert(
        "Bill",
        {
            "Vendor": "V000003",
            "Amount": "70.10",
            "Description": "inserted for the rerun",
            "Details": [{"Account": "60000", "Amount": "70.10", "Description": "Courier"}],
        },
    )
    start_in_a_new_second(emulator)
    pipe(tmp_path, emulator, databricks, state=states[-1])
    landed = check()
    assert landed["000004"]["Description"] == "changed for the rerun"
    # No staging tables (as Delta directories or in the catalog) and no staged files are left behind.
    schema_dir = Path(databricks.table_path("workspace", "acumatica", "bills")).parent
    assert sorted(p.name for p in schema_dir.iterdir()) == ["_sdc_load_audit", "bills", "vendors"]
    assert all(not r[1].startswith("__tdbx") for r in databricks.query("SHOW TABLES IN workspace.acumatica"))
    volume = databricks.warehouse.volume_root("workspace", "acumatica", "_sdc_staging")
    assert not volume.exists() or list(volume.rglob("*")) == []
