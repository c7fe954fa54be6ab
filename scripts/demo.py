"""The sandbox demo: one flow of the Meltano project against the local emulators, with one command.

    python scripts/demo.py                                 # make demo (acumatica-to-databricks)
    python scripts/demo.py --flow acumatica-to-snowflake   # make demo FLOW=acumatica-to-snowflake
    python scripts/demo.py --list                          # the flows, what each starts

For the chosen flow it
1. starts the emulators the flow needs (no credentials needed; all data is generated),
2. runs `meltano --environment=sandbox run <tap> <loader>`,
3. shows what landed, and where to look at it,
4. for the Acumatica flows: changes a few records in the emulator (edits bills, adds two bills, one
   of 1,234,567.89 with an empty description, renames a vendor) and runs again: only the changed
   records move, upserted in place,
5. stops the emulators (or, with --keep, leaves them running until Ctrl-C, to explore).

The default flow lands in Delta tables through the Databricks emulator (target-databricks): amounts
stay exact decimals and every name is quoted. target-duckdb 0.8.0 (flow acumatica-to-duckdb) stores
amounts as DOUBLE and '' as NULL; see the README.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FAKESNOW_BIN = ROOT / ".tools" / "fakesnow" / "bin"
BIGQUERY_BIN = ROOT / ".tools" / "bqemulator-venv" / "bin"
BIGQUERY_PROJECT = "test-project"

#: Emulator -> its port in the sandbox (meltano.yml's sandbox environment names the first four; the demo
#: passes every port to the plugins through their environment, so --free-ports can pick others).
PORTS = {
    "acumatica": 8811,
    "databricks": 8822,
    "intacct": 8833,
    "looker": 8844,
    "snowflake": 8855,
    "bigquery": 9050,
    "bigquery-grpc": 9060,
}

#: The streams the BigQuery flow selects (the tables of the README's BigQuery section, and the run's
#: record), as tests/e2e/test_acumatica_to_bigquery.py does: the emulator loads each table slowly.
BIGQUERY_SELECT = [
    "vendors",
    "bills",
    "purchase_orders",
    "ap_payments",
    "journal_transactions",
    "invoices",
    "_audit_runs",
]


@dataclass(frozen=True)
class Flow:
    """One flow of the sandbox: the Meltano blocks, the emulators it starts, where its result lands."""

    tap: str
    loader: str
    emulators: tuple[str, ...]
    #: Where to look at the result, with {out} for the output directory.
    result: str
    #: Change Acumatica records and run again (the incremental part of the demo).
    rerun: bool = False
    #: The schema (Databricks) the tap's load_schema names.
    schema: str = "acumatica"


FLOWS = {
    "acumatica-to-databricks": Flow(
        "tap-acumatica",
        "target-databricks",
        ("acumatica", "databricks"),
        "Delta tables in {out}/databricks/workspace/acumatica/<table> (read them with deltalake or duckdb)",
        rerun=True,
    ),
    "acumatica-to-duckdb": Flow(
        "tap-acumatica",
        "target-duckdb",
        ("acumatica",),
        "{out}/warehouse.duckdb, schema acumatica (open it with duckdb); amounts are DOUBLE, '' is NULL",
        rerun=True,
    ),
    "acumatica-to-snowflake": Flow(
        "tap-acumatica",
        "target-snowflake--sandbox",
        ("acumatica", "snowflake"),
        "schema ACUMATICA of the fakesnow server (in memory: use --keep and connect with "
        "snowflake-connector to 127.0.0.1:{snowflake_port}, protocol http, any credentials)",
        rerun=True,
    ),
    "acumatica-to-bigquery": Flow(
        "tap-acumatica",
        "target-bigquery--sandbox",
        ("acumatica", "bigquery"),
        "dataset acumatica of project test-project in the BigQuery emulator (in memory: use --keep and "
        "query it with google-cloud-bigquery, BIGQUERY_EMULATOR_HOST={bigquery_url}, credentials "
        "{out}/bigquery/service-account.json)",
        rerun=True,
    ),
    "intacct-to-databricks": Flow(
        "tap-sage-intacct",
        "target-databricks",
        ("intacct", "databricks"),
        "Delta tables in {out}/databricks/workspace/intacct/<table> (read them with deltalake or duckdb)",
        schema="intacct",
    ),
    "looker-to-acumatica": Flow(
        "tap-looker",
        "target-acumatica",
        ("looker", "acumatica"),
        "journals posted to the Acumatica emulator; one line per journal in "
        "{out}/target-acumatica/journals.jsonl (key, BatchNbr, status, run id)",
    ),
}
DEFAULT_FLOW = "acumatica-to-databricks"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--flow", choices=sorted(FLOWS), default=DEFAULT_FLOW)
    parser.add_argument("--list", action="store_true", help="list the flows and what each starts")
    parser.add_argument("--keep", action="store_true", help="leave the emulators running until Ctrl-C")
    parser.add_argument(
        "--free-ports",
        action="store_true",
        help="start the emulators on free ports instead of the sandbox's fixed ones",
    )
    parser.add_argument(
        "--output", type=Path, default=ROOT / "output", help="where the flow's files go (default: output/)"
    )
    args = parser.parse_args(argv)
    if args.list:
        for name, flow in FLOWS.items():
            print(f"{name:<26}meltano run {flow.tap} {flow.loader}; starts {', '.join(flow.emulators)}")
        return 0
    flow = FLOWS[args.flow]
    out = args.output.resolve()
    ports = {name: _free_port() if args.free_ports else port for name, port in PORTS.items()}
    needed = [ports[e] for e in flow.emulators] + (
        [ports["bigquery-grpc"]] if "bigquery" in flow.emulators else []
    )
    if busy := [p for p in needed if _port_busy(p)]:
        print(
            f"Port {busy[0]} is in use; stop what listens there first, or use --free-ports.", file=sys.stderr
        )
        return 2
    if missing := _missing_venvs(flow):
        print(
            f"{missing} is missing: run "
            f"`make {'snowflake' if 'fakesnow' in missing else 'bigquery'}-emulator`"
            " first (make demo does).",
            file=sys.stderr,
        )
        return 2
    out.mkdir(parents=True, exist_ok=True)
    started_at = time.monotonic()
    emulators: list[subprocess.Popen] = []
    try:
        env = _start(flow, ports, out, emulators)
        warehouse = _warehouse(flow, ports, out)
        # A fresh start: the emulators' data is new, so a bookmark of an earlier demo would skip it.
        _meltano(
            ["state", "clear", "--force", f"sandbox:{flow.tap}-to-{flow.loader}"],
            env,
            quiet=True,
            check=False,
        )

        _banner(f"First run: {flow.tap} -> {flow.loader}")
        run_id = _meltano_run(flow, env)
        warehouse.show(run_id)
        if flow.rerun:
            _banner("Changing records in Acumatica (emulator)")
            _change_records(ports["acumatica"])
            _banner("Second run: incremental")
            run_id = _meltano_run(flow, env)
            warehouse.show(run_id)
        bigquery_url = _url(ports["bigquery"])
        where = flow.result.format(out=out, snowflake_port=ports["snowflake"], bigquery_url=bigquery_url)
        print(f"\nResult: {where}")
        print(f"Flow {args.flow} took {time.monotonic() - started_at:.0f} s.")
        if args.keep:
            print("Emulators keep running; Ctrl-C stops them.", flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    finally:
        for proc in emulators:
            proc.terminate()
        for proc in emulators:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        print("Emulators stopped.")
    return 0


def _url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def _missing_venvs(flow: Flow) -> str | None:
    if "snowflake" in flow.emulators and not (FAKESNOW_BIN / "snowflake-compat-server").exists():
        return str(FAKESNOW_BIN.parent.relative_to(ROOT))
    if "bigquery" in flow.emulators and not (BIGQUERY_BIN / "bigquery-sandbox").exists():
        return str(BIGQUERY_BIN.parent.relative_to(ROOT))
    return None


def _start(flow: Flow, ports: dict[str, int], out: Path, emulators: list[subprocess.Popen]) -> dict[str, str]:
    """Start the flow's emulators; the environment that points the flow's plugins at them."""
    env = {
        **os.environ,
        "TARGET_DUCKDB_FILEPATH": str(out / "warehouse.duckdb"),
        "TARGET_DATABRICKS_FAILED_BATCH_DIR": str(out / "failed_batches"),
        "TARGET_ACUMATICA_AUDIT_DIR": str(out / "target-acumatica"),
    }
    if "databricks" in flow.emulators:
        shutil.rmtree(out / "databricks", ignore_errors=True)
    commands = {
        "acumatica": [BIN / "acumatica-emulator"],
        "databricks": [BIN / "databricks-emulator", "--data-dir", out / "databricks"],
        "intacct": [BIN / "intacct-emulator"],
        "looker": [BIN / "looker-emulator"],
        "snowflake": [FAKESNOW_BIN / "snowflake-compat-server"],
    }
    for name in flow.emulators:
        if name in commands:
            command = [str(part) for part in commands[name]]
            emulators.append(_start_emulator([*command, "--port", str(ports[name])], out))
    acumatica = f"{_url(ports['acumatica'])}/AcumaticaERP"
    env |= {
        "TAP_ACUMATICA_BASE_URL": acumatica,
        "TARGET_ACUMATICA_BASE_URL": acumatica,
        "TARGET_DATABRICKS_HOST": _url(ports["databricks"]),
        "TAP_SAGE_INTACCT_ENDPOINT_URL": f"{_url(ports['intacct'])}/ia/xml/xmlgw.phtml",
        "TAP_LOOKER_BASE_URL": _url(ports["looker"]),
        "FAKESNOW_PORT": str(ports["snowflake"]),
        # target-snowflake stages its batch files in the working directory unless told otherwise; a
        # stopped run would leave them in the repository.
        "TARGET_SNOWFLAKE_BATCH_CONFIG": json.dumps(
            {
                "encoding": {"format": "jsonl", "compression": "gzip"},
                "storage": {"root": (out / "snowflake-batches").as_uri()},
            }
        ),
    }
    if "bigquery" in flow.emulators:
        credentials = out / "bigquery" / "service-account.json"
        credentials.parent.mkdir(exist_ok=True)
        emulators.append(_start_bigquery(ports, credentials))
        env |= {
            "BIGQUERY_EMULATOR_HOST": _url(ports["bigquery"]),
            "TARGET_BIGQUERY_PROJECT": BIGQUERY_PROJECT,
            "TARGET_BIGQUERY_CREDENTIALS_PATH": str(credentials),
            "TAP_ACUMATICA__SELECT": json.dumps([f"{s}.*" for s in BIGQUERY_SELECT]),
        }
    return env


def _start_emulator(command: list[str], logs: Path) -> subprocess.Popen:
    """Start an emulator that prints "... listening on <url>" when ready; its stderr goes to a log."""
    log = logs / f"{Path(command[0]).name}.log"
    with log.open("w") as stderr:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening" not in line:
        proc.terminate()
        raise SystemExit(f"{Path(command[0]).name} did not start: {line!r}; see {log}")
    print(line.strip())
    # Keep reading what it prints, so a full pipe never stalls it.
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    return proc


def _start_bigquery(ports: dict[str, int], credentials: Path) -> subprocess.Popen:
    log = credentials.parent / "bigquery-sandbox.log"
    with log.open("w") as stream:
        proc = subprocess.Popen(
            [
                str(BIGQUERY_BIN / "bigquery-sandbox"),
                "--rest-port",
                str(ports["bigquery"]),
                "--grpc-port",
                str(ports["bigquery-grpc"]),
                "--project",
                BIGQUERY_PROJECT,
                "--credentials-out",
                str(credentials),
            ],
            stdout=stream,
            stderr=subprocess.STDOUT,
        )
    datasets = f"{_url(ports['bigquery'])}/bigquery/v2/projects/{BIGQUERY_PROJECT}/datasets"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"the BigQuery emulator stopped; see {log}")
        try:
            with urllib.request.urlopen(datasets, timeout=2):
                break
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                proc.terminate()
                raise SystemExit(f"the BigQuery emulator did not answer within 60 s; see {log}") from None
            time.sleep(0.3)
    print(f"BigQuery emulator listening on {_url(ports['bigquery'])}")
    return proc


def _meltano_run(flow: Flow, env: dict[str, str]) -> str:
    """One `meltano run`, with its own run id (every row it lands carries it as _audit_run_id)."""
    run_id = str(uuid.uuid4())
    _meltano(["run", flow.tap, flow.loader], env | {"MELTANO_RUN_ID": run_id})
    return run_id


def _meltano(args: list[str], env: dict, *, quiet: bool = False, check: bool = True) -> None:
    cmd = [str(BIN / "meltano"), "--environment=sandbox", *args]
    if not quiet:
        print("$ meltano --environment=sandbox " + " ".join(args), flush=True)
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=quiet, text=True, check=False)
    if check and result.returncode != 0:
        detail = f"\n{result.stderr[-3000:]}" if quiet else ""
        raise SystemExit(f"meltano {' '.join(args)} failed with exit code {result.returncode}{detail}")


def _control(port: int, method: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{_url(port)}/_emulator{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read()
    return json.loads(text) if text else {}


#: The bills the demo adds: (vendor, amount, description, lines (account, amount, description)). The
#: second shows what the warehouse keeps: a large amount to the cent and an empty description.
ADDED_BILLS = (
    (
        "V000001",
        "2500.00",
        "Freight and pallets",
        (("60000", "1500.00", "Freight"), ("62000", "1000.00", "Pallets")),
    ),
    ("V000012", "1234567.89", "", (("60000", "1234567.89", ""),)),
)


def _change_records(port: int) -> None:
    for nbr in ("000002", "000005", "000010"):
        _control(
            port, "PATCH", f"/records/Bill/Bill/{nbr}", {"Description": "Approved by AP clerk", "Hold": False}
        )
        print(f"  edited Bill {nbr} (description, hold)")
    for vendor, amount, description, lines in ADDED_BILLS:
        record = _control(
            port,
            "POST",
            "/records/Bill",
            {
                "Vendor": vendor,
                "Amount": amount,
                "Balance": amount,
                "Status": "Open",
                "Description": description,
                "Details": [
                    {"Account": account, "Subaccount": "000-000", "Amount": line_amount, "Description": text}
                    for account, line_amount, text in lines
                ],
            },
        )
        print(
            f"  added Bill {record.get('ReferenceNbr', '?')} for {vendor}, {Decimal(amount):,} in "
            f"{len(lines)} line(s), description {description!r}"
        )
    _control(port, "PATCH", "/records/Vendor/V000001", {"VendorName": "Acme Supplies (renamed)"})
    print("  renamed Vendor V000001")


# ---- showing what landed ------------------------------------------------------------------------


class Warehouse:
    """What a flow landed: every table of its schema as rows with lower-case column names."""

    #: Table of the bills stream, and of the vendors stream (None: the flow lands no bills).
    bills: str | None = "bills"
    vendors: str = "vendors"

    def read(self) -> dict[str, list[dict]]:
        raise NotImplementedError

    def show(self, run_id: str) -> None:
        tables = self.read()
        print(f"\n{'table':<28}{'rows':>8}{'landed this run':>18}")
        for name, rows in sorted(tables.items()):
            # Rows carry the tap's run id; the runs' own records (_audit_runs) carry it as run_id.
            moved = sum(str(row.get("_audit_run_id", row.get("run_id"))) == run_id for row in rows)
            print(f"{name:<28}{len(rows):>8}{moved:>18}")
        if self.bills and self.bills in tables:
            _show_spend(tables[self.bills], tables.get(self.vendors, []))


def _show_spend(bills: list[dict], vendors: list[dict]) -> None:
    names = {v.get("vendorid"): v.get("vendorname") for v in vendors}
    spend: dict[str, list] = {}
    for bill in bills:
        if bill.get("type", "Bill") != "Bill":
            continue
        total = spend.setdefault(bill.get("vendor") or "", [0, Decimal(0)])
        total[0] += 1
        total[1] += Decimal(str(bill.get("amount") or 0))
    top = sorted(spend.items(), key=lambda item: item[1][1], reverse=True)[:8]
    print(f"\nAP spend by vendor (top {len(top)}):")
    print(f"  {'vendor':<10}{'name':<34}{'bills':>6}{'spend':>18}")
    for vendor, (count, total) in top:
        print(f"  {vendor:<10}{(names.get(vendor) or '')[:32]:<34}{count:>6}{_money(total):>18}")
    for bill in (b for b in bills if b.get("description") in ("", None)):
        print(
            f"  bill {bill.get('referencenbr')}: amount {bill.get('amount')}, "
            f"description {bill.get('description')!r}"
        )


def _money(amount: Decimal) -> str:
    """Thousands separated, to the cent, with any further digits the amount has (never rounded)."""
    cents = amount.quantize(Decimal("0.01"))
    return f"{cents:,}" if cents == amount else f"{amount.normalize():,}"


def _lower(row: dict) -> dict:
    return {k.lower(): v for k, v in row.items()}


class DeltaTables(Warehouse):
    """The Delta tables the Databricks emulator writes under <out>/databricks/workspace/<schema>."""

    def __init__(self, port: int, path: Path) -> None:
        self.port, self.path = port, path

    def read(self) -> dict[str, list[dict]]:
        from deltalake import DeltaTable

        # The emulator batches Delta commits for a moment; have it write them now.
        flush = urllib.request.Request(f"{_url(self.port)}/_emulator/flush", method="POST")
        urllib.request.urlopen(flush, timeout=30).close()
        return {
            path.name: [_lower(r) for r in DeltaTable(str(path)).to_pyarrow_table().to_pylist()]
            for path in sorted(self.path.iterdir())
            if (path / "_delta_log").is_dir()
        }


class DuckDBFile(Warehouse):
    """target-duckdb's file, schema acumatica."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, list[dict]]:
        with duckdb.connect(str(self.path), read_only=True) as con:
            names = [
                r[0]
                for r in con.execute(
                    "select table_name from information_schema.tables where table_schema = 'acumatica'"
                ).fetchall()
            ]
            tables = {}
            for name in names:
                cursor = con.execute(f'select * from acumatica."{name}"')
                columns = [d[0].lower() for d in cursor.description]
                tables[name] = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        return tables


#: Runs in fakesnow's venv: argv = port, schema; prints {table: rows} of the schema.
SNOWFLAKE_READ = """
import json, sys
import snowflake.connector
port, schema = int(sys.argv[1]), sys.argv[2]
sandbox = dict(account="sandbox", user="sandbox", password="sandbox", database="ML_CONNECTOR")
with snowflake.connector.connect(**sandbox, host="127.0.0.1", port=port, protocol="http") as conn:
    names = [r[0] for r in conn.cursor().execute(
        "select table_name from information_schema.tables where table_schema = %s", (schema,)).fetchall()]
    tables = {}
    for name in names:
        cursor = conn.cursor().execute(f'select * from "{schema}"."{name}"')
        columns = [d[0].lower() for d in cursor.description]
        tables[name.lower()] = [dict(zip(columns, row)) for row in cursor.fetchall()]
print(json.dumps(tables, default=str))
"""

#: Runs in the BigQuery emulator's venv: argv = project, dataset, credentials; prints {table: rows}.
BIGQUERY_READ = """
import json, sys
from google.cloud import bigquery
project, dataset, credentials = sys.argv[1:4]
client = bigquery.Client.from_service_account_json(credentials, project=project)
tables = {}
for table in client.list_tables(f"{project}.{dataset}", timeout=30):
    query = client.query(f"SELECT * FROM `{project}.{dataset}.{table.table_id}`", timeout=30)
    rows = query.result(timeout=60)
    tables[table.table_id] = [{k.lower(): v for k, v in dict(row).items()} for row in rows]
print(json.dumps(tables, default=str))
"""


class Remote(Warehouse):
    """Tables read by a script in an emulator's own venv (its client library lives there)."""

    def __init__(
        self,
        python: Path,
        script: str,
        args: list[str],
        env: dict[str, str] | None = None,
        bills: str = "bills",
    ) -> None:
        self.python, self.script, self.args, self.env, self.bills = python, script, args, env, bills

    def read(self) -> dict[str, list[dict]]:
        proc = subprocess.run(
            [str(self.python), "-c", self.script, *self.args],
            capture_output=True,
            text=True,
            env={**os.environ, **(self.env or {})},
            timeout=300,
            check=False,
        )
        if proc.returncode != 0:
            raise SystemExit(f"reading the tables failed:\n{proc.stderr[-3000:]}")
        return {name: rows for name, rows in json.loads(proc.stdout).items() if not _staging(name)}


def _staging(name: str) -> bool:
    # target-bigquery's staging tables: <table>__<YYYYmmddHHMMSS>__<uuid>
    return name.count("__") >= 2


class PostedJournals(Warehouse):
    """target-acumatica's audit lines: one per journal written, skipped or failed."""

    bills = None

    def __init__(self, audit_dir: Path) -> None:
        self.path = audit_dir / "journals.jsonl"

    def read(self) -> dict[str, list[dict]]:
        lines = self.path.read_text().splitlines() if self.path.exists() else []
        return {"journals.jsonl": [json.loads(line) for line in lines]}

    def show(self, run_id: str) -> None:
        lines = [line for line in self.read()["journals.jsonl"] if line.get("run_id") == run_id]
        statuses: dict[str, int] = {}
        for line in lines:
            statuses[line.get("status", "?")] = statuses.get(line.get("status", "?"), 0) + 1
        print(
            f"\nJournals of this run: {len(lines)} "
            f"({', '.join(f'{n} {s}' for s, n in sorted(statuses.items()))})"
        )
        for line in lines[:8]:
            print(f"  {line.get('key', ''):<40}{line.get('batch_nbr') or '':<12}{line.get('status', '')}")


def _warehouse(flow: Flow, ports: dict[str, int], out: Path) -> Warehouse:
    builders: dict[str, Callable[[], Warehouse]] = {
        "target-databricks": lambda: DeltaTables(
            ports["databricks"], out / "databricks" / "workspace" / flow.schema
        ),
        "target-duckdb": lambda: DuckDBFile(out / "warehouse.duckdb"),
        "target-snowflake--sandbox": lambda: Remote(
            FAKESNOW_BIN / "python", SNOWFLAKE_READ, [str(ports["snowflake"]), "ACUMATICA"]
        ),
        "target-bigquery--sandbox": lambda: Remote(
            BIGQUERY_BIN / "python",
            BIGQUERY_READ,
            [BIGQUERY_PROJECT, "acumatica", str(out / "bigquery" / "service-account.json")],
            {"BIGQUERY_EMULATOR_HOST": _url(ports["bigquery"])},
            bills="invoices",
        ),
        "target-acumatica": lambda: PostedJournals(out / "target-acumatica"),
    }
    return builders[flow.loader]()


def _banner(text: str) -> None:
    print(f"\n=== {text} ===", flush=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_busy(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


if __name__ == "__main__":
    sys.exit(main())
