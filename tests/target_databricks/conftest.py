"""A live Databricks emulator per test (``dbx``), for the target's load tests."""

from __future__ import annotations

import pytest
from databricks_emulator import DatabricksEmulator
from databricks_emulator import EmulatorConfig as DatabricksConfig


@pytest.fixture
def dbx(tmp_path):
    with DatabricksEmulator(DatabricksConfig(port=0, data_dir=str(tmp_path / "dbx"))) as emu:
        emu.knobs.retry_after_s = 0
        yield emu


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    """Each test runs in its own directory, so default relative paths (``failed_batch_dir``) stay there."""
    monkeypatch.chdir(tmp_path)
