"""Other people's Singer taps and targets, each installed from the package index into its own venv
under ``.tools/interop/`` (``make interop-plugins``), piped with ours as a user pipes them, and what
landed read back for a row-for-row comparison."""

from __future__ import annotations

import csv
import json
import shlex
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from tests.support.compare import instant
from tests.support.taprun import Sync

ROOT = Path(__file__).resolve().parents[2]
VENVS = ROOT / ".tools" / "interop"
OURS = Path(sys.executable).parent
ENCODER = msgspec.json.Encoder(decimal_format="number")


def third_party(venv: str, script: str) -> str:
    """The console script of a third-party plugin in its venv; a missing venv fails, never skips."""
    path = VENVS / venv / "bin" / script
    if not path.exists():
        msg = f"{path} is missing: build the third-party plugin venvs with `make interop-plugins`"
        raise AssertionError(msg)
    return str(path)


def ours(script: str) -> str:
    return str(OURS / script)


def write_json(folder: Path, name: str, content: Any) -> str:
    path = folder / name
    path.write_text(json.dumps(content))
    return str(path)


@dataclass
class Piped:
    """One ``tap | target`` run: both exit codes, what the tap wrote (parsed with exact decimals),
    the target's STATE lines and both logs."""

    tap_code: int
    target_code: int
    tap: Sync
    target_states: list[dict]
    tap_stderr: str
    target_stderr: str

    def check(self) -> Piped:
        assert self.tap_code == 0, f"tap exited {self.tap_code}:\n{self.tap_stderr[-3000:]}"
        assert self.target_code == 0, f"target exited {self.target_code}:\n{self.target_stderr[-3000:]}"
        return self


def pipe(tap: list[str], target: list[str], cwd: Path, timeout: float = 300) -> Piped:
    """``tap | tee tap.singer | target`` in ``cwd`` through bash, exit codes of both ends kept."""
    script = (
        f"{shlex.join(tap)} 2>tap.err | tee tap.singer | {shlex.join(target)} >target.out 2>target.err; "
        'echo "${PIPESTATUS[0]} ${PIPESTATUS[2]}" >codes'
    )
    subprocess.run(["bash", "-c", script], cwd=cwd, timeout=timeout, check=True)
    tap_code, target_code = (int(c) for c in (cwd / "codes").read_text().split())
    out = (cwd / "target.out").read_text()
    return Piped(
        tap_code,
        target_code,
        Sync.of_output((cwd / "tap.singer").read_text(), tap_code),
        [json.loads(line) for line in out.splitlines() if line.strip()],
        (cwd / "tap.err").read_text(),
        (cwd / "target.err").read_text(),
    )


def exact(value: Any) -> Any:
    """A value with its numbers as their JSON text, so ``1.10`` and ``1.1`` differ and ``1`` and
    ``1.0`` differ: amounts must land as the tap emitted them."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Decimal | float | int):
        return (type(value).__name__ if isinstance(value, int) else "number", str(value))
    if isinstance(value, dict):
        return {k: exact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [exact(v) for v in value]
    return value


def jsonl_rows(path: Path) -> list[dict]:
    """A JSON Lines file, numbers as exact decimals."""
    return [json.loads(line, parse_float=Decimal) for line in path.read_text().splitlines() if line.strip()]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    """Rows as JSON Lines, decimals as JSON numbers with their digits (``12.50`` stays ``12.50``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(ENCODER.encode(row) + b"\n" for row in rows))
    return path


def csv_rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def csv_mismatches(schema: dict, emitted: list[dict], rows: list[dict[str, str]]) -> list[str]:
    """Differences between records as the tap emitted them and CSV rows in the same order.

    A cell holds ``str()`` of the value as a Singer SDK target holds it: numbers as the exact text of
    the JSON, nested objects and arrays as their Python form, timestamps parsed (so they compare as
    instants), null as an empty cell."""
    out = []
    if len(rows) != len(emitted):
        out.append(f"{len(emitted)} records emitted, {len(rows)} rows landed")
    columns = list(schema["properties"])
    for n, (record, row) in enumerate(zip(emitted, rows, strict=False), start=1):
        if list(row) != columns:
            out.append(f"row {n}: columns {list(row)}, schema {columns}")
        for name, prop in schema["properties"].items():
            value, cell = record.get(name), row.get(name)
            if value is None:
                same = cell == ""
            elif prop.get("format") == "date-time":
                same = instant(cell) == instant(value)
            elif prop.get("format") == "date":
                same = date.fromisoformat(cell[:10]) == date.fromisoformat(value[:10])
            else:
                same = cell == str(value)
            if not same:
                out.append(f"row {n} {name}: emitted {value!r}, landed {cell!r}")
    return out


def table_mismatches(schema: dict, emitted: list[dict], rows: list[dict], key: list[str]) -> list[str]:
    """Differences between records as a tap emitted them and rows read from a Delta table, matched
    on ``key``: numbers by exact value (a DECIMAL column holds ``12.5`` as ``12.500000000``),
    timestamps as instants, dates as dates, objects and arrays as the JSON text of the column."""
    out = []
    landed = {tuple(r[k] for k in key): r for r in rows}
    wanted = {tuple(r[k] for k in key): r for r in emitted}
    if len(landed) != len(rows) or len(wanted) != len(emitted):
        out.append(f"duplicate keys: {len(rows) - len(landed)} landed, {len(emitted) - len(wanted)} emitted")
    if landed.keys() != wanted.keys():
        missing, extra = sorted(wanted.keys() - landed.keys()), sorted(landed.keys() - wanted.keys())
        out.append(f"keys missing {missing[:5]}, extra {extra[:5]}")
    for k in sorted(landed.keys() & wanted.keys()):
        for name in schema["properties"]:
            value, cell = wanted[k].get(name), landed[k].get(name)
            if value is None or cell is None:
                same = value is None and cell is None
            elif isinstance(cell, datetime):
                same = cell == instant(value)
            elif isinstance(cell, date):
                same = cell == date.fromisoformat(value)
            elif isinstance(value, dict | list):
                same = json.loads(cell, parse_float=Decimal) == value
            elif isinstance(value, Decimal | float) and not isinstance(value, bool):
                same = Decimal(str(cell)) == Decimal(str(value))
            else:
                same = cell == value
            if not same:
                out.append(f"{k} {name}: emitted {value!r}, landed {cell!r}")
    return out
