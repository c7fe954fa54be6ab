"""Live emulators for the interoperability tests, each test in its own directory (so the plugins'
relative default paths, e.g. ``output/failed_batches``, stay inside it)."""

from __future__ import annotations

import pytest
from acumatica_emulator import AcumaticaEmulator
from acumatica_emulator import EmulatorConfig as AcumaticaConfig
from databricks_emulator import DatabricksEmulator
from databricks_emulator import EmulatorConfig as DatabricksConfig
from intacct_emulator import EmulatorConfig as IntacctConfig
from intacct_emulator import IntacctEmulator
from looker_emulator import EmulatorConfig as LookerConfig
from looker_emulator import LookerEmulator

from tests.support.intacct import SIZES as INTACCT_SIZES
from tests.support.intacct import TIMEZONE as INTACCT_TIMEZONE


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def acumatica():
    # A few hundred rows: 40 bills of 3 lines, 25 vendors.
    with AcumaticaEmulator(AcumaticaConfig(port=0, sizes={"Bill": 40, "Vendor": 25})) as emu:
        yield emu


@pytest.fixture
def intacct():
    config = IntacctConfig(port=0, seed=42, sizes=INTACCT_SIZES, timezone=INTACCT_TIMEZONE)
    with IntacctEmulator(config) as emu:
        yield emu


@pytest.fixture
def looker():
    emu = LookerEmulator(LookerConfig(port=0)).start()
    yield emu
    emu.stop()


@pytest.fixture
def databricks(tmp_path):
    with DatabricksEmulator(DatabricksConfig(port=0, data_dir=str(tmp_path / "dbx"))) as emu:
        emu.knobs.retry_after_s = 0
        yield emu
