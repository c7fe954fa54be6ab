"""OData v3 query options as the contract-based API reads them: $filter, $orderby, $select, $expand, $custom.

``$filter`` is parsed into a small tree and compiled into a predicate over plain records. The tree
is also read for a range on the timestamp field, so the store can jump into a long, time-ordered
base sequence instead of scanning it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from acumatica_client import catalog


class QueryError(ValueError):
    """A query option the server cannot read; answered with 400 and an Acumatica error body."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<typed>(?:datetimeoffset|datetime|guid|date)'(?:[^']|'')*')
      | (?P<bare>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))
      | (?P<string>'(?:[^']|'')*')
      | (?P<number>-?\d+(?:\.\d+)?[mMdDfFlL]?)
      | (?P<punct>[(),=])
      | (?P<name>[A-Za-z_][A-Za-z0-9_./]*)
    )""",
    re.VERBOSE,
)

COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}
FUNCTIONS = {"substringof", "startswith", "endswith", "tolower", "toupper", "trim", "length"}
TIMESTAMP_TYPES = {"DateTimeValue"}


def tokenize(text: str) -> list[tuple[str, str]]:
    pos, out = 0, []
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise QueryError(f"Syntax error at position {pos} in '{text}'.")
        kind = match.lastgroup
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


@dataclass(frozen=True)
class Field:
    name: str
    custom: tuple[str, str] | None = None  # (view, field) for cf.X(f='View.Field')


@dataclass(frozen=True)
class Literal:
    value: object
    kind: str  # string, number, datetime, bool, null, guid


@dataclass(frozen=True)
class Node:
    op: str
    args: tuple


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], text: str, odata_version: int = 3) -> None:
        self.tokens, self.pos, self.text = tokens, 0, text
        self.odata_version = odata_version

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1].lower() != value):
            raise QueryError(f"Syntax error in '{self.text}': expected {value or 'a term'}.")
        self.pos += 1
        return token

    def parse(self):
        node = self.or_expr()
        if self.peek() is not None:
            raise QueryError(f"Syntax error in '{self.text}' near '{self.peek()[1]}'.")
        return node

    def or_expr(self):
        node = self.and_expr()
        while (tok := self.peek()) and tok[0] == "name" and tok[1].lower() == "or":
            self.pos += 1
            node = Node("or", (node, self.and_expr()))
        return node

    def and_expr(self):
        node = self.not_expr()
        while (tok := self.peek()) and tok[0] == "name" and tok[1].lower() == "and":
            self.pos += 1
            node = Node("and", (node, self.not_expr()))
        return node

    def not_expr(self):
        tok = self.peek()
        if tok and tok[0] == "name" and tok[1].lower() == "not":
            self.pos += 1
            return Node("not", (self.not_expr(),))
        return self.comparison()

    def comparison(self):
        left = self.primary()
        tok = self.peek()
        if tok and tok[0] == "name" and tok[1].lower() in COMPARISONS:
            self.pos += 1
            return Node(tok[1].lower(), (left, self.primary()))
        return left

    def primary(self):
        kind, value = self.take()
        if value == "(":
            node = self.or_expr()
            self.take(")")
            return node
        if kind == "string":
            return Literal(value[1:-1].replace("''", "'"), "string")
        if kind == "number":
            number = value.rstrip("mMdDfFlL")
            return Literal(Decimal(number) if "." in number else int(number), "number")
        if kind == "typed":
            prefix, _, rest = value.partition("'")
            if self.odata_version == 4 and prefix.lower() in ("datetime", "datetimeoffset"):
                # OData v4 dropped the typed date literals: a date-time is written bare.
                raise QueryError(f"Syntax error in '{self.text}': unrecognized literal '{value}'.")
            return Literal(rest[:-1].replace("''", "'"), prefix.lower())
        if kind == "bare":
            if self.odata_version != 4:
                raise QueryError(f"Syntax error in '{self.text}' near '{value}'.")
            return Literal(value, "datetimeoffset")
        if kind == "name":
            lower = value.lower()
            if lower in ("true", "false"):
                return Literal(lower == "true", "bool")
            if lower == "null":
                return Literal(None, "null")
            if lower.startswith("cf.") and self.peek() and self.peek()[1] == "(":
                return self.custom_field(value)
            if lower in FUNCTIONS and self.peek() and self.peek()[1] == "(":
                self.take("(")
                args = [self.or_expr()]
                while self.peek() and self.peek()[1] == ",":
                    self.pos += 1
                    args.append(self.or_expr())
                self.take(")")
                return Node(lower, tuple(args))
            if lower in COMPARISONS or lower in ("and", "or", "not"):
                raise QueryError(f"Syntax error in '{self.text}': unexpected '{value}'.")
            return Field(value)
        raise QueryError(f"Syntax error in '{self.text}' near '{value}'.")

    def custom_field(self, value: str) -> Field:
        # cf.String(f='Document.UsrApprovalCode')
        self.take("(")
        name = self.take()
        if name[1].lower() != "f":
            raise QueryError(f"Syntax error in '{self.text}': expected f='View.Field'.")
        self.take("=")
        kind, literal = self.take()
        self.take(")")
        view, _, fname = literal[1:-1].partition(".")
        if kind != "string" or not fname:
            raise QueryError(f"Syntax error in '{self.text}': expected f='View.Field'.")
        return Field(f"{view}.{fname}", custom=(view, fname))


def parse_filter(text: str, odata_version: int = 3):
    """Parse a $filter expression into a tree of Node / Field / Literal.

    OData v3 (the contract-based API, the /odata feed) writes date-times as ``datetime'...'`` or
    ``datetimeoffset'...'``; v4 (the /odatav4 feed) writes them bare, ``2024-01-31T00:00:00Z``.
    """
    return _Parser(tokenize(text), text, odata_version).parse()


# ---- compilation ----------------------------------------------------------------------------

Getter = Callable[[dict], object]


class FilterCompiler:
    """Turns a filter tree into ``predicate(record) -> bool`` for one entity and version."""

    def __init__(
        self, fields: dict[str, str], custom: dict[str, dict[str, str]], to_ms: Callable[[str], int]
    ) -> None:
        self.fields, self.custom, self.to_ms = fields, custom, to_ms

    def compile(self, node) -> Callable[[dict], bool]:
        fn = self._bool(node)
        return fn

    def _bool(self, node) -> Callable[[dict], bool]:
        if isinstance(node, Node):
            if node.op in ("and", "or"):
                a, b = self._bool(node.args[0]), self._bool(node.args[1])
                if node.op == "and":
                    return lambda r: a(r) and b(r)
                return lambda r: a(r) or b(r)
            if node.op == "not":
                a = self._bool(node.args[0])
                return lambda r: not a(r)
            if node.op in COMPARISONS:
                return self._comparison(node)
            if node.op in ("substringof", "startswith", "endswith"):
                return self._string_function(node)
        if isinstance(node, Literal) and node.kind == "bool":
            return lambda r: node.value
        if isinstance(node, Field) and self._type(node) == "BooleanValue":
            get = self._getter(node)
            return lambda r: get(r) is True
        raise QueryError("The $filter expression must be a condition.")

    def _type(self, f: Field) -> str:
        if f.custom:
            view, name = f.custom
            ctype = self.custom.get(view, {}).get(name)
            if ctype is None:
                raise QueryError(f"Custom field '{view}.{name}' is not found.")
            return {
                "CustomIntField": "IntValue",
                "CustomBooleanField": "BooleanValue",
                "CustomDecimalField": "DecimalValue",
            }.get(ctype, "StringValue")
        if "/" in f.name:
            raise QueryError(
                f"Filtering by the fields of detail or linked entities ('{f.name}') is not supported."
            )
        ftype = self.fields.get(f.name)
        if ftype is None:
            raise QueryError(f"Field '{f.name}' is not found in the entity.")
        if not catalog.is_scalar(ftype):
            raise QueryError(f"Filtering by the detail or linked entity '{f.name}' is not supported.")
        return ftype

    def _getter(self, f: Field) -> Getter:
        ftype = self._type(f)
        if f.custom:
            view, name = f.custom
            return lambda r: r.get("custom", {}).get(view, {}).get(name)
        name = f.name
        if ftype in TIMESTAMP_TYPES:
            to_ms = self.to_ms

            def get_ms(r: dict):
                value = r.get(name)
                return None if value is None else to_ms(value)

            return get_ms
        return lambda r: r.get(name)

    def _literal(self, lit: Literal, against: str | None):
        if lit.kind in ("datetimeoffset", "datetime", "date") or (
            against in TIMESTAMP_TYPES and lit.kind == "string"
        ):
            try:
                return self.to_ms(lit.value)
            except ValueError as exc:
                raise QueryError(f"The value '{lit.value}' is not a valid date and time.") from exc
        if against in TIMESTAMP_TYPES and lit.kind not in ("null",):
            raise QueryError("A date and time field can be compared only with a datetime literal.")
        if lit.kind == "guid":
            return lit.value.lower()
        if against == "DecimalValue" and lit.kind == "number":
            return Decimal(lit.value)
        return lit.value

    def _operand(self, node, against: str | None) -> Getter:
        if isinstance(node, Field):
            return self._getter(node)
        if isinstance(node, Literal):
            value = self._literal(node, against)
            return lambda r: value
        if isinstance(node, Node) and node.op in ("tolower", "toupper", "trim"):
            inner = self._operand(node.args[0], None)
            method = {"tolower": str.lower, "toupper": str.upper, "trim": str.strip}[node.op]
            return lambda r: None if (v := inner(r)) is None else method(str(v))
        raise QueryError("Unsupported operand in $filter.")

    def _comparison(self, node: Node) -> Callable[[dict], bool]:
        left, right = node.args
        ltype = self._type(left) if isinstance(left, Field) else None
        rtype = self._type(right) if isinstance(right, Field) else None
        a = self._operand(left, rtype)
        b = self._operand(right, ltype)
        op = node.op
        if op == "eq":
            return lambda r: _eq(a(r), b(r))
        if op == "ne":
            return lambda r: not _eq(a(r), b(r))
        compare = {
            "gt": lambda x, y: x > y,
            "ge": lambda x, y: x >= y,
            "lt": lambda x, y: x < y,
            "le": lambda x, y: x <= y,
        }[op]

        def ordered(r: dict) -> bool:
            x, y = a(r), b(r)
            if x is None or y is None:
                return False
            try:
                return compare(x, y)
            except TypeError:
                return False

        return ordered

    def _string_function(self, node: Node) -> Callable[[dict], bool]:
        if len(node.args) != 2:
            raise QueryError(f"Function {node.op} takes two arguments.")
        if node.op == "substringof":
            needle, hay = (self._operand(arg, None) for arg in node.args)
            return lambda r: _text(needle(r)) in _text(hay(r))
        hay, needle = (self._operand(arg, None) for arg in node.args)
        if node.op == "startswith":
            return lambda r: _text(hay(r)).startswith(_text(needle(r)))
        return lambda r: _text(hay(r)).endswith(_text(needle(r)))


def _eq(x, y) -> bool:
    if x is None or y is None:
        return x is None and y is None
    if isinstance(x, str) and isinstance(y, str):
        return x == y
    try:
        return x == y
    except TypeError:
        return False


def _text(value) -> str:
    return "" if value is None else str(value)


def filter_fields(node) -> set[str]:
    """Names of the fields a filter tree reads; a custom field counts as "" (never light)."""
    if isinstance(node, Field):
        return {"" if node.custom else node.name}
    if isinstance(node, Node):
        return set().union(*(filter_fields(arg) for arg in node.args))
    return set()


def timestamp_range(node, names: set[str], to_ms: Callable[[str], int]) -> tuple[int | None, int | None]:
    """A conservative [low, high] range (epoch ms) that ``names`` must lie in for ``node`` to hold."""
    if isinstance(node, Node):
        if node.op == "and":
            (l1, h1), (l2, h2) = (timestamp_range(arg, names, to_ms) for arg in node.args)
            low = l1 if l2 is None else l2 if l1 is None else max(l1, l2)
            high = h1 if h2 is None else h2 if h1 is None else min(h1, h2)
            return low, high
        if node.op == "or":
            (l1, h1), (l2, h2) = (timestamp_range(arg, names, to_ms) for arg in node.args)
            low = None if l1 is None or l2 is None else min(l1, l2)
            high = None if h1 is None or h2 is None else max(h1, h2)
            return low, high
        if node.op in COMPARISONS and node.op != "ne":
            left, right = node.args
            op = node.op
            if isinstance(right, Field) and isinstance(left, Literal):
                left, right = right, left
                op = {"gt": "lt", "lt": "gt", "ge": "le", "le": "ge"}.get(op, op)
            if (
                isinstance(left, Field)
                and left.custom is None
                and left.name in names
                and isinstance(right, Literal)
                and right.kind != "null"
            ):
                try:
                    ms = to_ms(right.value)
                except (ValueError, TypeError):
                    return None, None
                return {
                    "gt": (ms + 1, None),
                    "ge": (ms, None),
                    "eq": (ms, ms),
                    "lt": (None, ms - 1),
                    "le": (None, ms),
                }[op]
    return None, None


Interval = tuple[int | None, int | None]  # [low, high) in epoch ms; None: unbounded


def timestamp_accept(node, names: set[str], to_ms: Callable[[str], int]) -> Interval | None:
    """An interval [A, B) of epoch ms (None: unbounded) such that ``node`` holds for every record whose
    ``names`` fields all equal one timestamp in it (whatever its other fields), or None. With the keyset
    filter ``T gt t or (T eq t and ...)`` that is [t + 1, None): past the tie group the store need not
    evaluate it. An upper bound ``T le u`` or ``T lt u`` (a read's window) ends it at u's millisecond,
    whose records are still evaluated.
    """
    if isinstance(node, Node):
        if node.op in ("and", "or"):
            a, b = (timestamp_accept(arg, names, to_ms) for arg in node.args)
            if node.op == "and":
                if a is None or b is None:
                    return None
                low = b[0] if a[0] is None else a[0] if b[0] is None else max(a[0], b[0])
                high = b[1] if a[1] is None else a[1] if b[1] is None else min(a[1], b[1])
                empty = low is not None and high is not None and high <= low
                return None if empty else (low, high)
            if a is None or b is None:
                return b if a is None else a
            if _reaches(a, b) and _reaches(b, a):  # overlapping or adjacent: their union
                low = None if a[0] is None or b[0] is None else min(a[0], b[0])
                high = None if a[1] is None or b[1] is None else max(a[1], b[1])
                return low, high
            return a  # the node holds on each: either will do
        if node.op in ("gt", "ge", "lt", "le"):
            left, right = node.args
            op = node.op
            if isinstance(right, Field) and isinstance(left, Literal):
                left, right = right, left
                op = {"gt": "lt", "lt": "gt", "ge": "le", "le": "ge"}[op]
            if (
                isinstance(left, Field)
                and left.custom is None
                and left.name in names
                and isinstance(right, Literal)
                and right.kind in ("datetimeoffset", "datetime", "date", "string")
            ):
                try:
                    ms = to_ms(right.value)
                except (ValueError, TypeError):
                    return None
                return {"gt": (ms + 1, None), "ge": (ms, None), "lt": (None, ms), "le": (None, ms)}[op]
    return None


def _reaches(a: Interval, b: Interval) -> bool:
    """Whether interval ``a`` ends at or after ``b`` starts."""
    return a[1] is None or b[0] is None or a[1] >= b[0]


# ---- other query options --------------------------------------------------------------------


def split_list(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def parse_orderby(text: str | None) -> list[tuple[str, bool]]:
    """'LastModifiedDateTime asc,Type desc' -> [(field, descending)]."""
    out = []
    for part in split_list(text):
        words = part.split()
        if len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise QueryError(f"The $orderby expression '{part}' is not valid.")
        out.append((words[0], len(words) == 2 and words[1].lower() == "desc"))
    return out


def parse_number(name: str, text: str | None) -> int | None:
    if text is None or text == "":
        return None
    try:
        value = int(text)
    except ValueError as exc:
        raise QueryError(f"The value of {name} must be a non-negative integer.") from exc
    if value < 0:
        raise QueryError(f"The value of {name} must be a non-negative integer.")
    return value


def decimal_or_none(value) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except InvalidOperation:
        return None
