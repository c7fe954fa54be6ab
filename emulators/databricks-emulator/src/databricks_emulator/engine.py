"""The SQL warehouse: Databricks SQL transpiled to DuckDB, every table change persisted as a Delta table.

Catalogs are DuckDB attached in-memory databases (``ATTACH ':memory:' AS <catalog>``), so
``catalog.schema.table`` names pass through unchanged; DuckDB reserves ``main``, ``temp``, ``system``
and ``memory``, so those catalogs are attached as ``<name>__uc`` and names are rewritten.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import logging
import re
import shutil
import threading
import warnings
from collections import Counter, OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp

from .base import (
    _NAME,
    RESERVED_CATALOGS,
    Result,
    SqlError,
    _Context,
    _empty,
    _q,
    duck_catalog,
    quote,
    split_name,
    unquote,
)
from .delta_store import DeltaStore
from .files import VolumeFiles
from .values import extract_values

# sqlglot logs every Databricks table property it does not carry over to DuckDB (USING DELTA,
# TBLPROPERTIES); those are expected here, not news.
logging.getLogger("sqlglot").setLevel(logging.ERROR)


def _strip_comments(sql: str) -> str:
    sql = sql.strip()
    while True:
        if sql.startswith("--"):
            sql = sql.split("\n", 1)[1].strip() if "\n" in sql else ""
        elif sql.startswith("/*") and "*/" in sql:
            sql = sql.split("*/", 1)[1].strip()
        else:
            break
    return sql.rstrip().rstrip(";").rstrip()


class Warehouse(DeltaStore, VolumeFiles):
    """One DuckDB connection, serialised with a lock, mirrored to Delta tables under ``data_dir``."""

    def __init__(self, data_dir: str, default_catalog: str, default_schema: str, knobs=None) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.default_catalog, self.default_schema = default_catalog, default_schema
        self.lock = threading.RLock()
        self.conn = duckdb.connect()
        self.conn.execute("SET TimeZone='UTC'")
        # The catalogs are in-memory databases, whose only persistence is the Delta store. At DuckDB's
        # default threshold (16 MiB) its automatic checkpoints compress their row groups again and
        # again as a table grows (0.7 s to 4.6 s of CPU each, about every 100,000 rows of Bills):
        # 100 MERGEs of 10,000 Bills into one table took 51 s of CPU with them and 22 s without, the
        # first 10 about 0.9 s more. Without them a row keeps its uncompressed size in memory: that
        # load's peak went from 2.1 to 2.7 GB.
        self.conn.execute(f"SET checkpoint_threshold='{_CHECKPOINT_THRESHOLD}'")
        self._plans: OrderedDict = OrderedDict()
        self._in_use: tuple[str, str] | None = None  # (catalog, schema) of the last USE
        self._views: dict[str, str] = {}  # VALUES views: name -> select list they were created with
        self.knobs = knobs  # reads ``delta_commit_delay_s``
        self._pending: dict = {}  # target -> [Arrow tables to append] | None (rewrite whole table)
        self._pending_since: float | None = None
        self._flusher: threading.Thread | None = None
        self._wake = threading.Event()
        self._closed = False
        self._copy_log_path = self.data_dir / "_emulator" / "copy_into.json"
        self.copy_log: dict[str, list[str]] = {}
        self._load()

    # ---- paths ---------------------------------------------------------------------------
    # ---- start-up ------------------------------------------------------------------------
    def _attach(self, catalog: str) -> None:
        name = duck_catalog(catalog)
        known = {
            r[0].lower() for r in self.conn.execute("SELECT database_name FROM duckdb_databases()").fetchall()
        }
        if name.lower() not in known:
            self.conn.execute(f"ATTACH ':memory:' AS {_q(name)}")
            self.conn.execute(f"CREATE SCHEMA IF NOT EXISTS {_q(name)}.{_q('default')}")
            self.conn.execute(f"CREATE SCHEMA IF NOT EXISTS {_q(name)}.{_q('information_schema')}")

    @staticmethod
    def _duck_name(catalog: str, schema: str, table: str) -> str:
        return f"{_q(duck_catalog(catalog))}.{_q(schema)}.{_q(table)}"

    # ---- execution -----------------------------------------------------------------------
    def close(self) -> None:
        with self.lock:
            if not self._closed:
                self.flush()
            self._closed = True
            self._wake.set()
            self.conn.close()

    def interrupt(self) -> None:
        self.conn.interrupt()

    def query(self, sql: str, catalog: str | None = None, schema: str | None = None) -> list[tuple]:
        """Run Databricks SQL and return plain Python rows (for tests)."""
        table = self.execute(sql, {}, catalog, schema).table
        return list(zip(*(col.to_pylist() for col in table.columns), strict=False))

    def execute(
        self, statement: str, parameters: dict[str, exp.Expression], catalog: str | None, schema: str | None
    ) -> Result:
        sql = _strip_comments(statement)
        ctx = _Context(catalog or self.default_catalog, schema or self.default_schema)
        with self.lock:
            self._use(ctx)
            try:
                result = self._dispatch(sql, parameters, ctx)
            except duckdb.Error as exc:
                self._in_use = None
                with contextlib.suppress(duckdb.Error):
                    self.conn.execute("ROLLBACK")
                raise _translate_error(exc) from exc
            except BaseException:
                self._in_use = None
                raise
            if result.kind not in ("SELECT", "INSERT", "MERGE", "UPDATE", "DELETE", "COPY"):
                self._in_use = None  # DDL may have dropped the catalog or schema in use
            self._persist(ctx.changed, ctx.dropped, ctx.appended)
            return result

    def _use(self, ctx: _Context) -> None:
        if self._in_use == (ctx.catalog, ctx.schema):
            return
        known = {
            r[0].lower() for r in self.conn.execute("SELECT database_name FROM duckdb_databases()").fetchall()
        }
        if duck_catalog(ctx.catalog).lower() not in known:
            raise SqlError(
                f"[NO_SUCH_CATALOG_EXCEPTION] Catalog '{ctx.catalog}' was not found.", "BAD_REQUEST", "42704"
            )
        try:
            self.conn.execute(f"USE {_q(duck_catalog(ctx.catalog))}.{_q(ctx.schema)}")
        except duckdb.Error as exc:
            raise SqlError(
                f"[SCHEMA_NOT_FOUND] The schema `{ctx.catalog}`.`{ctx.schema}` cannot be found.",
                "BAD_REQUEST",
                "42704",
            ) from exc
        self._in_use = (ctx.catalog, ctx.schema)

    def _qualify(self, parts: list[str], ctx: _Context, level: int = 3) -> list[str]:
        defaults = [ctx.catalog, ctx.schema][: level - 1]
        if len(parts) > level:
            raise SqlError(
                f"[INVALID_IDENTIFIER] Too many name parts in {'.'.join(parts)}.", "BAD_REQUEST", "42602"
            )
        return defaults[: level - len(parts)] + parts

    def _dispatch(self, sql: str, params: dict, ctx: _Context) -> Result:
        upper = re.sub(r"\s+", " ", sql[:80]).upper()
        m = re.match(rf"CREATE CATALOG (IF NOT EXISTS )?({_NAME})", sql, re.I | re.S)
        if m:
            return self._create_catalog(split_name(m.group(2))[0], bool(m.group(1)))
        m = re.match(rf"DROP CATALOG (IF EXISTS )?({_NAME})", sql, re.I | re.S)
        if m:
            return self._drop_catalog(split_name(m.group(2))[0], bool(m.group(1)), ctx)
        m = re.match(rf"CREATE (?:SCHEMA|DATABASE) (IF NOT EXISTS )?({_NAME})", sql, re.I | re.S)
        if m:
            catalog, schema = self._qualify(split_name(m.group(2)), ctx, 2)
            self._use_catalog_exists(catalog)
            exists = "IF NOT EXISTS " if m.group(1) else ""
            self.conn.execute(f"CREATE SCHEMA {exists}{_q(duck_catalog(catalog))}.{_q(schema)}")
            self._mkdir(catalog, schema)
            return _empty("DDL")
        m = re.match(rf"CREATE (?:EXTERNAL )?VOLUME (IF NOT EXISTS )?({_NAME})", sql, re.I | re.S)
        if m:
            return self._create_volume(self._qualify(split_name(m.group(2)), ctx), bool(m.group(1)))
        m = re.match(rf"DROP VOLUME (IF EXISTS )?({_NAME})", sql, re.I | re.S)
        if m:
            root = self.volume_root(*self._qualify(split_name(m.group(2)), ctx))
            if not root.is_dir() and not m.group(1):
                raise SqlError("[UC_VOLUME_NOT_FOUND] Volume does not exist.", "NOT_FOUND", "42704")
            shutil.rmtree(root, ignore_errors=True)
            return _empty("DDL")
        if upper.startswith("COPY INTO"):
            return self._copy_into(sql, ctx)
        if upper.startswith(("DESCRIBE", "DESC ")):
            return self._describe(sql, ctx)
        if upper.startswith("SHOW"):
            return self._show(sql, ctx)
        m = re.match(rf"ALTER TABLE ({_NAME}) ADD COLUMNS? \((.*)\)\s*$", sql, re.I | re.S)
        if m:
            return self._add_columns(self._qualify(split_name(m.group(1)), ctx), m.group(2), ctx)
        if upper.startswith("USE "):
            return _empty("OTHER")  # the statement API is sessionless; USE affects nothing after it
        return self._run_transpiled(sql, params, ctx)

    def _use_catalog_exists(self, catalog: str) -> None:
        known = {
            r[0].lower() for r in self.conn.execute("SELECT database_name FROM duckdb_databases()").fetchall()
        }
        if duck_catalog(catalog).lower() not in known:
            raise SqlError(
                f"[NO_SUCH_CATALOG_EXCEPTION] Catalog '{catalog}' was not found.", "BAD_REQUEST", "42704"
            )

    def _create_catalog(self, catalog: str, if_not_exists: bool) -> Result:
        known = {
            r[0].lower() for r in self.conn.execute("SELECT database_name FROM duckdb_databases()").fetchall()
        }
        if duck_catalog(catalog).lower() in known:
            if if_not_exists:
                return _empty("DDL")
            raise SqlError(
                f"[CATALOG_ALREADY_EXISTS] Cannot create catalog '{catalog}' because it already exists.",
                "BAD_REQUEST",
                "42000",
            )
        self._attach(catalog)
        self._mkdir(catalog, "default")
        return _empty("DDL")

    def _drop_catalog(self, catalog: str, if_exists: bool, ctx: _Context) -> Result:
        try:
            self._use_catalog_exists(catalog)
        except SqlError:
            if if_exists:
                return _empty("DDL")
            raise
        if catalog.lower() == ctx.catalog.lower():
            raise SqlError("[FORBIDDEN_OPERATION] Cannot drop the current catalog.", "BAD_REQUEST", "42809")
        self.conn.execute(f"DETACH {_q(duck_catalog(catalog))}")
        shutil.rmtree(self.data_dir / quote(catalog.lower(), safe=""), ignore_errors=True)
        shutil.rmtree(self.data_dir / "volumes" / quote(catalog.lower(), safe=""), ignore_errors=True)
        return _empty("DDL")

    def _create_volume(self, parts: list[str], if_not_exists: bool) -> Result:
        catalog, schema, volume = parts
        self._use_catalog_exists(catalog)
        found = self.conn.execute(
            "SELECT 1 FROM duckdb_schemas() WHERE database_name = ? AND lower(schema_name) = lower(?)",
            [duck_catalog(catalog), schema],
        ).fetchall()
        if not found:
            raise SqlError(
                f"[SCHEMA_NOT_FOUND] The schema `{catalog}`.`{schema}` cannot be found.",
                "BAD_REQUEST",
                "42704",
            )
        root = self.volume_root(catalog, schema, volume)
        if root.is_dir() and not if_not_exists:
            raise SqlError(
                f"[VOLUME_ALREADY_EXISTS] Volume {'.'.join(parts)} already exists.", "BAD_REQUEST", "42000"
            )
        root.mkdir(parents=True, exist_ok=True)
        return _empty("DDL")

    # ---- transpiled statements -----------------------------------------------------------
    def _run_transpiled(self, sql: str, params: dict, ctx: _Context) -> Result:
        if isinstance(params, BoundParameters):
            sql, blocks, consumed = extract_values(sql, params)
        else:
            blocks, consumed = [], set()
        try:
            for block in blocks:
                self.conn.register(block.raw_name, block.table)
                columns = ", ".join(
                    f"CAST({name} AS {duck_type(t)}) AS {name}" if t else name
                    for name, t in zip(block.table.column_names, block.types, strict=False)
                )
                if self._views.get(block.view_name) != columns:  # the view outlives one statement
                    self.conn.execute(
                        f"CREATE OR REPLACE TEMP VIEW {block.view_name} AS "
                        f"SELECT {columns} FROM {block.raw_name}"
                    )
                    self._views[block.view_name] = columns
            rest = params.without(consumed) if consumed else params
            plan = self._plan(sql, rest, ctx)
            try:
                return self._run_plan(plan, rest, ctx)
            except duckdb.Error as exc:
                if not plan.markers or "parameter" not in str(exc).lower():
                    raise
                # A statement DuckDB cannot prepare with parameters: inline them as typed literals.
                self._rollback()
                return self._run_plan(self._plan(sql, rest, ctx, inline=True), rest, ctx)
        finally:
            for block in blocks:
                with contextlib.suppress(duckdb.Error):
                    self.conn.unregister(block.raw_name)

    def _rollback(self) -> None:
        with contextlib.suppress(duckdb.Error):
            self.conn.execute("ROLLBACK")

    def _plan(self, sql: str, params: dict, ctx: _Context, inline: bool = False) -> _Plan:
        """The DuckDB form of a statement; cached per statement text and parameter types."""
        key = None
        if not inline and len(sql) <= _PLAN_CACHE_MAX_TEXT:
            key = (sql, tuple(sorted((n, p.type_key) for n, p in params.items())))
            plan = self._plans.get(key)
            if plan is not None:
                self._plans.move_to_end(key)
                return plan
        try:
            trees = sqlglot.parse(sql, read="databricks")
        except sqlglot.errors.ParseError as exc:
            raise SqlError(f"[PARSE_SYNTAX_ERROR] Syntax error: {exc}", "BAD_REQUEST", "42601") from exc
        trees = [t for t in trees if t is not None]
        if len(trees) != 1:
            raise SqlError(
                "[PARSE_SYNTAX_ERROR] Exactly one statement is allowed per request.", "BAD_REQUEST", "42601"
            )
        tree = trees[0]
        if isinstance(tree, exp.Command):
            raise SqlError(
                f"[UNSUPPORTED_FEATURE] The emulator does not support: {sql[:200]}", "BAD_REQUEST", "0A000"
            )
        kind = _kind(tree)
        parts = _target_parts(tree)
        target = tuple(self._qualify(parts, ctx)) if parts else None
        state = {"markers": [], "cacheable": True}
        steps: list[str] = []
        replace = False
        if isinstance(tree, exp.Insert) and (
            tree.args.get("overwrite") or tree.args.get("where") is not None
        ):
            # INSERT OVERWRITE / INSERT INTO ... REPLACE WHERE: delete, then insert, in one transaction.
            where = tree.args.get("where")
            table_node = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
            delete = exp.Delete(
                this=table_node.copy(), where=exp.Where(this=where.copy()) if where is not None else None
            )
            tree.set("overwrite", False)
            tree.set("where", None)
            steps.append(self._rewrite(delete, params, target, state, inline).sql(dialect="duckdb"))
            replace = True
        tree = self._rewrite(tree, params, target, state, inline)
        main = tree.sql(dialect="duckdb")
        capture = None
        if kind == "INSERT" and not replace and target:
            capture, main = "INSERT", main + " RETURNING *"
        elif kind == "MERGE" and target:
            capture, main = "MERGE", main + " RETURNING merge_action, *"
        steps.append(main)
        plan = _Plan(
            kind, parts, isinstance(tree, exp.Drop), steps, tuple(dict.fromkeys(state["markers"])), capture
        )
        if key is not None and state["cacheable"]:
            self._plans[key] = plan
            if len(self._plans) > _PLAN_CACHE_SIZE:
                self._plans.popitem(last=False)
        return plan

    def _run_plan(self, plan: _Plan, params: dict, ctx: _Context) -> Result:
        target = tuple(self._qualify(plan.target_parts, ctx)) if plan.target_parts else None
        for name in plan.markers:
            if name not in params:
                raise SqlError(
                    f"[UNBOUND_SQL_PARAMETER] Found the unbound parameter: {name}.", "BAD_REQUEST", "42P02"
                )
        multi = len(plan.steps) > 1
        if multi:
            self.conn.execute("BEGIN")
        cursor = None
        for step in plan.steps:
            used = {n: params[n].value for n in plan.markers if f"${n}" in step}
            cursor = self.conn.execute(step, used) if used else self.conn.execute(step)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DB-API arrow output copies once; fine for results
            table = cursor.to_arrow_table() if cursor.description else pa.table({})
        if multi:
            self.conn.execute("COMMIT")
        kind = plan.kind
        if plan.capture == "INSERT":
            if table.num_rows:
                ctx.appended.setdefault(target, []).append(table)
            n = table.num_rows
            return Result(
                pa.table(
                    {
                        "num_affected_rows": pa.array([n], pa.int64()),
                        "num_inserted_rows": pa.array([n], pa.int64()),
                    }
                ),
                kind,
            )
        if plan.capture == "MERGE":
            actions = table.column(0).to_pylist() if table.num_rows else []
            counts = {a: actions.count(a) for a in ("INSERT", "UPDATE", "DELETE")}
            if counts["UPDATE"] or counts["DELETE"]:
                ctx.changed.add(target)
            elif counts["INSERT"]:
                ctx.appended.setdefault(target, []).append(table.remove_column(0))
            return Result(
                pa.table(
                    {
                        k: pa.array([v], pa.int64())
                        for k, v in (
                            ("num_affected_rows", len(actions)),
                            ("num_updated_rows", counts["UPDATE"]),
                            ("num_deleted_rows", counts["DELETE"]),
                            ("num_inserted_rows", counts["INSERT"]),
                        )
                    }
                ),
                kind,
            )
        if target:
            if plan.drop:
                ctx.dropped.add(target)
            else:
                ctx.changed.add(target)
        return Result(_dml_result(kind, table, None, None), kind)

    def _rewrite(
        self, tree: exp.Expression, params: dict, target, state: dict, inline: bool
    ) -> exp.Expression:
        def transform(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Placeholder) and node.name:
                param = params.get(node.name)
                if param is None:
                    raise SqlError(
                        f"[UNBOUND_SQL_PARAMETER] Found the unbound parameter: {node.name}.",
                        "BAD_REQUEST",
                        "42P02",
                    )
                if inline:
                    return param.literal()
                state["markers"].append(node.name)
                return exp.Cast(this=exp.Placeholder(this=node.name), to=data_type(param.type_key))
            if (
                isinstance(node, exp.Table)
                and isinstance(node.this, exp.Anonymous)
                and node.this.name.lower() == "read_files"
            ):
                state["cacheable"] = False
                return self._read_files(node, target)
            if isinstance(node, exp.Table) and node.args.get("catalog") is not None:
                cat = node.args["catalog"]
                if cat.name.lower() in RESERVED_CATALOGS:
                    node.set("catalog", exp.to_identifier(duck_catalog(cat.name), quoted=True))
            if isinstance(node, exp.Update) and isinstance(node.parent, exp.When):
                for eq in node.expressions:
                    if isinstance(eq, exp.EQ) and isinstance(eq.this, exp.Column):
                        eq.set("this", exp.column(eq.this.this))
            return node

        return tree.transform(transform, copy=False)

    # ---- ALTER TABLE ... ADD COLUMNS -----------------------------------------------------
    def _add_columns(self, target: list[str], columns: str, ctx: _Context) -> Result:
        try:
            create = sqlglot.parse_one(f"CREATE TABLE __t ({columns})", read="databricks")
        except sqlglot.errors.ParseError as exc:
            raise SqlError(f"[PARSE_SYNTAX_ERROR] {exc}", "BAD_REQUEST", "42601") from exc
        name = self._duck_name(*target)
        adding = [coldef.name for coldef in create.this.expressions]
        counts = Counter(c.lower() for c in adding)
        repeated = sorted({c for c in adding if counts[c.lower()] > 1})
        if repeated:
            raise SqlError(
                f"[DELTA_DUPLICATE_COLUMNS_FOUND.ADDING_COLUMNS] Found duplicate column(s) while adding "
                f"columns: {', '.join(repeated)}",
                "BAD_REQUEST",
                "42711",
            )
        schema = self.conn.sql(f"SELECT * FROM {name} LIMIT 0").to_arrow_table().schema
        existing = {f.name.lower() for f in schema}
        present = [c for c in adding if c.lower() in existing]
        if present:
            raise SqlError(
                f"[FIELD_ALREADY_EXISTS] Cannot add column, because {', '.join(f'`{c}`' for c in present)} "
                "already exists.",
                "BAD_REQUEST",
                "42710",
            )
        self.conn.execute("BEGIN")
        for coldef in create.this.expressions:
            coldef.set("constraints", [])
            self.conn.execute(f"ALTER TABLE {name} ADD COLUMN {coldef.sql(dialect='duckdb')}")
        self.conn.execute("COMMIT")
        ctx.changed.add(tuple(target))
        return _empty("DDL")

    # ---- DESCRIBE and SHOW ---------------------------------------------------------------
    def _describe(self, sql: str, ctx: _Context) -> Result:
        m = re.match(rf"DESC(?:RIBE)?\s+(?:TABLE\s+)?(?:EXTENDED\s+)?({_NAME})\s*$", sql, re.I | re.S)
        if not m:
            raise SqlError(
                "[UNSUPPORTED_FEATURE] Only DESCRIBE [TABLE] name is supported.", "BAD_REQUEST", "0A000"
            )
        target = self._qualify(split_name(m.group(1)), ctx)
        schema = self.conn.sql(f"SELECT * FROM {self._duck_name(*target)} LIMIT 0").to_arrow_table().schema
        from .types import type_text

        return Result(
            pa.table(
                {
                    "col_name": [f.name for f in schema],
                    "data_type": [type_text(f.type).lower() for f in schema],
                    "comment": pa.array([None] * len(schema), pa.string()),
                }
            ),
            "OTHER",
        )

    def _show(self, sql: str, ctx: _Context) -> Result:
        m = re.match(
            rf"SHOW\s+TABLES(?:\s+(?:IN|FROM)\s+({_NAME}))?(?:\s+LIKE\s+'([^']*)')?\s*$", sql, re.I | re.S
        )
        if m:
            catalog, schema = (
                self._qualify(split_name(m.group(1)), ctx, 2) if m.group(1) else (ctx.catalog, ctx.schema)
            )
            rows = self.conn.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = ? "
                "ORDER BY 1",
                [duck_catalog(catalog), schema],
            ).fetchall()
            names = [
                r[0]
                for r in rows
                if not m.group(2) or fnmatch.fnmatch(r[0].lower(), m.group(2).lower().replace("%", "*"))
            ]
            return Result(
                pa.table(
                    {
                        "database": [schema] * len(names),
                        "tableName": names,
                        "isTemporary": [False] * len(names),
                    }
                ),
                "OTHER",
            )
        m = re.match(rf"SHOW\s+(?:SCHEMAS|DATABASES)(?:\s+(?:IN|FROM)\s+({_NAME}))?\s*$", sql, re.I | re.S)
        if m:
            catalog = split_name(m.group(1))[0] if m.group(1) else ctx.catalog
            rows = self.conn.execute(
                "SELECT schema_name FROM duckdb_schemas() WHERE database_name = ? "
                "AND schema_name <> 'main' ORDER BY 1",
                [duck_catalog(catalog)],
            ).fetchall()
            return Result(pa.table({"databaseName": [r[0] for r in rows]}), "OTHER")
        if re.match(r"SHOW\s+CATALOGS\s*$", sql, re.I):
            rows = self.conn.execute(
                "SELECT database_name FROM duckdb_databases() WHERE NOT internal "
                "AND database_name <> 'memory' ORDER BY 1"
            ).fetchall()
            names = [r[0][:-4] if r[0].endswith("__uc") else r[0] for r in rows]
            return Result(pa.table({"catalog": names}), "OTHER")
        m = re.match(rf"SHOW\s+VOLUMES\s+(?:IN|FROM)\s+({_NAME})\s*$", sql, re.I | re.S)
        if m:
            catalog, schema = self._qualify(split_name(m.group(1)), ctx, 2)
            root = (
                self.data_dir / "volumes" / quote(catalog.lower(), safe="") / quote(schema.lower(), safe="")
            )
            names = sorted(unquote(p.name) for p in root.iterdir()) if root.is_dir() else []
            return Result(pa.table({"database": [schema] * len(names), "volume_name": names}), "OTHER")
        raise SqlError(
            "[UNSUPPORTED_FEATURE] The emulator supports SHOW TABLES/SCHEMAS/CATALOGS/VOLUMES.",
            "BAD_REQUEST",
            "0A000",
        )


_PLAN_CACHE_SIZE = 512
_CHECKPOINT_THRESHOLD = "1GB"
_PLAN_CACHE_MAX_TEXT = 256 * 1024


@dataclass
class _Plan:
    """A transpiled statement: DuckDB SQL steps (run in one transaction) with ``$name`` markers."""

    kind: str
    target_parts: list[str] | None  # as written; qualified with the request's catalog/schema at run time
    drop: bool
    steps: list[str]
    markers: tuple[str, ...]
    capture: str | None  # INSERT/MERGE: the last step RETURNs the rows it wrote


class Param(NamedTuple):
    """A bound statement parameter: its text (None for NULL) and its normalised Databricks type."""

    value: str | None
    type_key: str

    def literal(self) -> exp.Expression:
        if self.value is None:
            return exp.cast(exp.null(), data_type(self.type_key))
        if self.type_key == "STRING":
            return exp.Literal.string(self.value)
        return exp.cast(exp.Literal.string(self.value), data_type(self.type_key))


class BoundParameters(Mapping):
    """name -> ``Param`` over two plain dicts, ``values`` (name -> text or None) and ``types``
    (name -> normalised type), which the VALUES fast path reads directly."""

    def __init__(self, values: dict | None = None, types: dict | None = None) -> None:
        self.values: dict[str, str | None] = values if values is not None else {}
        self.types: dict[str, str] = types if types is not None else {}

    def __getitem__(self, name: str) -> Param:
        return Param(self.values[name], self.types[name])

    def __iter__(self):
        return iter(self.types)

    def __len__(self) -> int:
        return len(self.types)

    def __contains__(self, name) -> bool:
        return name in self.types

    def without(self, names: set[str]) -> BoundParameters:
        keep = self.types.keys() - names
        return BoundParameters({n: self.values[n] for n in keep}, {n: self.types[n] for n in keep})


@functools.lru_cache(maxsize=1024)
def normalize_type(type_text: str) -> str:
    return re.sub(r"\s*([(),])\s*", r"\1", type_text.strip()).upper()


@functools.lru_cache(maxsize=256)
def data_type(type_key: str) -> exp.DataType:
    """The sqlglot type of a parameter type (raises on an unknown type)."""
    return exp.DataType.build("STRING" if type_key == "VOID" else type_key, dialect="databricks")


@functools.lru_cache(maxsize=256)
def duck_type(type_key: str) -> str:
    return data_type(type_key).sql(dialect="duckdb")


def _target_parts(tree: exp.Expression) -> list[str] | None:
    if isinstance(tree, (exp.Insert, exp.Merge, exp.Update, exp.Delete)):
        node = tree.this
    elif (
        isinstance(tree, (exp.Create, exp.Drop, exp.Alter))
        and str(tree.args.get("kind", "")).upper() == "TABLE"
    ):
        node = tree.this
        if node is None and isinstance(tree, exp.Drop):
            # sqlglot keeps DROP TABLE's name in ``tables``; without it the drop would leave the
            # table's Delta directory on disk (and bring the table back at the next start).
            node = next(iter(tree.args.get("tables") or ()), None)
    else:
        return None
    if isinstance(node, exp.Schema):
        node = node.this
    if not isinstance(node, exp.Table):
        return None
    return [p.name for p in (node.args.get("catalog"), node.args.get("db"), node.this) if p is not None]


def _kind(tree: exp.Expression) -> str:
    for cls, name in (
        (exp.Merge, "MERGE"),
        (exp.Insert, "INSERT"),
        (exp.Update, "UPDATE"),
        (exp.Delete, "DELETE"),
        (exp.Query, "SELECT"),
    ):
        if isinstance(tree, cls):
            return name
    if isinstance(tree, (exp.Create, exp.Drop, exp.Alter)):
        return "DDL"
    return "OTHER"


def _dml_result(kind: str, table: pa.Table, before: int | None, after: int | None) -> pa.Table:
    if kind not in ("MERGE", "INSERT", "UPDATE", "DELETE") or table.num_columns != 1:
        return table
    affected = int(table.column(0)[0].as_py() or 0) if table.num_rows else 0
    cols = {"num_affected_rows": [affected]}
    if kind == "INSERT":
        cols["num_inserted_rows"] = [affected]
    elif kind == "UPDATE":
        cols["num_updated_rows"] = [affected]
    elif kind == "DELETE":
        cols["num_deleted_rows"] = [affected]
    else:
        inserted = max(0, (after or 0) - (before or 0))
        cols.update(
            num_updated_rows=[affected - inserted], num_deleted_rows=[0], num_inserted_rows=[inserted]
        )
    return pa.table({k: pa.array(v, pa.int64()) for k, v in cols.items()})


def _translate_error(exc: duckdb.Error) -> SqlError:
    text = str(exc)
    if isinstance(exc, duckdb.CatalogException):
        m = re.search(r"Table with name (\S+) does not exist", text)
        if m:
            return SqlError(
                f"[TABLE_OR_VIEW_NOT_FOUND] The table or view `{m.group(1)}` cannot be found. "
                f"({text.splitlines()[0]})",
                "BAD_REQUEST",
                "42P01",
            )
        if "already exists" in text:
            return SqlError(f"[TABLE_OR_VIEW_ALREADY_EXISTS] {text.splitlines()[0]}", "BAD_REQUEST", "42P07")
        return SqlError(
            f"[UNRESOLVED_ROUTINE] {text.splitlines()[0]}"
            if "Function" in text
            else f"[SCHEMA_NOT_FOUND] {text.splitlines()[0]}",
            "BAD_REQUEST",
            "42704",
        )
    if isinstance(exc, duckdb.BinderException):
        return SqlError(
            f"[UNRESOLVED_COLUMN.WITHOUT_SUGGESTION] {text.splitlines()[0]}", "BAD_REQUEST", "42703"
        )
    if isinstance(exc, duckdb.ParserException):
        return SqlError(f"[PARSE_SYNTAX_ERROR] {text.splitlines()[0]}", "BAD_REQUEST", "42601")
    if isinstance(exc, duckdb.ConstraintException):
        return SqlError(
            f"[DELTA_NOT_NULL_CONSTRAINT_VIOLATED] {text.splitlines()[0]}", "BAD_REQUEST", "23502"
        )
    if isinstance(exc, (duckdb.ConversionException, duckdb.OutOfRangeException)):
        return SqlError(f"[CAST_INVALID_INPUT] {text.splitlines()[0]}", "BAD_REQUEST", "22018")
    if isinstance(exc, duckdb.InterruptException):
        return SqlError("The statement was cancelled.", "CANCELLED", None)
    if "MERGE" in text and "multiple" in text.lower():
        return SqlError(
            f"[DELTA_MULTIPLE_SOURCE_ROW_MATCHING_TARGET_ROW_IN_MERGE] {text.splitlines()[0]}",
            "BAD_REQUEST",
            "21506",
        )
    return SqlError(text.splitlines()[0] if text else type(exc).__name__, "BAD_REQUEST", None)
