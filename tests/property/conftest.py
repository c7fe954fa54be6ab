"""The loaders of the round-trip properties, each with its emulator started once per test module."""

from __future__ import annotations

import pytest
from databricks_emulator import DatabricksEmulator
from databricks_emulator import EmulatorConfig as DatabricksConfig

from tests.support.loaders import (
    BIGQUERY_READER,
    SNOWFLAKE_READER,
    BigQuery,
    Databricks,
    DuckDB,
    Reader,
    Snowflake,
)
from tests.support.meltano import ROOT
from tests.support.servers import answering, free_port, listening, start_server, stop

FAKESNOW = ROOT / ".tools" / "fakesnow" / "bin"
BQ_VENV = ROOT / ".tools" / "bqemulator-venv" / "bin"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("property")


@pytest.fixture(scope="module")
def databricks(workdir):
    with DatabricksEmulator(DatabricksConfig(port=0, data_dir=str(workdir / "dbx"))) as emu:
        emu.knobs.retry_after_s = 0
        yield Databricks(emu, workdir)


@pytest.fixture(scope="module")
def duckdb_loader(workdir):
    return DuckDB(workdir)


@pytest.fixture(scope="module")
def snowflake(workdir):
    server = FAKESNOW / "snowflake-compat-server"
    assert server.exists(), f"{server} is missing: run `make snowflake-emulator`"
    port = free_port()
    proc = start_server(
        [str(server), "--port", str(port)], workdir / "fakesnow.log", listening(port), "fakesnow", 120
    )
    reader = Reader(FAKESNOW / "python", SNOWFLAKE_READER, [str(port)], {}, workdir / "snowflake-reader.log")
    try:
        yield Snowflake(port, reader, workdir)
    finally:
        reader.close()
        stop(proc)


@pytest.fixture(scope="module")
def bigquery(workdir):
    sandbox = BQ_VENV / "bigquery-sandbox"
    assert sandbox.exists(), f"{sandbox} is missing: run `make bigquery-emulator`"
    rest_port, grpc_port = free_port(), free_port()
    credentials = workdir / "service-account.json"
    rest_url = f"http://127.0.0.1:{rest_port}"

    proc = start_server(
        [
            str(sandbox),
            "--rest-port",
            str(rest_port),
            "--grpc-port",
            str(grpc_port),
            "--project",
            "test-project",
            "--credentials-out",
            str(credentials),
        ],
        workdir / "bigquery-sandbox.log",
        answering(f"{rest_url}/bigquery/v2/projects/test-project/datasets"),
        "bqemulator",
        180,
    )
    env = {"BIGQUERY_EMULATOR_HOST": rest_url}
    reader = Reader(
        BQ_VENV / "python",
        BIGQUERY_READER,
        ["test-project", str(credentials)],
        env,
        workdir / "bigquery-reader.log",
    )
    try:
        yield BigQuery(rest_url, credentials, reader, workdir)
    finally:
        reader.close()
        stop(proc)


@pytest.fixture(scope="module")
def acumatica():
    from acumatica_emulator import AcumaticaEmulator, EmulatorConfig

    with AcumaticaEmulator(EmulatorConfig(port=0)) as emu:
        yield emu
