"""Journals from rows: grouping, lines, balance, natural keys and request bodies. No I/O.

A stream's rows are grouped by the configured ``group_by`` columns; each group is one
JournalTransaction whose Details are the group's rows in arrival order. The journal's natural key
(``<key_prefix>:<group values>``, each part percent-encoded so that no ``:``, space or ``%`` is left
in it) starts its Description, so it can be found again before anything is posted: a rerun or a
replay posts nothing twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import msgspec

from target_acumatica.mapping import (
    MAX_AMOUNT,
    ConfigError,
    FieldSpec,
    RowError,
    money,
    period,
    period_end,
    post_period_text,
    text,
    transaction_date,
)

LINE_FIELDS = {  # mapping setting -> JournalTransactionDetail field
    "account": "Account",
    "subaccount": "Subaccount",
    "branch": "BranchID",
    "line_description": "TransactionDescription",
    "project": "Project",
    "project_task": "ProjectTask",
    "cost_code": "CostCode",
}
HEADER_SETTINGS = ("description", "transaction_date", "post_period", "ledger", "header_branch")
#: Fields a tap or loader stamps on a row (run, source id and version, Singer metadata): not source data.
AUDIT_FIELD_PREFIXES = ("_audit_", "_sdc_")
_hash_encoder = msgspec.json.Encoder(decimal_format="number", order="sorted")
#: Batch.Description is nvarchar(256) up to 2024 R2 (512 from 2025 R2): the key and text must fit.
DESCRIPTION_LENGTH = 256
#: Printable ASCII kept as it is in a key part; ``%`` (the escape), ``:`` (the separator), space (ends
#: the key in the Description) and ``[`` (a LIKE character class, were the instance to pass startswith
#: to SQL unescaped) are encoded, like every control and non-ASCII character (as UTF-8 bytes).
_KEY_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in "%:[")


def key_part(value: str) -> str:
    """One part of a natural key, percent-encoded: parts never hold ``:``, so joined they stay
    unambiguous, and values without special characters read as they are."""
    return quote(value, safe=_KEY_SAFE)


def natural_key(prefix: str, values: Iterable[str]) -> str:
    return ":".join(key_part(part) for part in (prefix, *values))


@dataclass
class JournalMapping:
    """One stream's ``journals`` entry, parsed and checked."""

    stream: str
    group_by: list[str]
    key_prefix: str
    specs: dict[str, FieldSpec]
    rounding: str = "reject"

    @classmethod
    def parse(cls, stream: str, raw: dict[str, Any], rounding: str = "reject") -> JournalMapping:
        where = f"journals.{stream}"
        if not isinstance(raw, dict):
            raise ConfigError(f"Setting {where} must be an object.")
        known = {"group_by", "key_prefix", "debit", "credit", "amount", *LINE_FIELDS, *HEADER_SETTINGS}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(f"Setting {where} has unknown keys {unknown}; known keys are {sorted(known)}.")
        group_by = raw.get("group_by")
        if not group_by or not isinstance(group_by, list) or not all(isinstance(c, str) for c in group_by):
            raise ConfigError(f"Setting {where}.group_by must be a non-empty list of column names.")
        specs = {}
        for name in (*LINE_FIELDS, *HEADER_SETTINGS, "debit", "credit", "amount"):
            spec = FieldSpec.parse(raw.get(name), f"{where}.{name}")
            if spec is not None:
                specs[name] = spec
        if "account" not in specs:
            raise ConfigError(f"Setting {where}.account is required (the column holding the Account).")
        if ("amount" in specs) == ("debit" in specs or "credit" in specs):
            raise ConfigError(
                f"Setting {where} needs either amount (signed) or debit and/or credit, not both."
            )
        return cls(stream, list(group_by), raw.get("key_prefix") or stream, specs, rounding)

    def group_of(self, row: dict[str, Any], number: int) -> tuple[str, ...]:
        """The group's values as text, exactly (not trimmed: ``'FAC '`` and ``'FAC'`` are two groups)."""
        values = []
        for column in self.group_by:
            value = row.get(column)
            shown = text(value)
            if value is None or shown is None:
                raise RowError(f"row {number} of stream {self.stream}: group column '{column}' is empty")
            values.append(value if isinstance(value, str) else shown)
        return tuple(values)

    def key_of(self, group: tuple[str, ...]) -> str:
        return natural_key(self.key_prefix, group)


#: What must match a posted line: account, subaccount (no dashes), branch, debit, credit.
Signature = tuple[str | None, str | None, str | None, Decimal, Decimal]


@dataclass
class Line:
    """One Details line and the source row it came from."""

    row: int
    fields: dict[str, str]
    debit: Decimal
    credit: Decimal

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: {"value": value} for name, value in self.fields.items()}
        out["DebitAmount"] = {"value": self.debit}
        out["CreditAmount"] = {"value": self.credit}
        return out

    def signature(self) -> Signature:
        """What must match a posted line for it to count as this line."""
        return (
            self.fields.get("Account"),
            _sub(self.fields.get("Subaccount")),
            self.fields.get("BranchID"),
            self.debit,
            self.credit,
        )


@dataclass
class Journal:
    """One group of rows: the JournalTransaction to post, or the errors that stop it."""

    stream: str
    key: str
    group: dict[str, str]
    records: list[dict[str, Any]] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    header: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def debit(self) -> Decimal:
        return sum((line.debit for line in self.lines), Decimal("0.00"))

    @property
    def credit(self) -> Decimal:
        return sum((line.credit for line in self.lines), Decimal("0.00"))

    @property
    def description(self) -> str:
        extra = self.header.get("Description")
        return f"{self.key} {extra}" if extra else self.key

    def where(self, number: int) -> str:
        group = ", ".join(f"{k}={v}" for k, v in self.group.items())
        return f"row {number} of stream {self.stream} ({group})"

    def source_hash(self) -> str:
        """SHA-256 of the source rows (keys sorted, exact numbers, audit fields left out), in arrival
        order: the same source rows hash the same in every run."""
        digest = hashlib.sha256()
        for record in self.records:
            digest.update(_hash_encoder.encode(source_fields(record)))
            digest.update(b"\n")
        return digest.hexdigest()

    def header_body(self, *, hold: bool) -> dict[str, Any]:
        body = {
            "Module": {"value": "GL"},
            "Description": {"value": self.description},
            "Hold": {"value": hold},
        }
        for name, value in self.header.items():
            if name != "Description":
                body[name] = {"value": value}
        return body

    def signatures(self) -> list[Signature]:
        return [line.signature() for line in self.lines]


def source_fields(record: dict[str, Any]) -> dict[str, Any]:
    """A row without the fields named like audit fields (``AUDIT_FIELD_PREFIXES``)."""
    return {k: v for k, v in record.items() if not k.startswith(AUDIT_FIELD_PREFIXES)}


def plan(
    mapping: JournalMapping, key: tuple[str, ...], records: list[dict[str, Any]], numbers: list[int]
) -> Journal:
    """Build a journal's header and lines from its rows; problems land in ``errors``."""
    journal = Journal(
        mapping.stream, mapping.key_of(key), dict(zip(mapping.group_by, key, strict=True)), records, numbers
    )
    specs = mapping.specs
    for record, number in zip(records, numbers, strict=True):
        try:
            journal.lines.append(_line(mapping, record, number, journal))
        except RowError as exc:
            journal.errors.append(f"{journal.where(number)}: {exc}")
    first, number = records[0], numbers[0]
    try:
        journal.header = _header(specs, first, journal.where(number))
    except RowError as exc:
        journal.errors.append(str(exc))
    for name in ("post_period", "transaction_date", "ledger", "header_branch", "description"):
        spec = specs.get(name)
        if spec is None or spec.column is None:
            continue
        values = {text(r.get(spec.column)) for r in records}
        if len(values) > 1:
            journal.errors.append(
                f"journal {journal.key}: {spec.describe()} ({name}) differs between its rows "
                f"({sorted(v or '' for v in values)}); add it to group_by"
            )
    for side, total in (("debit", journal.debit), ("credit", journal.credit)):
        if abs(total) >= MAX_AMOUNT:
            journal.errors.append(
                f"journal {journal.key}: {side} total {total} is beyond what Acumatica stores (below "
                f"{MAX_AMOUNT:,}); split the journal"
            )
    if len(journal.description) > DESCRIPTION_LENGTH:
        journal.errors.append(
            f"journal {journal.key}: Description is {len(journal.description)} characters; Acumatica keeps "
            f"{DESCRIPTION_LENGTH} (the natural key, a space, the description text): shorten the description "
            "or key_prefix"
        )
    if not journal.errors and journal.debit != journal.credit:
        journal.errors.append(
            f"journal {journal.key} does not balance: debits {journal.debit} != credits "
            f"{journal.credit} (difference {journal.debit - journal.credit}) over rows "
            f"{numbers[0]}-{numbers[-1]} of stream {mapping.stream}"
        )
    return journal


def _line(mapping: JournalMapping, record: dict[str, Any], number: int, journal: Journal) -> Line:
    specs = mapping.specs
    fields: dict[str, str] = {}
    for setting, name in LINE_FIELDS.items():
        spec = specs.get(setting)
        if spec is None:
            continue
        value = text(spec.get(record))
        if value is not None:
            fields[name] = value
        elif setting == "account":
            raise RowError(f"Account ({specs['account'].describe()}) is empty")
    if "amount" in specs:
        raw = specs["amount"].get(record)
        if raw is None:
            raise RowError(f"amount ({specs['amount'].describe()}) is empty")
        amount = money(raw, f"amount ({specs['amount'].describe()})", mapping.rounding)
        debit, credit = (amount, Decimal("0.00")) if amount >= 0 else (Decimal("0.00"), -amount)
    else:
        debit = _side(specs.get("debit"), record, "debit", mapping.rounding)
        credit = _side(specs.get("credit"), record, "credit", mapping.rounding)
        if debit < 0 or credit < 0:  # a negative side belongs on the other side
            net = debit - credit
            debit, credit = (net, Decimal("0.00")) if net >= 0 else (Decimal("0.00"), -net)
    return Line(number, fields, debit, credit)


def _side(spec: FieldSpec | None, record: dict[str, Any], what: str, rounding: str) -> Decimal:
    if spec is None:
        return Decimal("0.00")
    raw = spec.get(record)
    return Decimal("0.00") if raw is None else money(raw, f"{what} ({spec.describe()})", rounding)


def _header(specs: dict[str, FieldSpec], record: dict[str, Any], where: str) -> dict[str, str]:
    header: dict[str, str] = {}
    year_month = None
    if "post_period" in specs:
        year_month = period(
            specs["post_period"].get(record), f"{where}: post_period ({specs['post_period'].describe()})"
        )
        header["PostPeriod"] = post_period_text(*year_month)
    if "transaction_date" in specs:
        header["TransactionDate"] = transaction_date(
            specs["transaction_date"].get(record),
            f"{where}: transaction_date ({specs['transaction_date'].describe()})",
        )
    elif year_month is not None:
        header["TransactionDate"] = period_end(*year_month)
    for setting, name in (
        ("ledger", "LedgerID"),
        ("header_branch", "BranchID"),
        ("description", "Description"),
    ):
        if setting in specs:
            value = text(specs[setting].get(record))
            if value is not None:
                header[name] = value
    return header


def _sub(value: str | None) -> str | None:
    return value.replace("-", "") if value else value


def unwrap(value: Any) -> Any:
    return value.get("value") if isinstance(value, dict) else value


def posted_signatures(record: dict[str, Any]) -> list[Signature]:
    """Signatures of a JournalTransaction's lines as the instance returned them."""
    out: list[Signature] = []
    for line in record.get("Details") or []:
        out.append(
            (
                text(unwrap(line.get("Account"))),
                _sub(text(unwrap(line.get("Subaccount")))),
                text(unwrap(line.get("BranchID"))),
                Decimal(str(unwrap(line.get("DebitAmount")) or 0)).quantize(Decimal("0.01")),
                Decimal(str(unwrap(line.get("CreditAmount")) or 0)).quantize(Decimal("0.01")),
            )
        )
    return out


def is_key_of(record: dict[str, Any], key: str) -> bool:
    """Whether a batch's Description carries exactly this key (keys hold no space: the first word)."""
    description = unwrap(record.get("Description"))
    return isinstance(description, str) and description.split(" ", 1)[0] == key


def collision(
    mapping: JournalMapping, group: tuple[str, ...], rows: list[tuple[int, dict[str, Any]]]
) -> str | None:
    """Rows of one group whose values differ but read the same (``7`` and ``'7'``) would share a
    natural key with another group: the error naming both, or None."""
    first = tuple(rows[0][1].get(c) for c in mapping.group_by)
    for _, record in rows[1:]:
        values = tuple(record.get(c) for c in mapping.group_by)
        if _differ(first, values):
            return (
                f"groups {first!r} and {values!r} of stream {mapping.stream} ({', '.join(mapping.group_by)}) "
                f"have the same natural key {mapping.key_of(group)}; make the column's values one type"
            )
    return None


def _differ(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return any(type(x) is not type(y) or x != y for x, y in zip(a, b, strict=True))


def check_columns(mapping: JournalMapping, properties: dict[str, Any]) -> list[str]:
    """Mapped columns the stream's SCHEMA does not declare (a typo in the mapping)."""
    missing = [c for c in mapping.group_by if c not in properties]
    for name, spec in mapping.specs.items():
        missing += [f"{c} ({name})" for c in spec.columns() if c not in properties]
    return missing
