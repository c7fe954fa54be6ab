"""Looker helpers: a raw-HTTP client of the emulator's API 4.0, the sandbox query, an in-process
tap-looker run, and the emulator's answer written the way the tap emits it."""

from __future__ import annotations

import contextlib
import io
import json
from decimal import Decimal

import pytest
import requests
from looker_emulator import SANDBOX, EmulatorConfig, LookerEmulator
from mlc_run_audit import RUNS_STREAM
from tap_looker.tap import TapLooker

from tests.support.taprun import Sync

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


def shared_emulator(running: dict[str, LookerEmulator], config: dict) -> LookerEmulator:
    """A running emulator in its start state, one per distinct config in ``running``: its data depends
    only on the config, and ``reset()`` clears tokens, queries, tasks, knobs and stats."""
    key = json.dumps(config, sort_keys=True, default=str)
    emu = running.get(key)
    if emu is None:
        emu = running[key] = LookerEmulator(EmulatorConfig(port=0, **config)).start()
    emu.reset()
    return emu


def stop_all(running: dict[str, LookerEmulator]) -> None:
    for emu in running.values():
        emu.stop()
    running.clear()


ALLOCATION_FIELDS = [
    "overhead_allocation.allocation_id",
    "overhead_allocation.period",
    "overhead_allocation.posting_date",
    "overhead_allocation.account",
    "overhead_allocation.subaccount",
    "overhead_allocation.branch",
    "overhead_allocation.cost_center",
    "overhead_allocation.description",
    "overhead_allocation.allocated_amount",
]
#: The explore's fields as the emulator's protocol tests query them (no posting date).
ALLOCATION = [f for f in ALLOCATION_FIELDS if f != "overhead_allocation.posting_date"]
ALLOCATION_KEY = [
    "overhead_allocation.allocation_id",
    "overhead_allocation.period",
    "overhead_allocation.account",
    "overhead_allocation.subaccount",
    "overhead_allocation.branch",
    "overhead_allocation.cost_center",
]
#: The sandbox example query (as in meltano.yml's sandbox environment).
ALLOCATION_QUERY = {
    "name": "overhead_allocation",
    "model": "finance",
    "explore": "overhead_allocation",
    "fields": ALLOCATION_FIELDS,
    "key_properties": ALLOCATION_KEY,
}


def tap_config(emu: LookerEmulator, queries: list[dict] | None = None, **overrides) -> dict:
    return {
        **SANDBOX,
        "base_url": emu.base_url,
        "queries": queries or [ALLOCATION_QUERY],
        "poll_interval_seconds": 0.01,
        "max_backoff_seconds": 0.01,
        **overrides,
    }


def run_tap(config: dict, state: dict | None = None, tap: TapLooker | None = None) -> Sync:
    """Sync every stream in-process and parse what the tap wrote to stdout (exact decimals)."""
    tap = tap or TapLooker(config=config, state=state, setup_mapper=True)
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with contextlib.redirect_stdout(out):
        tap.sync_all()
    out.flush()
    sync = Sync.of_output(out.buffer.getvalue().decode())
    for name, records in sync.records.items():
        if name != RUNS_STREAM:
            for record in records:
                take_audit_columns(tap.streams[name], record, tap.run_audit.run_id)
    return sync


def take_audit_columns(stream, record: dict, run_id: str) -> None:
    """Check a row's audit columns (run, key values joined by ``|``, replication value) and drop
    them, so rows compare with Looker's answer."""
    keys, rk = stream.primary_keys, stream.replication_key
    assert record.pop("_audit_run_id") == run_id
    assert record.pop("_audit_source_id") == ("|".join(str(record[k]) for k in keys) if keys else None)
    version = record.pop("_audit_source_version")
    assert version == (str(record[rk]) if rk and record[rk] is not None else None), (version, record)


def expected(emu: LookerEmulator, query: dict, filters: dict | None = None) -> list[dict]:
    """The emulator's full answer, with the tap's column names (the base view's prefix dropped)."""
    rows = emu.run(query["model"], query["explore"], query["fields"], filters, query.get("sorts"))
    prefix = query["explore"] + "."
    return [{k.removeprefix(prefix).replace(".", "__"): v for k, v in row.items()} for row in rows]


def by_key(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def tap_output(emu: LookerEmulator, **overrides) -> str:
    """What tap-looker writes to stdout for the sandbox query (run in this process)."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")  # the tap's writer needs stdout.buffer
    with contextlib.redirect_stdout(out):
        TapLooker(config=tap_config(emu, **overrides)).sync_all()
    out.flush()
    return out.buffer.getvalue().decode()


# Fixtures of the Looker test packages (tests/tap_looker, tests/looker_emulator): their conftest.py
# imports these, so both get the same emulators.


@pytest.fixture(scope="session")
def _emulators():
    running: dict[str, LookerEmulator] = {}
    yield running
    stop_all(running)


@pytest.fixture
def emulator_config(request) -> dict:
    """Overrides of the default config; parametrize indirectly with a dict."""
    return getattr(request, "param", {}) or {}


@pytest.fixture
def emulator(emulator_config: dict, _emulators: dict) -> LookerEmulator:
    """A running emulator in its start state; one per distinct config, shared by the session."""
    return shared_emulator(_emulators, emulator_config)
