"""databricks-sdk 0.156.0, unmodified, against the emulator: OAuth M2M, PAT, statements, files."""

from __future__ import annotations

import io
import time

import databricks_emulator.auth
from databricks.sdk import WorkspaceClient
from databricks.sdk.service.sql import StatementParameterListItem, StatementState

from tests.support.clock import emulator_clock


def _oauth(emulator) -> WorkspaceClient:
    return WorkspaceClient(host=emulator.base_url, client_id="sandbox-sp", client_secret="sandbox-sp-secret")


def test_oauth_m2m_create_insert_select_keeps_decimals_exact(emulator):
    w = _oauth(emulator)
    run = w.statement_execution.execute_statement

    assert (
        run(
            statement="CREATE TABLE IF NOT EXISTS workspace.default.money (id BIGINT, amt DECIMAL(38,10), "
            "note STRING) USING DELTA",
            warehouse_id="sandbox-warehouse",
        ).status.state
        == StatementState.SUCCEEDED
    )
    big = "1234567890123456789012345678.0123456789"
    insert = run(
        statement="INSERT INTO workspace.default.money VALUES (:id, :amt, :note)",
        warehouse_id="sandbox-warehouse",
        parameters=[
            StatementParameterListItem(name="id", value="1", type="BIGINT"),
            StatementParameterListItem(name="amt", value=big, type="DECIMAL(38,10)"),
            StatementParameterListItem(name="note", value=None),
        ],
    )
    assert insert.status.state == StatementState.SUCCEEDED
    got = run(
        statement="SELECT id, amt, note, amt * 2 AS doubled FROM money",
        warehouse_id="sandbox-warehouse",
        catalog="workspace",
        schema="default",
    )
    assert got.status.state == StatementState.SUCCEEDED
    assert got.result.data_array == [["1", big, None, "2469135780246913578024691356.0246913578"]]
    columns = got.manifest.schema.columns
    assert [c.type_text for c in columns[:3]] == ["BIGINT", "DECIMAL(38,10)", "STRING"]
    assert emulator.stats.tokens_issued >= 1


def test_pat_auth_and_volume_upload_download(emulator):
    w = WorkspaceClient(host=emulator.base_url, token="dapi-sandbox-token")
    w.statement_execution.execute_statement(
        statement="CREATE VOLUME workspace.default.files", warehouse_id="sandbox-warehouse"
    )
    payload = b'{"id": 1}\n' * 1000
    w.files.upload("/Volumes/workspace/default/files/in/batch.json", io.BytesIO(payload), overwrite=True)
    assert w.files.download("/Volumes/workspace/default/files/in/batch.json").contents.read() == payload
    listed = [e.name for e in w.files.list_directory_contents("/Volumes/workspace/default/files/in")]
    assert listed == ["batch.json"]
    assert emulator.stats.uploads == 1 and emulator.stats.bytes_uploaded == len(payload)


def test_sdk_retries_429_with_retry_after(emulator):
    w = _oauth(emulator)
    emulator.http_fail_next(2, status=429)
    started = time.monotonic()
    got = w.statement_execution.execute_statement(
        statement="SELECT 1 AS one", warehouse_id="sandbox-warehouse"
    )
    assert got.result.data_array == [["1"]]
    assert emulator.stats.rate_limited == 2
    assert time.monotonic() - started >= 1.5  # honoured Retry-After: 1 twice


def test_expired_token_is_401_and_sdk_refreshes(emulator, tmp_path, monkeypatch):
    import requests

    clock = emulator_clock(monkeypatch, databricks_emulator.auth)
    emulator.knobs.token_lifetime_s = 2
    token = requests.post(
        emulator.base_url + "/oidc/v1/token",
        auth=("sandbox-sp", "sandbox-sp-secret"),
        data={"grant_type": "client_credentials", "scope": "all-apis"},
    ).json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 2
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    body = {"statement": "SELECT 1", "warehouse_id": "sandbox-warehouse"}
    assert (
        requests.post(emulator.base_url + "/api/2.0/sql/statements", json=body, headers=headers).status_code
        == 200
    )
    clock.advance(2.1)
    expired = requests.post(emulator.base_url + "/api/2.0/sql/statements", json=body, headers=headers)
    assert expired.status_code == 401 and expired.json()["error_code"] == "UNAUTHENTICATED"

    w = _oauth(emulator)
    issued = emulator.stats.tokens_issued
    for _ in range(2):
        assert w.statement_execution.execute_statement(**body).status.state == StatementState.SUCCEEDED
        time.sleep(2.1)
    assert w.statement_execution.execute_statement(**body).status.state == StatementState.SUCCEEDED
    assert emulator.stats.tokens_issued >= issued + 2


def test_bad_client_secret_is_invalid_client(emulator):
    import requests

    answer = requests.post(
        emulator.base_url + "/oidc/v1/token",
        auth=("sandbox-sp", "wrong"),
        data={"grant_type": "client_credentials", "scope": "all-apis"},
    )
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"
