"""Seeded, lazy data generator: record ``i`` of an entity is a pure function of (seed, entity, i).

Nothing is materialised up front, so a million Bills cost no memory. Within an entity, record
``i`` has a LastModifiedDateTime that never decreases with ``i`` (consecutive records share one
value in groups, to force keysets to break ties) and key fields that increase with ``i``; hence
index order equals both key order and (timestamp, keys) order, and a timestamp lower bound maps to
an index by arithmetic.

Records are plain dicts over the union of all catalog versions' fields: str, int, bool, None,
``Decimal`` (2 places) for DecimalValue and ISO strings for DateTimeValue.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from decimal import Decimal

from acumatica_client import catalog
from emulator_kit.seeded import CITIES, FIRST, M64, SECOND, mix

from .clock import InstanceClock


def money(cents: int) -> Decimal:
    """Integer cents -> an exact 2-place Decimal (encoded as a JSON number like 1234.56)."""
    return Decimal(cents).scaleb(-2)


#: Sensible constant values for fields the per-entity rules below do not set.
NAMED_DEFAULTS: dict[str, object] = {
    "Branch": "HEADOFFICE",
    "BranchID": "HEADOFFICE",
    "LinkBranch": "HEADOFFICE",
    "ReceivingBranch": "HEADOFFICE",
    "ShippingBranch": "HEADOFFICE",
    "CurrencyID": "USD",
    "Currency": "USD",
    "BaseCurrencyID": "USD",
    "CurrencyRateType": "SPOT",
    "CurrencyRateTypeID": "SPOT",
    "Project": "X",
    "Terms": "30D",
    "UOM": "EA",
    "BaseUOM": "EA",
    "SalesUOM": "EA",
    "PurchaseUOM": "EA",
    "Subaccount": "000-000",
    "SubAccount": "000-000",
    "APSubaccount": "000-000",
    "LocationID": "MAIN",
    "Location": "MAIN",
    "LocationName": "Primary Location",
    "LedgerID": "ACTUAL",
    "WarehouseID": "WHOLESALE",
    "DefaultWarehouseID": "WHOLESALE",
    "Warehouse": "WHOLESALE",
    "CashAccount": "10200",
    "APAccount": "20000",
    "LinkARAccount": "11000",
    "PaymentMethod": "CHECK",
    "VendorClass": "DEFAULT",
    "CustomerClass": "DEFAULT",
    "ItemClass": "STOCKITEM",
    "PostingClass": "STOCKITEM",
    "ValuationMethod": "Average",
    "ItemType": "Finished Good",
    "ItemStatus": "Active",
    "TaxCalculationMode": "Tax Settings",
    "TaxCalcMode": "Tax Settings",
    "StatementCycleID": "EOM",
    "StatementType": "Open Item",
    "ShipVia": "LOCAL",
    "FOBPoint": "ORIGIN",
    "ShippingRule": "Back Order Allowed",
    "LineType": "Goods for IN",
    "ReceiptAction": "Accept but Warn",
    "IsTaxValid": True,
    "Country": "US",
    "Active": True,
    "RestrictVisibilityTo": "",
}

TYPE_DEFAULTS: dict[str, object] = {
    "BooleanValue": False,
    "DecimalValue": Decimal("0.00"),
    "IntValue": 0,
    "ShortValue": 0,
    "LongValue": 0,
    "ByteValue": 0,
    "DoubleValue": 0.0,
}

ITEMS = [
    "Paper A4",
    "Toner cartridge",
    "Desk chair",
    "Monitor 27in",
    "Cable kit",
    "Pallet wrap",
    "Safety gloves",
    "Laptop stand",
    "Shipping boxes",
    "Cleaning service",
    "Consulting hours",
]
EXPENSE_ACCOUNTS = ["60000", "61000", "62000", "63000", "64000", "65000"]

#: The chart of accounts of the first Account records, in AccountCD order: 10000 + 3000*i (the
#: first 30 of the original layout) plus every account the other entities' rules post to (lines,
#: cash, AP, AR), so documents and journals name existing accounts. Further records get 8-digit CDs.
CHART_OF_ACCOUNTS: tuple[tuple[str, str], ...] = (
    ("10000", "Petty cash"),
    ("10200", "Operating bank account"),
    ("11000", "Accounts receivable"),
    ("13000", "Prepaid expenses"),
    ("16000", "Inventory"),
    ("19000", "Fixed assets"),
    ("20000", "Accounts payable"),
    ("22000", "Accounts payable - trade"),
    ("25000", "Accrued liabilities"),
    ("28000", "Sales tax payable"),
    ("31000", "Payroll liabilities"),
    ("34000", "Long-term debt"),
    ("37000", "Retained earnings"),
    ("40000", "Sales revenue"),
    ("43000", "Service revenue"),
    ("46000", "Other income"),
    ("49000", "Sales discounts"),
    ("50000", "Cost of goods sold"),
    ("52000", "Materials"),
    ("55000", "Subcontractors"),
    ("58000", "Travel"),
    ("60000", "Salaries and wages"),
    ("61000", "Software subscriptions"),
    ("62000", "Utilities"),
    ("63000", "Office supplies"),
    ("64000", "Professional fees"),
    ("65000", "Freight"),
    ("67000", "Rent and facilities"),
    ("70000", "IT services"),
    ("73000", "HR and administration"),
    ("76000", "Insurance"),
    ("79000", "Depreciation"),
    ("82000", "Allocated facilities"),
    ("85000", "Allocated IT services"),
    ("88000", "Allocated HR and administration"),
    ("91000", "Interest expense"),
    ("94000", "Bank charges"),
    ("97000", "Income tax expense"),
)

#: Branches of the tenant (BranchID, name); every ledger's Branches list holds all of them.
BRANCHES: tuple[tuple[str, str], ...] = (
    ("EASTDIV", "East Division"),
    ("HEADOFFICE", "Head Office"),
    ("WESTDIV", "West Division"),
)

#: Ledgers of the tenant (LedgerID, Type, Description), in LedgerID order.
LEDGERS: tuple[tuple[str, str, str], ...] = (
    ("ACTUAL", "Actual", "Actual ledger"),
    ("BUDGET", "Budget", "Budget ledger"),
    ("STAT", "Statistical", "Statistical ledger"),
)


def _guid(tag: int, a: int, b: int) -> str:
    """A GUID that embeds an entity tag and the record index, so an id maps back to its record."""
    return f"{a >> 32:08x}-{(a >> 16) & 0xFFFF:04x}-4{(a >> 4) & 0xFFF:03x}-{tag:04x}-{b:012x}"


class _Tracking(dict):
    """A dict that remembers which keys were assigned (to learn what a rule sets)."""

    def __init__(self, base: dict) -> None:
        super().__init__(base)
        self.assigned: set[str] = set()

    def __setitem__(self, key, value) -> None:
        self.assigned.add(key)
        super().__setitem__(key, value)

    def update(self, *args, **kwargs) -> None:
        other = dict(*args, **kwargs)
        self.assigned.update(other)
        super().update(other)


@dataclass
class EntitySpec:
    """What the generator knows about one top-level entity."""

    name: str
    keys: tuple[str, ...]
    #: Name of the detail array filled with lines (None: no lines).
    detail: str | None = None
    #: Custom fields: view -> field -> Acumatica custom type.
    custom: dict[str, dict[str, str]] = field(default_factory=dict)
    #: Custom fields of detail lines: view -> field -> type.
    detail_custom: dict[str, dict[str, str]] = field(default_factory=dict)


SPECS: dict[str, EntitySpec] = {
    spec.name: spec
    for spec in [
        EntitySpec("Vendor", ("VendorID",), custom={"BAccount": {"UsrRiskRating": "CustomIntField"}}),
        EntitySpec(
            "Bill",
            ("Type", "ReferenceNbr"),
            "Details",
            custom={
                "Document": {"UsrApprovalCode": "CustomStringField", "UsrCostCenter": "CustomStringField"}
            },
            detail_custom={"Transactions": {"UsrProjectPhase": "CustomStringField"}},
        ),
        EntitySpec(
            "PurchaseOrder",
            ("Type", "OrderNbr"),
            "Details",
            custom={"Document": {"UsrBuyerCode": "CustomStringField"}},
        ),
        EntitySpec("Check", ("Type", "ReferenceNbr"), "Details"),
        EntitySpec("Account", ("AccountCD",)),
        EntitySpec("Subaccount", ("SubaccountCD",)),
        EntitySpec("JournalTransaction", ("Module", "BatchNbr"), "Details"),
        EntitySpec("SalesInvoice", ("Type", "ReferenceNbr"), "Details"),
        EntitySpec("Invoice", ("Type", "ReferenceNbr"), "Details"),
        EntitySpec("Customer", ("CustomerID",), custom={"BAccount": {"UsrSegment": "CustomStringField"}}),
        EntitySpec(
            "StockItem", ("InventoryID",), custom={"Item": {"UsrRepairItemType": "CustomStringField"}}
        ),
        # Last, so the GUID tags of the entities above stay as they were.
        EntitySpec("Ledger", ("LedgerID",), "Branches"),
    ]
}

#: Key fields per entity, in GET-by-key order.
KEY_FIELDS: dict[str, tuple[str, ...]] = {name: spec.keys for name, spec in SPECS.items()}


def union_fields(entity: str, versions: tuple[str, ...]) -> dict[str, str]:
    """Field -> contract type over every configured version that has ``entity``."""
    out: dict[str, str] = {}
    for version in versions:
        if catalog.has_entity(version, entity):
            out.update(catalog.fields(version, entity))
    return out


def detail_entity(entity: str, detail: str, versions: tuple[str, ...]) -> str:
    return catalog.element_type(union_fields(entity, versions)[detail])


def constants_for(fields: dict[str, str]) -> dict[str, object]:
    """Baseline values of every scalar field; per-entity rules then overwrite the interesting ones."""
    out: dict[str, object] = {}
    for name, ftype in fields.items():
        if not catalog.is_scalar(ftype):
            continue
        if name in NAMED_DEFAULTS:
            out[name] = NAMED_DEFAULTS[name]
        else:
            out[name] = TYPE_DEFAULTS.get(ftype)
    return out


class Generator:
    """Produces base record ``i`` of each entity, its detail lines and its linked entities."""

    def __init__(
        self,
        seed: int,
        sizes: dict[str, int],
        versions: tuple[str, ...],
        clock: InstanceClock,
        lines_per_document: int,
        group: int,
    ) -> None:
        self.seed = seed
        self.sizes = sizes
        self.versions = versions
        self.clock = clock
        self.lines = max(1, lines_per_document)
        self.group = max(1, group)
        self._salt = {name: mix(seed ^ zlib.crc32(name.encode())) for name in SPECS}
        self._tag = {name: 0x8000 | n for n, name in enumerate(SPECS)}
        self._tag_entity = {tag: name for name, tag in self._tag.items()}
        self._const = {name: constants_for(union_fields(name, versions)) for name in SPECS}
        self._line_const = {
            name: constants_for(union_fields(detail_entity(name, spec.detail, versions), versions))
            for name, spec in SPECS.items()
            if spec.detail
        }
        self._step: dict[str, int] = {}
        span = clock.history_end_ms - clock.history_start_ms
        for name in SPECS:
            groups = max(1, -(-self.sizes[name] // self.group))
            self._step[name] = max(1, min(180_000, span // groups))
        self._width = {name: max(6, len(str(self.sizes[name] + 1))) for name in SPECS}
        # Fields the per-entity rules set (the rest keep their constant): renderers bake the
        # constants into a template and format only these per record.
        self.variable: dict[str, set[str]] = {}
        self.line_variable: dict[str, set[str]] = {}
        for name, spec in SPECS.items():
            probe = _Tracking(self._const[name])
            getattr(self, "_" + name)(probe, 0, mix(1), clock.history_start_ms)
            self.variable[name] = probe.assigned | {"id"}
            if spec.detail:
                line = _Tracking(self._line_const[name])
                part = probe["_lines"][0]
                getattr(self, "_line_" + name)(line, probe, 0, part, mix(2))
                self.line_variable[name] = line.assigned | {"id"}

    def constant(self, entity: str, line: bool = False) -> dict:
        return (self._line_const if line else self._const)[entity]

    # ---- timeline ------------------------------------------------------------------------
    def ts_ms(self, entity: str, i: int) -> int:
        g = i // self.group
        step = self._step[entity]
        jitter = mix(self._salt[entity] ^ (g * 7919)) % 1000 if step > 1000 else 0
        return self.clock.history_start_ms + g * step + jitter

    def first_index_at_or_after(self, entity: str, ms: int) -> int:
        """Smallest index whose timestamp is >= ``ms`` (arithmetic, then a short correction)."""
        size = self.sizes[entity]
        step = self._step[entity]
        groups = -(-size // self.group)
        g = min(groups, max(0, (ms - self.clock.history_start_ms) // step))
        while g > 0 and self.ts_ms(entity, (g - 1) * self.group) >= ms:
            g -= 1
        while g < groups and self.ts_ms(entity, g * self.group) < ms:
            g += 1
        return min(size, g * self.group)

    # ---- identities ----------------------------------------------------------------------
    def record_id(self, entity: str, i: int) -> str:
        return _guid(self._tag[entity], mix(self._salt[entity] + i), i)

    def index_of_id(self, entity: str, record_id: str) -> int | None:
        parts = record_id.lower().split("-")
        if len(parts) != 5 or len(parts[4]) != 12:
            return None
        try:
            tag, i = int(parts[3], 16), int(parts[4], 16)
        except ValueError:
            return None
        if self._tag_entity.get(tag) != entity or i >= self.sizes[entity]:
            return None
        return i if self.record_id(entity, i) == record_id.lower() else None

    def pad(self, entity: str, n: int) -> str:
        return str(n).zfill(self._width[entity])

    def keys_of(self, entity: str, i: int) -> tuple[str, ...]:
        rec = self.header(entity, i)
        return tuple(rec[k] for k in KEY_FIELDS[entity])

    def _ref(self, entity: str, h: int) -> int:
        """A 1-based index of an existing record of ``entity`` chosen by hash ``h``."""
        return h % max(1, self.sizes.get(entity, 1)) + 1

    def vendor_id(self, n: int) -> str:
        return f"V{self.pad('Vendor', n)}"

    def customer_id(self, n: int) -> str:
        return f"C{self.pad('Customer', n)}"

    def inventory_id(self, n: int) -> str:
        return f"ITEM{self.pad('StockItem', n)}"

    def account_cd(self, i: int) -> str:
        if i < len(CHART_OF_ACCOUNTS):
            return CHART_OF_ACCOUNTS[i][0]
        return f"9{i:07d}"  # sorts after the chart, increasing with i

    # ---- records -------------------------------------------------------------------------
    def header(self, entity: str, i: int) -> dict:
        """Base record ``i`` (no detail lines) as a plain dict, with ``id`` and ``custom``."""
        h = mix(self._salt[entity] ^ (i * 0x2545F4914F6CDD1D & M64))
        ts_ms = self.ts_ms(entity, i)
        rec = dict(self._const[entity])
        rec["id"] = self.record_id(entity, i)
        rec["custom"] = {}
        getattr(self, "_" + entity)(rec, i, h, ts_ms)
        return rec

    def lines_of(self, entity: str, i: int, rec: dict) -> list[dict]:
        """The detail lines of base record ``i`` (``rec`` is its header)."""
        spec = SPECS[entity]
        if not spec.detail:
            return []
        out = []
        const = self._line_const[entity]
        salt = self._salt[entity] ^ 0x5BD1E995
        parts = rec["_lines"]
        for j, part in enumerate(parts):
            a = mix(salt + i * 1024 + j)
            line = dict(const)
            line["id"] = _guid(self._tag[entity] ^ 0x4000, a, i * 1024 + j)
            getattr(self, "_line_" + entity)(line, rec, j, part, a)
            if spec.detail_custom:
                line["custom"] = {"Transactions": {"UsrProjectPhase": f"Phase {a % 4 + 1}"}}
            else:
                line["custom"] = {}
            out.append(line)
        return out

    def linked(self, entity: str, rec: dict, ftype: str, expand_paths: set[str], path: str) -> dict:
        """A linked entity (Contact, Address ...) of ``rec``; nested links only when expanded."""
        h = mix(zlib.crc32(f"{rec.get('id')}/{path}".encode()))
        fields = union_fields(ftype, self.versions)
        out = constants_for(fields)
        name = rec.get("VendorName") or rec.get("CustomerName") or "Contact"
        city, state, postal = CITIES[h % len(CITIES)]
        guess = {
            "DisplayName": name,
            "CompanyName": name,
            "FullName": name,
            "Email": f"ap{h % 1000}@{name.split()[0].lower()}.example.com",
            "Phone1": f"+1 555 {h % 900 + 100:03d} {h % 9000 + 1000:04d}",
            "Phone1Type": "Business 1",
            "AddressLine1": f"{h % 9000 + 100} Main St",
            "City": city,
            "State": state,
            "PostalCode": postal,
            "Country": "US",
            "ContactID": h % 100000,
            "Type": "Contact",
        }
        for key, value in guess.items():
            if key in out:
                out[key] = value
        for fname, sub in fields.items():
            if not catalog.is_scalar(sub) and not catalog.is_detail(sub):
                sub_path = f"{path}/{fname}"
                if sub_path in expand_paths and catalog.has_entity(self.versions[-1], sub):
                    out[fname] = self.linked(entity, rec, sub, expand_paths, sub_path)
        return out

    # ---- per-entity rules (names follow the Default endpoint) -----------------------------
    def _amount_lines(self, rec: dict, h: int) -> int:
        """Choose line (qty, unit cost in cents); return the document total in cents."""
        parts = []
        total = 0
        for j in range(self.lines):
            a = mix(h + j)
            qty = a % 5 + 1
            unit = (a >> 8) % 50_000 + 99
            parts.append((qty, unit))
            total += qty * unit
        rec["_lines"] = parts
        return total

    def _dates(self, rec: dict, ts_ms: int, h: int, date_field: str = "Date") -> int:
        doc_ms = ts_ms - (h >> 20) % 5 * 86_400_000
        rec[date_field] = self.clock.format_day(doc_ms)
        return doc_ms

    def _period(self, date_text: str) -> str:
        return date_text[5:7] + date_text[0:4]

    def _Vendor(self, rec: dict, i: int, h: int, ts_ms: int) -> None:
        name = f"{FIRST[h % len(FIRST)]} {SECOND[(h >> 8) % len(SECOND)]} {i + 1}"
        rec.update(
            VendorID=self.vendor_id(i + 1),
            VendorName=name,
            LegalName=name + " LLC",
            Status="Active" if h % 10 else "Hold",
            LeadTimedays=(h >> 12) % 15,
            PaymentLeadTimedays=(h >> 16) % 5,
            MaxReceipt=money(10000),
            ThresholdReceipt=money(10000),
            F1099Vendor=h % 7 == 0,
            TaxRegistrationID=f"{h % 90 + 10}-{(h >> 8) % 9000000 + 1000000}",
            LastModifiedDateTime=self.clock.format_ms(ts_ms),
            CreatedDateTime=self.clock.format_ms(ts_ms - (h >> 24) % 90 * 86_400_000),
        )
        rec["custom"] = {"BAccount": {"UsrRiskRating": (h >> 30) % 5 + 1}}

    def _Bill(self, rec: dict, i: int, h: int, ts_ms: int) -> None:
        total = self._amount_lines(rec, h)
        status = ("Open", "Open", "Closed", "Balanced")[(h >> 40) % 4]
        self._dates(rec, ts_ms, h)
        due_ms = self.clock.parse_ms(rec["Date"]) + 30 * 86_400_000
        vendor = self.vendor_id(self._ref("Vendor", h >> 3))
        rec.update(
            Type="Bill",
            ReferenceNbr=self.pad("Bill", i + 1),
            Vendor=vendor,
            Status=status,
            Amount=money(total),
            Balance=money(0 if status == "Closed" else total),
            DueDate=self.clock.format_day(due_ms),
            PostPeriod=self._period(rec["Date"]),
            Description=f"Invoice INV-{(h >> 7) % 90000 + 10000} from {vendor}",
            VendorRef=f"INV-{(h >> 7) % 90000 + 10000}",
            Hold=status == "Balanced" and h % 3 == 0,
            ApprovedForPayment=status != "Balanced",
            TaxTotal=money(0),
            LastModifiedDateTime=self.clock.format_ms(ts_ms),
        )
        rec["custom"] = {
            "Document": {
                "UsrApprovalCode": f"A-{(h >> 5) % 100}",
                "UsrCostCenter": f"CC-{(h >> 11) % 5 + 1}00",
            }
        }

    def _line_Bill(self, line: dict, rec: dict, j: int, part: tuple, a: int) -> None:
        qty, unit = part
        item = ITEMS[a % len(ITEMS)]
        line.update(
            Account=EXPENSE_ACCOUNTS[(a >> 4) % len(EXPENSE_ACCOUNTS)],
            Qty=money(qty * 100),
            UnitCost=money(unit),
            Amount=money(qty * unit),
            ExtendedCost=money(qty * unit),
            TransactionDescription=item,
            Description=item,
            InventoryID=self.inventory_id(self._ref("StockItem", a >> 9)) if a % 3 == 0 else None,
            TaxCategory="EXEMPT",
        )

    def _PurchaseOrder(self, rec: dict, i: int, h: int, ts_ms: int) -> None:
        total = self._amount_lines(rec, h)
        self._dates(rec, ts_ms, h)
        rec.update(
            Type="Normal",
            OrderNbr=f"PO{self.pad('PurchaseOrder', i + 1)}",
            VendorID=self.vendor_id(self._ref("Vendor", h >> 3)),
            Status=("Open", "Closed", "Completed", "Pending Approval")[(h >> 40) % 4],
            OrderTotal=money(total),
            LineTotal=money(total),
            ControlTotal=money(total),
            TaxTotal=money(0),
            CurrencyRate=Decimal("1.00"),
            CurrencyReciprocalRate=Decimal("1.00"),
            Description=f"Purchase order {i + 1}",
            VendorRef=f"Q-{(h >> 9) % 9000 + 1000}",
            PromisedOn=rec["Date"],
            CurrencyEffectiveDate=rec["Date"],
            Owner="admin",
            LastModifiedDateTime=self.clock.format_ms(ts_ms),
        )
        rec["custom"] = {"Document": {"UsrBuyerCode": f"B{(h >> 13) % 20:02d}"}}

    def _line_PurchaseOrder(self, line: dict, rec: dict, j: int, part: tuple, a: int) -> None:
        qty, unit = part
        line.update(
            LineNbr=j + 1,
            InventoryID=self.inventory_id(self._ref("StockItem", a)),
            OrderQty=money(qty * 100),
            OrderedQty=money(qty * 100),
            UnitCost=money(unit),
            ExtendedCost=money(qty * unit),
            Account="50000",
            LineDescription=ITEMS[a % len(ITEMS)],
            Description=ITEMS[a % len(ITEMS)],
            OrderNbr=rec["OrderNbr"],
            OrderType=rec["Type"],
            Promised=rec["Date"],
            Requested=rec["Date"],
            MaxReceiptPercent=money(10000),
            MinReceiptPercent=money(0),
            Completed=rec["Status"] == "Completed",
        )

    def _Check(self, rec: dict, i: int, h: int, ts_ms: int) -> None:
        total = self._amount_lines(rec, h)
        self._dates(rec, ts_ms, h, "ApplicationDate")
        rec.update(
            Type="Payment",
            ReferenceNbr=self.pad("Check", i + 1),
            Vendor=self.vendor_id(self._ref("Vendor", h >> 3)),
            PaymentAmount=money(total),
            UnappliedBalance=money(0),
            Status=("Closed", "Open", "Printed")[(h >> 40) % 3],
            PaymentRef=f"{(h >> 8) % 90000 + 10000}",
            Description=f"Payment {i + 1}",
            LastModifiedDateTime=self.clock.format_ms(ts_ms),
        )

    def _line_Check(self, line: dict, rec: dict, j: int, part: tuple, a: int) -> None:
        qty, unit = part
        line.update(
            DocType="Bill",
            ReferenceNbr=self.pad("Bill", self._ref("Bill", a)),
            AmountPaid=money(qty * unit),
            Balance=money(0),
            CashDiscountBalance=money(0),
        )

    def _Account(self, rec: dict, i: int, h: int, ts_ms: int) -> None:
        cd = self.account_cd(i)
        name = CHART_OF_ACCOUNTS[i][1] if i < len(CHART_OF_ACCOUNTS) else None
        kind = {"1": "Asset", "2": "Liability", "3": "Liability", "4": "Income"}.get(cd[0], "Expense")
        rec.update(
            AccountCD=cd,
            AccountID=1000 + i,
            Type=kind,
            AccountClass=kind.upper()[:6],
            Description=name or f"{kind} account {cd}",
            ChartOfAccountsOrder=int(cd[0]),
            CashAccount=cd == "10200",
            PostOption="Summary",
            UseDefaultSubaccount=False,
            LastModifiedDateTime=self.clock.format_ms(ts_ms),
            CreatedDateTime=self.clock.format_ms(ts_ms - (h >> 24) % 90 * 86_400_000),
        )

    def _Subaccount(self, rec: dict, i: int, h: int, ts_ms: int) -> None:
        high, low = divmod(i, 1000)
        rec.update(
            SubaccountCD=f"{high:03d}-{low:03d}",
            SubaccountID=100 + i,
            Description="Default" if i == 0 else f"Department {i}",
            Secured=False,
        )

    def _JournalTransaction(self, rec: dict, i: int, h: int, ts_ms: int) -> None:
        # Journal lines must balance: n-1 debits and one credit for their sum (at least 2 lines).
        parts = []
        total = 0
        for j in range(max(1, self.lines - 1)):
            cents = mix(h + j) % 500_000 + 100
            parts.append(("D", cents))
            total += cents
        parts.append(("C", total))
        rec["_lines"] = parts
        self._dates(rec, ts_ms, h, "TransactionDate")
        rec.update(
            Module="GL",
            BatchNbr=self.pad("JournalTransaction", i + 1),
            Status=("Posted", "Unposted", "Balanced")[(h >> 40) % 3],
            PostPeriod=self._period(rec["TransactionDate"]),
            Description=f"Accrual batch {i + 1}",
            LastModifiedDateTime=self.clock.format_ms(ts_ms),
            CreatedDateTime=self.clock.format_ms(ts_ms - (h >> 24) % 3 * 86_400_000),
        )

    def _line_JournalTransaction(self, line: dict, rec: dict, j: int, part: tuple, a: int) -> None:
        side, cents = part
        debit = side == "D"
        line.update(
            LineNbr=j + 1,
            Account=EXPENSE_ACCOUNTS[a % len(EXPENSE_ACCOUNTS)] if debit else "20000",
            DebitAmount=money(cents if debit else 0),
            CreditAmount=money(0 if debit else cents),
            Description=rec["Description"],
            TransactionDescription=rec["Description"],
            ReferenceNbr=rec["BatchNbr"],
            Qty=money(0),
            IsNonPM=True,
        )

    def _Ledger(self, rec: dict, i: int, h: int, ts_ms: int) -> None:
        ledger_id, kind, description = LEDGERS[i] if i < len(LEDGERS) else (f"X{i:05d}", "Actual", "Ledger")
        rec["_lines"] = list(BRANCHES)
        rec.update(
            LedgerID=ledger_id,
            Type=kind,
            Description=description,
            Currency="USD",
            ConsolidationSource=False,
            LastModifiedDateTime=self.clock.format_ms(ts_ms),
        )

    def _line_Ledger(self, line: dict, rec: dict, j: int, part: tuple, a: int) -> None:
        branch_id, name = part
        line.update(BranchID=branch_id, BranchName=name, CompanyName="Company", Active=True)

    def _sales_doc(self, rec: dict, i: int, h: int, ts_ms: int, entity: str) -> int:
        total = self._amount_lines(rec, h)
        self._dates(rec, ts_ms, h)
        status = ("Open", "Closed", "Balanced")[(h >> 40) % 3]
        due_ms = self.clock.parse_ms(rec["Date"]) + 30 * 86_400_000
        rec.update(
            Type="Invoice",
            ReferenceNbr=self.pad(entity, i + 1),
            Status=status,
            Amount=money(total),
            Balance=money(0 if status == "Closed" else total),
            DueDate=self.clock.format_day(due_ms),
            Description=f"Invoice {i + 1}",
            TaxTotal=money(0),
            Hold=False,
            LastModifiedDateTime=self.clock.format_ms(ts_ms),
        )
        return total

    def _SalesInvoice(self, rec: dict, i: int, h: int, ts_ms: int) -> None:
        total = self._sales_doc(rec, i, h, ts_ms, "SalesInvoice")
        rec.update(
            CustomerID=self.customer_id(self._ref("Customer", h >> 3)),
            DetailTotal=money(total),
            CustomerOrder=f"CO-{(h >> 9) % 9000 + 1000}",
            CreditHold=False,
            LastModifiedDate=self.clock.format_ms(ts_ms),
            CreatedDate=self.clock.format_ms(ts_ms - (h >> 24) % 5 * 86_400_000),
        )

    def _line_SalesInvoice(self, line: dict, rec: dict, j: int, part: tuple, a: int) -> None:
        qty, unit = part
        line.update(
            LineNbr=j + 1,
            InventoryID=self.inventory_id(self._ref("StockItem", a)),
            Qty=money(qty * 100),
            UnitPrice=money(unit),
            Amount=money(qty * unit),
            Account="40000",
            TransactionDescr=ITEMS[a % len(ITEMS)],
            DiscountAmount=money(0),
            DiscountPercent=money(0),
        )

    def _Invoice(self, rec: dict, i: int, h: int, ts_ms: int) -> None:
        self._sales_doc(rec, i, h, ts_ms, "Invoice")
        rec.update(
            Customer=self.customer_id(self._ref("Customer", h >> 3)),
            PostPeriod=self._period(rec["Date"]),
            CustomerOrder=f"CO-{(h >> 9) % 9000 + 1000}",
            CreatedDateTime=self.clock.format_ms(ts_ms - (h >> 24) % 5 * 86_400_000),
        )

    def _line_Invoice(self, line: dict, rec: dict, j: int, part: tuple, a: int) -> None:
        qty, unit = part
        line.update(
            LineNbr=j + 1,
            InventoryID=self.inventory_id(self._ref("StockItem", a)),
            Qty=money(qty * 100),
            UnitPrice=money(unit),
            Amount=money(qty * unit),
            ExtendedPrice=money(qty * unit),
            Account="40000",
            DiscountAmount=money(0),
            TransactionDescription=ITEMS[a % len(ITEMS)],
            LastModifiedDateTime=rec["LastModifiedDateTime"],
        )

    def _Customer(self, rec: dict, i: int, h: int, ts_ms: int) -> None:
        name = f"{FIRST[(h >> 4) % len(FIRST)]} {SECOND[(h >> 9) % len(SECOND)]} {i + 1}"
        rec.update(
            CustomerID=self.customer_id(i + 1),
            CustomerName=name,
            Status="Active",
            Email=f"billing@{name.split()[0].lower()}{i + 1}.example.com",
            CreditLimit=money((h % 100 + 1) * 100_000),
            BAccountID=5000 + i,
            PrimaryContactID=9000 + i,
            NoteID=_guid(0x0C57, mix(h), i),
            OrderPriority=0,
            WriteOffLimit=money(1000),
            LastModifiedDateTime=self.clock.format_ms(ts_ms),
            CreatedDateTime=self.clock.format_ms(ts_ms - (h >> 24) % 90 * 86_400_000),
        )
        rec["custom"] = {"BAccount": {"UsrSegment": ("SMB", "Enterprise", "Public")[h % 3]}}

    def _StockItem(self, rec: dict, i: int, h: int, ts_ms: int) -> None:
        price = (h % 90_000) + 500
        rec.update(
            InventoryID=self.inventory_id(i + 1),
            Description=f"{ITEMS[h % len(ITEMS)]} #{i + 1}",
            DefaultPrice=money(price),
            LastCost=money(price * 6 // 10),
            AverageCost=money(price * 6 // 10),
            CurrentStdCost=money(0),
            MSRP=money(price),
            NoteID=_guid(0x5170, mix(h), i),
            LastModified=self.clock.format_ms(ts_ms),
            LastModifiedDateTime=self.clock.format_ms(ts_ms),
            DimensionWeight=money((h >> 8) % 5000),
            WeightUOM="KG",
        )
        rec["custom"] = {"Item": {"UsrRepairItemType": ("Battery", "Filter", "Motor", None)[h % 4]}}
