"""End to end: `meltano run tap-acumatica target-bigquery--sandbox` into the local BigQuery emulator.

target-bigquery--sandbox is target-bigquery with emulators/bigquery-compat in its own venv; the
production target-bigquery venv holds no shim.

bqemulator runs from its own venv (.tools/bqemulator-venv, built here when missing) with the fixes of
emulators/bigquery-compat; the loader signs in with a freshly generated service account at a local
token endpoint, and finds the emulator through BIGQUERY_EMULATOR_HOST. The tables are read back with
google-cloud-bigquery from that venv.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml

from tests.support.meltano import (
    KILLED_RUN_BATCH_ROWS,
    KILLED_RUN_LATENCY_MS,
    MELTANO,
    ROOT,
    assert_landed_equal_source,
    meltano_run,
)
from tests.support.replay import (
    assert_failed_state_behind_landed,
    assert_part_landed,
    assert_traceable,
    kill_loader_mid_load,
    meltano_runs,
    replay,
)
from tests.support.servers import answering, free_port, start_server, stop

pytestmark = pytest.mark.e2e

BQ_VENV = ROOT / ".tools" / "bqemulator-venv"
SETUP_VENV = ROOT / "emulators" / "bigquery-compat" / "setup_venv.py"
#: The sandbox's loader: inherits target-bigquery, adds emulators/bigquery-compat to its own venv.
LOADER = "target-bigquery--sandbox"
LOADER_VENV = ROOT / ".meltano" / "loaders" / LOADER / "venv"
PROJECT = "test-project"
DATASET = "acumatica"
#: BigQuery table -> tap stream it is loaded from (meltano/bigquery.meltano.yml's stream maps)
TABLES = {
    "vendors": "vendors",
    "invoices": "bills",
    "purchase_orders": "purchase_orders",
    "payments": "ap_payments",
    "gl_entries": "journal_transactions",
    "ar_invoices": "invoices",
}
#: The run's own record: the tap's stream and its table.
RUNS = "_audit_runs"
#: The finance streams, plus AR invoices, whose stream name is the table name bills are loaded to, and
#: the run's record.
SELECT = json.dumps([f"{stream}.*" for stream in [*TABLES.values(), RUNS]])
#: A staging table of the loader's upsert, `<table>__<YYYYmmddHHMMSS>__<uuid4>`: each stream's batches
#: are loaded into one, which is merged into the table and dropped when the input ends. Created to
#: expire a day later.
STAGING = re.compile(r"(?P<table>\w+?)__\d{14}__[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

READ_TABLES = """
import json, sys
from google.cloud import bigquery
project, dataset, credentials = sys.argv[1:4]
client = bigquery.Client.from_service_account_json(credentials, project=project)
tables = sorted(t.table_id for t in client.list_tables(f"{project}.{dataset}", timeout=30))
rows = {
    name: [dict(row) for row in client.query(f"SELECT * FROM `{project}.{dataset}.{name}`", timeout=30)
           .result(timeout=60)]
    for name in tables
}
json.dump(rows, sys.stdout, default=str)
"""


@dataclass
class Sandbox:
    rest_url: str
    credentials: Path


@pytest.fixture
def bigquery(tmp_path: Path) -> Iterator[Sandbox]:
    # Always run: a no-op when the pins are installed, and it picks up changes to bigquery-compat.
    started = time.monotonic()
    build = subprocess.run(
        [sys.executable, str(SETUP_VENV), "--venv", str(BQ_VENV)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert build.returncode == 0, f"bqemulator venv could not be built:\n{build.stderr[-4000:]}"
    print(f"bqemulator venv ready in {time.monotonic() - started:.1f} s")
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    included = [path for pattern in project.get("include_paths", []) for path in ROOT.glob(pattern)]
    assert ROOT / "meltano" / "bigquery.meltano.yml" in [p.resolve() for p in included], (
        "meltano.yml must include ./meltano/*.meltano.yml (include_paths) for target-bigquery"
    )
    if not any(LOADER_VENV.glob("lib/python*/site-packages/bigquery_compat.pth")):
        install = subprocess.run(
            [MELTANO, "install", "loader", LOADER],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert install.returncode == 0, install.stderr[-4000:]

    rest_port, grpc_port = free_port(), free_port()
    credentials = tmp_path / "service-account.json"
    rest_url = f"http://127.0.0.1:{rest_port}"

    proc = start_server(
        [
            str(BQ_VENV / "bin" / "bigquery-sandbox"),
            "--rest-port",
            str(rest_port),
            "--grpc-port",
            str(grpc_port),
            "--project",
            PROJECT,
            "--credentials-out",
            str(credentials),
        ],
        tmp_path / "bigquery-sandbox.log",
        answering(f"{rest_url}/bigquery/v2/projects/{PROJECT}/datasets"),
        "bqemulator",
        180,
    )
    try:
        assert credentials.exists()
        yield Sandbox(rest_url, credentials)
    finally:
        stop(proc)


def bigquery_env(emulator, sandbox: Sandbox) -> dict[str, str]:
    return {
        "TAP_ACUMATICA_BASE_URL": emulator.base_url,
        "BIGQUERY_EMULATOR_HOST": sandbox.rest_url,
        "TARGET_BIGQUERY_PROJECT": PROJECT,
        "TARGET_BIGQUERY_CREDENTIALS_PATH": str(sandbox.credentials),
        "TAP_ACUMATICA__SELECT": SELECT,
    }


def staged_rows(sandbox: Sandbox) -> dict[str, int]:
    """Rows loaded so far into each staging table (numRows, which load jobs keep current)."""
    tables = f"{sandbox.rest_url}/bigquery/v2/projects/{PROJECT}/datasets/{DATASET}/tables"
    listing = requests.get(tables, timeout=10)
    if listing.status_code == 404:
        return {}
    listing.raise_for_status()
    names = [t["tableReference"]["tableId"] for t in listing.json().get("tables", [])]
    found = (requests.get(f"{tables}/{name}", timeout=10) for name in names if STAGING.fullmatch(name))
    return {t["tableReference"]["tableId"]: int(t["numRows"]) for t in (r.json() for r in found if r.ok)}


def read_tables(sandbox: Sandbox) -> dict[str, list[dict]]:
    proc = subprocess.run(
        [str(BQ_VENV / "bin" / "python"), "-c", READ_TABLES, PROJECT, DATASET, str(sandbox.credentials)],
        env={**os.environ, "BIGQUERY_EMULATOR_HOST": sandbox.rest_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout)


def assert_tables_equal_source(tables: dict[str, list[dict]], emulator, leftovers: dict[str, list[dict]]):
    """The selected streams' tables equal the source; besides them the dataset holds only ``leftovers``,
    unchanged (the staging tables a killed run left)."""
    assert sorted(tables) == sorted([*TABLES, RUNS, *leftovers]), "the dataset holds the selected streams"
    assert {name: sorted_rows(tables[name]) for name in leftovers} == {
        name: sorted_rows(rows) for name, rows in leftovers.items()
    }, "a staging table the killed run left changed"
    assert_landed_equal_source(tables, emulator, streams=TABLES, column=str)


def sorted_rows(rows: list[dict]) -> list[str]:
    return sorted(json.dumps(row, sort_keys=True, default=str) for row in rows)


@pytest.mark.timeout(900)  # includes building the bqemulator venv on a fresh machine
def test_meltano_run_into_bigquery_lands_the_finance_tables_and_reruns_upsert(tmp_path, emulator, bigquery):
    """The first run's loader is killed mid-load; the replayed job lands every table once; reruns upsert.

    The loader loads each stream's batches into a staging table and merges them into the table only
    when the input ends, so the killed run leaves the tables empty and its staging tables behind: the
    replay never reads them (it stages into new ones), and they stay until they expire, a day later.
    """
    started = time.monotonic()
    env = bigquery_env(emulator, bigquery)
    # Slow requests and small batches: batches are loaded while the tap still reads later streams.
    emulator.knobs.latency_ms = KILLED_RUN_LATENCY_MS
    killed = kill_loader_mid_load(
        tmp_path,
        LOADER,
        lambda: any(staged_rows(bigquery).values()),
        executable="target-bigquery",
        TARGET_BIGQUERY_BATCH_SIZE=str(KILLED_RUN_BATCH_ROWS),
        **env,
    )
    emulator.knobs.latency_ms = 0
    left = read_tables(bigquery)
    staging = {name: rows for name, rows in left.items() if STAGING.fullmatch(name)}
    assert set(left) - set(staging) <= set(TABLES) and not any(left.get(table) for table in TABLES), left
    staged = {
        table: [
            row for name, rows in staging.items() if STAGING.fullmatch(name)["table"] == table for row in rows
        ]
        for table in TABLES
    }
    assert_part_landed(staged, emulator, streams=TABLES)
    assert_failed_state_behind_landed(
        tmp_path,
        killed.run_id,
        f"sandbox:tap-acumatica-to-{LOADER}",
        left,
        emulator,
        streams=TABLES,
        column=str,
    )

    replayed, _ = replay(tmp_path, f"tap-acumatica {LOADER}", **env)
    assert meltano_runs(tmp_path)[replayed] == "SUCCESS"
    first = read_tables(bigquery)
    assert_tables_equal_source(first, emulator, leftovers=staging)
    assert all(first[table] for table in TABLES), {t: len(r) for t, r in first.items()}
    assert_traceable(
        first,
        first[RUNS],
        emulator,
        run_ids={killed.run_id, replayed},
        replayed=replayed,
        streams=TABLES,
        column=str,
    )
    # Detail lines land as repeated records, compared line by line above.
    assert all(isinstance(row["Details"], list) for row in first["invoices"])
    assert any(row["Details"] for row in first["invoices"])

    emulator.store.modify("Bill", ("Bill", "000003"), {"Description": "changed between runs"})
    emulator.store.modify("Vendor", ("V000002",), {"VendorName": "Renamed Vendor Ltd"})
    added = emulator.store.insert("Bill", {"Description": "added between runs"})

    meltano_run(tmp_path, LOADER, **env)
    second = read_tables(bigquery)
    assert_tables_equal_source(second, emulator, leftovers=staging)
    bills = {r["ReferenceNbr"]: r for r in second["invoices"] if r["Type"] == "Bill"}
    assert bills["000003"]["Description"] == "changed between runs"
    assert bills[added["ReferenceNbr"]]["Description"] == "added between runs"
    vendors = {r["VendorID"]: r for r in second["vendors"]}
    assert vendors["V000002"]["VendorName"] == "Renamed Vendor Ltd"
    assert len(second["invoices"]) == len(first["invoices"]) + 1
    print(f"killed run, replay, rerun and reads in {time.monotonic() - started:.1f} s")
