"""Query conditions: the readByQuery ``query`` string and the ``query`` function's ``<filter>``, parsed
to one tree and compiled to a predicate over records whose values are Intacct's strings.

Tree nodes: ``("and", [n...])``, ``("or", [n...])``, ``("not", n)`` and ``("cmp", op, field, values)``
with ``op`` one of ``= != < <= > >= like notlike in notin isnull isnotnull between``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from lxml import etree

from .clock import BadDate, UserClock
from .schema import BOOLEAN, DATE, INTEGER, NUMERIC, TIMESTAMP, ObjectDef


class FilterError(ValueError):
    """The condition cannot be parsed or names something the object does not have."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# ---- readByQuery: SQL-like condition text ---------------------------------------------------
_TOKEN = re.compile(
    r"""\s*(?:
    (?P<str>'(?:\\.|[^'\\])*')
  | (?P<op><>|!=|<=|>=|=|<|>)
  | (?P<punct>[(),])
  | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<num>-?\d+(?:\.\d+)?)
)""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise FilterError(f"Invalid query near '{text[pos : pos + 20]}'")
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out.append((kind, value))
        pos = m.end()
    return out


class _SqlParser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.pos = 0

    def peek(self, upper: bool = True) -> str | None:
        if self.pos >= len(self.toks):
            return None
        kind, value = self.toks[self.pos]
        return value.upper() if upper and kind == "word" else value

    def take(self) -> tuple[str, str]:
        if self.pos >= len(self.toks):
            raise FilterError("Invalid query: unexpected end")
        tok = self.toks[self.pos]
        self.pos += 1
        return tok

    def expect(self, value: str) -> None:
        kind, got = self.take()
        if (got.upper() if kind == "word" else got) != value:
            raise FilterError(f"Invalid query: expected {value} near '{got}'")

    def parse(self):
        node = self.expr()
        if self.pos != len(self.toks):
            raise FilterError(f"Invalid query near '{self.toks[self.pos][1]}'")
        return node

    def expr(self):
        parts = [self.term()]
        while self.peek() == "OR":
            self.pos += 1
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else ("or", parts)

    def term(self):
        parts = [self.factor()]
        while self.peek() == "AND":
            self.pos += 1
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else ("and", parts)

    def factor(self):
        if self.peek() == "NOT":
            self.pos += 1
            return ("not", self.factor())
        if self.peek() == "(":
            self.pos += 1
            node = self.expr()
            self.expect(")")
            return node
        return self.comparison()

    def value(self) -> str:
        kind, value = self.take()
        if kind not in ("str", "num"):
            raise FilterError(f"Invalid query: expected a value near '{value}'")
        return value

    def comparison(self):
        kind, field = self.take()
        if kind != "word":
            raise FilterError(f"Invalid query near '{field}'")
        field = field.upper()
        nxt = self.peek()
        negate = False
        if nxt == "NOT":
            self.pos += 1
            negate = True
            nxt = self.peek()
        if nxt == "LIKE":
            self.pos += 1
            return ("cmp", "notlike" if negate else "like", field, [self.value()])
        if nxt == "IN":
            self.pos += 1
            self.expect("(")
            values = [self.value()]
            while self.peek() == ",":
                self.pos += 1
                values.append(self.value())
            self.expect(")")
            return ("cmp", "notin" if negate else "in", field, values)
        if negate:
            raise FilterError("Invalid query: NOT must precede LIKE or IN")
        if nxt == "IS":
            self.pos += 1
            if self.peek() == "NOT":
                self.pos += 1
                self.expect("NULL")
                return ("cmp", "isnotnull", field, [])
            self.expect("NULL")
            return ("cmp", "isnull", field, [])
        kind, op = self.take()
        if kind != "op":
            raise FilterError(f"Invalid query: expected an operator near '{op}'")
        return ("cmp", "!=" if op == "<>" else op, field, [self.value()])


def parse_sql(text: str | None):
    """readByQuery's condition (may be empty: every record) -> tree or None."""
    if text is None or not text.strip():
        return None
    return _SqlParser(text).parse()


# ---- query: <filter> XML ----------------------------------------------------------------------
_XML_OPS = {
    "equalto": "=",
    "notequalto": "!=",
    "lessthan": "<",
    "lessthanorequalto": "<=",
    "greaterthan": ">",
    "greaterthanorequalto": ">=",
    "like": "like",
    "notlike": "notlike",
    "in": "in",
    "notin": "notin",
    "isnull": "isnull",
    "isnotnull": "isnotnull",
    "between": "between",
}


def parse_xml_filter(element: etree._Element | None):
    """``<filter>`` element -> tree or None."""
    if element is None:
        return None
    children = [c for c in element if isinstance(c.tag, str)]
    if not children:
        return None
    if len(children) != 1:
        raise FilterError("filter must have exactly one condition; combine conditions with <and>/<or>")
    return _xml_node(children[0])


def _xml_node(el: etree._Element):
    tag = el.tag.lower()
    if tag in ("and", "or"):
        parts = [_xml_node(c) for c in el if isinstance(c.tag, str)]
        if len(parts) < 2:
            raise FilterError(f"<{tag}> needs at least two conditions")
        return (tag, parts)
    if tag not in _XML_OPS:
        raise FilterError(f"Unknown filter operator <{el.tag}>")
    field = (el.findtext("field") or "").strip().upper()
    if not field:
        raise FilterError(f"<{el.tag}> needs a <field>")
    values = [(v.text or "") for v in el.findall("value")]
    op = _XML_OPS[tag]
    want = {"isnull": 0, "isnotnull": 0, "between": 2}.get(op)
    if (want is not None and len(values) != want) or (
        want is None and op not in ("in", "notin") and len(values) != 1
    ):
        raise FilterError(f"<{el.tag}> on {field} has the wrong number of <value> elements")
    if op in ("in", "notin") and not values:
        raise FilterError(f"<{el.tag}> on {field} needs at least one <value>")
    return ("cmp", op, field, values)


# ---- compile ----------------------------------------------------------------------------------
def fields_read(node) -> set[str]:
    if node is None:
        return set()
    if node[0] == "cmp":
        return {node[2]}
    if node[0] == "not":
        return fields_read(node[1])
    return set().union(*(fields_read(n) for n in node[1]))


#: Text collations of the ``text_collation`` knob: text -> its sort key.
COLLATIONS: dict[str, Callable[[str], object]] = {
    "binary": lambda v: v,
    "nocase": str.casefold,
    "numeric": lambda v: _numeric_key(v),
}


def _numeric_key(text: str) -> tuple:
    try:
        return (0, Decimal(text), "")
    except InvalidOperation:
        return (1, 0, text)


def converter(
    obj: ObjectDef, field: str, clock: UserClock, casefold: bool = False, collation: str = "binary"
) -> Callable[[str], object]:
    """Intacct string -> comparable value for a field's data type (None for empty); text is
    ordered by ``collation`` (the ``text_collation`` knob) unless ``casefold`` asks for case-insensitive."""
    dtype = obj.by_name[field].datatype
    if dtype == INTEGER:

        def conv(v: str):
            return int(v) if v not in ("", None) else None
    elif dtype in NUMERIC:

        def conv(v: str):
            return Decimal(v) if v not in ("", None) else None
    elif dtype == TIMESTAMP:

        def conv(v: str):
            return clock.parse(v) if v else None
    elif dtype == DATE:

        def conv(v: str):
            return clock.parse_day(v) if v else None
    elif dtype == BOOLEAN:

        def conv(v: str):
            return v.lower() if v else None
    elif casefold:

        def conv(v: str):
            return v.casefold() if v not in ("", None) else None
    elif collation != "binary":
        collate = COLLATIONS[collation]

        def conv(v: str):
            return collate(v) if v not in ("", None) else None
    else:

        def conv(v: str):
            return v if v not in ("", None) else None

    return conv


def _like(pattern: str, casefold: bool) -> re.Pattern:
    out = []
    for ch in pattern:
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return re.compile("".join(out), re.DOTALL | (re.IGNORECASE if casefold else 0))


def compile_filter(
    node, obj: ObjectDef, clock: UserClock, casefold: bool = False, collation: str = "binary"
) -> Callable[[dict], bool]:
    """Tree -> predicate(record). Raises FilterError for unknown fields and bad literals. Ordered
    comparisons of text use ``collation``, the order ``orderby`` sorts text in."""
    if node is None:
        return lambda rec: True
    kind = node[0]
    if kind in ("and", "or"):
        parts = [compile_filter(n, obj, clock, casefold, collation) for n in node[1]]
        if kind == "and":
            return lambda rec: all(p(rec) for p in parts)
        return lambda rec: any(p(rec) for p in parts)
    if kind == "not":
        inner = compile_filter(node[1], obj, clock, casefold, collation)
        return lambda rec: not inner(rec)
    _, op, field, values = node
    if field not in obj.by_name:
        raise FilterError(f"Invalid field {field} for object {obj.name}", field)
    ordered = op in ("<", "<=", ">", ">=", "between")
    conv = converter(obj, field, clock, casefold, collation if ordered else "binary")
    if op == "isnull":
        return lambda rec: rec.get(field) in ("", None)
    if op == "isnotnull":
        return lambda rec: rec.get(field) not in ("", None)
    if op in ("like", "notlike"):
        rx = _like(values[0], casefold)
        want = op == "like"
        return lambda rec: (rec.get(field) or "") != "" and bool(rx.fullmatch(rec[field])) == want
    try:
        literals = [conv(v) for v in values]
    except (BadDate, ValueError, InvalidOperation):
        raise FilterError(f"Invalid value {values!r} for field {field} of object {obj.name}", field) from None
    if op in ("in", "notin"):
        wanted = set(literals)
        member = op == "in"

        def test_in(rec):
            value = conv(rec.get(field))
            return value is not None and (value in wanted) == member

        return test_in
    if op == "between":
        low, high = literals

        def test_between(rec):
            value = conv(rec.get(field))
            return value is not None and low <= value <= high

        return test_between
    literal = literals[0]
    compare = {
        "=": lambda a: a == literal,
        "!=": lambda a: a != literal,
        "<": lambda a: a < literal,
        "<=": lambda a: a <= literal,
        ">": lambda a: a > literal,
        ">=": lambda a: a >= literal,
    }[op]

    def test(rec):
        value = conv(rec.get(field))
        return value is not None and compare(value)

    return test


def index_range(
    node, obj: ObjectDef, clock: UserClock, size: int, first_at_or_after: Callable[[int], int]
) -> tuple[int, int, bool]:
    """Bounds [lo, hi) of base indices that can match, and whether every index in them does.

    Base record ``i`` has key ``i + 1`` and a timestamp non-decreasing in ``i``, so conditions on
    either map to an index interval; AND intersects intervals, OR joins them (exactly when they
    touch, as the two phases of a keyset condition do).
    """
    lo, hi, exact = _interval(node, obj, clock, first_at_or_after)
    lo, hi = max(0, lo), min(size, hi)
    return lo, max(lo, hi), exact


_ALL = (0, 1 << 62, False)


def _interval(node, obj: ObjectDef, clock: UserClock, first_at_or_after) -> tuple[int, int, bool]:
    if node is None:
        return 0, 1 << 62, True
    kind = node[0]
    if kind == "cmp":
        bounds = _bounds(node, obj, clock, first_at_or_after)
        return _ALL if bounds is None else (bounds[0], bounds[1], True)
    if kind == "and":
        parts = [_interval(n, obj, clock, first_at_or_after) for n in node[1]]
        lo = max(p[0] for p in parts)
        hi = min(p[1] for p in parts)
        return lo, max(lo, hi), all(p[2] for p in parts)
    if kind == "or":
        parts = sorted(
            p for p in (_interval(n, obj, clock, first_at_or_after) for n in node[1]) if p[0] < p[1]
        )
        if not parts:
            return 0, 0, True
        exact = all(p[2] for p in parts)
        reach = parts[0][1]
        for p in parts[1:]:
            if p[0] > reach:
                exact = False  # a gap: the hull holds indices no branch matches
            reach = max(reach, p[1])
        return parts[0][0], reach, exact
    return _ALL


def _bounds(c, obj: ObjectDef, clock: UserClock, first_at_or_after) -> tuple[int, int] | None:
    if c[0] != "cmp" or c[2] not in (obj.key, obj.timestamp):
        return None
    _, op, field, values = c
    if op not in ("=", "<", "<=", ">", ">=", "between"):
        return None
    try:
        if field == obj.key:
            nums = [int(v) for v in values]
            # key k is index k - 1; "index of the first record with key >= k" is k - 1
            first = [n - 1 for n in nums]
            after = [n for n in nums]
        else:
            secs = [clock.parse(v) for v in values]
            first = [first_at_or_after(s) for s in secs]
            after = [first_at_or_after(s + 1) for s in secs]
    except (BadDate, ValueError):
        return None
    big = 1 << 62
    return {
        "=": (first[0], after[0]) if len(first) == 1 else None,
        "<": (0, first[0]),
        "<=": (0, after[0]),
        ">": (after[0], big),
        ">=": (first[0], big),
        "between": (first[0], after[-1]),
    }[op]
