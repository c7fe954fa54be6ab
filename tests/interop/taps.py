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

from tests.compare import differences
from tests.interop.support import ours, write_json
from tests.tap_looker.conftest import ALLOCATION_QUERY, by_key, expected
from tests.tap_looker.conftest import tap_config as looker_config
from tests.tap_sage_intacct.conftest import TIMEZONE as INTACCT_TIMEZONE
from tests.tap_sage_intacct.conftest import catalog as intacct_catalog
from tests.tap_sage_intacct.conftest import mismatches as intacct_mismatches
from tests.taprun import SANDBOX as ACUMATICA_SANDBOX
from tests.taprun import Sync, _catalog

ACUMATICA_VERSION = "24.200.001"
#: stream -> (Acumatica entity, key field)
ACUMATICA_STREAMS = {"bills": ("Bill", "ReferenceNbr"), "vendors": ("Vendor", "VendorID")}
#: stream -> Intacct object (key RECORDNO)
INTACCT_STREAMS = {"vendors": "VENDOR", "ap_bills": "APBILL", "gl_entries": "GLENTRY"}
LOOKER_STREAM = ALLOCATION_QUERY["name"]


def acumatica_args(emu, folder: Path) -> list[str]:
    config = {**ACUMATICA_SANDBOX, "base_url": emu.base_url, "max_backoff_seconds": 0.2}
    catalog = _catalog(json.dumps(config, sort_keys=True), [*ACUMATICA_STREAMS, RUNS_STREAM])
    return [
        ours("tap-acumatica"),
        "--config", write_json(folder, "tap.json", config),
        "--catalog", write_json(folder, "catalog.json", catalog),
    ]


def acumatica_source_mismatches(emu, sync: Sync) -> list[str]:
    out = []
    for stream, (entity, key) in ACUMATICA_STREAMS.items():
        source = {r[key]: r for r in emu.store.records(entity, ACUMATICA_VERSION)}
        emitted = {r[key]: r for r in sync.records.get(stream, [])}
        if emitted.keys() != source.keys() or len(emitted) != len(sync.records.get(stream, [])):
            out.append(f"{stream}: keys emitted {sorted(emitted)[:5]}..., source {sorted(source)[:5]}...")
        for k in emitted.keys() & source.keys():
            # As tests/test_versions.py: the source's note, custom and row metadata are not columns.
            fields = [f for f in source[k] if f not in ("custom", "note", "rowNumber", "_links")]
            out += [f"{stream} {k} {d}" for d in differences(emitted[k], source[k], fields)]
    return out


def intacct_args(emu, folder: Path) -> list[str]:
    config = {
        **INTACCT_SANDBOX,
        "endpoint_url": emu.endpoint_url,
        "timezone": INTACCT_TIMEZONE,
        "page_size": 50,
        "start_date": "2020-01-01T00:00:00Z",
        "max_backoff_seconds": 0.05,
    }
    catalog = intacct_catalog(config, [*INTACCT_STREAMS, RUNS_STREAM])
    return [
        ours("tap-sage-intacct"),
        "--config", write_json(folder, "tap.json", config),
        "--catalog", write_json(folder, "catalog.json", catalog),
    ]


def intacct_source_mismatches(emu, sync: Sync) -> list[str]:
    out = []
    for stream, obj in INTACCT_STREAMS.items():
        found = intacct_mismatches(sync.schemas[stream], sync.records[stream], emu.store.records(obj))
        out += [f"{stream}: {m}" for m in found]
    return out


def looker_args(emu, folder: Path) -> list[str]:
    return [ours("tap-looker"), "--config", write_json(folder, "tap.json", looker_config(emu))]


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
    args: Callable[[Any, Path], list[str]]
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
