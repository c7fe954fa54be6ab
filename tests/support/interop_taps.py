"""Our three taps as a user runs them against their emulators (console script, config and catalog
files), and how what they emitted compares with what the emulator holds."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from intacct_emulator import SANDBOX as INTACCT_SANDBOX
from mlc_run_audit import AUDIT_COLUMNS, RUNS_STREAM
from tap_looker.tap import TapLooker

from tests.support.compare import differences
from tests.support.intacct import TIMEZONE as INTACCT_TIMEZONE
from tests.support.intacct import catalog as intacct_catalog
from tests.support.intacct import mismatches as intacct_mismatches
from tests.support.interop import ours, write_json
from tests.support.looker import ALLOCATION_QUERY, by_key, expected
from tests.support.looker import tap_config as looker_config
from tests.support.taprun import SANDBOX as ACUMATICA_SANDBOX
from tests.support.taprun import Sync, _catalog

ACUMATICA_VERSION = "24.200.001"
#: stream -> (Acumatica entity, key field)
ACUMATICA_STREAMS = {"bills": ("Bill", "ReferenceNbr"), "vendors": ("Vendor", "VendorID")}
#: stream -> Intacct object (key RECORDNO)
INTACCT_STREAMS = {"vendors": "VENDOR", "ap_bills": "APBILL", "gl_entries": "GLENTRY"}
LOOKER_STREAM = ALLOCATION_QUERY["name"]


def command(script: str, folder: Path, config: dict, catalog: dict) -> list[str]:
    return [
        ours(script),
        "--config",
        write_json(folder, "tap.json", config),
        "--catalog",
        write_json(folder, "catalog.json", catalog),
    ]


def audited(streams, audit: bool) -> tuple[list[str], dict]:
    """The streams to select and the config to add: with ``audit`` false, the audit columns off and
    ``_audit_runs`` left unselected, as the READMEs tell a user to."""
    if audit:
        return [*streams, RUNS_STREAM], {}
    return list(streams), {"audit_columns": False}


def acumatica_args(emu, folder: Path, audit: bool = True) -> list[str]:
    streams, extra = audited(ACUMATICA_STREAMS, audit)
    config = {**ACUMATICA_SANDBOX, "base_url": emu.base_url, "max_backoff_seconds": 0.2, **extra}
    return command("tap-acumatica", folder, config, _catalog(json.dumps(config, sort_keys=True), streams))


def acumatica_source_mismatches(emu, sync: Sync) -> list[str]:
    out = []
    for stream, (entity, key) in ACUMATICA_STREAMS.items():
        source = {r[key]: r for r in emu.store.records(entity, ACUMATICA_VERSION)}
        emitted = {r[key]: r for r in sync.records.get(stream, [])}
        if emitted.keys() != source.keys() or len(emitted) != len(sync.records.get(stream, [])):
            out.append(f"{stream}: keys emitted {sorted(emitted)[:5]}..., source {sorted(source)[:5]}...")
        for k in emitted.keys() & source.keys():
            # As tests/tap_acumatica/test_versions.py: note, custom and row metadata are not columns.
            fields = [f for f in source[k] if f not in ("custom", "note", "rowNumber", "_links")]
            out += [f"{stream} {k} {d}" for d in differences(emitted[k], source[k], fields)]
    return out


def intacct_args(emu, folder: Path, audit: bool = True) -> list[str]:
    streams, extra = audited(INTACCT_STREAMS, audit)
    config = {
        **INTACCT_SANDBOX,
        "endpoint_url": emu.endpoint_url,
        "timezone": INTACCT_TIMEZONE,
        "page_size": 50,
        "start_date": "2020-01-01T00:00:00Z",
        "max_backoff_seconds": 0.05,
        **extra,
    }
    return command("tap-sage-intacct", folder, config, intacct_catalog(config, streams))


def intacct_source_mismatches(emu, sync: Sync) -> list[str]:
    out = []
    for stream, obj in INTACCT_STREAMS.items():
        found = intacct_mismatches(sync.schemas[stream], sync.records[stream], emu.store.records(obj))
        out += [f"{stream}: {m}" for m in found]
    return out


def looker_args(emu, folder: Path, audit: bool = True) -> list[str]:
    streams, extra = audited([LOOKER_STREAM], audit)
    config = looker_config(emu, **extra)
    catalog = TapLooker(config=config, parse_env_config=False).catalog_dict
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if not meta["breadcrumb"]:
                meta["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return command("tap-looker", folder, config, catalog)


def looker_source_mismatches(emu, sync: Sync) -> list[str]:
    rows = [{k: v for k, v in r.items() if k not in AUDIT_COLUMNS} for r in sync.records[LOOKER_STREAM]]
    source = expected(emu, ALLOCATION_QUERY)
    if by_key(rows) == by_key(source):
        return []
    return [f"{LOOKER_STREAM}: {len(rows)} rows emitted, {len(source)} in Looker's answer, or values differ"]


@dataclass(frozen=True)
class OurTap:
    """How to run one of our taps and check its output against its emulator."""

    emulator: str  # the fixture of its emulator
    args: Callable[..., list[str]]  # (emulator, folder, audit=True)
    source_mismatches: Callable[[Any, Sync], list[str]]
    streams: tuple[str, ...]  # the streams it is run with, _audit_runs included


TAPS = {
    "tap-acumatica": OurTap(
        "acumatica", acumatica_args, acumatica_source_mismatches, (*ACUMATICA_STREAMS, RUNS_STREAM)
    ),
    "tap-sage-intacct": OurTap(
        "intacct", intacct_args, intacct_source_mismatches, (*INTACCT_STREAMS, RUNS_STREAM)
    ),
    "tap-looker": OurTap("looker", looker_args, looker_source_mismatches, (LOOKER_STREAM, RUNS_STREAM)),
}


def has_amounts(sync: Sync) -> bool:
    """The run emitted exact decimals (so an exact comparison of what landed means something)."""
    return any(isinstance(v, Decimal) for rows in sync.records.values() for r in rows for v in r.values())
