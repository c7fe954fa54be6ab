"""target-databricks load cost against the Databricks emulator: statements, uploads, rows/s, memory.

Starts ``databricks-emulator`` (its CLI, own process) and pipes generated Bill-like Singer records
(25 columns: decimals, timestamps, booleans, a JSON array of lines) into the ``target-databricks``
console script, once on the inline path (MERGE ... FROM VALUES with typed parameters; the bulk path
turned off, so batches that need several statements go through a staging table) and once on the bulk
path (Parquet files in a volume, one MERGE from read_files per batch).

Prints, per path: statements and file uploads per 100,000 rows (from the emulator's own counters; the
bulk path also makes 2 Files API deletes per batch, not counted), rows per second (wall time of the
target process, start-up included), its CPU seconds, and peak memory (VmHWM of the target process).
Next to them, the statements a loader that cuts MERGE ... VALUES statements at 20,000 cells (MeltanoLabs
target-databricks) would need for the same rows (computed, not run).

Then the ratios of the same run: the bulk path's time over the floor (DuckDB reading the same records
as NDJSON into a table, in this process) and over target-duckdb loading the same input (the demo's
loader, from ``.meltano/loaders/target-duckdb``, or ``--target-duckdb PATH``; skipped when absent).
Each console script is run once with ``--about`` first, with bytecode writing allowed, so start-up is
that of an installed plugin and not Python compiling its imports.
The inline path is slow on the emulator (it rewrites a whole Delta table per statement), so it runs
over fewer rows (``--inline-rows``) and its counts are scaled to 100,000. With ``--million`` the
bulk path also runs over 1,000,000 rows (10 batches of 100,000) to show memory stays flat.
Prints figures; asserts nothing.

    python bench/target_databricks_load.py [--rows 100000] [--inline-rows 5000] [--million]
        [--target-duckdb PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

import msgspec

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
TARGET = str(BIN / "target-databricks")
TARGET_DUCKDB = ROOT / ".meltano" / "loaders" / "target-duckdb" / "venv" / "bin" / "target-duckdb"
EMULATOR = str(BIN / "databricks-emulator")
RECORD_COLUMNS = 25
AUDIT_COLUMNS = 5
CELLS_PER_STATEMENT = 20_000

PROPERTIES = {
    "id": {"type": "integer"},
    "Type": {"type": "string"},
    "ReferenceNbr": {"type": "string"},
    "Status": {"type": "string"},
    "Vendor": {"type": "string"},
    "VendorRef": {"type": ["null", "string"]},
    "Description": {"type": ["null", "string"]},
    "CurrencyID": {"type": "string"},
    "Amount": {"type": "number"},
    "Balance": {"type": "number"},
    "TaxTotal": {"type": "number"},
    "CashDiscount": {"type": ["null", "number"]},
    "Terms": {"type": "string"},
    "Branch": {"type": "string"},
    "LocationID": {"type": "string"},
    "Project": {"type": ["null", "string"]},
    "Hold": {"type": "boolean"},
    "ApprovedForPayment": {"type": "boolean"},
    "Date": {"type": "string", "format": "date-time"},
    "DueDate": {"type": "string", "format": "date-time"},
    "CreatedDateTime": {"type": "string", "format": "date-time"},
    "LastModifiedDateTime": {"type": "string", "format": "date-time"},
    "LineCount": {"type": "integer"},
    "Note": {"type": ["null", "string"]},
    "Details": {"type": "array", "items": {"type": "object"}},
}
assert len(PROPERTIES) == RECORD_COLUMNS


def bill(i: int) -> dict:
    day = 1 + i % 28
    cents = Decimal(i % 100_000) / 100
    lines = [
        {
            "LineNbr": n,
            "Account": f"6{n}000",
            "Amount": cents + n,
            "Qty": Decimal("1.5"),
            "Description": f"Line {n} of bill {i}",
        }
        for n in range(1, 4)
    ]
    return {
        "id": i,
        "Type": "Bill",
        "ReferenceNbr": f"{i:08d}",
        "Status": ("Open", "Balanced", "Closed")[i % 3],
        "Vendor": f"V{i % 500:06d}",
        "VendorRef": f"INV-{i}" if i % 4 else None,
        "Description": f'Bill {i} for services; it\'s "quoted"',
        "CurrencyID": ("USD", "EUR")[i % 2],
        "Amount": cents + 6,
        "Balance": cents,
        "TaxTotal": (cents * Decimal("0.0825")).quantize(Decimal("0.0001")),
        "CashDiscount": Decimal("0.000000001") * (i % 1000) if i % 5 else None,
        "Terms": "30D",
        "Branch": "HEADOFFICE",
        "LocationID": "MAIN",
        "Project": f"P{i % 40}" if i % 3 else None,
        "Hold": i % 11 == 0,
        "ApprovedForPayment": i % 2 == 0,
        "Date": f"2024-03-{day:02d}T00:00:00+00:00",
        "DueDate": f"2024-04-{day:02d}T00:00:00+00:00",
        "CreatedDateTime": f"2024-03-{day:02d}T09:{i % 60:02d}:00.123+01:00",
        "LastModifiedDateTime": f"2024-03-{day:02d}T10:{i % 60:02d}:{i % 60:02d}.456789+00:00",
        "LineCount": 3,
        "Note": None,
        "Details": lines,
    }


def write_input(path: Path, rows: int) -> None:
    encoder = msgspec.json.Encoder(decimal_format="number")
    with path.open("wb") as out:
        out.write(
            encoder.encode(
                {
                    "type": "SCHEMA",
                    "stream": "bills",
                    "key_properties": ["id"],
                    "bookmark_properties": ["LastModifiedDateTime"],
                    "schema": {"type": "object", "properties": PROPERTIES},
                }
            )
            + b"\n"
        )
        for i in range(rows):
            out.write(
                encoder.encode(
                    {
                        "type": "RECORD",
                        "stream": "bills",
                        "record": bill(i),
                        "time_extracted": "2024-05-01T00:00:00+00:00",
                    }
                )
                + b"\n"
            )
        out.write(b'{"type": "STATE", "value": {"bookmarks": {"bills": {"done": true}}}}\n')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def control(base: str, path: str, method: str = "GET") -> dict:
    request = urllib.request.Request(f"{base}/_emulator/{path}", method=method)
    with urllib.request.urlopen(request, timeout=60) as response:
        body = response.read()
    return json.loads(body) if body else {}


def child_env() -> dict:
    """The environment for the measured processes: bytecode may be written (as an installed plugin's is)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_measured(args: list[str], input_path: Path) -> tuple[float, float, int, str]:
    """Run ``args`` over ``input_path`` on stdin; returns (wall seconds, CPU seconds, VmHWM KiB, stderr)."""
    started = time.perf_counter()
    with input_path.open("rb") as stdin, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(args, stdin=stdin, stdout=subprocess.DEVNULL, stderr=err, env=child_env())
        peak = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            try:
                for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
            except (FileNotFoundError, ProcessLookupError):
                pass
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{Path(args[0]).name} failed:\n{stderr[-4000:]}")
    return seconds, usage.ru_utime + usage.ru_stime, max(peak, usage.ru_maxrss), stderr


def warm_up(executable: str) -> None:
    """Run a console script once so its imports are compiled to bytecode before it is measured."""
    subprocess.run([executable, "--about"], capture_output=True, env=child_env(), check=False)


def run_target(
    base: str, workdir: Path, name: str, input_path: Path, settings: dict
) -> tuple[float, float, int, dict]:
    """Run the target over the input; returns (seconds, CPU seconds, VmHWM kB, emulator stats for the run)."""
    config = workdir / f"{name}.json"
    config.write_text(
        json.dumps(
            {
                "host": base,
                "warehouse_id": "sandbox-warehouse",
                "catalog": "workspace",
                "schema": name,
                "client_id": "sandbox-sp",
                "client_secret": "sandbox-sp-secret",
                **settings,
            }
        )
    )
    control(base, "stats", "DELETE")
    seconds, cpu, peak, _ = run_measured([TARGET, "--config", str(config)], input_path)
    return seconds, cpu, peak, control(base, "stats")


def floor_seconds(workdir: Path, input_path: Path, rows: int) -> float:
    """DuckDB reading the input's records as NDJSON into a table: the floor a loader is compared with."""
    import duckdb

    records = workdir / f"records-{rows}.ndjson"
    if not records.exists():
        decoder = msgspec.json.Decoder()
        with input_path.open("rb") as lines, records.open("wb") as out:
            for line in lines:
                message = decoder.decode(line)
                if message.get("type") == "RECORD":
                    out.write(msgspec.json.encode(message["record"]) + b"\n")
    conn = duckdb.connect(str(workdir / f"floor-{time.time_ns()}.duckdb"))
    started = time.perf_counter()
    conn.execute(
        "CREATE TABLE bills AS SELECT * FROM read_json(?, format = 'newline_delimited')", [str(records)]
    )
    seconds = time.perf_counter() - started
    loaded = conn.execute("SELECT count(*) FROM bills").fetchone()
    conn.close()
    assert loaded is not None and loaded[0] == rows
    return seconds


def run_target_duckdb(executable: Path, workdir: Path, input_path: Path) -> tuple[float, float, int]:
    config = workdir / "target-duckdb.json"
    config.write_text(
        json.dumps(
            {"filepath": str(workdir / f"duck-{time.time_ns()}.duckdb"), "default_target_schema": "bench"}
        )
    )
    seconds, cpu, peak, _ = run_measured([str(executable), "--config", str(config)], input_path)
    return seconds, cpu, peak


def statements(stats: dict) -> int:
    return sum(
        v
        for k, v in stats.items()
        if k.startswith("statements_")
        and k not in ("statements_succeeded", "statements_failed", "statements_canceled")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows for the bulk path")
    parser.add_argument("--inline-rows", type=int, default=5_000, help="rows for the inline path (scaled)")
    parser.add_argument("--million", action="store_true", help="also 1,000,000 rows on the bulk path")
    parser.add_argument("--target-duckdb", type=Path, default=TARGET_DUCKDB, help="target-duckdb executable")
    parser.add_argument("--skip-inline", action="store_true", help="bulk path and ratios only")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="tdbx-bench-"))
    port = free_port()
    emulator = subprocess.Popen(
        [EMULATOR, "--port", str(port), "--data-dir", str(workdir / "dbx")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        emulator.stdout.readline()  # "Databricks emulator listening on ..."
        results = []
        warm_up(TARGET)
        runs = (
            []
            if args.skip_inline
            else [
                ("inline", args.inline_rows, {"bulk_threshold_rows": 0, "batch_size_rows": args.inline_rows}),
            ]
        )
        runs.append(("bulk", args.rows, {"bulk_threshold_rows": 5000, "batch_size_rows": 100_000}))
        if args.million:
            runs.append(("bulk_1m", 1_000_000, {"bulk_threshold_rows": 5000, "batch_size_rows": 100_000}))
        for name, rows, settings in runs:
            input_path = workdir / f"input-{rows}.jsonl"
            if not input_path.exists():
                write_input(input_path, rows)
            seconds, cpu, peak_kb, stats = run_target(base, workdir, name, input_path, settings)
            results.append((name, rows, seconds, cpu, peak_kb, stats))
            print(f"{name}: {rows:,} rows in {seconds:.1f}s", file=sys.stderr, flush=True)

        per = 100_000
        meltano = math.ceil(per * RECORD_COLUMNS / CELLS_PER_STATEMENT)
        meltano_audit = math.ceil(per * (RECORD_COLUMNS + AUDIT_COLUMNS) / CELLS_PER_STATEMENT)
        print(
            "target-databricks load cost, Bill-like records "
            f"({RECORD_COLUMNS} columns + {AUDIT_COLUMNS} audit)"
        )
        print(
            "setup = once per run (schema, audit table, table, DESCRIBE, volume); "
            "per 100k = the batch statements (audit check, data, audit row) scaled to 100,000 rows"
        )
        print(
            f"{'path':<8} {'rows':>10} {'statements':>11} {'setup':>6} {'uploads':>8} {'stmts/100k':>11} "
            f"{'uploads/100k':>13} {'both/100k':>10} {'rows/s':>9} {'CPU s':>6} {'VmHWM MiB':>10}"
        )
        for name, rows, seconds, cpu, peak_kb, stats in results:
            n_statements, uploads = statements(stats), stats.get("uploads", 0)
            # CREATE SCHEMA, CREATE audit table, CREATE TABLE, DESCRIBE (+ CREATE VOLUME on the bulk path)
            setup = 4 + (1 if uploads else 0)
            batch_statements = (n_statements - setup) * per / rows
            print(
                f"{name:<8} {rows:>10,} {n_statements:>11,} {setup:>6} {uploads:>8,} "
                f"{batch_statements:>11,.1f} {uploads * per / rows:>13,.1f} "
                f"{batch_statements + uploads * per / rows:>10,.1f} "
                f"{rows / seconds:>9,.0f} {cpu:>6.1f} {peak_kb / 1024:>10,.0f}"
            )
            kinds = {
                k[len("statements_") :]: v
                for k, v in stats.items()
                if k.startswith("statements_") and k != "statements_succeeded"
            }
            print(f"{'':<8} statement kinds: {kinds}")
        print(
            f"20,000-cells MERGE VALUES loader, same 100,000 rows: {meltano} statements "
            f"({RECORD_COLUMNS} columns), {meltano_audit} with the {AUDIT_COLUMNS} audit columns"
        )
        bulk = next(r for r in results if r[0] == "bulk")
        bulk_input = workdir / f"input-{bulk[1]:d}.jsonl"
        floor = floor_seconds(workdir, bulk_input, bulk[1])
        print(
            f"ratios over the same {bulk[1]:,} rows, this run (time relative to the floor; lower is faster):"
        )

        def ratio_line(label: str, seconds: float, extra: str = "") -> None:
            print(f"  {label:<56} {bulk[1] / seconds:>9,.0f} rows/s  {seconds / floor:>5.1f}  {extra}")

        ratio_line("floor: DuckDB reading the records as NDJSON into a table", floor)
        ratio_line(
            "target-databricks, bulk path", bulk[2], f"(CPU {bulk[3]:.1f} s, VmHWM {bulk[4] / 1024:,.0f} MiB)"
        )
        if args.target_duckdb.exists():
            warm_up(str(args.target_duckdb))
            duck_seconds, duck_cpu, duck_peak = run_target_duckdb(args.target_duckdb, workdir, bulk_input)
            ratio_line(
                "target-duckdb", duck_seconds, f"(CPU {duck_cpu:.1f} s, VmHWM {duck_peak / 1024:,.0f} MiB)"
            )
            print(
                f"  target-databricks over target-duckdb: {bulk[2] / duck_seconds:.2f} of its time, "
                f"{bulk[3] / duck_cpu:.2f} of its CPU"
            )
        else:
            print(
                f"  target-duckdb: not found at {args.target_duckdb} (make plugins, or --target-duckdb PATH)"
            )
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)


if __name__ == "__main__":
    main()
