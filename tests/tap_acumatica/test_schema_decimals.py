"""tap-acumatica declares its exact decimals, so target-databricks with default settings keeps them exact."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from acumatica_client import catalog
from databricks_emulator import DatabricksEmulator
from databricks_emulator import EmulatorConfig as DatabricksConfig

from tests.support.databricks import land_with_defaults, record, schema
from tests.support.taprun import SANDBOX, _catalog

VERSION = "24.200.001"
AMOUNTS = [Decimal("1234567.8912"), Decimal("0.000001"), Decimal("99999999999999999999.999999999")]


@pytest.fixture
def dbx(tmp_path):
    with DatabricksEmulator(DatabricksConfig(port=0, data_dir=str(tmp_path / "dbx"))) as emu:
        yield emu


def discovered(stream: str) -> dict:
    entries = json.loads(json.dumps(_catalog(json.dumps(SANDBOX, sort_keys=True), [stream])))["streams"]
    return next(e for e in entries if e["tap_stream_id"] == stream)


def test_every_catalog_decimal_is_declared_exact_and_nothing_else():
    props = discovered("bills")["schema"]["properties"]
    kinds = catalog.fields(VERSION, "Bill")
    decimals = {name for name, kind in kinds.items() if kind == "DecimalValue"}
    assert {"Amount", "Balance"} <= decimals
    hinted = {name for name, prop in props.items() if "x-sql-datatype" in prop}
    assert hinted == decimals
    assert {props[name]["x-sql-datatype"] for name in hinted} == {"decimal(38,9)"}
    assert props["Amount"]["type"] == ["number", "null"]


def test_amounts_land_exactly_in_databricks_with_default_settings(tmp_path, dbx):
    entry = discovered("bills")
    keys = entry.get("key_properties") or []
    messages = [schema("bills", entry["schema"]["properties"], keys)]
    for n, amount in enumerate(AMOUNTS):
        rec = {key: f"K{n}" for key in keys} | {"id": f"id-{n}", "Amount": amount}
        messages.append(record("bills", rec))
    sql_type, landed = land_with_defaults(tmp_path, dbx, messages, "bills", "Amount")
    assert "decimal(38,9)" in sql_type
    assert all(isinstance(value, Decimal) for value in landed)
    assert landed == sorted(AMOUNTS)
