"""Fast path for large inline ``VALUES`` lists made only of named parameters and ``NULL``.

A statement such as ``MERGE ... USING (SELECT CAST(c0 AS DECIMAL(38,9)) ... FROM VALUES (:p0, :p1),
(:p2, NULL) AS v(c0, c1)) ...`` can be megabytes of text; parsing and transpiling it with sqlglot costs
seconds. Here the ``VALUES`` block is cut out with regular expressions, its parameters become the
columns of an Arrow table (values as text, typed by a DuckDB ``CAST`` to each parameter's type, the
same conversion the general path applies), and the block is replaced by the name of a relation
(``__emu_values_<n>``). The statement left over is small and the same for every chunk of a load, so its
transpiled form is cached.

Only blocks whose every item is ``:name`` or ``NULL``, with equal tuple widths and one parameter type
per column, take this path; anything else stays in the statement for sqlglot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa

# Tokens that may contain the word VALUES without being the keyword: strings, quoted names, comments.
_SCAN = re.compile(
    r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`(?:[^`]|``)*`|--[^\n]*|/\*.*?\*/|\b(VALUES)\b", re.I | re.S
)
_ITEM = r"(?::[A-Za-z_]\w*|NULL)"
_TUPLE = rf"\(\s*{_ITEM}(?:\s*,\s*{_ITEM})*\s*\)"
_TUPLES = re.compile(rf"\s*{_TUPLE}(?:\s*,\s*{_TUPLE})*", re.I)
_TUPLE_BODY = re.compile(r"\(([^()]*)\)")
_ITEMS = re.compile(r":([A-Za-z_]\w*)|NULL", re.I)
_PREV_WORD = re.compile(r"(\w+)\s*$")

RAW_PREFIX = "__emu_raw_"
VIEW_PREFIX = "__emu_values_"


@dataclass
class ValuesBlock:
    """One extracted VALUES list: Arrow columns ``col1..colN`` (text) and each column's parameter type."""

    index: int
    table: pa.Table
    types: list[str | None]  # Databricks parameter type per column; None when the column is all NULL

    @property
    def raw_name(self) -> str:
        return f"{RAW_PREFIX}{self.index}"

    @property
    def view_name(self) -> str:
        return f"{VIEW_PREFIX}{self.index}"


def extract_values(sql: str, params) -> tuple[str, list[ValuesBlock], set[str]]:
    """``sql`` with parameter-only VALUES blocks replaced, the blocks, and the parameter names they used.

    ``params`` maps names to parameters and has ``values`` (name -> text or None) and ``types``
    (name -> type) dicts (see ``statements.BoundParameters``).
    """
    if not params or "VALUES" not in sql.upper():
        return sql, [], set()
    is_insert = sql.lstrip()[:6].upper() == "INSERT"
    out: list[str] = []
    blocks: list[ValuesBlock] = []
    used: set[str] = set()
    last = pos = 0
    while True:
        m = _SCAN.search(sql, pos)
        if m is None:
            break
        pos = m.end()
        if m.group(1) is None:
            continue
        prev_text = sql[max(last, m.start() - 200) : m.start()].rstrip()
        prev_char = prev_text[-1:]
        word = _PREV_WORD.search(prev_text)
        prev_word = word.group(1).upper() if word else ""
        if prev_word in ("FROM", "JOIN"):
            as_table = True
        elif prev_char == "(" or (is_insert and prev_word != "THEN"):
            as_table = False
        else:
            continue
        tm = _TUPLES.match(sql, m.end())
        if not tm:
            continue
        if sql[tm.end() : tm.end() + 200].lstrip()[:1] in (",", "("):
            continue  # more tuples follow that are not plain parameters
        built = _build(sql[m.end() : tm.end()], params, len(blocks))
        if built is None:
            continue
        vb, names = built
        blocks.append(vb)
        used |= names
        out.append(sql[last : m.start()])
        out.append(f" {vb.view_name} " if as_table else f" SELECT * FROM {vb.view_name} ")
        last = pos = tm.end()
    if not blocks:
        return sql, [], set()
    out.append(sql[last:])
    return "".join(out), blocks, used


def _build(text: str, params, index: int) -> tuple[ValuesBlock, set[str]] | None:
    tuples = _TUPLE_BODY.findall(text)
    if not tuples:
        return None
    commas = tuples[0].count(",")
    width = commas + 1
    if any(t.count(",") != commas for t in tuples):
        return None
    items = _ITEMS.findall(text)  # a name, or "" for NULL
    if len(items) != width * len(tuples):
        return None
    values, types = params.values, params.types
    names = set(items)
    names.discard("")
    if not names <= values.keys():
        return None  # unbound: the general path reports it
    arrays, column_types = [], []
    for j in range(width):
        column = items[j::width]
        column_names = set(column)
        column_names.discard("")
        kinds = set(map(types.__getitem__, column_names))
        if len(kinds) > 1:
            return None
        column_types.append(kinds.pop() if kinds else None)
        arrays.append(pa.array(list(map(values.get, column)), pa.string()))
    table = pa.Table.from_arrays(arrays, names=[f"col{i + 1}" for i in range(width)])
    return ValuesBlock(index, table, column_types), names
