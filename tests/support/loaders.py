"""Each loader of the sandbox as the property suite drives it: one run of the loader on a batch, into a
schema (dataset, database file) of its own, then every table of that schema read back as text.

Our own target-databricks runs in this process (as tests/target_databricks does, to spare an interpreter
start per example); the third-party loaders run as Meltano installed them (``.meltano/loaders/<name>``,
`make plugins`), with the configuration meltano.yml gives them, each against its emulator.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote

import duckdb
import yaml
from deltalake import DeltaTable

from tests.support.databricks import CATALOG, run_in_process, write_config
from tests.support.meltano import ROOT
from tests.support.roundtrip import HUNG, Outcome, Stream, Tables, singer_messages

LOADERS = ROOT / ".meltano" / "loaders"
_names = itertools.count(1)


def fresh_name(prefix: str = "prop") -> str:
    """A schema name no earlier example of this process used (xdist workers run apart)."""
    return f"{prefix}_{os.getpid()}_{next(_names)}"


def meltano_config(loader: str) -> dict:
    """The loader's ``config`` in meltano.yml (or an included file), then its sandbox overrides."""
    files = [ROOT / "meltano.yml", *sorted((ROOT / "meltano").glob("*.meltano.yml"))]
    config: dict = {}
    sandbox: dict = {}
    for path in files:
        project = yaml.safe_load(path.read_text())
        for plugin in project.get("plugins", {}).get("loaders", []):
            if plugin["name"] == loader:
                config.update(plugin.get("config", {}))
        for env in project.get("environments", []):
            if env["name"] == "sandbox":
                for plugin in env.get("config", {}).get("plugins", {}).get("loaders", []):
                    if plugin["name"] == loader:
                        sandbox.update(plugin.get("config", {}))
    return {key: value for key, value in {**config, **sandbox}.items() if not str(value).startswith("$")}


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (Decimal, date)):
        return str(value)
    return value if isinstance(value, str) else json.dumps(value)


def _loader_tables(tables: Tables) -> Tables:
    """Leave out the loaders' ``_sdc_*`` columns."""
    return {
        name: [{k: v for k, v in row.items() if not k.lower().startswith("_sdc_")} for row in rows]
        for name, rows in tables.items()
    }


#: Longest a loader run may take (a run here takes 1-40 s); one still running then is stopped and
#: fails the property as a run that hung.
RUN_TIMEOUT_S = 60


def run_process(
    command: list[str], streams: list[Stream], env: dict[str, str], timeout: float = RUN_TIMEOUT_S
):
    try:
        done = subprocess.run(
            command,
            input=b"".join(singer_messages(streams)),
            capture_output=True,
            timeout=timeout,
            env={**os.environ, **env},
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        log = (exc.stderr or b"").decode("utf-8", "replace")
        return HUNG, f"{log}\nHUNG: the loader was still running after {timeout:.0f} s and was stopped", []
    stdout = done.stdout.decode("utf-8", "replace")
    states = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    return done.returncode, done.stderr.decode("utf-8", "replace"), states


class Databricks:
    """target-databricks into the Databricks emulator; tables read from their Delta files."""

    name = "target-databricks"

    def __init__(self, dbx, workdir: Path) -> None:
        self.dbx, self.workdir = dbx, workdir

    def run(self, streams: list[Stream], schema: str | None = None, number_type: str = "decimal") -> Outcome:
        """``number_type``: decimal, as the project's flows set it (meltano.yml), or the target's default."""
        schema = schema or fresh_name()
        config = write_config(
            self.workdir,
            self.dbx,
            schema=schema,
            failed_batch_dir=str(self.workdir / "failed" / schema),
            number_type=number_type,
        )
        messages = [json.loads(line, parse_float=Decimal) for line in singer_messages(streams)]
        run = run_in_process(config, messages)
        return Outcome(run.returncode, run.stderr, run.states, self.tables(schema))

    def tables(self, schema: str) -> Tables:
        root = Path(self.dbx.table_path(CATALOG, schema, "x")).parent
        out: Tables = {}
        if not root.exists():
            return out
        for path in sorted(root.iterdir()):
            name = unquote(path.name)
            if name == "_sdc_load_audit" or name.startswith("__tdbx_") or not (path / "_delta_log").exists():
                continue
            rows = DeltaTable(str(path)).to_pyarrow_table().to_pylist()
            out[name] = [{k: _text(v) for k, v in row.items()} for row in rows]
        return _loader_tables(out)


class DuckDB:
    """target-duckdb (jwills 0.8.0, duckdb 1.2.2), each run into a database file of its own."""

    name = "target-duckdb"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.executable = LOADERS / "target-duckdb" / "venv" / "bin" / "target-duckdb"
        assert self.executable.exists(), f"{self.executable} is missing: run `make plugins`"

    def run(self, streams: list[Stream], schema: str | None = None) -> Outcome:
        name = schema or fresh_name()
        path = self.workdir / f"warehouse_{name}.duckdb"
        config = {**meltano_config("target-duckdb"), "filepath": str(path), "default_target_schema": name}
        config_path = self.workdir / f"{name}-{next(_names)}.json"
        config_path.write_text(json.dumps(config))
        code, stderr, states = run_process([str(self.executable), "--config", str(config_path)], streams, {})
        return Outcome(code, stderr, states, self.tables(path, name))

    @staticmethod
    def tables(path: Path, schema: str) -> Tables:
        if not path.exists():
            return {}
        with duckdb.connect(str(path), read_only=True) as con:
            columns = con.execute(
                "select table_name, column_name from information_schema.columns where table_schema = ? "
                "order by table_name, ordinal_position",
                [schema],
            ).fetchall()
            out: Tables = {}
            for table, cols in itertools.groupby(columns, key=lambda c: c[0]):
                names = [c[1] for c in cols]
                select = ", ".join(f"cast({_dq(c)} as varchar)" for c in names)
                rows = con.execute(
                    f"select {select} from {_dq(path.stem)}.{_dq(schema)}.{_dq(table)}"
                ).fetchall()
                out[table] = [dict(zip(names, row, strict=True)) for row in rows]
        return _loader_tables(out)


def _dq(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


#: Runs in an emulator's own venv: reads a JSON request a line, answers a JSON line.
SNOWFLAKE_READER = """
import json, sys
import snowflake.connector
def q(name): return '"' + name.replace('"', '""') + '"'
sandbox = dict(account="sandbox", user="sandbox", password="sandbox", database="ML_CONNECTOR")
with snowflake.connector.connect(**sandbox, host="127.0.0.1", port=int(sys.argv[1]), protocol="http") as conn:
    for line in sys.stdin:
        schema = json.loads(line)
        try:
            cols = conn.cursor().execute(
                "select table_name, column_name from information_schema.columns where table_schema = %s "
                "order by table_name, ordinal_position", (schema,)).fetchall()
            tables = {}
            for table, column in cols:
                tables.setdefault(table, []).append(column)
            out = {}
            for table, names in tables.items():
                select = ", ".join(f"cast({q(c)} as varchar)" for c in names)
                rows = conn.cursor().execute(f"select {select} from {q(schema)}.{q(table)}").fetchall()
                out[table] = [dict(zip(names, row)) for row in rows]
            print(json.dumps({"tables": out}), flush=True)
        except Exception as exc:
            print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
"""

BIGQUERY_READER = """
import json, sys
from google.cloud import bigquery
from google.api_core.exceptions import NotFound
project, credentials = sys.argv[1:3]
client = bigquery.Client.from_service_account_json(credentials, project=project)
def q(name): return "`" + name.replace("\\\\", "\\\\\\\\").replace("`", "\\\\`") + "`"
for line in sys.stdin:
    dataset = json.loads(line)
    try:
        out = {}
        try:
            listed = list(client.list_tables(f"{project}.{dataset}", timeout=30))
        except NotFound:
            listed = []
        for item in listed:
            table = client.get_table(item.reference, timeout=30)
            names = [f.name for f in table.schema]
            select = ", ".join(f"cast({q(c)} as string)" for c in names)
            sql = f"select {select} from {q(project + '.' + dataset + '.' + table.table_id)}"
            rows = client.query(sql, timeout=30).result(timeout=60)
            out[table.table_id] = [dict(zip(names, row.values())) for row in rows]
        print(json.dumps({"tables": out}), flush=True)
    except Exception as exc:
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
"""


class Reader:
    """A reader process in an emulator's venv, kept open for the module's examples."""

    def __init__(self, python: Path, script: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self._log = log.open("w")
        self._proc = subprocess.Popen(
            [str(python), "-c", script, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env={**os.environ, **env},
        )
        self._log_path = log

    def tables(self, schema: str) -> Tables:
        self._proc.stdin.write(json.dumps(schema) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        assert line, self._log_path.read_text()[-3000:]
        answer = json.loads(line)
        assert "tables" in answer, f"reading schema {schema!r} back failed: {answer['error']}"
        return _loader_tables(answer["tables"])

    def close(self) -> None:
        self._proc.stdin.close()
        self._proc.wait(timeout=30)
        self._log.close()


class Snowflake:
    """target-snowflake (meltanolabs 0.19.2) into the fakesnow server, with meltano.yml's configuration."""

    name = "target-snowflake"

    def __init__(self, port: int, reader: Reader, workdir: Path) -> None:
        self.port, self.reader, self.workdir = port, reader, workdir
        # The sandbox's loader: target-snowflake with the redirect to fakesnow in its venv (FAKESNOW_PORT).
        self.executable = LOADERS / "target-snowflake--sandbox" / "venv" / "bin" / "target-snowflake"
        assert self.executable.exists(), f"{self.executable} is missing: run `make plugins`"

    def run(self, streams: list[Stream], schema: str | None = None) -> Outcome:
        schema = schema or fresh_name("PROP")
        batches = self.workdir / "batches" / f"{schema}-{next(_names)}"
        batches.mkdir(parents=True)
        config = {
            **meltano_config("target-snowflake"),
            "default_target_schema": schema,
            "batch_config": {
                "encoding": {"format": "jsonl", "compression": "gzip"},
                "storage": {"root": f"file://{batches}"},
            },
        }
        config_path = self.workdir / f"{schema}-{next(_names)}.json"
        config_path.write_text(json.dumps(config))
        code, stderr, states = run_process(
            [str(self.executable), "--config", str(config_path)], streams, {"FAKESNOW_PORT": str(self.port)}
        )
        return Outcome(code, stderr, states, self.reader.tables(schema))


class BigQuery:
    """target-bigquery (z3z1ma 0.7.2) into bqemulator, with meltano.yml's configuration."""

    name = "target-bigquery"

    def __init__(self, rest_url: str, credentials: Path, reader: Reader, workdir: Path) -> None:
        self.rest_url, self.credentials, self.reader, self.workdir = rest_url, credentials, reader, workdir
        # The sandbox's loader: target-bigquery with the emulator shim in its venv (BIGQUERY_EMULATOR_HOST).
        self.executable = LOADERS / "target-bigquery--sandbox" / "venv" / "bin" / "target-bigquery"
        assert self.executable.exists(), f"{self.executable} is missing: run `make plugins`"

    def run(
        self, streams: list[Stream], schema: str | None = None, timeout: float = RUN_TIMEOUT_S
    ) -> Outcome:
        dataset = schema or fresh_name()
        config = {
            **meltano_config("target-bigquery"),
            "dataset": dataset,
            "project": "test-project",
            "credentials_path": str(self.credentials),
        }
        # The stream maps of meltano.yml rename the Acumatica streams; these streams are not them.
        config.pop("stream_maps", None)
        config_path = self.workdir / f"{dataset}-{next(_names)}.json"
        config_path.write_text(json.dumps(config))
        code, stderr, states = run_process(
            [str(self.executable), "--config", str(config_path)],
            streams,
            {"BIGQUERY_EMULATOR_HOST": self.rest_url},
            timeout,
        )
        return Outcome(code, stderr, states, self.reader.tables(dataset))
