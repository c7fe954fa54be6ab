"""The sandbox demo (`make demo`, scripts/demo.py): the warehouse its default flow lands in keeps amounts
exact and empty strings empty; the whole default flow runs with one command; the sandbox's shims stay
out of the production plugins."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import yaml
from databricks_emulator import DatabricksEmulator
from databricks_emulator import EmulatorConfig as DatabricksConfig
from deltalake import DeltaTable

from tests.support.meltano import MELTANO, ROOT, meltano_env

_spec = importlib.util.spec_from_file_location("demo", ROOT / "scripts" / "demo.py")
demo = sys.modules["demo"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(demo)

#: Values a finance warehouse must keep as they were sent.
AMOUNT = "1234567.8912"
SCHEMA = {
    "type": "SCHEMA",
    "stream": "bills",
    "key_properties": ["Type", "ReferenceNbr"],
    "schema": {
        "type": "object",
        "properties": {
            "Type": {"type": "string"},
            "ReferenceNbr": {"type": "string"},
            # Declared exact as tap-acumatica declares its DecimalValue fields.
            "Amount": {"type": ["number", "null"], "x-sql-datatype": "decimal(38,9)"},
            "Description": {"type": ["string", "null"]},
        },
    },
}
RECORDS = [
    {"Type": "Bill", "ReferenceNbr": "000001", "Amount": AMOUNT, "Description": ""},
    {"Type": "Bill", "ReferenceNbr": "000002", "Amount": "0.10", "Description": "ten cents"},
]


def singer_input() -> str:
    # Amounts written as JSON numbers with every digit, as the taps write them.
    lines = [json.dumps(SCHEMA)]
    for record in RECORDS:
        text = json.dumps({"type": "RECORD", "stream": "bills", "record": {**record, "Amount": "@"}})
        lines.append(text.replace('"@"', record["Amount"]))
    return "\n".join(lines) + "\n"


def invoke_loader(tmp_path: Path, loader: str, **env: str) -> None:
    """`meltano --environment=sandbox invoke <loader>` with the bills above."""
    proc = subprocess.run(
        [MELTANO, "--environment=sandbox", "invoke", loader],
        input=singer_input(),
        cwd=ROOT,
        env=meltano_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]


def land_in(tmp_path: Path, loader: str) -> dict[str, dict]:
    """The bills above, loaded by ``loader`` with its sandbox settings; landed rows by ReferenceNbr."""
    if loader == "target-databricks":
        with DatabricksEmulator(DatabricksConfig(port=0, data_dir=str(tmp_path / "delta"))) as databricks:
            invoke_loader(
                tmp_path,
                loader,
                TARGET_DATABRICKS_HOST=databricks.base_url,
                TARGET_DATABRICKS_SCHEMA="acumatica",
                TARGET_DATABRICKS_FAILED_BATCH_DIR=str(tmp_path / "failed"),
            )
            rows = (
                DeltaTable(databricks.table_path("workspace", "acumatica", "bills"))
                .to_pyarrow_table()
                .to_pylist()
            )
    elif loader == "target-duckdb":
        path = tmp_path / "warehouse.duckdb"
        invoke_loader(
            tmp_path,
            loader,
            TARGET_DUCKDB_FILEPATH=str(path),
            TARGET_DUCKDB_DEFAULT_TARGET_SCHEMA="acumatica",
        )
        with duckdb.connect(str(path), read_only=True) as con:
            cursor = con.execute("select * from acumatica.bills")
            names = [d[0] for d in cursor.description]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    else:
        pytest.fail(f"no reader for {loader}")
    return {
        row.get("ReferenceNbr") or row.get("referencenbr"): {k.lower(): v for k, v in row.items()}
        for row in rows
    }


@pytest.mark.e2e
def test_the_default_demo_warehouse_keeps_amounts_exact_and_empty_strings(tmp_path):
    """`make demo`'s loader lands 1234567.8912 as that decimal (not a float near it) and '' as ''."""
    landed = land_in(tmp_path, demo.FLOWS[demo.DEFAULT_FLOW].loader)
    amounts = {nbr: row["amount"] for nbr, row in landed.items()}
    assert all(isinstance(a, Decimal) for a in amounts.values()), f"amounts are not decimals: {amounts!r}"
    assert amounts == {"000001": Decimal(AMOUNT), "000002": Decimal("0.10")}
    assert sum(amounts.values()) == Decimal("1234567.9912")
    assert landed["000001"]["description"] == ""
    assert landed["000002"]["description"] == "ten cents"


@pytest.mark.e2e
def test_target_duckdb_has_the_limits_the_readme_names(tmp_path):
    """Why target-duckdb 0.8.0 is off the default path: amounts become DOUBLE, '' becomes NULL."""
    landed = land_in(tmp_path, "target-duckdb")
    assert isinstance(landed["000001"]["amount"], float)
    assert landed["000001"]["description"] is None


@pytest.mark.e2e
@pytest.mark.timeout(900)
def test_make_demo_runs_the_default_flow_in_one_command(tmp_path):
    """`scripts/demo.py` (what `make demo` runs) starts its emulators, runs the flow twice and lands the
    changed records in place: the bill it adds with an empty description keeps it, its amount exact."""
    out = tmp_path / "output"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py"), "--free-ports", "--output", str(out)],
        cwd=ROOT,
        env=meltano_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Emulators stopped." in proc.stdout
    bills = (
        DeltaTable(str(out / "databricks" / "workspace" / "acumatica" / "bills"))
        .to_pyarrow_table()
        .to_pylist()
    )
    by_description = {}
    for bill in bills:
        by_description.setdefault(bill["Description"], []).append(bill)
    (added,) = by_description[""]
    assert added["Amount"] == Decimal("1234567.89") and isinstance(added["Amount"], Decimal)
    assert len(by_description["Approved by AP clerk"]) == 3
    assert len({(b["Type"], b["ReferenceNbr"]) for b in bills}) == len(bills), "a bill landed twice"


def plugin_definitions() -> dict[str, dict]:
    files = [ROOT / "meltano.yml", *sorted((ROOT / "meltano").glob("*.meltano.yml"))]
    return {
        plugin["name"]: plugin
        for path in files
        for plugins in (yaml.safe_load(path.read_text()).get("plugins") or {}).values()
        for plugin in plugins
    }


@pytest.mark.parametrize("loader", ["target-snowflake", "target-bigquery"])
def test_sandbox_shims_are_only_in_the_sandbox_loaders(loader):
    """The production loaders install the target alone; the sandbox's inherit them and add the shim."""
    plugins = plugin_definitions()
    assert "emulators/" not in plugins[loader]["pip_url"]
    sandbox = plugins[f"{loader}--sandbox"]
    assert sandbox["inherit_from"] == loader
    assert sandbox["pip_url"].startswith(plugins[loader]["pip_url"] + " ./emulators/")
    assert {flow.loader for flow in demo.FLOWS.values()} >= {f"{loader}--sandbox"}
