"""tap-sage-intacct declares its amounts exact, so target-databricks with default settings keeps them exact."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from databricks_emulator import DatabricksEmulator
from databricks_emulator import EmulatorConfig as DatabricksConfig
from deltalake import DeltaTable
from tap_sage_intacct import objects

from tests.tap_sage_intacct.conftest import catalog
from tests.target_databricks.loadrun import CATALOG, SCHEMA_NAME, record, rows, run_target, schema

AMOUNTS = [Decimal("1234567.8912"), Decimal("-0.01"), Decimal("99999999999999999999.999999999")]


@pytest.fixture
def dbx(tmp_path):
    with DatabricksEmulator(DatabricksConfig(port=0, data_dir=str(tmp_path / "dbx"))) as emu:
        yield emu


def stream_schema(config: dict, stream: str) -> dict:
    entries = catalog(config, [stream])["streams"]
    return next(e for e in entries if e["tap_stream_id"] == stream)["schema"]


def hinted(props: dict) -> dict[str, str]:
    return {name: prop["x-sql-datatype"] for name, prop in props.items() if "x-sql-datatype" in prop}


def test_decimal_fields_and_their_lines_are_declared_exact(config):
    props = stream_schema(config, objects.APBILL.name)["properties"]
    decimals = {name for name, kind in objects.APBILL.fields if kind == "decimal"}
    assert decimals == {"TOTALENTERED", "TOTALPAID", "TOTALDUE"}
    assert hinted(props) == dict.fromkeys(decimals, "decimal(38,9)")
    lines = props[objects.APBILL.line_items.array]["items"]["properties"]
    assert hinted(lines) == dict.fromkeys(("AMOUNT", "TRX_AMOUNT"), "decimal(38,9)")


def test_amounts_land_exactly_in_databricks_with_default_settings(tmp_path, config, dbx):
    stream = objects.APBILL.name
    messages = [schema(stream, stream_schema(config, stream)["properties"], ["RECORDNO"])]
    messages += [record(stream, {"RECORDNO": n, "TOTALDUE": amount}) for n, amount in enumerate(AMOUNTS)]
    target = tmp_path / "target.json"
    # No number_type: the target's default (DOUBLE for plain numbers) is what users outside the project get.
    target.write_text(
        json.dumps(
            {
                "host": dbx.base_url,
                "warehouse_id": "sandbox-warehouse",
                "catalog": CATALOG,
                "schema": SCHEMA_NAME,
                "client_id": "sandbox-sp",
                "client_secret": "sandbox-sp-secret",
            }
        )
    )
    run = run_target(str(target), messages)
    assert run.returncode == 0, run.stderr[-3000:]
    column = next(f for f in DeltaTable(dbx.table_path(CATALOG, SCHEMA_NAME, stream)).schema().fields if f.name == "TOTALDUE")
    assert "decimal(38,9)" in str(column.type)
    landed = sorted(row["TOTALDUE"] for row in rows(dbx, stream))
    assert all(isinstance(value, Decimal) for value in landed)
    assert landed == sorted(AMOUNTS)
