"""Load benchmark: N rows x 25 columns sent like target-databricks sends them.

Modes:
  merge-small   MERGE ... USING (SELECT CAST(c0 ..) .. FROM VALUES (:p0, ...), ... AS v(..)) per <=256 params
  stage         CREATE OR REPLACE stage; INSERT INTO stage ... VALUES chunks (<=256 params); one MERGE; DROP
  merge-big     MERGE with ~4 MiB statements (parameters up to `--params` per statement, default 20000)
Run: python bench_load.py --rows 100000 --mode merge-small [--http] [--profile out.prof]
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import pstats
import random
import tempfile
import time

COLS = 25
TYPES = (
    ["BIGINT"]
    + ["STRING"] * 8
    + ["DECIMAL(38,9)"] * 8
    + ["TIMESTAMP"] * 3
    + ["BOOLEAN", "DATE"]
    + ["TIMESTAMP", "TIMESTAMP", "BIGINT"]
)[:COLS]
NAMES = ["id"] + [f"col {i}; `x`" if i == 3 else f"col_{i}" for i in range(1, COLS)]


def q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def rows(n: int, seed: int = 1):
    rnd = random.Random(seed)
    base = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    for i in range(n):
        row = []
        for c, t in enumerate(TYPES):
            if c == 0:
                row.append(str(i))
            elif t == "STRING":
                row.append(f"text-{rnd.randrange(10**9)}")
            elif t.startswith("DECIMAL"):
                row.append(f"{rnd.randrange(10**12)}.{rnd.randrange(10**9):09d}")
            elif t == "TIMESTAMP":
                row.append(
                    (base + dt.timedelta(seconds=rnd.randrange(10**8))).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
                )
            elif t == "BOOLEAN":
                row.append(rnd.choice(["true", "false"]))
            elif t == "DATE":
                row.append((base + dt.timedelta(days=rnd.randrange(10**4))).date().isoformat())
            else:
                row.append(None if rnd.random() < 0.1 else str(rnd.randrange(10**6)))
        yield row


def source(tuples: str) -> str:
    proj = ", ".join(
        f"CAST(c{i} AS {t}) AS {q(n)}" for i, (n, t) in enumerate(zip(NAMES, TYPES, strict=False))
    )
    return f"SELECT {proj} FROM VALUES {tuples} AS v({', '.join(f'c{i}' for i in range(COLS))})"


def merge(table: str, src: str) -> str:
    cols = ", ".join(q(n) for n in NAMES)
    sets = ", ".join(f"t.{q(n)} = s.{q(n)}" for n in NAMES[1:])
    return (
        f"MERGE INTO {table} AS t USING ({src}) AS s ON t.`id` <=> s.`id` WHEN MATCHED THEN UPDATE SET "
        f"{sets} WHEN NOT MATCHED THEN INSERT ({cols}) VALUES ({', '.join('s.' + q(n) for n in NAMES)})"
    )


def chunks(all_rows, max_params: int):
    tuples, params = [], []
    for row in all_rows:
        if len(params) + COLS > max_params and tuples:
            yield ", ".join(tuples), params
            tuples, params = [], []
        toks = []
        for v, t in zip(row, TYPES, strict=False):
            if v is None:
                toks.append("NULL")
            else:
                name = f"p{len(params)}"
                params.append({"name": name, "value": v, "type": t})
                toks.append(":" + name)
        tuples.append("(" + ", ".join(toks) + ")")
    if tuples:
        yield ", ".join(tuples), params


def create(table: str, replace: bool = False) -> str:
    head = "CREATE OR REPLACE TABLE" if replace else "CREATE TABLE IF NOT EXISTS"
    return (
        f"{head} {table} ({', '.join(f'{q(n)} {t}' for n, t in zip(NAMES, TYPES, strict=True))}) "
        "USING DELTA "
        "TBLPROPERTIES ('delta.columnMapping.mode' = 'name', 'delta.minReaderVersion' = '2', "
        "'delta.minWriterVersion' = '5')"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument(
        "--mode", default="merge-small", choices=["merge-small", "stage", "merge-big", "insert-small"]
    )
    ap.add_argument("--params", type=int, default=256)
    ap.add_argument("--http", action="store_true")
    ap.add_argument("--profile")
    args = ap.parse_args()
    from databricks_emulator import DatabricksEmulator, EmulatorConfig
    from databricks_emulator.statements import bind_parameters

    with DatabricksEmulator(EmulatorConfig(data_dir=tempfile.mkdtemp())) as emu:
        if args.http:
            import requests

            session = requests.Session()
            session.headers["Authorization"] = "Bearer dapi-sandbox-token"

            def run(sql, params=None):
                r = session.post(
                    emu.base_url + "/api/2.0/sql/statements",
                    json={
                        "statement": sql,
                        "warehouse_id": "sandbox-warehouse",
                        "wait_timeout": "50s",
                        "parameters": params or [],
                    },
                ).json()
                assert r["status"]["state"] == "SUCCEEDED", r["status"]
        else:
            wh = emu.app.warehouse

            def run(sql, params=None):
                wh.execute(sql, bind_parameters(params), None, None)

        table = "`workspace`.`default`.`bench`"
        run(create(table))
        data = list(rows(args.rows))
        prof = cProfile.Profile() if args.profile else None
        # Statements are built before the clock starts: only the emulator's work is timed.
        statements = []
        if args.mode in ("merge-small", "merge-big"):
            limit = args.params if args.mode == "merge-small" else max(args.params, 20000)
            statements = [(merge(table, source(tuples)), params) for tuples, params in chunks(data, limit)]
        elif args.mode == "insert-small":
            statements = [
                (f"INSERT INTO {table} ({', '.join(q(x) for x in NAMES)}) {source(tuples)}", params)
                for tuples, params in chunks(data, args.params)
            ]
        else:
            stage = "`workspace`.`default`.`__tdbx_stage_bench`"
            statements = [(create(stage, replace=True), None)]
            statements += [
                (f"INSERT INTO {stage} ({', '.join(q(x) for x in NAMES)}) {source(tuples)}", params)
                for tuples, params in chunks(data, args.params)
            ]
            statements += [
                (merge(table, f"SELECT {', '.join(q(x) for x in NAMES)} FROM {stage}"), None),
                (f"DROP TABLE IF EXISTS {stage}", None),
            ]
        n = len(statements)
        t0 = time.perf_counter()
        if prof:
            prof.enable()
        for sql, params in statements:
            run(sql, params)
        emu.warehouse.flush()  # pending Delta commits count too
        elapsed = time.perf_counter() - t0
        if prof:
            prof.disable()
            prof.dump_stats(args.profile)
            pstats.Stats(args.profile).sort_stats("cumulative").print_stats(30)
        count = emu.query(f"SELECT count(*) FROM {table}")[0][0]
        assert count == args.rows, count
        print(
            f"mode={args.mode} http={args.http} rows={args.rows} statements={n} "
            f"elapsed={elapsed:.2f}s rows/s={args.rows / elapsed:,.0f}"
        )


if __name__ == "__main__":
    main()
