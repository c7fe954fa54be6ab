"""Fixtures: an in-process emulator on a free port and signed-in HTTP sessions."""

from __future__ import annotations

import pytest
import requests
from acumatica_emulator import SANDBOX_CLIENT_ID, AcumaticaEmulator, EmulatorConfig

V24 = "24.200.001"


def oauth_token(emu: AcumaticaEmulator, scope: str = "api offline_access") -> dict:
    response = requests.post(
        f"{emu.base_url}/identity/connect/token",
        data={
            "grant_type": "password",
            "client_id": SANDBOX_CLIENT_ID,
            "client_secret": "sandbox-secret",
            "username": "admin",
            "password": "sandbox",
            "scope": scope,
        },
    )
    assert response.status_code == 200, response.text
    return response.json()


def signed_in(emu: AcumaticaEmulator) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {oauth_token(emu, 'api')['access_token']}"
    return session


@pytest.fixture(name="signed_in", scope="session")
def signed_in_fixture():
    """Factory: a requests.Session with a Bearer token for an emulator."""
    return signed_in


@pytest.fixture(name="oauth_token", scope="session")
def oauth_token_fixture():
    return oauth_token


@pytest.fixture(scope="module")
def emu():
    with AcumaticaEmulator(EmulatorConfig()) as emulator:
        yield emulator


@pytest.fixture
def fresh():
    """A private emulator for tests that change data or knobs."""
    with AcumaticaEmulator(EmulatorConfig()) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def api(emu):
    session = signed_in(emu)

    def get(path: str, **params):
        return session.get(f"{emu.base_url}/entity/Default/{path}", params=params)

    get.session = session
    return get
