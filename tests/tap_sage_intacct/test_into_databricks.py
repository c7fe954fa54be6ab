"""tap-sage-intacct | target-databricks into the Databricks emulator: Delta tables equal the
Intacct emulator's records row for row, and a second run from the target's STATE upserts changes."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from databricks_emulator import DatabricksEmulator
from databricks_emulator import EmulatorConfig as DatabricksConfig

from tests.support.intacct import after_this_second, as_emitted, delta_rows, files, mismatches

TARGET = str(Path(sys.executable).parent / "target-databricks")
STREAMS = {"vendors": "VENDOR", "ap_bills": "APBILL"}


@pytest.fixture
def databricks(tmp_path):
    with DatabricksEmulator(DatabricksConfig(port=0, data_dir=str(tmp_path / "dbx"))) as emu:
        yield emu


def pipe(tmp_path, config: dict, databricks, state: dict | None = None) -> tuple[list[dict], dict]:
    """One run of the tap into the target; the target's STATE messages and the tap's schemas."""
    (tmp_path / "target.json").write_text(
        json.dumps(
            {
                "host": databricks.base_url,
                "warehouse_id": "sandbox-warehouse",
                "catalog": "workspace",
                "schema": "intacct",
                "client_id": "sandbox-sp",
                "client_secret": "sandbox-sp-secret",
            }
        )
    )
    tap = subprocess.Popen(
        files(tmp_path, config, list(STREAMS), state), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    tee = tap.stdout.read()
    assert tap.wait(timeout=60) == 0
    target = subprocess.run(
        [TARGET, "--config", str(tmp_path / "target.json")],
        input=tee,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert target.returncode == 0, target.stderr[-4000:]
    schemas = {}
    for line in tee.splitlines():
        message = json.loads(line)
        if message["type"] == "SCHEMA":
            schemas[message["stream"]] = message["schema"]
    return [json.loads(line) for line in target.stdout.splitlines() if line.strip()], schemas


def test_intacct_streams_land_in_delta_row_for_row_and_a_rerun_upserts(tmp_path, intacct, config, databricks):
    states, schemas = pipe(tmp_path, config, databricks)
    assert states, "the target emitted no STATE"

    def check() -> None:
        for stream, obj in STREAMS.items():
            rows = [as_emitted(r, schemas[stream]) for r in delta_rows(databricks, stream)]
            assert not mismatches(schemas[stream], rows, intacct.store.records(obj)), stream
        bills = {
            r["RECORDNO"]: r
            for r in (as_emitted(r, schemas["ap_bills"]) for r in delta_rows(databricks, "ap_bills"))
        }
        for bill in bills.values():
            assert sum(Decimal(str(line["AMOUNT"])) for line in bill["APBILLITEMS"]) == bill["TOTALENTERED"]

    check()
    intacct.store.modify("VENDOR", 4, {"NAME": "Changed for the rerun"})
    intacct.store.insert("APBILL", {"TOTALENTERED": "0.00", "DESCRIPTION": "inserted for the rerun"})
    after_this_second()
    pipe(tmp_path, config, databricks, state=states[-1])
    check()
