"""Generic Inquiries (form SM208000) and the rows they return, built from the store's current records.

An inquiry is a named result set of typed columns. Its rows are computed from the store on every
request, so a change made through the store (or the control API) between two runs shows in the next
answer. Two inquiries a finance team would model come seeded:

- ``APAgingDetail``: one row per AP bill with an open balance, aged into buckets as of
  :data:`AGING_AS_OF` (a fixed day, so runs compare equal), keyed by DocType and RefNbr, with the
  bill's LastModifiedDateTime for incremental reads;
- ``GLTrialBalance``: journal lines summed per financial period and account (debits, credits, net
  change, batch count) with the newest LastModifiedDateTime of the batches behind each row.

More inquiries over one entity are defined with :meth:`InquiryDefinition.from_json` (the
``inquiries`` setting of the emulator and ``PUT /_emulator/inquiries/<name>``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from acumatica_client import catalog

from .generator import SPECS, union_fields
from .store import RecordStore

#: Column types and the Edm type each has in OData v3 and v4.
EDM_TYPES: dict[str, tuple[str, str]] = {
    "string": ("Edm.String", "Edm.String"),
    "decimal": ("Edm.Decimal", "Edm.Decimal"),
    "int": ("Edm.Int32", "Edm.Int32"),
    "bool": ("Edm.Boolean", "Edm.Boolean"),
    "datetime": ("Edm.DateTime", "Edm.DateTimeOffset"),
    "guid": ("Edm.Guid", "Edm.Guid"),
}

#: The contract type the $filter compiler (``odata.FilterCompiler``) reads for each column type.
CONTRACT_TYPES = {
    "string": "StringValue",
    "decimal": "DecimalValue",
    "int": "IntValue",
    "bool": "BooleanValue",
    "datetime": "DateTimeValue",
    "guid": "GuidValue",
}

_FROM_CONTRACT = {
    "StringValue": "string",
    "GuidValue": "guid",
    "DecimalValue": "decimal",
    "IntValue": "int",
    "ShortValue": "int",
    "LongValue": "int",
    "ByteValue": "int",
    "BooleanValue": "bool",
    "DateTimeValue": "datetime",
}

#: The day the seeded AP aging is computed for (instance-local midnight).
AGING_AS_OF = (2025, 6, 1)

Row = dict[str, Any]
RowBuilder = Callable[[RecordStore], list[Row]]


class InquiryError(ValueError):
    """An inquiry definition that cannot be built; the message names the field."""


@dataclass(frozen=True)
class Column:
    """One result column: its name, type (a key of :data:`EDM_TYPES`) and decimal precision."""

    name: str
    type: str
    precision: int | None = None
    scale: int | None = None

    def edm(self, version: int) -> str:
        v3, v4 = EDM_TYPES[self.type]
        return v3 if version == 3 else v4


def _amount(name: str) -> Column:
    # Amounts are DECIMAL(19,4) columns in Acumatica's database.
    return Column(name, "decimal", 19, 4)


@dataclass(frozen=True)
class Inquiry:
    """A Generic Inquiry exposed through OData: columns, the key its rows are unique on, and rows."""

    name: str
    columns: tuple[Column, ...]
    keys: tuple[str, ...]
    build: RowBuilder
    description: str = ""

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    def rows(self, store: RecordStore) -> list[Row]:
        """Current rows, in key order."""
        rows = self.build(store)
        rows.sort(key=lambda r: tuple(_sortable(r.get(k)) for k in self.keys))
        return rows


def _sortable(value: object) -> tuple[int, Any]:
    return (0, "") if value is None else (1, value)


# ---- seeded inquiries ---------------------------------------------------------------------------


def _current(store: RecordStore, entity: str) -> Iterator[dict[str, Any]]:
    return store.scan(entity, lambda r: True, None, None)


def _ap_aging(store: RecordStore) -> list[Row]:
    as_of = datetime(*AGING_AS_OF, tzinfo=store.clock.tz)
    rows = []
    for bill in _current(store, "Bill"):
        balance = bill.get("Balance")
        if bill.get("Status") == "Closed" or not balance:
            continue
        due = bill.get("DueDate")
        days = (as_of - datetime.fromisoformat(due)).days if due else 0
        bucket = (
            "Current"
            if days <= 0
            else "1-30"
            if days <= 30
            else "31-60"
            if days <= 60
            else "61-90"
            if days <= 90
            else "Over 90"
        )
        rows.append(
            {
                "VendorID": bill.get("Vendor"),
                "DocType": bill.get("Type"),
                "RefNbr": bill.get("ReferenceNbr"),
                "DocDate": bill.get("Date"),
                "DueDate": due,
                "DaysPastDue": max(days, 0),
                "AgingBucket": bucket,
                "OrigAmount": bill.get("Amount"),
                "Balance": balance,
                "OnHold": bool(bill.get("Hold")),
                "NoteID": bill.get("id"),
                "LastModifiedDateTime": bill.get("LastModifiedDateTime"),
            }
        )
    return rows


AP_AGING = Inquiry(
    "APAgingDetail",
    (
        Column("VendorID", "string"),
        Column("DocType", "string"),
        Column("RefNbr", "string"),
        Column("DocDate", "datetime"),
        Column("DueDate", "datetime"),
        Column("DaysPastDue", "int"),
        Column("AgingBucket", "string"),
        _amount("OrigAmount"),
        _amount("Balance"),
        Column("OnHold", "bool"),
        Column("NoteID", "guid"),
        Column("LastModifiedDateTime", "datetime"),
    ),
    ("DocType", "RefNbr"),
    _ap_aging,
    "Open AP bills aged into buckets (AP aging, detail).",
)


def _trial_balance(store: RecordStore) -> list[Row]:
    groups: dict[tuple[Any, Any], Row] = {}
    batches: dict[tuple[Any, Any], set[str]] = {}
    for batch in _current(store, "JournalTransaction"):
        period = batch.get("PostPeriod")
        stamp = batch.get("LastModifiedDateTime")
        for line in store.lines("JournalTransaction", batch):
            key = (period, line.get("Account"))
            row = groups.setdefault(
                key,
                {
                    "FinPeriodID": period,
                    "AccountCD": line.get("Account"),
                    "DebitTotal": Decimal("0.00"),
                    "CreditTotal": Decimal("0.00"),
                    "LastActivity": stamp,
                },
            )
            row["DebitTotal"] += line.get("DebitAmount") or 0
            row["CreditTotal"] += line.get("CreditAmount") or 0
            if stamp and (
                row["LastActivity"] is None or store.to_ms(stamp) > store.to_ms(row["LastActivity"])
            ):
                row["LastActivity"] = stamp
            batches.setdefault(key, set()).add(batch.get("BatchNbr") or "")
    for key, row in groups.items():
        row["NetChange"] = row["DebitTotal"] - row["CreditTotal"]
        row["BatchCount"] = len(batches[key])
    return list(groups.values())


GL_TRIAL_BALANCE = Inquiry(
    "GLTrialBalance",
    (
        Column("FinPeriodID", "string"),
        Column("AccountCD", "string"),
        _amount("DebitTotal"),
        _amount("CreditTotal"),
        _amount("NetChange"),
        Column("BatchCount", "int"),
        Column("LastActivity", "datetime"),
    ),
    ("FinPeriodID", "AccountCD"),
    _trial_balance,
    "Journal lines summed per financial period and account (trial balance by period).",
)

SEEDED: tuple[Inquiry, ...] = (AP_AGING, GL_TRIAL_BALANCE)


# ---- inquiries defined by the test or the operator ----------------------------------------------


class InquiryDefinition:
    """Builds an :class:`Inquiry` over one entity from JSON.

    ``{"name": "OpenBills", "entity": "Bill", "columns": {"Vendor": "Vendor", "Ref": "ReferenceNbr",
    "Line": "Details/LineNbr"}, "keys": ["Ref", "Line"], "where": {"Status": "Open"}}``: columns map an
    inquiry column to a field of the entity, or ``Details/<field>`` of its detail lines (one row per
    line then); ``where`` keeps records whose fields equal the values given.
    """

    @staticmethod
    def from_json(spec: dict[str, Any], versions: tuple[str, ...]) -> Inquiry:
        name = spec.get("name")
        entity = spec.get("entity")
        columns = spec.get("columns")
        keys = tuple(spec.get("keys") or ())
        where = dict(spec.get("where") or {})
        if not isinstance(name, str) or not name.isidentifier():
            raise InquiryError(f"Inquiry name {name!r} must be letters, digits and _.")
        if entity not in SPECS:
            raise InquiryError(f"Inquiry {name}: unknown entity {entity!r}; one of {sorted(SPECS)}.")
        if not isinstance(columns, dict) or not columns:
            raise InquiryError(f"Inquiry {name}: 'columns' must map column names to entity fields.")
        header = union_fields(entity, versions)
        detail = SPECS[entity].detail
        line_fields = _line_fields(entity, versions) if detail else {}
        typed: list[Column] = []
        sources: list[tuple[str, bool, str]] = []
        for column, source in columns.items():
            in_lines = isinstance(source, str) and source.startswith(f"{detail}/") and bool(detail)
            field = source.split("/", 1)[1] if in_lines else source
            kind = (line_fields if in_lines else header).get(field)
            if kind not in _FROM_CONTRACT:
                raise InquiryError(
                    f"Inquiry {name}: column {column}: {source!r} is not a scalar field of {entity}."
                )
            ctype = _FROM_CONTRACT[kind]
            typed.append(Column(column, ctype, 19, 4) if ctype == "decimal" else Column(column, ctype))
            sources.append((column, in_lines, field))
        unknown = [k for k in keys if k not in columns]
        if not keys or unknown:
            raise InquiryError(f"Inquiry {name}: 'keys' must name columns; unknown: {unknown}.")
        per_line = any(in_lines for _, in_lines, _ in sources)

        def build(store: RecordStore) -> list[Row]:
            rows = []
            for rec in _current(store, str(entity)):
                if any(rec.get(f) != v for f, v in where.items()):
                    continue
                lines = store.lines(str(entity), rec) if per_line else [{}]
                for line in lines:
                    rows.append({c: (line if in_l else rec).get(f) for c, in_l, f in sources})
            return rows

        return Inquiry(name, tuple(typed), keys, build, str(spec.get("description") or ""))


def _line_fields(entity: str, versions: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for version in versions:
        if not catalog.has_entity(version, entity):
            continue
        kind = catalog.fields(version, entity).get(SPECS[entity].detail or "")
        if kind:
            out.update(catalog.fields(version, catalog.element_type(kind)))
    return out


# ---- value formats --------------------------------------------------------------------------------


def json_value(column: Column, value: Any, version: int, store: RecordStore) -> Any:
    """A row value as the OData JSON format of ``version`` writes it.

    v3 (JSON light): Edm.Decimal as a string, Edm.DateTime as the instance's local time without an
    offset. v4: Edm.Decimal as a number, Edm.DateTimeOffset with the instance's offset.
    """
    if value is None:
        return None
    if column.type == "decimal":
        exact = Decimal(value).quantize(Decimal(1).scaleb(-(column.scale or 0)))
        return str(exact) if version == 3 else exact
    if column.type == "datetime":
        moment = datetime.fromtimestamp(store.to_ms(value) / 1000, UTC).astimezone(store.clock.tz)
        text = moment.isoformat(timespec="milliseconds")
        return text[:23] if version == 3 else text
    if column.type == "int":
        return int(value)
    if column.type == "bool":
        return bool(value)
    return str(value)
