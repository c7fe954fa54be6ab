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
