"""A live Looker emulator per test and an in-process tap-looker run that collects its Singer output."""

from __future__ import annotations

import contextlib
import io
import json

from looker_emulator import SANDBOX, LookerEmulator
from mlc_run_audit import RUNS_STREAM
from tap_looker.tap import TapLooker

from tests.looker_emulator.conftest import _emulators, emulator, emulator_config  # noqa: F401
from tests.support.taprun import Sync

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
