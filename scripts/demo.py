"""The sandbox demo: Acumatica (emulated) into DuckDB with Meltano, twice.

1. start the local Acumatica emulator (no credentials needed),
2. `meltano --environment=sandbox run tap-acumatica target-duckdb`,
3. show what landed: rows per table and AP spend by vendor,
4. change a few records in the emulator (edit bills, add bills, edit a vendor),
5. run again: only the changed records move, upserted in place,
6. stop the emulator.
"""

from __future__ import annotations

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
WAREHOUSE = ROOT / "output" / "warehouse.duckdb"
STATE_ID = "sandbox:tap-acumatica-to-target-duckdb"


def main() -> int:
    if _port_busy(PORT):
        print(f"Port {PORT} is in use; set ACUMATICA_EMULATOR_PORT to a free port.", file=sys.stderr)
        return 2
    emulator = _start_emulator()
    try:
        env = {**os.environ, "TAP_ACUMATICA_BASE_URL": f"{ROOT_URL}/AcumaticaERP"}
        WAREHOUSE.parent.mkdir(exist_ok=True)
        if WAREHOUSE.exists():
            WAREHOUSE.unlink()
        _meltano(["state", "clear", "--force", STATE_ID], env, check=False, quiet=True)

        _banner("First run: full load")
        first_at = datetime.now(UTC)
        _meltano(["run", "tap-acumatica", "target-duckdb"], env)
        _show_tables(since=None)
        _show_spend()

        _banner("Changing records in Acumatica (emulator)")
        _change_records()

        _banner("Second run: incremental")
        second_at = datetime.now(UTC)
        _meltano(["run", "tap-acumatica", "target-duckdb"], env)
        _show_tables(since=second_at)
        _show_spend()
        print(f"\nFirst run started {first_at:%H:%M:%S}Z, second {second_at:%H:%M:%S}Z.")
        print(f"Warehouse: {WAREHOUSE.relative_to(ROOT)} (open it with duckdb to explore).")
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
        print("Emulator stopped.")
    return 0


def _start_emulator() -> subprocess.Popen:
    exe = shutil.which("acumatica-emulator", path=str(BIN)) or "acumatica-emulator"
    proc = subprocess.Popen([exe, "--port", str(PORT)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening" not in line:
        proc.terminate()
        msg = f"The emulator did not start: {line!r}"
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


def _show_tables(since: datetime | None) -> None:
    with duckdb.connect(str(WAREHOUSE), read_only=True) as con:
        tables = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'acumatica' order by 1"
            ).fetchall()
        ]
        print(f"\n{'table':<24}{'rows':>8}" + (f"{'moved this run':>16}" if since else ""))
        for table in tables:
            total = con.execute(f'select count(*) from acumatica."{table}"').fetchone()[0]
            line = f"{table:<24}{total:>8}"
            if since:
                moved = con.execute(
                    f'select count(*) from acumatica."{table}" where _sdc_batched_at >= ?',
                    [since.replace(tzinfo=None)],
                ).fetchone()[0]
                line += f"{moved:>16}"
            print(line)


def _show_spend() -> None:
    with duckdb.connect(str(WAREHOUSE), read_only=True) as con:
        rows = con.execute(
            """
            select b.vendor, v.vendorname, count(*) as bills, sum(b.amount) as spend
            from acumatica.bills b left join acumatica.vendors v on v.vendorid = b.vendor
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
