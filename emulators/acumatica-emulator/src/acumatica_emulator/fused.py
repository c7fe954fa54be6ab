"""Fused generate-and-format rules: base record ``i`` straight to wrapped JSON fragments.

The generator's dict rules (``Generator._Bill`` ...) stay the definition of the data; a function
here re-states one entity's rules so that a list page skips building Decimals and dicts and
formats each value once. It must agree with the dict rules exactly: tests render pages both ways
and compare the bytes. Entities without a fused rule use the compiled template writer.

A fused rule returns ``(fields, custom, lines)``: ``fields`` maps every variable field to its
wrapped JSON (``{"value":...}``), ``custom`` maps (view, field) to scalar JSON, and ``lines`` is a
list of such (fields, custom) pairs for the detail lines.
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
    """generator._guid, with %-formatting (faster than the f-string, same text)."""
    return "%08x-%04x-4%03x-%04x-%012x" % (a >> 32, (a >> 16) & 0xFFFF, (a >> 4) & 0xFFF, tag, b)


#: Typed fields of light records, per entity with a fused rule (keys and timestamp fields).
LIGHT_FIELDS = {"Bill": frozenset({"Type", "ReferenceNbr", "LastModifiedDateTime"})}


class FusedRules:
    """Fused rules of one generator; ``rule(entity)`` is None for entities without one."""

    def __init__(self, gen: Generator) -> None:
        self.gen = gen
        self._days: dict[int, tuple[str, str, str]] = {}

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
        stamp = gen.clock.format_ms(gen.ts_ms(entity, i))
        if entity == "Bill":
            return {"_i": i, "Type": "Bill", "ReferenceNbr": gen.pad("Bill", i + 1),
                    "LastModifiedDateTime": stamp}
        raise KeyError(entity)

    def _day(self, doc_ms: int) -> tuple[str, str, str]:
        """(Date, DueDate = Date + 30 days, PostPeriod) wrapped, cached per local day."""
        clock = self.gen.clock
        offset = int(clock.tz.utcoffset(None).total_seconds() * 1000)
        day = (doc_ms + offset) // DAY_MS
        out = self._days.get(day)
        if out is None:
            date = clock.format_day(doc_ms)
            due = clock.format_day(day * DAY_MS - offset + 30 * DAY_MS)
            period = date[5:7] + date[0:4]
            out = ('{"value":"%s"}' % date, '{"value":"%s"}' % due, '{"value":"%s"}' % period)
            self._days[day] = out
        return out

    def _Bill(self, i: int, null: str):
        gen = self.gen
        salt = gen._salt["Bill"]
        h = mix(salt ^ (i * 0x2545F4914F6CDD1D & M64))
        ts_ms = gen.ts_ms("Bill", i)
        parts = []
        total = 0
        for j in range(gen.lines):  # Generator._amount_lines
            a = mix(h + j)
            qty = a % 5 + 1
            unit = (a >> 8) % 50_000 + 99
            parts.append((qty, unit))
            total += qty * unit
        status = ("Open", "Open", "Closed", "Balanced")[(h >> 40) % 4]
        date, due, period = self._day(ts_ms - (h >> 20) % 5 * DAY_MS)
        vendor = gen.vendor_id(gen._ref("Vendor", h >> 3))
        ref = (h >> 7) % 90000 + 10000
        amount = '{"value":%s}' % money_json(total)
        fields = {
            "id": None, "Type": '{"value":"Bill"}',
            "ReferenceNbr": '{"value":"%s"}' % gen.pad("Bill", i + 1),
            "Vendor": '{"value":"%s"}' % vendor, "Status": '{"value":"%s"}' % status,
            "Amount": amount, "Balance": '{"value":0.00}' if status == "Closed" else amount,
            "Date": date, "DueDate": due, "PostPeriod": period,
            "Description": '{"value":"Invoice INV-%d from %s"}' % (ref, vendor),
            "VendorRef": '{"value":"INV-%d"}' % ref,
            "Hold": '{"value":true}' if status == "Balanced" and h % 3 == 0 else '{"value":false}',
            "ApprovedForPayment": '{"value":false}' if status == "Balanced" else '{"value":true}',
            "TaxTotal": '{"value":0.00}',
            "LastModifiedDateTime": '{"value":"%s"}' % gen.clock.format_ms(ts_ms),
        }
        fields["id"] = guid(gen._tag["Bill"], mix(salt + i), i)
        custom = {("Document", "UsrApprovalCode"): '"A-%d"' % ((h >> 5) % 100),
                  ("Document", "UsrCostCenter"): '"CC-%d00"' % ((h >> 11) % 5 + 1)}
        lines = []
        salt2 = salt ^ 0x5BD1E995
        tag = gen._tag["Bill"] ^ 0x4000
        stock = max(1, gen.sizes.get("StockItem", 1))
        for j, (qty, unit) in enumerate(parts):  # Generator.lines_of and _line_Bill
            n = i * 1024 + j
            a = mix(salt2 + n)
            item = '{"value":"%s"}' % ITEMS[a % len(ITEMS)]
            extended = '{"value":%s}' % money_json(qty * unit)
            lines.append(({
                "id": guid(tag, a, n),
                "Account": '{"value":"%s"}' % EXPENSE_ACCOUNTS[(a >> 4) % len(EXPENSE_ACCOUNTS)],
                "Qty": '{"value":%d.00}' % qty, "UnitCost": '{"value":%s}' % money_json(unit),
                "Amount": extended, "ExtendedCost": extended,
                "TransactionDescription": item, "Description": item,
                "InventoryID": ('{"value":"%s"}' % gen.inventory_id((a >> 9) % stock + 1)
                                if a % 3 == 0 else null),
                "TaxCategory": '{"value":"EXEMPT"}',
            }, {("Transactions", "UsrProjectPhase"): '"Phase %d"' % (a % 4 + 1)}))
        return fields, custom, lines
