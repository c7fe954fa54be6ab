"""Seeded, lazy data generator: base record ``i`` of an object is a pure function of (seed, object, i).

Nothing is materialised up front, so a million GLDETAIL rows cost no memory. Within an object, base
record ``i`` has RECORDNO ``i + 1`` and a WHENMODIFIED that never decreases with ``i`` (consecutive
records share one value in groups, so keysets must break ties on RECORDNO); index order is therefore
both RECORDNO order and (WHENMODIFIED, RECORDNO) order, and a bound on either maps to an index by
arithmetic.
"""

from __future__ import annotations

import zlib
from functools import partial

from emulator_kit.seeded import CITIES, FIRST, M64, SECOND, mix

from .clock import HISTORY_END, HISTORY_START, UserClock
from .config import EmulatorConfig
from .schema import BOOLEAN, CURRENCY, DATE, ENUM, INTEGER, NUMERIC, OBJECTS, TIMESTAMP


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


ACCOUNT_TITLES = [
    "Cash",
    "Accounts Receivable",
    "Prepaid Expenses",
    "Equipment",
    "Accounts Payable",
    "Accrued Liabilities",
    "Retained Earnings",
    "Revenue",
    "Cost of Goods Sold",
    "Salaries",
    "Rent",
    "Utilities",
    "Office Supplies",
    "Travel",
    "Professional Fees",
]
DEPARTMENTS = ["Finance", "Operations", "Sales", "Marketing", "Engineering", "Support", "Legal", "HR"]
LINE_TEXT = [
    "Paper A4",
    "Toner cartridge",
    "Desk chair",
    "Monitor 27in",
    "Cable kit",
    "Freight",
    "Cleaning service",
    "Consulting hours",
    "Software licence",
    "Maintenance",
]
#: Line objects and their header object.
LINE_OBJECTS = {name: obj.parent for name, obj in OBJECTS.items() if obj.parent}


class Generator:
    """Produces base record ``i`` of each generated object as a dict of strings (Intacct's values)."""

    def __init__(self, config: EmulatorConfig, clock: UserClock) -> None:
        self.clock = clock
        self.seed = config.seed
        self.lines = max(1, config.lines_per_document)
        self.group = max(1, config.same_timestamp_group)
        self.entities = tuple(config.entities)
        self.user_id = config.user_id
        self.sizes: dict[str, int] = {}
        for name, obj in OBJECTS.items():
            if not obj.generated:
                self.sizes[name] = 0
            elif name in LINE_OBJECTS:
                self.sizes[name] = config.sizes.get(name, config.size_of(LINE_OBJECTS[name]) * self.lines)
            else:
                self.sizes[name] = config.size_of(name)
        self.sizes["LOCATION"] = max(self.sizes["LOCATION"], len(self.entities))
        self._salt = {name: mix(self.seed ^ zlib.crc32(name.encode())) for name in OBJECTS}
        self._step = {}
        span = HISTORY_END - HISTORY_START
        for name in OBJECTS:
            groups = max(1, -(-self.sizes[name] // self.group))
            self._step[name] = max(1, span // groups)
        self._width = {name: max(4, len(str(self.sizes[name] + 1))) for name in OBJECTS}
        self._rules = {
            name: getattr(self, "_" + name, partial(self._lines, name) if obj.parent else None)
            for name, obj in OBJECTS.items()
            if obj.generated
        }
        self._generic = {
            name: [
                (f.name, f.datatype, f.validvalues, zlib.crc32(f.name.encode()))
                for f in obj.fields
                if f.name in obj.generic
            ]
            for name, obj in OBJECTS.items()
        }

    # ---- timeline and identities ----------------------------------------------------------
    def hash(self, name: str, i: int) -> int:
        return mix(self._salt[name] ^ (i * 0x2545F4914F6CDD1D & M64))

    def ts(self, name: str, i: int) -> int:
        g = i // self.group
        step = self._step[name]
        jitter = mix(self._salt[name] ^ (g * 7919)) % step if step > 1 else 0
        return HISTORY_START + g * step + jitter

    def first_index_at_or_after(self, name: str, seconds: int) -> int:
        """Smallest index whose WHENMODIFIED is >= ``seconds``."""
        size = self.sizes[name]
        if size == 0:
            return 0
        step = self._step[name]
        groups = -(-size // self.group)
        g = min(groups, max(0, (seconds - HISTORY_START) // step))
        while g > 0 and self.ts(name, (g - 1) * self.group) >= seconds:
            g -= 1
        while g < groups and self.ts(name, g * self.group) < seconds:
            g += 1
        return min(size, g * self.group)

    def entity_of(self, name: str, i: int) -> str:
        """The entity owning base record ``i`` ('' for top-level objects)."""
        obj = OBJECTS[name]
        if not obj.entity_owned or not self.entities:
            return ""
        if name == "LOCATION":
            return self.entities[i] if i < len(self.entities) else self.entities[i % len(self.entities)]
        if obj.parent:
            return self.entity_of(obj.parent, self.parent_index(name, i))
        return self.entities[self.hash(name, i) % len(self.entities)]

    def parent_index(self, name: str, i: int) -> int:
        return (i // self.lines) % max(1, self.sizes[LINE_OBJECTS[name]])

    def pad(self, name: str, n: int) -> str:
        return str(n).zfill(self._width[name])

    def ref(self, name: str, h: int) -> int:
        """A 1-based number of an existing base record of ``name`` chosen by hash ``h``."""
        return h % max(1, self.sizes[name]) + 1

    def vendor_id(self, n: int) -> str:
        return "V" + self.pad("VENDOR", n)

    def customer_id(self, n: int) -> str:
        return "C" + self.pad("CUSTOMER", n)

    def account_no(self, n: int) -> str:
        return str(10000 + (n - 1) * 100) if self.sizes["GLACCOUNT"] <= 900 else str(1000000 + n)

    def location_id(self, i: int) -> str:
        return self.entities[i] if i < len(self.entities) else "L" + self.pad("LOCATION", i + 1)

    def dimensions(self, h: int, entity: str) -> dict[str, str]:
        return {
            "DEPARTMENTID": f"D{self.ref('DEPARTMENT', h >> 3) * 10}",
            "LOCATIONID": entity or self.location_id(self.ref("LOCATION", h >> 5) - 1),
            "CLASSID": f"CL{self.ref('CLASS', h >> 7)}",
            "PROJECTID": "" if (h >> 9) % 3 == 0 else "P" + self.pad("PROJECT", self.ref("PROJECT", h >> 11)),
        }

    # ---- records -------------------------------------------------------------------------
    def light(self, name: str, i: int) -> dict:
        """What a filter on RECORDNO/WHENMODIFIED/MEGAENTITYID needs, without building the record."""
        ts = self.ts(name, i)
        return {
            "RECORDNO": str(i + 1),
            "WHENMODIFIED": self.clock.timestamp(ts),
            "MEGAENTITYID": self.entity_of(name, i),
            "_i": i,
            "_ts": ts,
            "_light": True,
        }

    def record(self, name: str, i: int) -> dict:
        """Base record ``i`` with every field (strings; '' for empty), plus ``_i`` and ``_ts``."""
        obj = OBJECTS[name]
        h = self.hash(name, i)
        ts = self.ts(name, i)
        entity = self.entity_of(name, i)
        created = ts - (h >> 17) % (45 * 86400)
        fmt = self.clock.timestamp
        rec = dict.fromkeys(obj.field_names, "")
        rec.update(
            RECORDNO=str(i + 1),
            WHENCREATED=fmt(max(HISTORY_START - 86400 * 30, created)),
            WHENMODIFIED=fmt(ts),
            CREATEDBY=str(h % 7 + 1),
            MODIFIEDBY=str((h >> 4) % 7 + 1),
        )
        if obj.entity_owned:
            rec["MEGAENTITYID"] = entity
            if entity:
                k = self.entities.index(entity)
                rec["MEGAENTITYKEY"] = str(k + 1)
                rec["MEGAENTITYNAME"] = f"Entity {entity}"
        if self._generic[name]:
            self._fill(rec, name, h, ts)
        rule = self._rules[name]
        if rule is not None:
            rule(rec, i, h, ts, entity)
        rec["_i"] = i
        rec["_ts"] = ts
        return rec

    def _fill(self, rec: dict, name: str, h: int, ts: int) -> None:
        """Fields without a rule of their own, from their type and name: about one in seven empty."""
        for field, datatype, values, salt in self._generic[name]:
            v = mix(h ^ salt)
            if field in ("CURRENCY", "BASECURR"):
                rec[field] = "USD"
            elif v % 7 == 0 and datatype not in (BOOLEAN, ENUM):
                rec[field] = ""
            elif datatype in NUMERIC:
                rec[field] = (
                    money((v >> 8) % 2_000_000) if datatype == CURRENCY else f"{(v >> 8) % 100000 / 1000:.3f}"
                )
            elif datatype == INTEGER:
                rec[field] = str((v >> 8) % 1000 + 1)
            elif datatype == DATE:
                rec[field] = self.clock.date(ts - (v >> 8) % (90 * 86400))
            elif datatype == TIMESTAMP:
                rec[field] = self.clock.timestamp(ts - (v >> 8) % (90 * 86400))
            elif datatype == BOOLEAN:
                rec[field] = "true" if v % 2 else "false"
            elif datatype == ENUM:
                rec[field] = values[(v >> 8) % len(values)] if values else ""
            elif field.endswith("ID") or field.endswith("NO"):
                rec[field] = f"{field[:3]}-{(v >> 8) % 10000:04d}"
            else:
                rec[field] = f"{field.replace('_', ' ').title()} {(v >> 8) % 1000}"

    def _lines(self, name, rec, i, h, ts, entity):
        """A line of a data-driven header object: its header's RECORDNO and line number."""
        obj = OBJECTS[name]
        rec[obj.parent_field] = str(self.parent_index(obj.name, i) + 1)
        if "LINE_NO" in rec:
            rec["LINE_NO"] = str(i % self.lines + 1)

    # ---- per-object rules (field names as in the Intacct object reference) ----------------
    def _company(self, h: int) -> str:
        return f"{FIRST[h % len(FIRST)]} {SECOND[(h >> 8) % len(SECOND)]}"

    def _VENDOR(self, rec, i, h, ts, entity):
        name = self._company(h)
        city, state, zip_ = CITIES[(h >> 12) % len(CITIES)]
        rec.update(
            VENDORID=self.vendor_id(i + 1),
            NAME=f"{name} {i + 1}",
            VENDTYPE="Supplier",
            TERMNAME=("N30", "N45", "Due on receipt")[(h >> 16) % 3],
            TAXID=f"{h % 90 + 10}-{h % 9000000 + 1000000}",
            CURRENCY="USD",
            STATUS="inactive" if h % 23 == 0 else "active",
            ONHOLD="true" if h % 17 == 0 else "false",
            TOTALDUE=money((h >> 20) % 5_000_000),
            **{
                "DISPLAYCONTACT.EMAIL1": f"ap{i + 1}@{name.split()[0].lower()}.example.com",
                "DISPLAYCONTACT.PHONE1": f"555-{(h >> 24) % 900 + 100:03d}-{(h >> 28) % 9000 + 1000:04d}",
                "DISPLAYCONTACT.MAILADDRESS.CITY": city,
                "DISPLAYCONTACT.MAILADDRESS.STATE": state,
                "DISPLAYCONTACT.MAILADDRESS.ZIP": zip_,
            },
            RISK_RATING=str((h >> 32) % 5 + 1),
            PORTAL_VENDOR_CODE="" if h % 4 == 0 else f"PV-{h % 100000:05d}",
        )

    def _CUSTOMER(self, rec, i, h, ts, entity):
        name = self._company(h >> 3)
        rec.update(
            CUSTOMERID=self.customer_id(i + 1),
            NAME=f"{name} Customer {i + 1}",
            CUSTTYPE="Commercial",
            TERMNAME="N30",
            CURRENCY="USD",
            STATUS="inactive" if h % 29 == 0 else "active",
            CREDITLIMIT=money((h >> 10) % 100 * 100_000),
            TOTALDUE=money((h >> 20) % 3_000_000),
            **{
                "DISPLAYCONTACT.EMAIL1": f"billing{i + 1}@{name.split()[0].lower()}.example.com",
                "DISPLAYCONTACT.MAILADDRESS.CITY": CITIES[(h >> 12) % len(CITIES)][0],
            },
        )

    def _EMPLOYEE(self, rec, i, h, ts, entity):
        dims = self.dimensions(h, entity)
        rec.update(
            EMPLOYEEID=f"EMP{self.pad('EMPLOYEE', i + 1)}",
            **{"PERSONALINFO.CONTACTNAME": f"{FIRST[h % len(FIRST)]} Employee {i + 1}"},
            TITLE=("Accountant", "AP Clerk", "Controller", "Analyst")[(h >> 8) % 4],
            DEPARTMENTID=dims["DEPARTMENTID"],
            LOCATIONID=dims["LOCATIONID"],
            SUPERVISORID="" if i == 0 else f"EMP{self.pad('EMPLOYEE', 1)}",
            STARTDATE=self.clock.date(ts - (h >> 12) % (3 * 365 * 86400)),
            STATUS="inactive" if h % 19 == 0 else "active",
        )

    def bill_line_cents(self, bill: int, j: int) -> int:
        return mix(self._salt["APBILLITEM"] + bill * 64 + j) % 250_000 + 1_000

    def _APBILL(self, rec, i, h, ts, entity):
        vendor = self.ref("VENDOR", h >> 5)
        total = sum(self.bill_line_cents(i, j) for j in range(self.lines))
        state = ("Posted", "Paid", "Partially Paid", "Posted", "Draft")[(h >> 9) % 5]
        paid = {"Paid": total, "Partially Paid": total // 2}.get(state, 0)
        posted = ts - (h >> 13) % (20 * 86400)
        rec.update(
            RECORDID=f"BILL-{self.pad('APBILL', i + 1)}",
            DOCNUMBER=f"INV{(h >> 20) % 900000 + 100000}",
            VENDORID=self.vendor_id(vendor),
            VENDORNAME=f"{self._company(self.hash('VENDOR', vendor - 1))} {vendor}",
            DESCRIPTION=f"{LINE_TEXT[(h >> 24) % len(LINE_TEXT)]} for {entity or 'company'}",
            TERMNAME="N30",
            WHENPOSTED=self.clock.date(posted),
            WHENDUE=self.clock.date(posted + 30 * 86400),
            WHENPAID=self.clock.date(ts) if state == "Paid" else "",
            STATE=state,
            TOTALENTERED=money(total),
            TOTALPAID=money(paid),
            TOTALDUE=money(total - paid),
            CURRENCY="USD",
            BASECURR="USD",
            MODULEKEY="3.AP",
            APPROVAL_CODE=f"AC{(h >> 28) % 10000:04d}",
            COST_CENTER=f"CC-{(h >> 33) % 40 + 100}",
        )

    def _APBILLITEM(self, rec, i, h, ts, entity):
        bill = self.parent_index("APBILLITEM", i)
        j = i % self.lines
        account = self.ref("GLACCOUNT", h >> 3)
        bh = self.hash("APBILL", bill)
        cents = self.bill_line_cents(bill, j)
        rec.update(
            RECORDKEY=str(bill + 1),
            LINE_NO=str(j + 1),
            ACCOUNTNO=self.account_no(account),
            ACCOUNTTITLE=ACCOUNT_TITLES[(account - 1) % len(ACCOUNT_TITLES)],
            AMOUNT=money(cents),
            TRX_AMOUNT=money(cents),
            ENTRYDESCRIPTION=LINE_TEXT[(h >> 8) % len(LINE_TEXT)],
            VENDORID=self.vendor_id(self.ref("VENDOR", bh >> 5)),
            CURRENCY="USD",
            **self.dimensions(h, entity),
        )

    def _APPYMT(self, rec, i, h, ts, entity):
        vendor = self.ref("VENDOR", h >> 5)
        total = sum(self.payment_line_cents(i, j) for j in range(self.lines))
        rec.update(
            FINANCIALENTITY=("BOA-CHK", "WF-OPER")[(h >> 3) % 2],
            PAYMENTMETHOD=("Printed Check", "EFT", "ACH", "Cash")[(h >> 7) % 4],
            DOCNUMBER=str(10000 + i),
            VENDORID=self.vendor_id(vendor),
            VENDORNAME=f"{self._company(self.hash('VENDOR', vendor - 1))} {vendor}",
            DESCRIPTION=f"Payment {i + 1}",
            PAYMENTDATE=self.clock.date(ts),
            STATE=("Complete", "Complete", "Submitted", "Voided")[(h >> 11) % 4],
            AMOUNTTOPAY=money(total),
            TOTALPAID=money(total),
            CURRENCY="USD",
        )

    def payment_line_cents(self, payment: int, j: int) -> int:
        return mix(self._salt["APPYMTDETAIL"] + payment * 64 + j) % 150_000 + 500

    def _APPYMTDETAIL(self, rec, i, h, ts, entity):
        payment = self.parent_index("APPYMTDETAIL", i)
        bill = self.ref("APBILL", h >> 3)
        cents = self.payment_line_cents(payment, i % self.lines)
        rec.update(
            PAYMENTKEY=str(payment + 1),
            RECORDKEY=str(bill),
            ENTRYKEY=str((bill - 1) * self.lines + 1),
            PAYMENTAMOUNT=money(cents),
            TRX_PAYMENTAMOUNT=money(cents),
            CURRENCY="USD",
        )

    def _GLACCOUNT(self, rec, i, h, ts, entity):
        title = ACCOUNT_TITLES[i % len(ACCOUNT_TITLES)]
        balance = i % len(ACCOUNT_TITLES) < 7
        rec.update(
            ACCOUNTNO=self.account_no(i + 1),
            TITLE=title if i < len(ACCOUNT_TITLES) else f"{title} {i + 1}",
            ACCOUNTTYPE="balancesheet" if balance else "incomestatement",
            NORMALBALANCE="debit"
            if i % len(ACCOUNT_TITLES) in (0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14)
            else "credit",
            CLOSINGTYPE="non-closing account" if balance else "closing account",
            STATUS="inactive" if h % 31 == 0 else "active",
        )

    def _GLBATCH(self, rec, i, h, ts, entity):
        journal = ("GJ", "APJ", "ARJ", "CDJ")[(h >> 3) % 4]
        rec.update(
            BATCHNO=str(i + 1),
            BATCH_TITLE=f"{journal} batch {i + 1}",
            JOURNAL=journal,
            REFERENCENO=f"REF{(h >> 8) % 100000:05d}",
            MODULE="2.GL" if journal == "GJ" else "3.AP",
            BATCH_DATE=self.clock.date(ts),
            STATE=("Posted", "Posted", "Submitted", "Draft")[(h >> 12) % 4],
        )

    def gl_cents(self, batch: int, j: int) -> int:
        return mix(self._salt["GLENTRY"] + batch * 64 + (j // 2)) % 500_000 + 100

    def _GLENTRY(self, rec, i, h, ts, entity):
        batch = self.parent_index("GLENTRY", i)
        j = i % self.lines
        account = self.ref("GLACCOUNT", h >> 3)
        rec.update(
            BATCHNO=str(batch + 1),
            LINE_NO=str(j + 1),
            TR_TYPE="1" if j % 2 == 0 else "-1",
            ENTRY_DATE=self.clock.date(self.ts("GLBATCH", batch)),
            ACCOUNTNO=self.account_no(account),
            DESCRIPTION=LINE_TEXT[(h >> 8) % len(LINE_TEXT)],
            AMOUNT=money(self.gl_cents(batch, j)),
            TRX_AMOUNT=money(self.gl_cents(batch, j)),
            CURRENCY="USD",
            **self.dimensions(h, entity),
        )

    def _GLDETAIL(self, rec, i, h, ts, entity):
        batch = self.ref("GLBATCH", h >> 3)
        account = self.ref("GLACCOUNT", h >> 9)
        debit = (h >> 15) % 2 == 0
        cents = (h >> 16) % 900_000 + 100
        journal = ("GJ", "APJ", "ARJ", "CDJ")[(h >> 36) % 4]
        rec.update(
            BATCHNO=str(batch),
            BATCH_TITLE=f"{journal} batch {batch}",
            JOURNAL=journal,
            BATCH_DATE=self.clock.date(ts),
            ENTRY_DATE=self.clock.date(ts),
            ACCOUNTNO=self.account_no(account),
            ACCOUNTTITLE=ACCOUNT_TITLES[(account - 1) % len(ACCOUNT_TITLES)],
            TR_TYPE="1" if debit else "-1",
            AMOUNT=money(cents),
            DEBITAMOUNT=money(cents) if debit else "0.00",
            CREDITAMOUNT="0.00" if debit else money(cents),
            VENDORID=self.vendor_id(self.ref("VENDOR", h >> 40)) if journal == "APJ" else "",
            CUSTOMERID=self.customer_id(self.ref("CUSTOMER", h >> 44)) if journal == "ARJ" else "",
            DESCRIPTION=f"{LINE_TEXT[(h >> 48) % len(LINE_TEXT)]} {i + 1}",
            MODULEKEY="2.GL" if journal == "GJ" else "3.AP",
            STATE="Posted",
            CURRENCY="USD",
            **self.dimensions(h, entity),
        )

    def _DEPARTMENT(self, rec, i, h, ts, entity):
        rec.update(
            DEPARTMENTID=f"D{(i + 1) * 10}",
            TITLE=DEPARTMENTS[i % len(DEPARTMENTS)] + ("" if i < 8 else f" {i + 1}"),
            PARENTID="" if i < 2 else f"D{(i % 2 + 1) * 10}",
            STATUS="active",
        )

    def _LOCATION(self, rec, i, h, ts, entity):
        city = CITIES[i % len(CITIES)][0]
        rec.update(
            LOCATIONID=self.location_id(i),
            NAME=f"{city} {'entity' if i < len(self.entities) else 'office'}",
            PARENTID="" if i < len(self.entities) else entity,
            STATUS="active",
        )

    def _CLASS(self, rec, i, h, ts, entity):
        rec.update(
            CLASSID=f"CL{i + 1}",
            NAME=("Retail", "Wholesale", "Online", "Government")[i % 4] + f" {i + 1}",
            PARENTID="" if i < 2 else f"CL{i % 2 + 1}",
            STATUS="active",
        )

    def _PROJECT(self, rec, i, h, ts, entity):
        dims = self.dimensions(h, entity)
        begin = ts - (h >> 8) % (200 * 86400)
        rec.update(
            PROJECTID="P" + self.pad("PROJECT", i + 1),
            NAME=f"Project {FIRST[h % len(FIRST)]} {i + 1}",
            CUSTOMERID=self.customer_id(self.ref("CUSTOMER", h >> 4)),
            PROJECTSTATUS=("In Progress", "Completed", "Not Started")[(h >> 12) % 3],
            BEGINDATE=self.clock.date(begin),
            ENDDATE=self.clock.date(begin + 180 * 86400),
            BUDGETAMOUNT=money((h >> 20) % 50_000_000),
            DEPARTMENTID=dims["DEPARTMENTID"],
            LOCATIONID=dims["LOCATIONID"],
            STATUS="active",
        )

    def _USERINFO(self, rec, i, h, ts, entity):
        rec.update(
            LOGINID=self.user_id if i == 0 else f"user{i + 1}",
            DESCRIPTION=f"User {i + 1}",
            USERTYPE="business user",
            STATUS="active",
        )
