"""End to end: `meltano run tap-acumatica target-snowflake` into the fakesnow server.

The headline command, with the sandbox's loader target-snowflake--sandbox (target-snowflake's
settings, plus emulators/snowflake-compat in its venv): FAKESNOW_PORT switches on its redirect.
The production target-snowflake venv holds no shim. The tables are read back with
snowflake-connector from fakesnow's own venv (`make snowflake-emulator`).
"""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support.meltano import (
    FLOWS,
    KILLED_RUN_BATCH_ROWS,
    KILLED_RUN_LATENCY_MS,
    ROOT,
    VERSION,
    assert_landed_equal_source,
    meltano_run,
)
from tests.support.replay import (
    assert_killed_mid_load,
    assert_traceable,
    kill_loader_mid_load,
    meltano_runs,
    replay,
)
from tests.support.servers import free_port, listening, start_server, stop

pytestmark = pytest.mark.e2e

#: The sandbox's loader: inherits target-snowflake, adds the connection redirect to its own venv.
LOADER = "target-snowflake--sandbox"

FAKESNOW = ROOT / ".tools" / "fakesnow" / "bin"
#: A statement fakesnow cannot run answers HTTP 500, which the connector retries for long.
TIMEOUT = ["timeout", "240"]

#: Runs in fakesnow's venv: argv = port; reads lines of JSON {name: sql} and answers each with a line
#: {name: rows}, column names lower-case, on one connection.
QUERY = """
import json, sys
import snowflake.connector
sandbox = dict(account="sandbox", user="sandbox", password="sandbox", database="ML_CONNECTOR")
with snowflake.connector.connect(**sandbox, host="127.0.0.1", port=int(sys.argv[1]), protocol="http") as conn:
    for line in sys.stdin:
        answers = {}
        for name, sql in json.loads(line).items():
            cursor = conn.cursor().execute(sql)
            names = [d[0].lower() for d in cursor.description]
            answers[name] = [dict(zip(names, row)) for row in cursor.fetchall()]
        print(json.dumps(answers, default=str), flush=True)
"""


@pytest.fixture
def fakesnow_port(tmp_path):
    """A fakesnow server with the snowflake-compat shim, on a free port; always stopped."""
    server = FAKESNOW / "snowflake-compat-server"
    assert server.exists(), f"{server} is missing: run `make snowflake-emulator`"
    port = free_port()
    proc = start_server(
        [str(server), "--port", str(port)], tmp_path / "fakesnow.log", listening(port), "fakesnow", 120
    )
    try:
        yield port
    finally:
        stop(proc)


def snowflake(port: int, **queries: str) -> dict[str, list[dict]]:
    proc = subprocess.run(
        [str(FAKESNOW / "python"), "-c", QUERY, str(port)],
        input=json.dumps(queries) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


class SnowflakeSession:
    """One connection to fakesnow kept open, for queries asked many times (polling while a run loads)."""

    def __init__(self, port: int, log: Path) -> None:
        self._log = log
        with log.open("w") as stderr:
            self._proc = subprocess.Popen(
                [str(FAKESNOW / "python"), "-c", QUERY, str(port)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )

    def __call__(self, **queries: str) -> dict[str, list[dict]]:
        self._proc.stdin.write(json.dumps(queries) + "\n")
        self._proc.stdin.flush()
        answer = self._proc.stdout.readline()
        assert answer, self._log.read_text()[-3000:]
        return json.loads(answer)

    def __enter__(self) -> SnowflakeSession:
        return self

    def __exit__(self, *exc) -> None:
        self._proc.stdin.close()
        self._proc.wait(timeout=30)


def landed_tables(query) -> dict[str, list[dict]]:
    """Rows of each stream's table created so far (all of them once a run has started every stream)."""
    created = query(names="select table_name from information_schema.tables where table_schema = 'ACUMATICA'")
    names = {row["table_name"].lower() for row in created["names"]}
    return query(**{s: f"select * from ACUMATICA.{s.upper()}" for s in FLOWS if s in names})


def snowflake_env(tmp_path: Path, emulator, port: int) -> dict[str, str]:
    batches = tmp_path / "batches"
    batches.mkdir(exist_ok=True)
    return {
        "TAP_ACUMATICA_BASE_URL": emulator.base_url,
        "FAKESNOW_PORT": str(port),
        "TARGET_SNOWFLAKE_BATCH_CONFIG": json.dumps(
            {"encoding": {"format": "jsonl", "compression": "gzip"}, "storage": {"root": f"file://{batches}"}}
        ),
    }


def assert_tables_equal_source(port: int, emulator) -> dict[str, list[dict]]:
    tables = snowflake(port, **{stream: f"select * from ACUMATICA.{stream.upper()}" for stream in FLOWS})
    assert_landed_equal_source(tables, emulator)
    return tables


def test_meltano_run_into_snowflake_upserts_and_keeps_lines_in_variant(tmp_path, emulator, fakesnow_port):
    """The first run's loader is killed mid-load; the replayed job lands every stream once; reruns upsert."""
    env = snowflake_env(tmp_path, emulator, fakesnow_port)
    # Slow requests and small batches: batches commit while the tap still reads later streams.
    emulator.knobs.latency_ms = KILLED_RUN_LATENCY_MS
    with SnowflakeSession(fakesnow_port, tmp_path / "snowflake-session.log") as query:
        killed = kill_loader_mid_load(
            tmp_path,
            LOADER,
            lambda: any(landed_tables(query).values()),
            command_prefix=TIMEOUT,
            executable="target-snowflake",
            TARGET_SNOWFLAKE_BATCH_SIZE_ROWS=str(KILLED_RUN_BATCH_ROWS),
            **env,
        )
        emulator.knobs.latency_ms = 0
        assert_killed_mid_load(
            tmp_path, killed, f"sandbox:tap-acumatica-to-{LOADER}", landed_tables(query), emulator
        )
    replayed, _ = replay(tmp_path, f"tap-acumatica {LOADER}", command_prefix=TIMEOUT, **env)
    assert meltano_runs(tmp_path)[replayed] == "SUCCESS"
    first = assert_tables_equal_source(fakesnow_port, emulator)
    assert all(first[stream] for stream in FLOWS), "a stream landed no rows"
    audit = snowflake(
        fakesnow_port,
        runs="select * from ACUMATICA._AUDIT_RUNS",
        # The README's reconciliation: records the run extracted per stream next to rows it brought.
        reconcile="select s.value:stream::varchar as stream, s.value:records::int as extracted, "
        "(select count(*) from ACUMATICA.BILLS b where b._AUDIT_RUN_ID = r.RUN_ID) as bills_from_this_run "
        "from ACUMATICA._AUDIT_RUNS r, lateral flatten(input => r.STREAMS) s "
        f"where r.RUN_ID = '{replayed}'",
    )
    assert_traceable(first, audit["runs"], emulator, run_ids={killed.run_id, replayed}, replayed=replayed)
    bills = {row["stream"]: row for row in audit["reconcile"]}["bills"]
    assert bills["extracted"] == len(first["bills"])
    assert bills["bills_from_this_run"] == sum(r["_audit_run_id"] == replayed for r in first["bills"])

    emulator.store.modify("Bill", ("Bill", "000003"), {"Description": "changed between runs"})
    emulator.store.modify("Vendor", ("V000002",), {"VendorName": "Renamed Vendor Ltd"})
    added = emulator.store.insert("Bill", {"Description": "added between runs"})

    meltano_run(tmp_path, LOADER, command_prefix=TIMEOUT, **env)
    second = assert_tables_equal_source(fakesnow_port, emulator)
    bills = {r["referencenbr"]: r for r in second["bills"]}
    assert bills["000003"]["description"] == "changed between runs"
    assert added["ReferenceNbr"] in bills
    assert len(second["bills"]) == len(first["bills"]) + 1
    assert {r["vendorid"]: r for r in second["vendors"]}["V000002"]["vendorname"] == "Renamed Vendor Ltd"
    assert {k: len(v) for k, v in second.items() if k != "bills"} == {
        k: len(v) for k, v in first.items() if k != "bills"
    }

    # Line detail read inside Snowflake from the VARIANT column, one row per bill line.
    lines = snowflake(
        fakesnow_port,
        lines="select b.REFERENCENBR as ref, l.value:Amount::number(18, 2) as amount, "
        "l.value:Account::varchar as account from ACUMATICA.BILLS b, lateral flatten(input => b.DETAILS) l",
        kind="select data_type as kind from information_schema.columns "
        "where table_schema = 'ACUMATICA' and table_name = 'BILLS' and column_name = 'DETAILS'",
    )
    assert lines["kind"] == [{"kind": "VARIANT"}]
    cent = Decimal("0.01")
    source = sorted(
        (bill["ReferenceNbr"], Decimal(str(line["Amount"])).quantize(cent), line["Account"])
        for bill in emulator.store.records("Bill", VERSION, expand=("Details",))
        for line in bill.get("Details") or []
    )
    landed = sorted(
        (r["ref"], Decimal(str(r["amount"])).quantize(cent), r["account"]) for r in lines["lines"]
    )
    assert source, "the emulator's bills have no lines"
    assert landed == source
