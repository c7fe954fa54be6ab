"""tap-sage-intacct declares amounts exact, so target-databricks with default settings keeps them exact."""

from __future__ import annotations

from decimal import Decimal

import pytest
from databricks_emulator import DatabricksEmulator
from databricks_emulator import EmulatorConfig as DatabricksConfig
from tap_sage_intacct import objects

from tests.support.databricks import land_with_defaults, record, schema
from tests.support.intacct import catalog

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
    sql_type, landed = land_with_defaults(tmp_path, dbx, messages, stream, "TOTALDUE")
    assert "decimal(38,9)" in sql_type
    assert all(isinstance(value, Decimal) for value in landed)
    assert landed == sorted(AMOUNTS)
