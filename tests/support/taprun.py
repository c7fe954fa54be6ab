"""Run tap-acumatica as a user would (its console command, in this process; its console script where
the process is the point) and collect its Singer output."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path

from acumatica_emulator import AcumaticaEmulator
from tap_acumatica.tap import TapAcumatica

from tests.support.command import run_command
from tests.support.compare import instant

BIN = Path(sys.executable).parent
TAP = str(BIN / "tap-acumatica")

#: The emulator's published demo credentials (also in meltano.yml's sandbox environment).
SANDBOX = {
    "tenant": "Company",
    "branch": "HEADOFFICE",
    "client_id": "4C5E9A1B-7F3D-4E2A-9B6C-1D8F0A2E3B4C@Company",
    "client_secret": "sandbox-secret",
    "username": "admin",
    "password": "sandbox",
    "start_date": "2020-01-01T00:00:00Z",
}


@dataclass
class Sync:
    """What one tap run wrote: records per stream, every STATE, and its log."""

    returncode: int
    records: dict[str, list[dict]] = field(default_factory=dict)
    states: list[dict] = field(default_factory=list)
    schemas: dict[str, dict] = field(default_factory=dict)
    #: RECORD and STATE messages in the order written.
    messages: list[dict] = field(default_factory=list)
    stderr: str = ""

    @property
    def state(self) -> dict | None:
        return self.states[-1] if self.states else None

    def add(self, line: str) -> dict:
        """File one line of tap output (exact decimals) and return its message."""
        message = json.loads(line, parse_float=Decimal)
        kind = message["type"]
        if kind == "RECORD":
            self.records.setdefault(message["stream"], []).append(message["record"])
            self.messages.append(message)
        elif kind == "STATE":
            self.states.append(message["value"])
            self.messages.append(message)
        elif kind == "SCHEMA":
            self.schemas[message["stream"]] = message["schema"]
        return message

    @classmethod
    def of_output(cls, text: str, returncode: int = 0, stderr: str = "") -> Sync:
        """A run's stdout, filed."""
        result = cls(returncode, stderr=stderr)
        for line in text.splitlines():
            result.add(line)
        return result

    def bookmark(self, stream: str) -> str | None:
        state = self.state or {}
        return state.get("bookmarks", {}).get(stream, {}).get("replication_key_value")

    def keys(self, stream: str, *fields: str) -> list[tuple]:
        return [tuple(r[f] for f in fields) for r in self.records.get(stream, [])]


class TapRunner:
    """Runs ``tap-acumatica --config ... [--state ...] --catalog ...``: in this process, or as the console
    script in a subprocess when it is killed mid-stream."""

    def __init__(self, config: dict, emulator: AcumaticaEmulator | None = None) -> None:
        self.config = config
        #: The emulator the config points at, if in this process: a run waits for a new second only
        #: when its data changed in this one.
        self.emulator = emulator

    def sync(
        self,
        streams: list[str] | None = None,
        state: dict | None = None,
        *,
        check: bool = True,
        env: dict[str, str] | None = None,
        **overrides,
    ) -> Sync:
        """``tap-acumatica --config ... [--state ...] --catalog ...``, its console command run in this
        process (tests.support.command); ``env`` is added to the environment for the run."""
        config = {**self.config, **overrides}
        with tempfile.TemporaryDirectory() as tmp:
            args = ["--config", _write(tmp, "config.json", config)]
            args += [
                "--catalog",
                _write(tmp, "catalog.json", _catalog(json.dumps(config, sort_keys=True), streams)),
            ]
            if state is not None:
                args += ["--state", _write(tmp, "state.json", state)]
            start_in_a_new_second(self.emulator)
            done = run_command(TapAcumatica, args, env)
        result = Sync.of_output(done.stdout, done.returncode, done.stderr)
        if check and done.returncode != 0:
            msg = f"tap-acumatica exited {done.returncode}:\n{done.stderr[-4000:]}"
            raise AssertionError(msg)
        return result

    def sync_killed_after(self, streams: list[str], states: int, **overrides) -> Sync:
        """Start a sync and SIGKILL the tap once it has written ``states`` STATE messages."""
        config = {**self.config, **overrides}
        result = Sync(returncode=0)
        with tempfile.TemporaryDirectory() as tmp:
            args = [
                TAP,
                "--config",
                _write(tmp, "config.json", config),
                "--catalog",
                _write(tmp, "catalog.json", _catalog(json.dumps(config, sort_keys=True), streams)),
            ]
            proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            assert proc.stdout is not None
            for line in proc.stdout:
                if result.add(line)["type"] == "STATE" and len(result.states) >= states:
                    proc.kill()
                    break
            proc.wait(timeout=30)
            result.returncode = proc.returncode
        return result

    def discover(self, **overrides) -> dict:
        config = {**self.config, **overrides}
        return json.loads(_discover(json.dumps(config, sort_keys=True)))


def assert_state_never_passes_emitted_records(sync, stream: str) -> None:
    """Each STATE bookmark is at most the newest timestamp already emitted."""
    newest = None
    for message in sync.messages:
        if message["type"] == "RECORD" and message["stream"] == stream:
            stamp = instant(message["record"]["LastModifiedDateTime"])
            newest = stamp if newest is None or stamp > newest else newest
        elif message["type"] == "STATE":
            value = message["value"].get("bookmarks", {}).get(stream, {}).get("replication_key_value")
            if value is not None:
                assert newest is not None and instant(value) <= newest, (value, newest)


def start_in_a_new_second(emulator: AcumaticaEmulator | None = None) -> None:
    """Wait for the next whole second. tap-acumatica reads up to the server's Date header, whole
    seconds: a change a test made in this second belongs to the run after next. Call it before a run
    that must see a change just made (a plugin process may start within the same second). Given the
    emulator, wait only if its data changed in this second."""
    if emulator is not None:
        changed = emulator.store.last_change_ms
        if changed is None or changed // 1000 < int(time.time()):
            return
    time.sleep(1.0 - time.time() % 1.0 + 0.01)


@cache
def _discover(config_json: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(tmp, "config.json", json.loads(config_json))
        done = run_command(TapAcumatica, ["--config", path, "--discover"])
    if done.returncode != 0:
        raise AssertionError(f"tap-acumatica --discover exited {done.returncode}: {done.stderr[-3000:]}")
    return done.stdout


def _catalog(config_json: str, streams: list[str] | None) -> dict:
    # Discovery does not depend on the emulator's URL, only on version/expand/custom settings;
    # generic inquiries take their schema from the instance's $metadata.
    config = json.loads(config_json)
    if not config.get("generic_inquiries"):
        config.pop("base_url", None)
    catalog = json.loads(_discover(json.dumps(config, sort_keys=True)))
    for entry in catalog["streams"]:
        selected = streams is None or entry["tap_stream_id"] in streams
        for meta in entry["metadata"]:
            if not meta["breadcrumb"]:
                meta["metadata"]["selected"] = selected
    return catalog


def _write(folder: str, name: str, content: dict) -> str:
    path = Path(folder) / name
    path.write_text(json.dumps(content))
    return str(path)


def sync_in_process(config: dict, streams: list[str] | None = None, state: dict | None = None) -> Sync:
    """One tap-acumatica run inside this process (no interpreter start-up): the streams named (all
    when None) selected, ``state`` as the input state. Errors of the run are raised, not returned."""
    import contextlib
    import io

    from tap_acumatica.tap import TapAcumatica

    catalog = TapAcumatica(config=config, parse_env_config=False).catalog_dict
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if not meta["breadcrumb"]:
                meta["metadata"]["selected"] = streams is None or entry["tap_stream_id"] in streams
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with contextlib.redirect_stdout(out):
        tap = TapAcumatica(config=config, catalog=catalog, state=state, parse_env_config=False)
        tap.sync_all()
        out.flush()
    return Sync.of_output(out.buffer.getvalue().decode("utf-8"))
