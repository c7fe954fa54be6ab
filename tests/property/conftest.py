"""The loaders of the round-trip properties, each with its emulator started once per test module."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import pytest
import requests
from databricks_emulator import DatabricksEmulator
from databricks_emulator import EmulatorConfig as DatabricksConfig

from tests.property.loaders import (
    BIGQUERY_READER,
    SNOWFLAKE_READER,
    BigQuery,
    Databricks,
    DuckDB,
    Reader,
    Snowflake,
)
from tests.support.meltano import ROOT

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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server(command: list[str], log_path, ready, what: str, timeout: float):
    """Start ``command`` in its own process group and wait until ``ready()``; returns the process."""
    log = log_path.open("w")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, log_path.read_text()[-3000:]
        if time.monotonic() > deadline:
            _stop(proc)
            raise AssertionError(f"{what} did not start within {timeout:.0f} s")
        time.sleep(0.2)
    return proc


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _listening(port: int):
    def ready() -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    return ready


@pytest.fixture(scope="module")
def snowflake(workdir):
    server = FAKESNOW / "snowflake-compat-server"
    assert server.exists(), f"{server} is missing: run `make snowflake-emulator`"
    port = _free_port()
    proc = _server(
        [str(server), "--port", str(port)], workdir / "fakesnow.log", _listening(port), "fakesnow", 30
    )
    reader = Reader(FAKESNOW / "python", SNOWFLAKE_READER, [str(port)], {}, workdir / "snowflake-reader.log")
    try:
        yield Snowflake(port, reader, workdir)
    finally:
        reader.close()
        _stop(proc)


@pytest.fixture(scope="module")
def bigquery(workdir):
    sandbox = BQ_VENV / "bigquery-sandbox"
    assert sandbox.exists(), f"{sandbox} is missing: run `make bigquery-emulator`"
    rest_port, grpc_port = _free_port(), _free_port()
    credentials = workdir / "service-account.json"
    rest_url = f"http://127.0.0.1:{rest_port}"

    def ready() -> bool:
        try:
            return requests.get(f"{rest_url}/bigquery/v2/projects/test-project/datasets", timeout=2).ok
        except requests.ConnectionError:
            return False

    proc = _server(
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
        ready,
        "bqemulator",
        60,
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
        _stop(proc)


@pytest.fixture(scope="module")
def acumatica():
    from acumatica_emulator import AcumaticaEmulator, EmulatorConfig

    with AcumaticaEmulator(EmulatorConfig(port=0)) as emu:
        yield emu
