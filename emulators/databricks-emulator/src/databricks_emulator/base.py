"""What the warehouse's parts share: statement errors and results, and Databricks names in DuckDB."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pyarrow as pa

RESERVED_CATALOGS = {"main", "temp", "system", "memory"}


class SqlError(Exception):
    """A statement that fails on the warehouse: ends FAILED with ``error_code`` and ``sql_state``."""

    def __init__(self, message: str, error_code: str = "BAD_REQUEST", sql_state: str | None = None) -> None:
        super().__init__(message)
        self.message, self.error_code, self.sql_state = message, error_code, sql_state


@dataclass
class Result:
    """What a statement returns: an Arrow table (possibly with no columns)."""

    table: pa.Table
    kind: str  # MERGE, INSERT, COPY, DDL, SELECT, UPDATE, DELETE, OTHER


@dataclass
class _Context:
    catalog: str
    schema: str
    changed: set = field(default_factory=set)  # (catalog, schema, table) lower-cased
    dropped: set = field(default_factory=set)
    appended: dict = field(default_factory=dict)  # target -> [Arrow tables of rows only added]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def duck_catalog(catalog: str) -> str:
    return f"{catalog}__uc" if catalog.lower() in RESERVED_CATALOGS else catalog


_NAME_PART = r"(?:`(?:[^`]|``)*`|[^\s.`(),;]+)"
_NAME = rf"{_NAME_PART}(?:\s*\.\s*{_NAME_PART})*"


def split_name(text: str) -> list[str]:
    return [p[1:-1].replace("``", "`") if p.startswith("`") else p for p in re.findall(_NAME_PART, text)]


def _options(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    pairs = re.findall(
        r"'((?:[^'\\]|\\.)*)'\s*=?\s*'((?:[^'\\]|\\.)*)'|(\w+)\s*=\s*'((?:[^'\\]|\\.)*)'", text
    )
    out = {}
    for k1, v1, k2, v2 in pairs:
        out[(k1 or k2).lower()] = v1 if k1 else v2
    return out


def _bool(value: str | None, default: bool = False) -> bool:
    return default if value is None else value.strip().lower() == "true"


def _empty(kind: str) -> Result:
    return Result(pa.table({}), kind)


_SAFE = set("abcdefghijklmnopqrstuvwxyz0123456789_-")


def quote(name: str, safe: str = "") -> str:
    """A name as one directory: lower-case, unsafe UTF-8 bytes as ``=XX`` (delta-rs decodes ``%XX``)."""
    return "".join(c if c in _SAFE else "".join(f"={b:02X}" for b in c.encode()) for c in name)


def unquote(text: str) -> str:
    return re.sub(rb"=([0-9A-F]{2})", lambda m: bytes([int(m.group(1), 16)]), text.encode()).decode()
