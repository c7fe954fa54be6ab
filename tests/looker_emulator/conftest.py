"""A live Looker emulator per test, and a raw-HTTP client that reads like the API 4.0 reference."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import requests
from looker_emulator import SANDBOX, EmulatorConfig, LookerEmulator

API = "/api/4.0"


class Api:
    """Raw HTTP against the emulator, logged in with the sandbox API3 key (``token`` scheme)."""

    def __init__(self, emulator: LookerEmulator, scheme: str = "token") -> None:
        self.emu = emulator
        self.session = requests.Session()
        self.scheme = scheme
        self.token: str | None = None

    def login(self, **credentials) -> requests.Response:
        response = self.session.post(
            self.emu.base_url + API + "/login", data=credentials or SANDBOX, timeout=30
        )
        if response.status_code == 200:
            self.token = response.json()["access_token"]
            self.session.headers["Authorization"] = f"{self.scheme} {self.token}"
        return response

    def call(self, method: str, path: str, **kw) -> requests.Response:
        if self.token is None and not path.startswith("/login"):
            assert self.login().status_code == 200
        return self.session.request(method, self.emu.base_url + API + path, timeout=60, **kw)

    def get(self, path: str, **kw) -> requests.Response:
        return self.call("GET", path, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return self.call("POST", path, **kw)

    def rows(self, query: dict, **params) -> list[dict]:
        """Run a query inline as ``json`` and return its rows with exact decimals."""
        response = self.post("/queries/run/json", json=query, params=params)
        assert response.status_code == 200, response.text
        return json.loads(response.text, parse_float=Decimal)


_RUNNING: dict[str, LookerEmulator] = {}


@pytest.fixture(scope="session")
def _emulators():
    yield _RUNNING
    for emu in _RUNNING.values():
        emu.stop()
    _RUNNING.clear()


@pytest.fixture
def emulator_config(request) -> dict:
    """Overrides of the default config; parametrize indirectly with a dict."""
    return getattr(request, "param", {}) or {}


@pytest.fixture
def emulator(emulator_config: dict, _emulators: dict) -> LookerEmulator:
    """A running emulator in its start state; one per distinct config, shared by the session (its data
    depends only on the config, and ``reset()`` clears tokens, queries, tasks, knobs and stats)."""
    key = json.dumps(emulator_config, sort_keys=True, default=str)
    emu = _emulators.get(key)
    if emu is None:
        emu = _emulators[key] = LookerEmulator(EmulatorConfig(port=0, **emulator_config)).start()
    emu.reset()
    return emu


@pytest.fixture
def api(emulator: LookerEmulator) -> Api:
    return Api(emulator)
