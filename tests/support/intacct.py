"""Sage Intacct helpers: tap-sage-intacct run in this process or as its console script, and what the
Intacct emulator holds written the way the tap must emit it."""

from __future__ import annotations

import io
import json
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from deltalake import DeltaTable
from intacct_emulator import OBJECTS
from mlc_run_audit import AUDIT_COLUMNS
from mlc_run_audit.checks import safe_name
from tap_sage_intacct.tap import TapSageIntacct

from tests.support.compare import instant
from tests.support.taprun import Sync

TIMEZONE = "America/Los_Angeles"
TAP = str(Path(sys.executable).parent / "tap-sage-intacct")
#: Small on purpose: every stream has a few pages at page size 50.
SIZES = {"GLDETAIL": 230, "APBILL": 40, "VENDOR": 30, "APPYMT": 20, "GLBATCH": 20, "CUSTOMER": 20}


def after_this_second() -> None:
    """Wait for the next second of the clock: a run reads up to the gateway's clock at its start,
    exclusive, so changes made in the current second belong to the run after it."""
    time.sleep(1.0 - time.time() % 1.0 + 0.01)


def catalog(config: dict, streams: list[str] | None, *, lookup: bool = False) -> dict:
    """The tap's catalog selecting ``streams`` (all when None). Discovered with the tap's own field
    lists unless ``lookup`` (then every field lookup lists: one call per object, which would also
    use up faults a test sets before its run)."""
    discovery = {**config, "lookup_fields": lookup}
    entries = TapSageIntacct(config=discovery, parse_env_config=False).catalog_dict
    for entry in entries["streams"]:
        for meta in entry["metadata"]:
            if not meta["breadcrumb"]:
                meta["metadata"]["selected"] = streams is None or entry["tap_stream_id"] in streams
    return entries


class _Stdout:
    """Stands in for sys.stdout: the Singer writer writes bytes to ``.buffer``."""

    def __init__(self, raw: io.BytesIO) -> None:
        self.buffer = raw

    def write(self, text: str) -> int:
        return self.buffer.write(text.encode())

    def flush(self) -> None:
        pass


def run(
    config: dict,
    streams: list[str] | None = None,
    state: dict | None = None,
    *,
    lookup: bool = False,
    entries: dict | None = None,
    raises: type[BaseException] | None = None,
) -> Sync:
    """One sync in this process with a catalog (``entries``, else ``catalog(config, streams,
    lookup=lookup)``); what it wrote, as tests.support.taprun.Sync. Errors propagate."""
    entries = entries or catalog(config, streams, lookup=lookup)
    tap = TapSageIntacct(config=config, catalog=entries, state=state or {}, parse_env_config=False)
    raw = io.BytesIO()
    saved = sys.stdout
    sys.stdout = _Stdout(raw)
    error = None
    try:
        tap.sync_all()
    except BaseException as exc:
        # A run expected to fail still wrote what it read: the caller checks both.
        if raises is None or not isinstance(exc, raises):
            raise
        error = exc
    finally:
        sys.stdout = saved
    if raises is not None and error is None:
        msg = f"the run did not raise {raises.__name__}"
        raise AssertionError(msg)
    result = Sync.of_output(raw.getvalue().decode())
    result.tap = tap
    result.error = error
    return result


# What the emulator holds, typed as the tap must emit it --------------------------------------


def custom_fields(obj: str) -> set[str]:
    return {f.name for f in OBJECTS[obj].fields if f.custom}


def typed(prop: dict, text: str | None):
    """A stored Intacct text value as the schema property says it is emitted."""
    types = prop.get("type", [])
    if text is None or (text == "" and ("string" not in types or "format" in prop)):
        return None
    if prop.get("format") == "date-time":
        return datetime.strptime(text, "%m/%d/%Y %H:%M:%S").replace(tzinfo=ZoneInfo(TIMEZONE)).astimezone(UTC)
    if prop.get("format") == "date":
        return datetime.strptime(text, "%m/%d/%Y").date().isoformat()
    if "integer" in types:
        return int(text)
    if "number" in types:
        return Decimal(text)
    if "boolean" in types:
        return {"true": True, "false": False}[text]
    return text


def emitted(prop: dict, value):
    if value is not None and prop.get("format") == "date-time":
        return instant(value)
    return value


def mismatches(schema: dict, records: list[dict], source: list[dict], key: str = "RECORDNO") -> list[str]:
    """Row-for-row differences between emitted records and the emulator's records."""
    props = {n: p for n, p in schema["properties"].items() if p.get("type") != ["array", "null"]}
    props.pop("_sdc_deleted_at", None)
    audited = all([props.pop(name, None) for name in AUDIT_COLUMNS])
    out = []
    by_key = {r[key]: r for r in records}
    if len(by_key) != len(records):
        out.append(f"{len(records) - len(by_key)} duplicate keys emitted")
    # A field whose Intacct name is not a safe column name is emitted under its safe_name.
    wanted = {int(s[key]): {safe_name(f): v for f, v in s.items()} for s in source}
    if by_key.keys() != wanted.keys():
        out.append(
            f"keys: missing {sorted(wanted.keys() - by_key.keys())[:10]}, "
            f"extra {sorted(by_key.keys() - wanted.keys())[:10]}"
        )
    for k in sorted(by_key.keys() & wanted.keys()):
        for name, prop in props.items():
            want, got = typed(prop, wanted[k].get(name)), emitted(prop, by_key[k].get(name))
            if want != got or isinstance(want, str) != isinstance(got, str):
                out.append(
                    f"{key} {k} {name}: emitted {by_key[k].get(name)!r}, source {wanted[k].get(name)!r}"
                )
        if audited:
            out += audit_mismatches(by_key[k], str(wanted[k][key]), f"{key} {k}")
    return out


def audit_mismatches(record: dict, source_id: str, where: str) -> list[str]:
    """The audit columns name a run, the source record's key and its WHENMODIFIED (when it has one)."""
    out = []
    if not record.get("_audit_run_id"):
        out.append(f"{where}: no _audit_run_id")
    if record.get("_audit_source_id") != source_id:
        out.append(f"{where}: _audit_source_id {record.get('_audit_source_id')!r}, source key {source_id!r}")
    version, modified = record.get("_audit_source_version"), record.get("WHENMODIFIED")
    if "WHENMODIFIED" not in record:
        same = True  # a full-table object: no version to compare
    elif version is None or modified is None:
        same = version is None and modified is None
    else:
        same = datetime.fromisoformat(str(version)) == datetime.fromisoformat(str(modified))
    if not same:
        out.append(f"{where}: _audit_source_version {version!r}, WHENMODIFIED {modified!r}")
    return out


def files(tmp_path, config: dict, streams: list[str], state: dict | None = None) -> list[str]:
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "catalog.json").write_text(json.dumps(catalog(config, streams)))
    args = [TAP, "--config", str(tmp_path / "config.json"), "--catalog", str(tmp_path / "catalog.json")]
    if state is not None:
        (tmp_path / "state.json").write_text(json.dumps(state))
        args += ["--state", str(tmp_path / "state.json")]
    return args


def messages(lines) -> list[dict]:
    return [json.loads(line, parse_float=Decimal) for line in lines if line.strip()]


def delta_rows(databricks, table: str) -> list[dict]:
    rows = DeltaTable(databricks.table_path("workspace", "intacct", table)).to_pyarrow_table().to_pylist()
    return [{k: (Decimal(str(v)) if isinstance(v, float) else v) for k, v in row.items()} for row in rows]


def as_emitted(row: dict, schema: dict) -> dict:
    """A Delta row in the tap's terms: timestamps as ISO text, JSON arrays parsed."""
    out = {}
    for name, prop in schema["properties"].items():
        value = row.get(name)
        if hasattr(value, "isoformat"):
            value = value.isoformat()
        if isinstance(value, str) and "array" in prop.get("type", []):
            value = json.loads(value, parse_float=Decimal)
        out[name] = value
    return out
