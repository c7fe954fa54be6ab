"""target-acumatica: rows/s, journals/s, Acumatica requests per journal and peak memory posting allocations.

Starts the Acumatica emulator in this process and pipes a generated Singer stream shaped like tap-looker's
overhead allocation (the same SCHEMA and columns; journals of 20 to 500 lines, each a pool credit and its
cost-center debits, lengths log-uniform) into the ``target-acumatica`` console script with the sandbox
mapping of meltano.yml's sandbox environment. Prints rows/s and journals/s (wall time of the target
process, start-up included), Acumatica requests per journal and in all (from the emulator's own
counters), and the target's peak memory (VmHWM), with the ratio of the largest input's peak to the
smallest's (1.0 is memory flat in rows and journals). Then pipes the same input in again and prints the
requests of that rerun: lookups only, no PUT. Prints figures; asserts nothing.

    python bench/target_acumatica_post.py [--rows 1000 10000]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from collections import Counter
from decimal import Decimal
from pathlib import Path

import msgspec
from acumatica_emulator import AcumaticaEmulator, EmulatorConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import BIN, print_report, run_measured, sandbox_config

STREAM = "overhead_allocation"
MIN_LINES, MAX_LINES = 20, 500
#: Overhead pools of the Looker emulator's allocation: code, name, pool account, receiving account.
RULES = (
    ("FAC", "Facilities", "67000", "82000"),
    ("IT", "IT services", "70000", "85000"),
    ("HR", "HR and administration", "73000", "88000"),
)
CENT = Decimal("0.01")


def _column(description: str, kind: str = "string", **extra) -> dict:
    return {"description": description, "type": [kind, "null"], **extra}


#: The SCHEMA tap-looker writes for the sandbox overhead allocation query.
SCHEMA = {
    "type": "SCHEMA",
    "stream": STREAM,
    "schema": {
        "type": "object",
        "properties": {
            "allocation_id": _column("Looker field overhead_allocation.allocation_id (string)"),
            "period": _column("Looker field overhead_allocation.period (string)"),
            "posting_date": _column(
                "Looker field overhead_allocation.posting_date (date_date)", format="date"
            ),
            "account": _column("Looker field overhead_allocation.account (string)"),
            "subaccount": _column("Looker field overhead_allocation.subaccount (string)"),
            "branch": _column("Looker field overhead_allocation.branch (string)"),
            "cost_center": _column("Looker field overhead_allocation.cost_center (string)"),
            "description": _column("Looker field overhead_allocation.description (string)"),
            "allocated_amount": _column("Looker field overhead_allocation.allocated_amount (sum)", "number"),
        },
    },
    "key_properties": ["allocation_id", "period", "account", "subaccount", "branch", "cost_center"],
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000, 10_000])
    args = parser.parse_args()
    mapping = sandbox_config("target-acumatica")
    peaks: dict[int, float] = {}
    for size in args.rows:
        with tempfile.TemporaryDirectory() as tmp, AcumaticaEmulator(EmulatorConfig(port=0)) as emu:
            input_path = Path(tmp, "input.singer")
            lengths = write_input(input_path, size)
            config_path = Path(tmp, "config.json")
            config_path.write_text(
                json.dumps({**mapping, "base_url": emu.base_url, "audit_dir": str(Path(tmp, "audit"))})
            )
            first = run_target(emu, config_path, input_path, Path(tmp, "first.log"))
            rerun = run_target(emu, config_path, input_path, Path(tmp, "rerun.log"))
            audit_lines = Path(tmp, "audit", "journals.jsonl").read_text().splitlines()
            audit = Counter(json.loads(line)["status"] for line in audit_lines)
        label = f"rows_{size // 1000}k"
        journals = len(lengths)
        peaks[size] = first["peak_kib"]
        requests = first["requests"]
        print_report(
            {
                f"{label}_journals": f"{journals} ({min(lengths)} to {max(lengths)} lines)",
                f"{label}_rows_per_s": round(size / first["seconds"]),
                f"{label}_journals_per_s": round(journals / first["seconds"], 1),
                f"{label}_requests_per_journal": round(sum(requests.values()) / journals, 2),
                f"{label}_puts_per_journal": round(requests.get("PUT entity", 0) / journals, 2),
                f"{label}_gets_per_journal": round(requests.get("GET entity_list", 0) / journals, 2),
                f"{label}_requests": requests,
                f"{label}_peak_memory_mib": round(first["peak_kib"] / 1024, 1),
                f"{label}_rerun_requests": rerun["requests"],
                f"{label}_rerun_seconds": round(rerun["seconds"], 1),
                f"{label}_audit_statuses": dict(audit),
            }
        )
    if len(peaks) > 1:  # flat memory: the largest input's peak against the smallest's
        low, high = min(peaks), max(peaks)
        print_report(
            {f"peak_memory_ratio_{high // 1000}k_to_{low // 1000}k": round(peaks[high] / peaks[low], 2)}
        )


def journal_lengths(rows: int, seed: int = 42) -> list[int]:
    """Lines per journal, log-uniform between MIN_LINES and MAX_LINES, adding up to ``rows``."""
    rng = random.Random(seed)
    lengths: list[int] = []
    left = rows
    while left:
        n = round(MIN_LINES * (MAX_LINES / MIN_LINES) ** rng.random())
        if left - n < MIN_LINES:
            n = left if left <= MAX_LINES else left - MIN_LINES
        lengths.append(n)
        left -= n
    return lengths


def write_input(path: Path, rows: int) -> list[int]:
    """The Singer stream: SCHEMA, one RECORD per allocation line, STATE; returns the journal lengths."""
    rng = random.Random(7)
    lengths = journal_lengths(rows)
    encoder = msgspec.json.Encoder(decimal_format="number")
    with path.open("wb") as out:
        out.write(encoder.encode(SCHEMA) + b"\n")
        for j, lines in enumerate(lengths):
            code, name, pool_account, receiving = RULES[j % len(RULES)]
            month = j % 12 + 1
            base = {
                "allocation_id": f"ALLOC-{code}-{j:05d}",
                "period": f"{month:02d}2026",
                "posting_date": f"2026-{month:02d}-28",
            }
            shares = [Decimal(rng.randrange(100, 5_000_000)) * CENT for _ in range(lines - 1)]
            records = [
                {
                    **base,
                    "account": pool_account,
                    "subaccount": "000-000",
                    "branch": "HEADOFFICE",
                    "cost_center": "ADMIN",
                    "description": f"{name} allocation 2026-{month:02d}: pool",
                    "allocated_amount": -sum(shares),
                }
            ]
            records += [
                {
                    **base,
                    "account": receiving,
                    "subaccount": f"000-{k % 9 + 1:03d}",
                    "branch": "HEADOFFICE",
                    "cost_center": f"CC{k + 1:04d}",
                    "description": f"{name} allocation 2026-{month:02d}: CC{k + 1:04d}",
                    "allocated_amount": share,
                }
                for k, share in enumerate(shares)
            ]
            for record in records:
                message = {"type": "RECORD", "stream": STREAM, "record": record}
                out.write(encoder.encode(message) + b"\n")
        out.write(encoder.encode({"type": "STATE", "value": {"bookmarks": {STREAM: {}}}}) + b"\n")
    return lengths


def run_target(emu: AcumaticaEmulator, config_path: Path, input_path: Path, log_path: Path) -> dict:
    emu.stats.reset()
    with input_path.open("rb") as stdin:
        run = run_measured([str(BIN / "target-acumatica"), "--config", str(config_path)], log_path, stdin)
    requests = {f"{m} {kind}": n for (m, kind), n in sorted(emu.stats.requests.items())}
    return {"seconds": run.seconds, "peak_kib": run.peak_kib, "requests": requests}


if __name__ == "__main__":
    main()
