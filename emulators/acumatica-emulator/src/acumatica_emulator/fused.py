"""Fused generate-and-format rules: base record ``i`` straight to wrapped JSON fragments.

The generator's dict rules (``Generator._Bill`` ...) stay the definition of the data; a function
here re-states one entity's rules so that a list page skips building Decimals and dicts and
formats each value once. It must agree with the dict rules exactly: tests render pages both ways
and compare the bytes. Entities without a fused rule use the compiled template writer.

A fused rule returns one flat list per record: the header's values in the order its ``FIELDS``
entry declares, then its ``CUSTOM`` values, then the same for each detail line (a generated
document always has ``lines_per_document`` lines). A field of kind "s" is a bare string the
writer quotes, "n" a bare JSON number and "w" an already wrapped value (``{"value":...}`` or the
null style); custom values are scalar JSON. One flat list lets the writer render a whole record,
lines included, with a single %-substitution.
"""

from __future__ import annotations

from .generator import EXPENSE_ACCOUNTS, ITEMS, M64, Generator, mix

DAY_MS = 86_400_000
#: "%02d" of every cent remainder, so money needs no Decimal.
CENTS = [f".{c:02d}" for c in range(100)]


def money_json(cents: int) -> str:
    """Same digits as str(money(cents)) for the non-negative amounts the rules produce."""
    if cents < 0:
        return "-" + money_json(-cents)
    return str(cents // 100) + CENTS[cents % 100]


def guid(tag: int, a: int, b: int) -> str:
    """generator._guid from one hex rendering of ``a`` (faster than its f-string, same text)."""
    s = "%016x" % a
    return "%s-%s-4%s-%04x-%012x" % (s[:8], s[8:12], s[12:15], tag, b)


def _fields(text: str) -> dict[str, tuple[int, str]]:
    return {name: (n, kind) for n, (name, _, kind) in enumerate(w.partition(":") for w in text.split())}


#: Per entity: (header fields, line fields) -> (position, kind) in a fused rule's tuples.
FIELDS = {
    "Bill": (
        _fields(
            "id:s Type:s ReferenceNbr:s Vendor:s Status:s Amount:n Balance:n Date:s DueDate:s "
            "PostPeriod:s Description:s VendorRef:s Hold:w ApprovedForPayment:w TaxTotal:n "
            "LastModifiedDateTime:s"
        ),
        _fields(
            "id:s Account:s Qty:n UnitCost:n Amount:n ExtendedCost:n TransactionDescription:s "
            "Description:s InventoryID:w TaxCategory:s"
        ),
    )
}
#: Per entity: (header custom fields, line custom fields) -> position in the custom tuples.
CUSTOM = {
    "Bill": (
        {("Document", "UsrApprovalCode"): 0, ("Document", "UsrCostCenter"): 1},
        {("Transactions", "UsrProjectPhase"): 0},
    )
}
#: Typed fields of light records, per entity with a fused rule (keys and timestamp fields).
LIGHT_FIELDS = {"Bill": frozenset({"Type", "ReferenceNbr", "LastModifiedDateTime"})}
TRUE, FALSE = '{"value":true}', '{"value":false}'
C0, C1, C2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


class FusedRules:
    """Fused rules of one generator; ``rule(entity)`` is None for entities without one."""

    def __init__(self, gen: Generator) -> None:
        self.gen = gen
        self._days: dict[int, tuple[str, str, str]] = {}
        self._last_stamp: dict[str, tuple[int, int, str]] = {}
        self._codes: dict[tuple[str, int], str] = {}
        self._offset = int(gen.clock.tz.utcoffset(None).total_seconds() * 1000)

    def rule(self, entity: str):
        return getattr(self, "_" + entity, None)

    def light_fields(self, entity: str) -> frozenset[str]:
        """Fields a light record of ``entity`` carries (empty: no light records)."""
        return LIGHT_FIELDS.get(entity, frozenset())

    def light(self, entity: str, i: int) -> dict:
        """Base record ``i`` reduced to its keys and timestamp (for filtering and ordering).

        Only a fused writer can render it (from ``_i``); the app asks for light records only then.
        """
        gen = self.gen
        stamp = self._stamp(entity, i)[1]
        if entity == "Bill":
            return {
                "_i": i,
                "Type": "Bill",
                "ReferenceNbr": gen.pad("Bill", i + 1),
                "LastModifiedDateTime": stamp,
            }
        raise KeyError(entity)

    def _day(self, doc_ms: int) -> tuple[str, str, str]:
        """(Date, DueDate = Date + 30 days, PostPeriod), cached per local day."""
        clock = self.gen.clock
        offset = self._offset
        day = (doc_ms + offset) // DAY_MS
        out = self._days.get(day)
        if out is None:
            date = clock.format_day(doc_ms)
            due = clock.format_day(day * DAY_MS - offset + 30 * DAY_MS)
            period = date[5:7] + date[0:4]
            out = (date, due, period)
            self._days[day] = out
        return out

    def _stamp(self, entity: str, i: int) -> tuple[int, str]:
        """(ts_ms, LastModifiedDateTime) of record ``i``; consecutive records share a group."""
        g = i // self.gen.group
        last = self._last_stamp.get(entity)
        if last is None or last[0] != g:
            ms = self.gen.ts_ms(entity, i)
            last = self._last_stamp[entity] = (g, ms, self.gen.clock.format_ms(ms))
        return last[1], last[2]

    def _Bill(self, i: int, null: str):
        gen = self.gen
        salt = gen._salt["Bill"]
        x = ((salt ^ (i * 0x2545F4914F6CDD1D & M64)) + C0) & M64  # mix(), inlined: hot
        x = ((x ^ (x >> 30)) * C1) & M64
        x = ((x ^ (x >> 27)) * C2) & M64
        h = x ^ (x >> 31)
        ts_ms, stamp = self._stamp("Bill", i)
        parts = []
        total = 0
        for j in range(gen.lines):  # Generator._amount_lines
            x = (h + j + C0) & M64
            x = ((x ^ (x >> 30)) * C1) & M64
            x = ((x ^ (x >> 27)) * C2) & M64
            a = x ^ (x >> 31)
            qty = a % 5 + 1
            unit = (a >> 8) % 50_000 + 99
            parts.append((qty, unit))
            total += qty * unit
        status = ("Open", "Open", "Closed", "Balanced")[(h >> 40) % 4]
        date, due, period = self._day(ts_ms - (h >> 20) % 5 * DAY_MS)
        vendor = self._code("Vendor", h >> 3, gen.vendor_id)
        ref = (h >> 7) % 90000 + 10000
        amount = str(total // 100) + CENTS[total % 100]
        out = [
            guid(gen._tag["Bill"], mix(salt + i), i),
            "Bill",
            gen.pad("Bill", i + 1),
            vendor,
            status,
            amount,
            "0.00" if status == "Closed" else amount,
            date,
            due,
            period,
            "Invoice INV-%d from %s" % (ref, vendor),
            "INV-%d" % ref,
            TRUE if status == "Balanced" and h % 3 == 0 else FALSE,
            FALSE if status == "Balanced" else TRUE,
            "0.00",
            stamp,
            '"A-%d"' % ((h >> 5) % 100),
            '"CC-%d00"' % ((h >> 11) % 5 + 1),
        ]
        salt2 = salt ^ 0x5BD1E995
        tag = gen._tag["Bill"] ^ 0x4000
        for j, (qty, unit) in enumerate(parts):  # Generator.lines_of and _line_Bill
            n = i * 1024 + j
            x = (salt2 + n + C0) & M64
            x = ((x ^ (x >> 30)) * C1) & M64
            x = ((x ^ (x >> 27)) * C2) & M64
            a = x ^ (x >> 31)
            item = ITEMS[a % len(ITEMS)]
            cents = qty * unit
            extended = str(cents // 100) + CENTS[cents % 100]
            out += (
                guid(tag, a, n),
                EXPENSE_ACCOUNTS[(a >> 4) % len(EXPENSE_ACCOUNTS)],
                "%d.00" % qty,
                str(unit // 100) + CENTS[unit % 100],
                extended,
                extended,
                item,
                item,
                '{"value":"%s"}' % self._code("StockItem", a >> 9, gen.inventory_id) if a % 3 == 0 else null,
                "EXEMPT",
                '"Phase %d"' % (a % 4 + 1),
            )
        return out

    def _code(self, entity: str, h: int, make) -> str:
        """make(Generator._ref(entity, h)), cached: referenced entities are usually small."""
        n = h % max(1, self.gen.sizes.get(entity, 1)) + 1
        key = (entity, n)
        code = self._codes.get(key)
        if code is None:
            if len(self._codes) > 100_000:
                self._codes.clear()
            code = self._codes[key] = make(n)
        return code
