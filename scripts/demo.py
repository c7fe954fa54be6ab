"""The sandbox demo: Acumatica (emulated) into a warehouse with Meltano, twice.

    python scripts/demo.py                               # into DuckDB (make demo)
    python scripts/demo.py --target target-databricks    # into Delta tables (make demo-databricks)

1. start the local Acumatica emulator (and the Databricks emulator); no credentials needed,
2. `meltano --environment=sandbox run tap-acumatica <target>`,
3. show what landed: rows per table and AP spend by vendor,
4. change a few records in the emulator (edit bills, add bills, edit a vendor),
5. run again: only the changed records move, upserted in place,
6. stop the emulators.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PORT = int(os.environ.get("ACUMATICA_EMULATOR_PORT", "8811"))
ROOT_URL = f"http://127.0.0.1:{PORT}"
DATABRICKS_PORT = 8822  # where meltano.yml's sandbox environment expects the Databricks emulator
WAREHOUSE = ROOT / "output" / "warehouse.duckdb"
DELTA_ROOT = ROOT / "output" / "databricks"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--target", choices=["target-duckdb", "target-databricks"], default="target-duckdb")
    target = parser.parse_args().target
    ports = [PORT] + ([DATABRICKS_PORT] if target == "target-databricks" else [])
    busy = [p for p in ports if _port_busy(p)]
    if busy:
        print(f"Port {busy[0]} is in use; stop what listens there first.", file=sys.stderr)
        return 2
    (ROOT / "output").mkdir(exist_ok=True)
    emulators = [_start_emulator("acumatica-emulator", "--port", str(PORT))]
    try:
        if target == "target-databricks":
            shutil.rmtree(DELTA_ROOT, ignore_errors=True)
            emulators.append(
                _start_emulator(
                    "databricks-emulator", "--port", str(DATABRICKS_PORT), "--data-dir", str(DELTA_ROOT)
                )
            )
        elif WAREHOUSE.exists():
            WAREHOUSE.unlink()
        env = {**os.environ, "TAP_ACUMATICA_BASE_URL": f"{ROOT_URL}/AcumaticaERP"}
        _meltano(
            ["state", "clear", "--force", f"sandbox:tap-acumatica-to-{target}"], env, check=False, quiet=True
        )
        warehouse = _DeltaTables() if target == "target-databricks" else _DuckDBFile()

        _banner("First run: full load")
        first_at = datetime.now(UTC)
        _meltano(["run", "tap-acumatica", target], env)
        _show_tables(warehouse, since=None)
        _show_spend(warehouse)

        _banner("Changing records in Acumatica (emulator)")
        _change_records()

        _banner("Second run: incremental")
        second_at = datetime.now(UTC)
        _meltano(["run", "tap-acumatica", target], env)
        _show_tables(warehouse, since=second_at)
        _show_spend(warehouse)
        print(f"\nFirst run started {first_at:%H:%M:%S}Z, second {second_at:%H:%M:%S}Z.")
        print(warehouse.where)
    finally:
        for proc in emulators:
            proc.terminate()
            proc.wait(timeout=10)
        print("Emulators stopped.")
    return 0


class _DuckDBFile:
    """The embedded warehouse: target-duckdb's file, schema acumatica."""

    where = f"Warehouse: {WAREHOUSE.relative_to(ROOT)} (open it with duckdb to explore)."

    def connect(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(str(WAREHOUSE), read_only=True)
        con.execute("use acumatica")
        return con

    def tables(self, con: duckdb.DuckDBPyConnection) -> list[str]:
        rows = con.execute(
            "select table_name from information_schema.tables where table_schema = 'acumatica' order by 1"
        ).fetchall()
        return [r[0] for r in rows]


class _DeltaTables:
    """The Delta tables the Databricks emulator wrote under output/databricks/workspace/acumatica."""

    where = f"Delta tables: {DELTA_ROOT.relative_to(ROOT)}/workspace/acumatica/<table> (open with deltalake)."

    def connect(self) -> duckdb.DuckDBPyConnection:
        from deltalake import DeltaTable

        # The emulator batches Delta commits for a moment; have it write them now.
        flush = f"http://127.0.0.1:{DATABRICKS_PORT}/_emulator/flush"
        urllib.request.urlopen(urllib.request.Request(flush, method="POST"), timeout=30).close()
        con = duckdb.connect()
        for path in sorted((DELTA_ROOT / "workspace" / "acumatica").iterdir()):
            if (path / "_delta_log").is_dir():
                con.register(path.name, DeltaTable(str(path)).to_pyarrow_table())
        return con

    def tables(self, con: duckdb.DuckDBPyConnection) -> list[str]:
        return sorted(r[0] for r in con.execute("show tables").fetchall())


def _start_emulator(command: str, *args: str) -> subprocess.Popen:
    exe = shutil.which(command, path=str(BIN)) or command
    proc = subprocess.Popen([exe, *args], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening" not in line:
        proc.terminate()
        msg = f"{command} did not start: {line!r}"
        raise SystemExit(msg)
    print(line.strip())
    return proc


def _meltano(args: list[str], env: dict, *, check: bool = True, quiet: bool = False) -> None:
    cmd = [str(BIN / "meltano"), "--environment=sandbox", *args]
    if not quiet:
        print("$ meltano --environment=sandbox " + " ".join(args), flush=True)
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=quiet, text=True, check=False)
    if check and result.returncode != 0:
        msg = f"meltano {' '.join(args)} failed with exit code {result.returncode}"
        raise SystemExit(msg)


def _control(method: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{ROOT_URL}/_emulator{path}", data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read()
    return json.loads(text) if text else {}


def _change_records() -> None:
    for nbr in ("000002", "000005", "000010"):
        _control("PATCH", f"/records/Bill/Bill/{nbr}", {"Description": "Approved by AP clerk", "Hold": False})
        print(f"  edited Bill {nbr} (description, hold)")
    lines = [
        {"Account": "60000", "Subaccount": "000-000", "Amount": "1500.00", "Description": "Freight"},
        {"Account": "62000", "Subaccount": "000-000", "Amount": "1000.00", "Description": "Pallets"},
    ]
    for vendor in ("V000001", "V000012"):
        record = _control(
            "POST",
            "/records/Bill",
            {
                "Vendor": vendor,
                "Amount": "2500.00",
                "Balance": "2500.00",
                "Status": "Open",
                "Description": "Freight and pallets",
                "Details": lines,
            },
        )
        print(f"  added Bill {record.get('ReferenceNbr', '?')} for {vendor}, 2,500.00 in two lines")
    _control("PATCH", "/records/Vendor/V000001", {"VendorName": "Acme Supplies (renamed)"})
    print("  renamed Vendor V000001")


def _show_tables(warehouse, since: datetime | None) -> None:
    with warehouse.connect() as con:
        print(f"\n{'table':<24}{'rows':>8}" + (f"{'moved this run':>16}" if since else ""))
        for table in warehouse.tables(con):
            total = con.execute(f'select count(*) from "{table}"').fetchone()[0]
            line = f"{table:<24}{total:>8}"
            columns = {c[0].lower() for c in con.execute(f'describe "{table}"').fetchall()}
            if since and "_sdc_batched_at" in columns:
                moved = con.execute(
                    f'select count(*) from "{table}" where _sdc_batched_at >= ?',
                    [since.replace(tzinfo=None)],
                ).fetchone()[0]
                line += f"{moved:>16}"
            print(line)


def _show_spend(warehouse) -> None:
    with warehouse.connect() as con:
        rows = con.execute(
            """
            select b.vendor, v.vendorname, count(*) as bills, sum(b.amount) as spend
            from bills b left join vendors v on v.vendorid = b.vendor
            group by all order by spend desc limit 8
            """
        ).fetchall()
    print(f"\nAP spend by vendor (top {len(rows)}):")
    print(f"  {'vendor':<10}{'name':<34}{'bills':>6}{'spend':>16}")
    for vendor, name, bills, spend in rows:
        print(f"  {vendor or '':<10}{(name or '')[:32]:<34}{bills:>6}{spend:>16,.2f}")


def _banner(text: str) -> None:
    print(f"\n=== {text} ===", flush=True)


def _port_busy(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


if __name__ == "__main__":
    sys.exit(main())
