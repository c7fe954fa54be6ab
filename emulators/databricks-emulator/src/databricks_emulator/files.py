"""Files in Unity Catalog volumes: their paths under ``data_dir``, ``read_files`` and ``COPY INTO``."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlglot
from sqlglot import exp

from .base import _NAME, Result, SqlError, _bool, _Context, _options, _q, quote, split_name

_JSON_STRING_DETECTED = {"DATE", "TIME", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "UUID"}


class VolumeFiles:
    """The warehouse's volumes (a part of ``engine.Warehouse``): paths, ``read_files`` and ``COPY INTO``."""

    data_dir: Path
    conn: Any
    copy_log: dict[str, list[str]]

    def volume_root(self, catalog: str, schema: str, volume: str) -> Path:
        return self.data_dir.joinpath(
            "volumes", *(quote(p.lower(), safe="") for p in (catalog, schema, volume))
        )

    def volume_exists(self, catalog: str, schema: str, volume: str) -> bool:
        return self.volume_root(catalog, schema, volume).is_dir()

    def local_path(self, volume_path: str) -> Path:
        """``/Volumes/c/s/v/rest`` -> the file under ``data_dir``; SqlError if the volume is unknown."""
        parts = [p for p in volume_path.split("/") if p]
        if len(parts) < 4 or parts[0] != "Volumes":
            raise SqlError(
                f"[PATH_NOT_FOUND] Path does not exist: {volume_path}. Only /Volumes paths are "
                "supported by the emulator.",
                "BAD_REQUEST",
                "42K03",
            )
        root = self.volume_root(*parts[1:4])
        if not root.is_dir():
            raise SqlError(
                f"[UC_VOLUME_NOT_FOUND] Volume {'.'.join(parts[1:4])} does not exist.", "NOT_FOUND", "42704"
            )
        return root.joinpath(*parts[4:])

    def _read_files(self, node: exp.Table, target) -> exp.Expression:
        func = node.this
        args = func.expressions
        if not args or not isinstance(args[0], exp.Literal):
            raise SqlError(
                "[INVALID_PARAMETER_VALUE] read_files needs a path literal.", "BAD_REQUEST", "22023"
            )
        options = {a.this.name.lower(): a.expression.name for a in args[1:] if isinstance(a, exp.Kwarg)}
        path = self.local_path(args[0].name)
        fmt = options.get("format", "").lower() or _format_of(path)
        files = _list_files(path, options.get("pattern"))
        if not files:
            raise SqlError(
                f"[UNABLE_TO_INFER_SCHEMA] No files found at {args[0].name}.", "BAD_REQUEST", "42KD9"
            )
        source = self._reader(fmt, files, options, target)
        alias = node.args.get("alias")
        sub = sqlglot.parse_one(f"SELECT * FROM {source}", read="duckdb").subquery(
            alias.this if alias is not None else "read_files"
        )
        return sub

    def _reader(self, fmt: str, files: list[Path], options: dict, target) -> str:
        """DuckDB table function text reading ``files``; column types follow the target table."""
        file_list = "[" + ",".join("'" + str(f).replace("'", "''") + "'" for f in files) + "]"
        if fmt == "parquet":
            return f"read_parquet({file_list}, union_by_name=true)"
        if fmt == "json":
            base = f"read_json({file_list}, union_by_name=true"
        elif fmt == "csv":
            header = _bool(options.get("header"), False)
            sep = options.get("sep", options.get("delimiter", ","))
            base = (
                f"read_csv({file_list}, union_by_name=true, header={str(header).lower()}, "
                f"delim='{sep.replace(chr(39), chr(39) * 2)}'"
            )
            if header:
                base += ", all_varchar=true"
        else:
            raise SqlError(
                f"[UNSUPPORTED_FEATURE] File format {fmt!r} is not supported by the emulator.",
                "BAD_REQUEST",
                "0A000",
            )
        if target is None and fmt != "json":
            return base + ")"
        inferred = self.conn.execute(f"DESCRIBE SELECT * FROM {base})").fetchall()
        target_types = (
            {r[0].lower(): r[1] for r in self.conn.execute(f"DESCRIBE {self._duck_name(*target)}").fetchall()}
            if target is not None
            else {}
        )

        def source_type(name: str, typ: str) -> str:
            if name.lower() in target_types:
                return target_types[name.lower()]
            # JSON has no date types: DuckDB detects them in strings, Databricks keeps STRING (so a
            # CAST of the text to TIMESTAMP or STRING sees the text exactly as written).
            if fmt == "json" and typ.upper() in _JSON_STRING_DETECTED:
                return "VARCHAR"
            return typ

        columns = ", ".join(
            f"'{name.replace(chr(39), chr(39) * 2)}': '{source_type(name, typ)}'"
            for name, typ, *_ in inferred
        )
        if fmt == "csv":
            return base.replace(", all_varchar=true", "") + f", columns={{{columns}}})"
        return base + f", columns={{{columns}}})"

    # ---- COPY INTO -----------------------------------------------------------------------
    _COPY = re.compile(
        rf"COPY\s+INTO\s+(?P<name>{_NAME})\s*(?:BY\s+POSITION\s*)?(?:\((?P<cols>[^)]*)\)\s*)?"
        r"FROM\s+'(?P<path>(?:[^']|'')*)'\s*"
        r"FILEFORMAT\s*=\s*(?P<fmt>\w+)(?P<rest>.*)$",
        re.I | re.S,
    )

    def _copy_into(self, sql: str, ctx: _Context) -> Result:
        m = self._COPY.match(sql)
        if not m:
            raise SqlError(
                "[UNSUPPORTED_FEATURE] The emulator supports COPY INTO <table> FROM '<path>' "
                "FILEFORMAT = JSON|CSV|PARQUET [FILES = (...)] [PATTERN = '...'] [FORMAT_OPTIONS (...)] "
                "[COPY_OPTIONS (...)].",
                "BAD_REQUEST",
                "0A000",
            )
        target = tuple(self._qualify(split_name(m.group("name")), ctx))
        self.conn.execute(f"SELECT 1 FROM {self._duck_name(*target)} LIMIT 0")
        rest = m.group("rest")
        fmt_opts = _options(_section(rest, "FORMAT_OPTIONS"))
        copy_opts = _options(_section(rest, "COPY_OPTIONS"))
        pattern = re.search(r"PATTERN\s*=\s*'([^']*)'", rest, re.I)
        files_sec = _section(rest, "FILES\\s*=")
        path = self.local_path(m.group("path").replace("''", "'"))
        files = _list_files(path, pattern.group(1) if pattern else None)
        if files_sec:
            wanted = set(re.findall(r"'([^']*)'", files_sec))
            files = [f for f in files if f.name in wanted or str(f.relative_to(path)) in wanted]
        key = self._copy_key(*target)
        loaded = set(self.copy_log.get(key, []))
        force = _bool(copy_opts.get("force"))
        new = [f for f in files if force or str(f) not in loaded]
        fmt = m.group("fmt").lower()
        inserted = 0
        if new:
            cols = m.group("cols")
            by = f"({', '.join(_q(c) for c in split_name(cols))})" if cols else "BY NAME"
            reader = self._reader(fmt, new, fmt_opts, target)
            self.conn.execute("BEGIN")
            inserted = self.conn.execute(
                f"INSERT INTO {self._duck_name(*target)} {by} SELECT * FROM {reader}"
            ).fetchall()[0][0]
            self.conn.execute("COMMIT")
            self.copy_log[key] = sorted(loaded | {str(f) for f in new})
            self._save_copy_log()
            ctx.changed.add(target)
        table = pa.table(
            {
                "num_affected_rows": pa.array([inserted], pa.int64()),
                "num_inserted_rows": pa.array([inserted], pa.int64()),
                "num_skipped_corrupt_files": pa.array([0], pa.int64()),
            }
        )
        return Result(table, "COPY")


def _section(text: str, keyword: str) -> str | None:
    m = re.search(keyword + r"\s*\(", text, re.I)
    if not m:
        return None
    depth, start = 1, m.end()
    in_str = False
    for i in range(start, len(text)):
        ch = text[i]
        if ch == "'":
            in_str = not in_str
        elif not in_str and ch == "(":
            depth += 1
        elif not in_str and ch == ")":
            depth -= 1
            if depth == 0:
                return text[start:i]
    return None


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    return {"jsonl": "json", "ndjson": "json"}.get(suffix, suffix)


def _list_files(path: Path, pattern: str | None) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        return []
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file() and not any(part.startswith(("_", ".")) for part in p.relative_to(path).parts)
    )
    if pattern:
        files = [f for f in files if fnmatch.fnmatch(str(f.relative_to(path)), pattern)]
    return files
