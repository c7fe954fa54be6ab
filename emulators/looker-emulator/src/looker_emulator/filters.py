"""Looker filter expressions (the "matches (advanced)" grammar) for strings, numbers, dates and yesno.

Each ``parse_*`` turns an expression into a predicate over a field's raw value. Dates follow Looker's
documented forms: absolute ``2026/01/01``, ``2026/01``, ``2026``; ranges ``A to B`` (end exclusive),
``after A`` (on or after), ``before A``; relative ``today``, ``yesterday``, ``this month``,
``last month`` (the previous complete month), ``N months`` / ``last N months`` (the current month and
the N-1 before it), ``N complete months``, ``N months ago``, ``N months ago for M months``,
``before N months ago``; ``NULL`` / ``NOT NULL``; comma-separated alternatives.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

Predicate = Callable[[object], bool]


class FilterError(ValueError):
    """An expression the grammar does not accept (answered as a 400 naming the field)."""


# ---- strings ---------------------------------------------------------------------------------


def _split_terms(expression: str) -> list[str]:
    """Split on commas not escaped with ``^`` or ``\\``; keep escapes for the term parser."""
    terms, current, i = [], [], 0
    while i < len(expression):
        ch = expression[i]
        if ch in "^\\" and i + 1 < len(expression):
            current.append(ch + expression[i + 1])
            i += 2
            continue
        if ch == ",":
            terms.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    terms.append("".join(current))
    return [t.strip() for t in terms if t.strip() != ""]


def _like(term: str) -> Callable[[str], bool]:
    """A term with ``%``/``_`` wildcards (``^`` escapes) as a matcher; a plain term is equality."""
    pattern, wild, i = [], False, 0
    while i < len(term):
        ch = term[i]
        if ch in "^\\" and i + 1 < len(term):
            pattern.append(re.escape(term[i + 1]))
            i += 2
            continue
        if ch == "%":
            pattern.append(".*")
            wild = True
        elif ch == "_":
            pattern.append(".")
            wild = True
        else:
            pattern.append(re.escape(ch))
        i += 1
    regex = re.compile("".join(pattern), re.DOTALL)
    if not wild:
        literal = re.sub(r"[\^\\](.)", r"\1", term)
        return lambda v: v == literal
    return lambda v: regex.fullmatch(v) is not None


def parse_string(expression: str) -> Predicate:
    positives: list[Callable[[object], bool]] = []
    negatives: list[Callable[[object], bool]] = []
    for term in _split_terms(expression):
        negate = term.startswith("-")
        body = term[1:] if negate else term
        if body == "NULL":
            test = _is_null
        elif body == "EMPTY":
            test = _is_empty
        else:
            match = _like(body)

            def test(v, match=match) -> bool:
                return v is not None and match(str(v))

        (negatives if negate else positives).append(test)
    if not positives and not negatives:
        return lambda v: True

    def predicate(v) -> bool:
        if any(t(v) for t in negatives):
            return False
        return any(t(v) for t in positives) if positives else True

    return predicate


def _is_null(v) -> bool:
    return v is None


def _is_empty(v) -> bool:
    return v is None or v == ""


# ---- numbers ---------------------------------------------------------------------------------

_NUM = r"-?\d+(?:\.\d+)?"
_INTERVAL = re.compile(rf"^([\[(])\s*({_NUM})?\s*,\s*({_NUM})?\s*([\])])$")
_COMPARE = re.compile(rf"^(>=|<=|!=|<>|>|<|=)?\s*({_NUM})$")


def _number(text: str, expression: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise FilterError(f"{expression!r} is not a number filter") from exc


def _number_term(term: str, expression: str) -> Predicate:
    upper = term.upper()
    if upper == "NULL":
        return _is_null
    if upper in ("NOT NULL", "-NULL"):
        return lambda v: v is not None
    if upper.startswith("NOT "):
        inner = _number_term(term[4:].strip(), expression)
        return lambda v: v is not None and not inner(v)
    parts = re.split(r"\s+AND\s+", term, flags=re.IGNORECASE)
    if len(parts) > 1:
        tests = [_number_term(p, expression) for p in parts]
        return lambda v: all(t(v) for t in tests)
    m = re.fullmatch(rf"({_NUM})\s+to\s+({_NUM})", term, flags=re.IGNORECASE)
    if m:
        low, high = Decimal(m.group(1)), Decimal(m.group(2))
        return lambda v: v is not None and low <= Decimal(v) <= high
    m = _INTERVAL.match(term)
    if m:
        lo_inc, lo, hi, hi_inc = m.group(1) == "[", m.group(2), m.group(3), m.group(4) == "]"
        low = Decimal(lo) if lo is not None else None
        high = Decimal(hi) if hi is not None else None

        def within(v) -> bool:
            if v is None:
                return False
            d = Decimal(v)
            if low is not None and (d < low or (d == low and not lo_inc)):
                return False
            return not (high is not None and (d > high or (d == high and not hi_inc)))

        return within
    m = _COMPARE.match(term)
    if not m:
        raise FilterError(f"{expression!r} is not a number filter")
    op, value = m.group(1) or "=", _number(m.group(2), expression)
    ops = {
        "=": lambda d: d == value,
        "!=": lambda d: d != value,
        "<>": lambda d: d != value,
        ">": lambda d: d > value,
        ">=": lambda d: d >= value,
        "<": lambda d: d < value,
        "<=": lambda d: d <= value,
    }
    compare = ops[op]
    return lambda v: v is not None and compare(Decimal(v))


def parse_number(expression: str) -> Predicate:
    tests = [_number_term(t, expression) for t in _split_terms(expression)]
    if not tests:
        return lambda v: True
    return lambda v: any(t(v) for t in tests)


# ---- yesno -----------------------------------------------------------------------------------


def parse_yesno(expression: str) -> Predicate:
    text = expression.strip().lower()
    if text not in ("yes", "no"):
        raise FilterError(f"{expression!r} is not a yesno filter (Yes or No)")
    wanted = text == "yes"
    return lambda v: (v is True or str(v).lower() == "yes") == wanted


# ---- dates -----------------------------------------------------------------------------------

_UNITS = {
    "day": "day",
    "days": "day",
    "week": "week",
    "weeks": "week",
    "month": "month",
    "months": "month",
    "quarter": "quarter",
    "quarters": "quarter",
    "year": "year",
    "years": "year",
}
_ABSOLUTE = re.compile(r"^(\d{4})(?:[/-](\d{1,2})(?:[/-](\d{1,2}))?)?$")


def _add_months(d: date, n: int) -> date:
    month = d.month - 1 + n
    year = d.year + month // 12
    return date(year, month % 12 + 1, 1)


def _start_of(d: date, unit: str) -> date:
    if unit == "day":
        return d
    if unit == "week":
        return d - timedelta(days=d.weekday())
    if unit == "month":
        return d.replace(day=1)
    if unit == "quarter":
        return date(d.year, (d.month - 1) // 3 * 3 + 1, 1)
    return date(d.year, 1, 1)


def _shift(d: date, unit: str, n: int) -> date:
    if unit == "day":
        return d + timedelta(days=n)
    if unit == "week":
        return d + timedelta(weeks=n)
    if unit == "month":
        return _add_months(d, n)
    if unit == "quarter":
        return _add_months(d, 3 * n)
    return date(d.year + n, 1, 1)


def _absolute(text: str) -> tuple[date, date] | None:
    """``2026/01/15``, ``2026/01`` or ``2026`` as the [start, end) it names."""
    m = _ABSOLUTE.match(text.strip())
    if not m:
        return None
    year, month, day = int(m.group(1)), m.group(2), m.group(3)
    try:
        if day is not None:
            start = date(year, int(month), int(day))
            return start, start + timedelta(days=1)
        if month is not None:
            start = date(year, int(month), 1)
            return start, _add_months(start, 1)
        return date(year, 1, 1), date(year + 1, 1, 1)
    except ValueError:
        return None


def _relative(text: str, today: date) -> tuple[date, date] | None:
    t = " ".join(text.lower().split())
    if t == "today":
        return today, today + timedelta(days=1)
    if t == "yesterday":
        return today - timedelta(days=1), today
    if t == "tomorrow":
        return today + timedelta(days=1), today + timedelta(days=2)
    m = re.fullmatch(r"(this|last|next) (\w+)", t)
    if m and m.group(2) in _UNITS:
        unit = _UNITS[m.group(2)]
        current = _start_of(today, unit)
        offset = {"this": 0, "last": -1, "next": 1}[m.group(1)]
        start = _shift(current, unit, offset)
        return start, _shift(start, unit, 1)
    m = re.fullmatch(r"(?:last )?(\d+) (complete )?(\w+)", t)
    if m and m.group(3) in _UNITS:
        n, unit = int(m.group(1)), _UNITS[m.group(3)]
        current = _start_of(today, unit)
        if m.group(2):
            return _shift(current, unit, -n), current
        return _shift(current, unit, -(n - 1)), _shift(current, unit, 1)
    m = re.fullmatch(r"(\d+) (\w+) ago(?: for (\d+) (\w+))?", t)
    if m and m.group(2) in _UNITS:
        unit = _UNITS[m.group(2)]
        start = _shift(_start_of(today, unit), unit, -int(m.group(1)))
        if m.group(3):
            if m.group(4) not in _UNITS:
                return None
            return start, _shift(start, _UNITS[m.group(4)], int(m.group(3)))
        return start, _shift(start, unit, 1)
    return None


def _moment(text: str, today: date) -> tuple[date, date] | None:
    return _absolute(text) or _relative(text, today)


def _date_term(term: str, today: date, expression: str) -> Callable[[date | None], bool]:
    t = term.strip()
    upper = t.upper()
    if upper == "NULL":
        return lambda d: d is None
    if upper in ("NOT NULL", "-NULL"):
        return lambda d: d is not None
    low = t.lower()
    m = re.fullmatch(r"(.+?)\s+(?:to|until)\s+(.+)", low)
    if m:
        a, b = _moment(m.group(1), today), _moment(m.group(2), today)
        if a and b:
            return lambda d: d is not None and a[0] <= d < b[0]
    if low.startswith("after "):
        a = _moment(low[6:], today)
        if a:
            return lambda d: d is not None and d >= a[0]
    if low.startswith("before "):
        a = _moment(low[7:], today)
        if a:
            return lambda d: d is not None and d < a[0]
    m = re.fullmatch(r"(.+?)\s+for\s+(\d+)\s+(\w+)", low)
    if m and m.group(3) in _UNITS and not low.endswith(" ago"):
        a = _absolute(m.group(1))
        if a:
            end = _shift(a[0], _UNITS[m.group(3)], int(m.group(2)))
            return lambda d: d is not None and a[0] <= d < end
    span = _moment(low, today)
    if span:
        return lambda d: d is not None and span[0] <= d < span[1]
    raise FilterError(f"{expression!r} is not a date filter Looker understands")


def parse_date(expression: str, today: date) -> Predicate:
    """A predicate over ISO date strings (``2026-01-15``, ``2026-01`` for months, or datetimes)."""
    tests = [_date_term(term, today, expression) for term in expression.split(",") if term.strip()]
    if not tests:
        return lambda v: True

    def predicate(v) -> bool:
        d = to_date(v)
        return any(t(d) for t in tests)

    return predicate


def to_date(value) -> date | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value
    text = str(value)
    if len(text) == 7:  # a month, YYYY-MM
        return date(int(text[:4]), int(text[5:7]), 1)
    return date.fromisoformat(text[:10])


def last_day(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])
