"""Fixtures: an in-process Intacct gateway and a client of it (tests.support.intacct_xml)."""

from __future__ import annotations

import pytest
from intacct_emulator import EmulatorConfig, IntacctEmulator

from tests.support.intacct_xml import Client


@pytest.fixture(scope="module")
def emu():
    with IntacctEmulator(EmulatorConfig(port=0, seed=42, sizes={"GLDETAIL": 5000})) as emulator:
        yield emulator


@pytest.fixture
def fresh():
    """A private emulator for tests that change data or knobs."""
    with IntacctEmulator(EmulatorConfig(port=0, seed=7)) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def client(emu) -> Client:
    return Client(emu)


@pytest.fixture(scope="module")
def sess(client) -> tuple[str, str]:
    return client.session()
