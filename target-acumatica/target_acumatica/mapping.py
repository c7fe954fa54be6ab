"""How a stream's columns become Acumatica fields: field specs, amounts, periods. No I/O."""

from __future__ import annotations

import calendar
import re
import string
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
#: Acumatica keeps money in decimal(19,4) columns (GLTran's amounts, Batch's totals): 15 digits before
#: the decimal point. A larger amount could only be rejected or cut by the instance.
MAX_AMOUNT = Decimal(10) ** 15
_ROUNDING = {"half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN}


class RowError(ValueError):
    """A row cannot become a journal line; the message names the column and the value."""


class ConfigError(ValueError):
    """A mapping setting is malformed; the message names the setting."""


class MessageError(ValueError):
    """A Singer message the target cannot honour (a BATCH it cannot read, an ACTIVATE_VERSION); the
    message names the stream and what to do. The run stops before STATE moves."""


@dataclass(frozen=True)
class FieldSpec:
    """Where one Acumatica field's value comes from: a column, a constant or a template."""

    column: str | None = None
    value: Any = None
    template: str | None = None

    @classmethod
    def parse(cls, spec: Any, setting: str) -> FieldSpec | None:
        if spec is None:
            return None
        if isinstance(spec, str):
            return cls(column=spec)
        if isinstance(spec, dict) and len(spec) == 1:
            ((kind, value),) = spec.items()
            if kind == "column" and isinstance(value, str):
                return cls(column=value)
            if kind == "value":
                return cls(value=value)
            if kind == "template" and isinstance(value, str):
                names = [n for _, n, _, _ in string.Formatter().parse(value) if n]
                if any(not n.isidentifier() for n in names):
                    msg = (
                        f"Setting {setting}: template {value!r} has a placeholder that is not a column name."
                    )
                    raise ConfigError(msg)
                return cls(template=value)
        msg = (
            f'Setting {setting} must be a column name or one of {{"column": ...}}, {{"value": ...}}, '
            f'{{"template": ...}}, not {spec!r}.'
        )
        raise ConfigError(msg)

    def columns(self) -> list[str]:
        if self.column:
            return [self.column]
        if self.template:
            return [n for _, n, _, _ in string.Formatter().parse(self.template) if n]
        return []

    def describe(self) -> str:
        if self.column:
            return f"column '{self.column}'"
        if self.template:
            return f"template {self.template!r}"
        return f"constant {self.value!r}"

    def get(self, row: dict[str, Any]) -> Any:
        if self.column:
            return row.get(self.column)
        if self.template:
            return self.template.format_map({k: "" if v is None else v for k, v in row.items()})
        return self.value


def text(value: Any) -> str | None:
    """A field value as Acumatica text: strings trimmed, numbers without exponent, empty -> None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        value = format(value, "f")
    out = str(value).strip()
    return out or None


def money(value: Any, what: str, rounding: str) -> Decimal:
    """An exact amount in cents from a JSON number or numeric string (floats via their repr)."""
    if isinstance(value, bool):
        raise RowError(f"{what} is {value!r}, not an amount")
    try:
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        raise RowError(f"{what} is {value!r}, not an amount") from None
    if not amount.is_finite():
        raise RowError(f"{what} is {value!r}, not an amount")
    if abs(amount) >= MAX_AMOUNT:
        raise RowError(
            f"{what} {amount} is beyond what Acumatica stores (decimal(19,4): below {MAX_AMOUNT:,} "
            "in magnitude)"
        )
    cents = amount.quantize(CENT, rounding=_ROUNDING.get(rounding, ROUND_HALF_UP))
    if cents != amount and rounding == "reject":
        raise RowError(f"{what} {value} has more than two decimal places (amount_rounding is 'reject')")
    return cents


_PERIODS = (
    (re.compile(r"^(\d{4})-(\d{2})(?:-\d{2}(?:[T ].*)?)?$"), 1, 2),  # YYYY-MM, YYYY-MM-DD[...]
    (re.compile(r"^(\d{2})-(\d{4})$"), 2, 1),  # MM-YYYY
    (re.compile(r"^(\d{2})(\d{4})$"), 2, 1),  # MMYYYY (Acumatica's own form)
    (re.compile(r"^(\d{4})(\d{2})$"), 1, 2),  # YYYYMM
)


def period(value: Any, what: str) -> tuple[int, int]:
    """(year, month) of a period or date value."""
    if isinstance(value, datetime | date):
        return value.year, value.month
    raw = text(value) or ""
    for pattern, year_group, month_group in _PERIODS:
        m = pattern.match(raw)
        if m:
            year, month = int(m.group(year_group)), int(m.group(month_group))
            if 1 <= month <= 12 and year >= 1900:
                return year, month
    raise RowError(f"{what} is {value!r}, not a period (YYYY-MM, MM-YYYY, MMYYYY, YYYYMM or a date)")


def post_period_text(year: int, month: int) -> str:
    """The form Acumatica's documentation sends: ``MM-YYYY``."""
    return f"{month:02d}-{year:04d}"


def period_end(year: int, month: int) -> str:
    return date(year, month, calendar.monthrange(year, month)[1]).isoformat()


def transaction_date(value: Any, what: str) -> str:
    if isinstance(value, datetime | date):
        return value.date().isoformat() if isinstance(value, datetime) else value.isoformat()
    raw = text(value) or ""
    try:
        return date.fromisoformat(raw[:10]).isoformat()
    except ValueError:
        raise RowError(f"{what} is {value!r}, not a date (YYYY-MM-DD)") from None
