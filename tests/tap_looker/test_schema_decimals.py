"""tap-looker declares amounts exact, so target-databricks with default settings keeps them exact."""

from __future__ import annotations

from decimal import Decimal

import pytest
from databricks_emulator import DatabricksEmulator
from databricks_emulator import EmulatorConfig as DatabricksConfig
from tap_looker.schema import column_for
from tap_looker.tap import TapLooker

from tests.support.databricks import land_with_defaults, record, schema
from tests.support.looker import tap_config

AMOUNTS = [Decimal("1234567.8912"), Decimal("-0.01"), Decimal("99999999999999999999.999999999")]


@pytest.fixture
def dbx(tmp_path):
    with DatabricksEmulator(DatabricksConfig(port=0, data_dir=str(tmp_path / "dbx"))) as emu:
        yield emu


def discovered(emu) -> dict:
    entries = TapLooker(config=tap_config(emu), parse_env_config=False).catalog_dict["streams"]
    return next(e for e in entries if e["tap_stream_id"] == "overhead_allocation")


def test_amount_fields_are_declared_exact(emulator):
    props = discovered(emulator)["schema"]["properties"]
    hinted = {name: prop["x-sql-datatype"] for name, prop in props.items() if "x-sql-datatype" in prop}
    assert hinted == {"allocated_amount": "decimal(38,9)"}
    assert props["allocated_amount"]["type"] == ["number", "null"]


@pytest.mark.parametrize(
    ("meta", "hint"),
    [
        ({"type": "sum", "is_numeric": True, "value_format_name": "usd"}, "decimal(38,9)"),
        ({"type": "number", "is_numeric": True}, "decimal(38,9)"),
        ({"type": "max", "is_numeric": True}, "decimal(38,9)"),
        # Statistics and ratios may have any number of decimal places: plain numbers.
        ({"type": "average", "is_numeric": True, "value_format_name": "usd"}, None),
        ({"type": "median", "is_numeric": True}, None),
        ({"type": "percentile", "is_numeric": True}, None),
        ({"type": "number", "is_numeric": True, "value_format_name": "percent_2"}, None),
        ({"type": "count", "is_numeric": True}, None),
    ],
)
def test_statistics_and_percentages_stay_plain_numbers(meta, hint):
    column = column_for({"name": "v.f", **meta}, "f")
    assert column.schema.get("x-sql-datatype") == hint


def test_amounts_land_exactly_in_databricks_with_default_settings(tmp_path, emulator, dbx):
    entry = discovered(emulator)
    keys = entry["key_properties"]
    messages = [schema("overhead_allocation", entry["schema"]["properties"], keys)]
    for n, amount in enumerate(AMOUNTS):
        rec = {key: f"K{n}" for key in keys} | {"allocated_amount": amount}
        messages.append(record("overhead_allocation", rec))
    sql_type, landed = land_with_defaults(tmp_path, dbx, messages, "overhead_allocation", "allocated_amount")
    assert "decimal(38,9)" in sql_type
    assert all(isinstance(value, Decimal) for value in landed)
    assert landed == sorted(AMOUNTS)
