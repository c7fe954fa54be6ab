"""Running flows through Meltano as users do, and comparing what landed with the Acumatica emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb

from tests.support.compare import instant

ROOT = Path(__file__).resolve().parents[2]
MELTANO = str(Path(sys.executable).parent / "meltano")
VERSION = "24.200.001"

#: Fields that are the API's own bookkeeping, not data: not compared.
SKIPPED_FIELDS = ("id", "rowNumber", "_links", "custom", "note")

#: Per-request latency of the Acumatica emulator and loader batch size for a run killed mid-load:
#: the first batches commit while the tap still reads later streams.
KILLED_RUN_LATENCY_MS = 300
KILLED_RUN_BATCH_ROWS = 10

#: stream -> (entity, key fields)
FLOWS = {
    "vendors": ("Vendor", ["VendorID"]),
    "bills": ("Bill", ["Type", "ReferenceNbr"]),
    "purchase_orders": ("PurchaseOrder", ["Type", "OrderNbr"]),
    "ap_payments": ("Check", ["Type", "ReferenceNbr"]),
    "gl_accounts": ("Account", ["AccountCD"]),
    "subaccounts": ("Subaccount", ["SubaccountCD"]),
    "journal_transactions": ("JournalTransaction", ["Module", "BatchNbr"]),
    "sales_invoices": ("SalesInvoice", ["Type", "ReferenceNbr"]),
    "invoices": ("Invoice", ["Type", "ReferenceNbr"]),
    "customers": ("Customer", ["CustomerID"]),
    "stock_items": ("StockItem", ["InventoryID"]),
}


def system_dir(tmp_path: Path) -> Path:
    """A Meltano system directory of the test's own: Meltano writes each plugin's config and catalog to
    one file under ``<system dir>/run/<plugin>/``, so runs of one plugin in parallel test workers would
    read each other's half-written files. Its ``run/`` is private; everything else (the installed
    plugins, logs) links back to the project's ``.meltano``, as ``mlc-secrets run`` does for a run."""
    private = tmp_path / ".meltano-system"
    if not private.exists():
        private.mkdir()
        for entry in (ROOT / ".meltano").iterdir():
            if entry.name not in ("run", "meltano.db", "e2e-run.lock"):
                (private / entry.name).symlink_to(entry)
    return private


def meltano_env(tmp_path: Path, **env_overrides: str) -> dict[str, str]:
    """This process's environment, with the test's own Meltano system directory and database, and
    ``env_overrides``."""
    return {
        **os.environ,
        "MELTANO_SYS_DIR_ROOT": str(system_dir(tmp_path)),
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
        **env_overrides,
    }


def meltano(
    tmp_path: Path, *blocks: str, command_prefix: list[str] | tuple[str, ...] = (), **env_overrides: str
) -> subprocess.CompletedProcess:
    """`meltano --environment=sandbox run <blocks>` (a job, or a tap and a target), which must succeed."""
    proc = subprocess.run(
        [*command_prefix, MELTANO, "--environment=sandbox", "run", *blocks],
        cwd=ROOT,
        env=meltano_env(tmp_path, **env_overrides),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-6000:]
    return proc


def meltano_run(
    tmp_path: Path,
    target: str,
    command_prefix: list[str] = (),
    tap: str = "tap-acumatica",
    **env_overrides: str,
) -> subprocess.CompletedProcess:
    """`meltano --environment=sandbox run <tap> <target>` with its own system database."""
    return meltano(tmp_path, tap, target, command_prefix=command_prefix, **env_overrides)


def duckdb_run(tmp_path: Path, base_url: str) -> subprocess.CompletedProcess:
    return meltano_run(
        tmp_path,
        "target-duckdb",
        TAP_ACUMATICA_BASE_URL=base_url,
        TARGET_DUCKDB_FILEPATH=str(tmp_path / "warehouse.duckdb"),
    )


def warehouse(tmp_path: Path, table: str) -> list[dict]:
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        cursor = con.execute(f'select * from acumatica."{table}"')
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def assert_landed_equal_source(
    tables: dict[str, list[dict]], emulator, streams: dict[str, str] | None = None, column=str.lower
) -> None:
    """Every landed table equals the Acumatica emulator's records: same keys, no duplicates, same values.

    ``tables`` maps a table to its rows, ``streams`` a table to its stream in FLOWS (default: the same
    name), ``column`` a source field to the warehouse's column name.
    """
    streams = streams or {stream: stream for stream in FLOWS}
    for table, stream in streams.items():
        entity, keys = FLOWS[stream]
        source = {
            tuple(r[k] for k in keys): r for r in emulator.store.records(entity, VERSION, expand=("Details",))
        }
        rows = tables[table]
        landed = {tuple(r[column(k)] for k in keys): r for r in rows}
        assert len(landed) == len(rows), f"{table}: duplicate keys in the warehouse"
        assert landed.keys() == source.keys(), f"{table}: keys differ from the source's {entity} records"
        for key, record in source.items():
            row = landed[key]
            for field, value in record.items():
                if field in SKIPPED_FIELDS or column(field) not in row:
                    continue
                assert_same(row[column(field)], value, f"{table} {key} {field}")


def assert_tables_equal_source(tmp_path: Path, emulator) -> None:
    assert_landed_equal_source({stream: warehouse(tmp_path, stream) for stream in FLOWS}, emulator)


def assert_same(landed, source, where: str) -> None:
    if isinstance(source, list):
        lines = json.loads(landed) if isinstance(landed, str) else landed
        assert len(lines) == len(source), where
        for got, want in zip(lines, source, strict=True):
            for name, value in want.items():
                if name in got and not isinstance(value, dict | list):
                    assert_same(got[name], value, f"{where}.{name}")
        return
    if source is None or source == "":
        # target-duckdb loads through CSV, where an empty string and NULL are one value.
        assert landed in (None, ""), (where, landed)
    elif isinstance(source, bool):
        assert landed == source, where
    elif isinstance(source, int | float | Decimal):
        # target-duckdb stores JSON numbers as DOUBLE: equal to the cent.
        assert round(Decimal(str(landed)), 4) == round(Decimal(str(source)), 4), (where, landed, source)
    elif isinstance(source, str) and len(source) >= 19 and source[10] == "T":
        landed_text = landed.isoformat() if hasattr(landed, "isoformat") else str(landed)
        assert instant(landed_text) == instant(source), (where, landed, source)
    else:
        assert str(landed) == str(source), (where, landed, source)
