"""What the round-trip properties share: the values and names drawn, the Singer input built from them,
and the oracle that holds a loader's run against what was sent.

The property, for every loader: a run either lands every value exactly (read back equal to what was
sent, under the loader's documented type mapping) and emits the input's STATE, or it is refused by
name: exit status non-zero, the error names the stream or property and the offending value, nothing of
the input landed and no STATE was emitted. Exit 0 with anything else is the defect this suite hunts.

One loader run is one example: hypothesis draws a batch of 50-200 rows (and, for names, the streams and
properties), the loader loads it, and the whole warehouse schema of that run is read back as text.
Values read back are compared as the warehouse types them: a decimal by its numeric value (DECIMAL
pads the scale), a timestamp as an instant in microseconds (warehouses keep UTC, offsets are not
stored).

Lone surrogates (``"\\ud800"``) are not drawn: they are not Unicode scalar values, so no UTF-8 text
holds them; a tap writing UTF-8 JSON cannot emit one, and every warehouse here stores UTF-8 strings.
Every other code point is: control characters (NUL included), all 17 planes, noncharacters, BOM.
"""

from __future__ import annotations

import calendar
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

#: Decimal JSON numbers written exactly as their text (Decimal("1.10") -> 1.10).
ENCODER = msgspec.json.Encoder(decimal_format="number")
TIME_EXTRACTED = "2024-05-01T12:00:00Z"
ROWS = {"min_size": 50, "max_size": 200}


def loads(examples: int, xfail: str | None = None):
    """Settings of one property: a few fixed examples (each is one loader run), no example database, no
    deadline. ``xfail`` marks a known defect or limit (strict, so the mark must be lifted once it is
    fixed): then only the test's explicit ``@example`` runs, the batch that holds the failing value, once
    (a search would find it again, and hypothesis replays a found failure: two loader runs for nothing);
    lifting the mark brings the search back. Without the mark a failing batch is shrunk to the value
    that breaks it."""
    phases = [Phase.explicit] if xfail else [Phase.explicit, Phase.generate, Phase.shrink]
    chosen = settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        phases=phases,
        report_multiple_bugs=False,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )

    def apply(test):
        test = chosen(test)
        return pytest.mark.xfail(strict=True, reason=xfail)(test) if xfail else test

    return apply


# --- values -------------------------------------------------------------------------------------------

#: Code points that break naive handling: NUL and other C0/C1 controls, line and paragraph separators,
#: BOM, zero-width joiner, noncharacters, the last code point of the BMP and of plane 16, a combining
#: mark, right-to-left text, an emoji with a variation selector, quotes and SQL comment starts.
SPECIAL_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x01\x07\x08\x0b\x0c\x1b\x1f\x7f",
    "\x80\x85\x9f",
    "\t\n\r",
    "\r\n",
    "\u2028\u2029",
    "\ufeff",
    "\u200d",
    "\ufffe\uffff",
    "\U0010ffff",
    "\U000e0001",
    "e\u0301",
    "\u05e9\u05dc\u05d5\u05dd",
    "\U0001f600\ufe0f",
    "\U00020000\U0003134a",
    "' OR 1=1 --",
    '"; DROP TABLE x; --',
    "`",
    "\\",
    "\\u0000",
    "null",
    "NULL",
    " trailing ",
]

#: Every plane: the BMP without surrogates, supplementary planes 1-3 and 14-16 (the others are
#: unassigned, still valid scalar values), control characters.
_CHARS = st.one_of(
    st.characters(codec="utf-8"),
    st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF),
    st.characters(categories=["Cc"]),
)

text_values = st.one_of(st.sampled_from(SPECIAL_TEXT), st.text(_CHARS, max_size=40))


def decimal_values(
    max_digits: int = 38, max_scale: int = 38, edges: tuple[str, ...] = ()
) -> st.SearchStrategy:
    """Exact decimals of up to ``max_digits`` significant digits with up to ``max_scale`` decimal
    places, signs and trailing zeros included; ``edges`` are drawn often."""

    @st.composite
    def build(draw) -> Decimal:
        scale = draw(st.integers(0, max_scale))
        digits = draw(st.integers(max(1, scale), max_digits)) if scale <= max_digits else max_digits
        unscaled = draw(st.integers(-(10**digits) + 1, 10**digits - 1))
        return Decimal(unscaled).scaleb(-scale)

    general = build()
    return st.one_of(st.sampled_from([Decimal(e) for e in edges]), general) if edges else general


@st.composite
def timestamp_values(draw) -> str:
    """ISO 8601 date-times, year 1-9999 local, 0-6 fraction digits, offset Z or -14:00..+14:00."""
    year = draw(st.integers(1, 9999))
    month = draw(st.integers(1, 12))
    day = draw(st.integers(1, calendar.monthrange(year, month)[1]))
    hour, minute, second = draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 59))
    digits = draw(st.integers(0, 6))
    fraction = "." + str(draw(st.integers(0, 10**digits - 1))).zfill(digits) if digits else ""
    offset_minutes = draw(st.one_of(st.just(0), st.integers(-14 * 60, 14 * 60)))
    if offset_minutes == 0 and draw(st.booleans()):
        zone = "Z"
    else:
        sign = "-" if offset_minutes < 0 else "+"
        zone = f"{sign}{abs(offset_minutes) // 60:02d}:{abs(offset_minutes) % 60:02d}"
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}{fraction}{zone}"


#: The ends of the range and the instants just outside it once converted to UTC.
TIMESTAMP_EDGES = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00.000001+00:00",
    "9999-12-31T23:59:59.999999Z",
    "9999-12-31T23:59:59.999-05:00",
    "0001-01-01T00:30:00+01:00",
    "1970-01-01T00:00:00Z",
    "1969-12-31T23:59:59.999999Z",
    "2024-02-29T23:59:59+14:00",
    "1582-10-10T12:00:00-12:00",
    "2000-01-01T00:00:00.5+05:45",
]

timestamps = st.one_of(st.sampled_from(TIMESTAMP_EDGES), timestamp_values())

_TS = re.compile(
    r"(?P<y>[+-]?\d{1,6})-(?P<mo>\d\d)-(?P<d>\d\d)(?P<bc> \(BC\))?[T ](?P<h>\d\d):(?P<mi>\d\d):(?P<s>\d\d)"
    r"(?:\.(?P<f>\d{1,9}))?\s*(?P<z>Z|UTC|[+-]\d\d(?::?\d\d)?)?$"
)
MIN_INSTANT = 0
MAX_INSTANT = None  # set below: 9999-12-31T23:59:59.999999 UTC


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 0001-01-01 in the proleptic Gregorian calendar, for any year (also 0 and 10000)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468 + 719162


def instant(text: str) -> int:
    """Microseconds since 0001-01-01T00:00:00 UTC of an ISO or SQL timestamp text; no offset means UTC.
    Digits past microseconds are cut (as every warehouse here stores microseconds)."""
    m = _TS.match(text.strip())
    if not m:
        raise ValueError(f"not a timestamp: {text!r}")
    year = 1 - int(m["y"]) if m["bc"] else int(m["y"])  # DuckDB writes year 0 as 0001 (BC)
    days = _days_from_civil(year, int(m["mo"]), int(m["d"]))
    seconds = days * 86400 + int(m["h"]) * 3600 + int(m["mi"]) * 60 + int(m["s"])
    zone = m["z"] or "Z"
    if zone not in ("Z", "UTC"):
        sign = -1 if zone[0] == "-" else 1
        hours, minutes = int(zone[1:3]), int(zone.replace(":", "")[3:5] or 0)
        seconds -= sign * (hours * 3600 + minutes * 60)
    return seconds * 1_000_000 + int((m["f"] or "").ljust(6, "0")[:6])


MAX_INSTANT = instant("9999-12-31T23:59:59.999999Z")
assert instant("0001-01-01T00:00:00Z") == 0 and instant("1970-01-01T00:00:00Z") == 62135596800 * 1_000_000


def in_utc_range(text: str) -> bool:
    return MIN_INSTANT <= instant(text) <= MAX_INSTANT


# --- names --------------------------------------------------------------------------------------------

#: Pieces of hostile identifiers: SQL quotes of every dialect, statement separators and comments,
#: spaces, dots, dashes, reserved words, non-ASCII letters (accents, German sharp s, CJK, emoji, RTL,
#: zero width), and an injection payload.
NAME_PIECES = [
    '"',
    "'",
    "`",
    "[",
    "]",
    ";",
    " ",
    ".",
    "-",
    "--",
    "/*",
    "\\",
    "$1",
    ":p",
    "?",
    "select",
    "from",
    "table",
    "order",
    "group",
    "Default",
    "null",
    "Amount",
    "AMOUNT",
    "é",
    "Straße",
    "数据",
    "\U0001f4b0",
    "\u05e9\u05dd",
    "\u200b",
    '" (i int); DROP TABLE t; CREATE TABLE "y',
    "x` STRING); DROP TABLE t; --",
]


@st.composite
def hostile_names(draw) -> str:
    kind = draw(st.sampled_from(["pieces", "pieces", "text", "long", "plain"]))
    if kind == "plain":
        return draw(st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True))
    if kind == "long":
        return draw(st.sampled_from(["n", "Ünïcode", "数"])) * draw(st.sampled_from([64, 129, 256, 301]))
    if kind == "text":
        return draw(st.text(_CHARS.filter(lambda c: c not in "\x00"), min_size=1, max_size=20))
    return "".join(draw(st.lists(st.sampled_from(NAME_PIECES), min_size=1, max_size=4)))


def _separators(name: str, to: str) -> str:
    return re.sub(r"[^0-9A-Za-z]", to, name) if re.search(r"[^0-9A-Za-z]", name) else name + to


#: How a second name is made to collide with a first one in loaders that fold case or separators.
VARIANTS = {
    "upper": str.upper,
    "lower": str.lower,
    "swapcase": str.swapcase,
    "underscores": lambda n: _separators(n, "_"),
    "dashes": lambda n: _separators(n, "-"),
}


@st.composite
def name_sets(draw, count_range: tuple[int, int]) -> list[str]:
    """Distinct names; often one more that differs from the first only in case or in separators."""
    names = draw(st.lists(hostile_names(), min_size=count_range[0], max_size=count_range[1], unique=True))
    if draw(st.booleans()):
        variant = VARIANTS[draw(st.sampled_from(sorted(VARIANTS)))](names[0])
        if variant not in names:
            names.append(variant)
    return names


# --- batches ------------------------------------------------------------------------------------------


@dataclass
class Column:
    name: str
    schema: dict
    #: How sent and landed values compare: "text", "decimal", "double" (as the nearest double),
    #: "timestamp".
    kind: str = "text"


@dataclass
class Stream:
    name: str
    key: str
    columns: list[Column]
    rows: list[dict] = field(default_factory=list)

    def schema_message(self) -> dict:
        return {
            "type": "SCHEMA",
            "stream": self.name,
            "key_properties": [self.key],
            "schema": {"type": "object", "properties": {c.name: c.schema for c in self.columns}},
        }


FINAL_STATE = {"bookmarks": {"property_suite": {"complete": True}}}


def singer_messages(streams: list[Stream]) -> list[bytes]:
    """SCHEMA, then RECORDs, of every stream, then one STATE; each message one JSON line."""
    messages: list[dict] = [s.schema_message() for s in streams]
    for s in streams:
        messages += [
            {"type": "RECORD", "stream": s.name, "record": row, "time_extracted": TIME_EXTRACTED}
            for row in s.rows
        ]
    messages.append({"type": "STATE", "value": FINAL_STATE})
    return [ENCODER.encode(m) + b"\n" for m in messages]


def value_stream(name: str, kind: str, schema: dict, values: list) -> Stream:
    """One stream keyed on ``id`` whose column ``v`` holds ``values``, one a row."""
    stream = Stream(name, "id", [Column("id", {"type": "integer"}), Column("v", schema, kind)])
    stream.rows = [{"id": i, "v": v} for i, v in enumerate(values)]
    return stream


@st.composite
def hostile_streams(draw, properties_apart_in_case: bool = False) -> list[Stream]:
    """1-3 streams with hostile names, 1-4 hostile property names each (the first is the key); every
    cell a distinct text, so each value read back tells which stream, row and property it came from.
    ``properties_apart_in_case``: no two properties of a stream differ only in case (for a loader whose
    known defect with them is tested apart, on a fixed batch)."""
    streams = []
    for s, name in enumerate(draw(name_sets((1, 2)))):
        properties = draw(name_sets((1, 3)))
        if properties_apart_in_case:
            folded = [p.casefold() for p in properties]
            properties = [p for i, p in enumerate(properties) if folded[i] not in folded[:i]]
        columns = [Column(p, {"type": "string"}) for p in properties]
        rows = draw(st.integers(17, 70))
        stream = Stream(name, properties[0], columns)
        stream.rows = [{p: f"s{s}p{j}r{r}" for j, p in enumerate(properties)} for r in range(rows)]
        streams.append(stream)
    return streams


# --- outcome and oracle -------------------------------------------------------------------------------

#: Landed tables of one run: table name -> rows, each {column: value as text or None}; the loaders'
#: own bookkeeping columns (``_sdc_*``) and tables left out.
Tables = dict[str, list[dict[str, str | None]]]


#: The return code of a loader run that was stopped because it hung.
HUNG = -9


@dataclass
class Outcome:
    returncode: int
    stderr: str
    states: list[dict]
    tables: Tables

    @property
    def hung(self) -> bool:
        return self.returncode == HUNG

    def describe(self) -> str:
        tail = "\n".join(self.stderr.strip().splitlines()[-6:])
        return f"exit {self.returncode}, STATE {self.states}, log tail:\n{tail}"


def same(kind: str, sent: Any, landed: str | None) -> bool:
    if sent is None or landed is None:
        return sent is None and landed is None
    if kind == "decimal":
        return Decimal(landed) == Decimal(sent)
    if kind == "double":
        return float(Decimal(landed)) == float(Decimal(sent))
    if kind == "timestamp":
        return instant(landed) == instant(sent)
    return landed == sent


def _mentions(log: str, text: str, tail: int | None = 12) -> bool:
    """The error names ``text``: as it is, or as JSON or Python would escape it, in the last lines of the
    log other than metrics (the error and its traceback; earlier lines that merely name every stream,
    such as "Initializing sink for stream x", do not count). ``tail=None``: anywhere, for targets that
    log one error line per refused record."""
    lines = [line for line in log.strip().splitlines() if "METRIC:" not in line]
    end = "\n".join(lines[-tail:] if tail else lines)
    return any(form in end for form in {text, json.dumps(text)[1:-1], repr(text)[1:-1], ascii(text)[1:-1]})


def _forms(kind: str, value: Any) -> list[str]:
    """How an error may name a value: as sent, or (a timestamp) as Python writes the same local time
    (``9999-12-31T23:59:59.999-05:00`` as ``9999-12-31T23:59:59.999000-05:00``)."""
    forms = [str(value)]
    if kind == "timestamp":
        forms.append(datetime.fromisoformat(value).isoformat())
    return forms


def find_table(tables: Tables, stream: str) -> str | None:
    matches = [t for t in tables if t.casefold() == stream.casefold()]
    return matches[0] if len(matches) == 1 else None


def assert_value_stream(
    stream: Stream, outcome: Outcome, *, must_land: Callable[[Any], bool], table: str | None = None
) -> None:
    """The ``v`` column of ``stream`` landed exactly, or the run was refused naming ``v`` and one value
    outside ``must_land`` and left nothing behind."""
    column = next(c for c in stream.columns if c.name == "v")
    refusable = [row["v"] for row in stream.rows if row["v"] is not None and not must_land(row["v"])]
    assert not outcome.hung, f"the loader hung on stream {stream.name!r}: {outcome.describe()}"
    if outcome.returncode != 0:
        assert refusable, (
            f"run refused although every value is within the loader's documented range: {outcome.describe()}"
        )
        assert not any(outcome.tables.values()), f"refused, yet rows landed: {outcome.tables}"
        assert outcome.states == [], f"refused, yet STATE was emitted: {outcome.states}"
        assert _mentions(outcome.stderr, stream.name) or _mentions(outcome.stderr, "v"), (
            f"the error names neither stream {stream.name!r} nor property 'v': {outcome.describe()}"
        )
        assert any(_mentions(outcome.stderr, form) for v in refusable for form in _forms(column.kind, v)), (
            f"the error names none of the values that cannot be stored ({refusable[:5]}): "
            f"{outcome.describe()}"
        )
        return
    assert outcome.states == [FINAL_STATE], f"exit 0 without the input's final STATE: {outcome.describe()}"
    name = table or find_table(outcome.tables, stream.name)
    assert name is not None, f"exit 0 but no table for stream {stream.name!r}: {sorted(outcome.tables)}"
    landed = {}
    for row in outcome.tables[name]:
        cols = {k.casefold(): v for k, v in row.items()}
        landed[int(Decimal(cols["id"]))] = cols.get("v")
    sent = {row["id"]: row["v"] for row in stream.rows}
    assert sorted(landed) == sorted(sent), (
        f"exit 0 but rows differ: {len(landed)} landed, {len(sent)} sent; "
        f"missing {sorted(set(sent) - set(landed))[:10]}, extra {sorted(set(landed) - set(sent))[:10]}"
    )
    wrong = [(i, sent[i], landed[i]) for i in sent if not same(column.kind, sent[i], landed[i])]
    assert not wrong, (
        "exit 0 but values differ (id, sent, landed): "
        + "; ".join(f"{i}: {s!r} -> {v!r}" for i, s, v in wrong[:8])
        + (f" (and {len(wrong) - 8} more)" if len(wrong) > 8 else "")
    )


def assert_names(streams: list[Stream], outcome: Outcome) -> dict[tuple[str, str], tuple[str, str]]:
    """Every stream landed in a table of its own and every property in a column of its own, every cell
    once and in the right row; or the run was refused naming a stream or property and left nothing.

    Returns the name mapping found: (stream, property) -> (table, column)."""
    names = [s.name for s in streams] + [c.name for s in streams for c in s.columns]
    assert not outcome.hung, f"the loader hung on streams and properties {names}: {outcome.describe()}"
    if outcome.returncode != 0:
        assert not any(outcome.tables.values()), f"refused, yet rows landed: {_summary(outcome.tables)}"
        assert outcome.states == [], f"refused, yet STATE was emitted: {outcome.states}"
        assert any(_mentions(outcome.stderr, n) for n in names), (
            f"the error names none of the streams or properties {names}: {outcome.describe()}"
        )
        return {}
    assert outcome.states == [FINAL_STATE], f"exit 0 without the input's final STATE: {outcome.describe()}"
    where: dict[str, list[tuple[str, int, str]]] = {}
    for table, rows in outcome.tables.items():
        for r, row in enumerate(rows):
            for column, value in row.items():
                if value is not None:
                    where.setdefault(value, []).append((table, r, column))
    mapping: dict[tuple[str, str], set[tuple[str, str]]] = {}
    problems = []
    for stream in streams:
        for r, row in enumerate(stream.rows):
            places = set()
            for column in stream.columns:
                found = where.get(row[column.name], [])
                if len(found) != 1:
                    problems.append(
                        f"stream {stream.name!r} row {r} property {column.name!r} value {row[column.name]!r} "
                        f"landed {len(found)} times"
                    )
                    continue
                table, landed_row, landed_column = found[0]
                places.add((table, landed_row))
                mapping.setdefault((stream.name, column.name), set()).add((table, landed_column))
            if len(places) > 1:
                problems.append(f"stream {stream.name!r} row {r} was split over rows {sorted(places)}")
    split = {k: v for k, v in mapping.items() if len(v) > 1}
    targets = [next(iter(v)) for v in mapping.values() if len(v) == 1]
    merged = sorted({t for t in targets if targets.count(t) > 1})
    tables_of = {}
    for (stream_name, _), places in mapping.items():
        for table, _ in places:
            tables_of.setdefault(table, set()).add(stream_name)
    shared = {t: sorted(s) for t, s in tables_of.items() if len(s) > 1}
    assert not (problems or split or merged or shared), "exit 0 but names were not kept apart: " + "; ".join(
        problems[:6]
        + [f"property {k} landed in several columns {sorted(v)}" for k, v in split.items()]
        + [f"several properties landed in column {t}" for t in merged]
        + [f"streams {s} landed in one table {t!r}" for t, s in shared.items()]
    )
    return {k: next(iter(v)) for k, v in mapping.items()}


def _summary(tables: Tables) -> dict[str, int]:
    return {name: len(rows) for name, rows in tables.items()}


def streams_named(*names: str, rows: int = 20) -> list[Stream]:
    """Streams of the given names (with a property ``id`` and ``memo``), every cell a distinct text: the
    explicit example of names that normalise to one table (issue 12: ``AP Bills``, ``ap-bills``)."""
    streams = []
    for s, name in enumerate(names):
        stream = Stream(name, "id", [Column("id", {"type": "string"}), Column("memo", {"type": "string"})])
        stream.rows = [{"id": f"s{s}p0r{r}", "memo": f"s{s}p1r{r}"} for r in range(rows)]
        streams.append(stream)
    return streams


COLLIDING_STREAMS = streams_named("AP Bills", "ap-bills", "ap_bills")
