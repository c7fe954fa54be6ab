"""End to end: `meltano run tap-acumatica target-bigquery` into the local BigQuery emulator.

bqemulator runs from its own venv (.tools/bqemulator-venv, built here when missing) with the fixes of
emulators/bigquery-compat; the loader signs in with a freshly generated service account at a local
token endpoint, and finds the emulator through BIGQUERY_EMULATOR_HOST. The tables are read back with
google-cloud-bigquery from that venv.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml

from tests.test_e2e_meltano import MELTANO, ROOT, assert_landed_equal_source, meltano_run

pytestmark = pytest.mark.e2e

BQ_VENV = ROOT / ".tools" / "bqemulator-venv"
SETUP_VENV = ROOT / "emulators" / "bigquery-compat" / "setup_venv.py"
LOADER_VENV = ROOT / ".meltano" / "loaders" / "target-bigquery" / "venv"
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
#: The finance streams, plus AR invoices, whose stream name is the table name bills are loaded to.
SELECT = json.dumps([f"{stream}.*" for stream in TABLES.values()])

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


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
            [MELTANO, "install", "loader", "target-bigquery"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert install.returncode == 0, install.stderr[-4000:]

    rest_port, grpc_port = free_port(), free_port()
    credentials = tmp_path / "service-account.json"
    log = (tmp_path / "bigquery-sandbox.log").open("w")
    proc = subprocess.Popen(
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
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    rest_url = f"http://127.0.0.1:{rest_port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "bigquery-sandbox.log").read_text()[-4000:]
            try:
                if requests.get(f"{rest_url}/bigquery/v2/projects/{PROJECT}/datasets", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "bqemulator did not answer within 60 s"
            time.sleep(0.3)
        assert credentials.exists()
        yield Sandbox(rest_url, credentials)
    finally:
        stop(proc)
        log.close()


def bigquery_run(tmp_path: Path, emulator, sandbox: Sandbox) -> None:
    meltano_run(
        tmp_path,
        "target-bigquery",
        TAP_ACUMATICA_BASE_URL=emulator.base_url,
        BIGQUERY_EMULATOR_HOST=sandbox.rest_url,
        TARGET_BIGQUERY_PROJECT=PROJECT,
        TARGET_BIGQUERY_CREDENTIALS_PATH=str(sandbox.credentials),
        TAP_ACUMATICA__SELECT=SELECT,
    )


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


def assert_tables_equal_source(tables: dict[str, list[dict]], emulator) -> None:
    assert sorted(tables) == sorted(TABLES), "the dataset holds exactly the selected streams' tables"
    assert_landed_equal_source(tables, emulator, streams=TABLES, column=str)


@pytest.mark.timeout(900)  # includes building the bqemulator venv on a fresh machine
def test_meltano_run_into_bigquery_lands_the_finance_tables_and_reruns_upsert(tmp_path, emulator, bigquery):
    started = time.monotonic()
    bigquery_run(tmp_path, emulator, bigquery)
    first = read_tables(bigquery)
    assert_tables_equal_source(first, emulator)
    assert all(first[table] for table in TABLES), {t: len(r) for t, r in first.items()}
    # Detail lines land as repeated records, compared line by line above.
    assert all(isinstance(row["Details"], list) for row in first["invoices"])
    assert any(row["Details"] for row in first["invoices"])

    emulator.store.modify("Bill", ("Bill", "000003"), {"Description": "changed between runs"})
    emulator.store.modify("Vendor", ("V000002",), {"VendorName": "Renamed Vendor Ltd"})
    added = emulator.store.insert("Bill", {"Description": "added between runs"})

    bigquery_run(tmp_path, emulator, bigquery)
    second = read_tables(bigquery)
    assert_tables_equal_source(second, emulator)
    bills = {r["ReferenceNbr"]: r for r in second["invoices"] if r["Type"] == "Bill"}
    assert bills["000003"]["Description"] == "changed between runs"
    assert bills[added["ReferenceNbr"]]["Description"] == "added between runs"
    vendors = {r["VendorID"]: r for r in second["vendors"]}
    assert vendors["V000002"]["VendorName"] == "Renamed Vendor Ltd"
    assert len(second["invoices"]) == len(first["invoices"]) + 1
    print(f"two runs and reads in {time.monotonic() - started:.1f} s")
