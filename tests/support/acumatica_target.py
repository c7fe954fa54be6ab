"""target-acumatica helpers: allocation rows shaped like a Looker allocation query result, a runner
for the console script, what the Acumatica emulator holds after a run, and the sandbox's journal mapping
of the Looker allocation query."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from looker_emulator import LookerEmulator

from tests.support.looker import ALLOCATION_QUERY
from tests.support.plugins import sandbox_config
from tests.support.taprun import SANDBOX

TARGET = str(Path(sys.executable).parent / "target-acumatica")
STREAM = "overhead_allocation"
EXPENSE = ["82000", "85000", "88000", "60000", "61000", "64000"]
BRANCHES = ["EASTDIV", "HEADOFFICE", "WESTDIV"]

SCHEMA = {
    "type": "SCHEMA",
    "stream": STREAM,
    "key_properties": ["allocation_id", "line"],
    "schema": {
        "type": "object",
        "properties": {
            "allocation_id": {"type": "string"},
            "line": {"type": "integer"},
            "period": {"type": "string"},
            "account": {"type": "string"},
            "subaccount": {"type": ["string", "null"]},
            "branch": {"type": "string"},
            "cost_center": {"type": ["string", "null"]},
            "description": {"type": ["string", "null"]},
            "allocated_amount": {"type": "number"},
        },
    },
}

MAPPING = {
    "group_by": ["period", "allocation_id"],
    "key_prefix": "OH",
    "account": "account",
    "subaccount": "subaccount",
    "branch": "branch",
    "amount": "allocated_amount",
    "line_description": "description",
    "post_period": "period",
    "description": {"template": "Overhead allocation {allocation_id} {period}"},
}


def allocation_rows(allocations: int = 3, lines: int = 4, period: str = "2024-03") -> list[dict]:
    """Per allocation, ``lines`` debits to cost centers and one balancing credit to the pool 67000."""
    rows = []
    for a in range(1, allocations + 1):
        total = Decimal("0.00")
        for j in range(lines):
            cents = (a * 7919 + j * 104729) % 500_000 + 101
            amount = Decimal(cents).scaleb(-2)
            total += amount
            rows.append(
                {
                    "allocation_id": f"A-{a:04d}",
                    "line": j + 1,
                    "period": period,
                    "account": EXPENSE[(a + j) % len(EXPENSE)],
                    "subaccount": "000-000",
                    "branch": BRANCHES[(a + j) % len(BRANCHES)],
                    "cost_center": f"CC-{j + 1}00",
                    "description": f"Allocation {a} to CC-{j + 1}00",
                    "allocated_amount": amount,
                }
            )
        rows.append(
            {
                "allocation_id": f"A-{a:04d}",
                "line": lines + 1,
                "period": period,
                "account": "67000",
                "subaccount": "000000",
                "branch": "HEADOFFICE",
                "cost_center": None,
                "description": f"Allocation {a} from the overhead pool",
                "allocated_amount": -total,
            }
        )
    return rows


def singer_input(rows: list[dict], stream: str = STREAM, state: dict | None = None) -> str:
    schema = {**SCHEMA, "stream": stream}
    lines = [json.dumps(schema)]
    lines += [json.dumps({"type": "RECORD", "stream": stream, "record": r}, default=_number) for r in rows]
    lines.append(json.dumps({"type": "STATE", "value": state or {"bookmarks": {stream: {"done": True}}}}))
    return "\n".join(lines) + "\n"


def _number(value):
    if isinstance(value, Decimal):
        return float(value)  # JSON number text; exact for 2-place amounts via repr
    raise TypeError(value)


def target_config(emulator, audit_dir: Path, **overrides) -> dict:
    config = {key: SANDBOX[key] for key in ("tenant", "client_id", "client_secret", "username", "password")}
    config.update(
        base_url=emulator.base_url,
        audit_dir=str(audit_dir),
        max_backoff_seconds=0.2,
        poll_interval_seconds=0.01,
        journals={STREAM: MAPPING},
    )
    config.update(overrides)
    return config


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    states: list[dict] = field(default_factory=list)


def run_target(config: dict, text: str, tmp_path: Path) -> Run:
    """Run the target in this process (console-script start-up is slow on a busy machine); stderr holds
    its log and, when it fails, the error it raised, as the console script would print them."""
    from target_acumatica.target import TargetAcumatica

    out, err = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(err)
    root = logging.getLogger()
    root.addHandler(handler)
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                TargetAcumatica(config=config).listen(file_input=io.StringIO(text))
            except Exception as exc:  # the console script exits 1 on any error
                err.write(f"{type(exc).__name__}: {exc}\n")
                code = 1
    finally:
        root.removeHandler(handler)
    states = [
        json.loads(line)["value"] if '"type"' in line else json.loads(line)
        for line in out.getvalue().splitlines()
        if line.strip()
    ]
    return Run(code, out.getvalue(), err.getvalue(), states)


def run_cli(config: dict, text: str, tmp_path: Path, *args: str) -> Run:
    """Run the console script as Meltano does."""
    path = tmp_path / "target-config.json"
    path.write_text(json.dumps(config))
    done = subprocess.run(
        [TARGET, "--config", str(path), *args], input=text, capture_output=True, text=True, timeout=120
    )
    states = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return Run(done.returncode, done.stdout, done.stderr, states)


def posted_journals(emulator, prefix: str = "OH:") -> dict[str, dict]:
    """Journals in the emulator whose Description starts with ``prefix``, by Description key."""
    out = {}
    for rec in emulator.store.records("JournalTransaction", "24.200.001"):
        description = rec.get("Description") or ""
        if description.startswith(prefix):
            out[description.split(" ")[0]] = rec
    return out


def audit_lines(audit_dir: Path) -> list[dict]:
    path = audit_dir / "journals.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def assert_posted_equal_rows(emulator, rows: list[dict], prefix: str = "OH:") -> None:
    """Each allocation is one journal whose lines are its rows, in order, to the cent."""
    posted = posted_journals(emulator, prefix)
    by_key: dict[str, list[dict]] = {}
    for row in rows:
        by_key.setdefault(f"{prefix}{row['period']}:{row['allocation_id']}", []).append(row)
    assert sorted(posted) == sorted(by_key)
    for key, source in by_key.items():
        journal = posted[key]
        assert journal["Status"] == "Balanced" and journal["Module"] == "GL"
        got = [
            (
                d["Account"],
                d["Subaccount"].replace("-", ""),
                d["BranchID"],
                d["DebitAmount"],
                d["CreditAmount"],
                d["TransactionDescription"],
            )
            for d in journal["Details"]
        ]
        want = [
            (
                r["account"],
                r["subaccount"].replace("-", ""),
                r["branch"],
                max(r["allocated_amount"], Decimal(0)),
                max(-r["allocated_amount"], Decimal(0)),
                r["description"],
            )
            for r in source
        ]
        assert got == want, key


# The sandbox environment's mapping of the Looker allocation query ------------------------------

SANDBOX_MAPPING = sandbox_config("target-acumatica")["journals"]["overhead_allocation"]
PREFIX = SANDBOX_MAPPING["key_prefix"] + ":"


def query_rows(looker: LookerEmulator) -> list[dict]:
    rows = looker.run(ALLOCATION_QUERY["model"], ALLOCATION_QUERY["explore"], ALLOCATION_QUERY["fields"])
    return [{k.split(".", 1)[1]: v for k, v in row.items()} for row in rows]


def expected_journals(rows: list[dict]) -> dict[str, list[tuple]]:
    """The journal lines the sandbox mapping makes of the query's rows, by journal key."""
    expected: dict[str, list[tuple]] = {}
    for r in rows:
        amount = Decimal(str(r["allocated_amount"]))
        expected.setdefault(f"{PREFIX}{r['period']}:{r['allocation_id']}", []).append(
            (
                r["account"],
                r["subaccount"],
                r["branch"],
                max(amount, Decimal(0)),
                max(-amount, Decimal(0)),
                r["description"],
            )
        )
    return expected


def journal_lines(journal: dict) -> Counter:
    return Counter(
        (
            d["Account"],
            d["Subaccount"],
            d["BranchID"],
            d["DebitAmount"],
            d["CreditAmount"],
            d["TransactionDescription"],
        )
        for d in journal["Details"]
    )
