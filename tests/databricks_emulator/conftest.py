"""A live Databricks emulator per test, and a small raw-HTTP client for it."""

from __future__ import annotations

import pytest
import requests
from databricks_emulator import DatabricksEmulator, EmulatorConfig


class Api:
    """Raw HTTP against the emulator with a PAT, so tests read like the API reference."""

    def __init__(self, emulator: DatabricksEmulator, token: str = "dapi-sandbox-token") -> None:
        self.emu = emulator
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def post(self, path: str, **kw) -> requests.Response:
        return self.session.post(self.emu.base_url + path, timeout=60, **kw)

    def get(self, path: str, **kw) -> requests.Response:
        return self.session.get(self.emu.base_url + path, timeout=60, **kw)

    def put(self, path: str, **kw) -> requests.Response:
        return self.session.put(self.emu.base_url + path, timeout=60, **kw)

    def sql(self, statement: str, parameters: list | None = None, **body) -> dict:
        """Execute and return the response body (asserting HTTP 200)."""
        payload = {"statement": statement, "warehouse_id": "sandbox-warehouse", "wait_timeout": "30s", **body}
        if parameters is not None:
            payload["parameters"] = parameters
        response = self.post("/api/2.0/sql/statements", json=payload)
        assert response.status_code == 200, response.text
        return response.json()

    def ok(self, statement: str, parameters: list | None = None, **body) -> list[list]:
        """Execute, assert SUCCEEDED, return ``data_array`` (or [])."""
        result = self.sql(statement, parameters, **body)
        assert result["status"]["state"] == "SUCCEEDED", result["status"]
        return result.get("result", {}).get("data_array", [])


@pytest.fixture
def emulator(tmp_path):
    with DatabricksEmulator(EmulatorConfig(data_dir=str(tmp_path / "data"))) as emu:
        yield emu


@pytest.fixture
def api(emulator) -> Api:
    api = Api(emulator)
    api.ok("CREATE CATALOG IF NOT EXISTS lake")
    api.ok("CREATE SCHEMA IF NOT EXISTS lake.raw")
    api.ok("CREATE VOLUME IF NOT EXISTS lake.raw.stage")
    return api
