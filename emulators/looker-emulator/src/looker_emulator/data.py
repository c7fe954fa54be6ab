"""Deterministic finance data behind the emulated explores: GL lines, vendors, overhead allocation.

Account, subaccount and branch values are the ones the Acumatica emulator generates for its sandbox
company (``acumatica_emulator.generator``: AccountCD ``10000 + 3000*i`` for its 30 accounts,
SubaccountCD ``000-000`` to ``000-009``, branch HEADOFFICE), so query results can be posted there as
journals without mapping.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from emulator_kit import seeded

from .config import EmulatorConfig
from .filters import last_day

CENT = Decimal("0.01")

#: Accounts of the Acumatica sandbox chart used here (all exist there).
AP_ACCOUNT = "22000"
DIRECT_EXPENSE_ACCOUNTS = ("52000", "55000", "58000", "61000", "64000")
#: Overhead allocation rules: code, name, pool account (credited), receiving account (debited).
ALLOCATION_RULES = (
    ("FAC", "Facilities", "67000", "82000"),
    ("IT", "IT services", "70000", "85000"),
    ("HR", "HR and administration", "73000", "88000"),
)
ACCOUNT_NAMES = {
    "22000": "Accounts payable",
    "52000": "Materials",
    "55000": "Subcontractors",
    "58000": "Travel",
    "61000": "Software subscriptions",
    "64000": "Professional fees",
    "67000": "Rent and facilities",
    "70000": "IT services",
    "73000": "HR and administration",
    "82000": "Allocated facilities",
    "85000": "Allocated IT services",
    "88000": "Allocated HR and administration",
}
#: The pool side of an allocation sits on the default subaccount, the receiving side on the cost
#: center's department subaccount (000-001 .. 000-009).
POOL_SUBACCOUNT = "000-000"
ADMIN_COST_CENTER = "ADMIN"
DEPARTMENTS = (
    "Sales",
    "Marketing",
    "Operations",
    "Engineering",
    "Finance",
    "Legal",
    "Support",
    "Logistics",
    "Procurement",
)
FIRST = seeded.FIRST[:10]
SECOND = seeded.SECOND[:8]
CITIES = tuple((city, state) for city, state, _ in seeded.CITIES[:5])
VENDOR_STATUSES = ("Active", "Active", "Active", "On Hold", "Inactive")


def _h(seed: int, *parts: object) -> int:
    text = ":".join(str(p) for p in (seed, *parts)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def fin_period(year: int, month: int) -> str:
    """Acumatica's financial period id, MMYYYY."""
    return f"{month:02d}{year:04d}"


@dataclass(frozen=True)
class Period:
    year: int
    month: int

    @property
    def month_text(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def end(self) -> date:
        return last_day(self.year, self.month)


class FinanceData:
    """The generated tables, as lists of raw rows (plain Python values, amounts as Decimal)."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.seed = config.seed
        self.branches = tuple(config.branches) or ("HEADOFFICE",)
        year, month = (int(p) for p in config.first_period.split("-"))
        self.periods = [
            Period(year + (month - 1 + k) // 12, (month - 1 + k) % 12 + 1)
            for k in range(max(1, config.size("periods")))
        ]
        self.rules = [self._rule(r) for r in range(max(1, config.size("allocation_rules")))]
        cost_centers = max(1, config.size("cost_centers"))
        wanted = config.sizes.get("overhead_allocation")
        if wanted:
            per_center = len(self.periods) * len(self.rules)
            cost_centers = max(cost_centers, -(-wanted // per_center) - 1)
        width = max(3, len(str(cost_centers)))
        self.cost_centers = [
            (
                f"CC{i + 1:0{width}d}",
                DEPARTMENTS[i % len(DEPARTMENTS)],
                f"000-{i % 9 + 1:03d}",
                self.branches[i % len(self.branches)],
            )
            for i in range(cost_centers)
        ]
        self.vendors = [
            self._vendor(i, config.size("vendors")) for i in range(max(1, config.size("vendors")))
        ]
        self.gl_lines = self._gl_lines(config.size("gl_lines"))
        self.overhead_allocation = self._allocation()

    def _rule(self, r: int) -> tuple[str, str, str, str]:
        code, name, pool, receiving = ALLOCATION_RULES[r % len(ALLOCATION_RULES)]
        if r >= len(ALLOCATION_RULES):
            code, name = f"{code}{r // len(ALLOCATION_RULES) + 1}", f"{name} {r // len(ALLOCATION_RULES) + 1}"
        return f"ALLOC-{code}", name, pool, receiving

    def _vendor(self, i: int, size: int) -> dict:
        h = _h(self.seed, "vendor", i)
        city, state = CITIES[(h >> 12) % len(CITIES)]
        status = VENDOR_STATUSES[(h >> 20) % len(VENDOR_STATUSES)]
        return {
            "vendor_id": f"V{i + 1:0{max(6, len(str(size + 1)))}d}",
            "vendor_name": f"{FIRST[h % len(FIRST)]} {SECOND[(h >> 8) % len(SECOND)]} {i + 1}",
            "status": status,
            "approved": status == "Active" and (h >> 28) % 4 != 0,
            "city": city,
            "state": state,
            "payment_terms": ("30D", "45D", "60D")[(h >> 32) % 3],
            "created_date": date(2024, 1, 1) + timedelta(days=(h >> 36) % 700),
        }

    def _gl_lines(self, size: int) -> list[dict]:
        # Batches of four lines: three expense debits and the AP credit that balances them.
        rows: list[dict] = []
        batch_nbr = 0
        while len(rows) < size:
            batch_nbr += 1
            h = _h(self.seed, "batch", batch_nbr)
            period = self.periods[h % len(self.periods)]
            posted = period.start + timedelta(days=(h >> 8) % period.end.day)
            vendor = self.vendors[(h >> 16) % len(self.vendors)]
            branch = self.branches[(h >> 24) % len(self.branches)]
            total = Decimal(0)
            for j in range(3):
                if len(rows) >= size - 1 and j > 0:
                    break
                hj = _h(self.seed, "line", batch_nbr, j)
                if hj % 4 == 0:
                    rule = self.rules[(hj >> 4) % len(self.rules)]
                    account, subaccount, cost_center = rule[2], POOL_SUBACCOUNT, ADMIN_COST_CENTER
                else:
                    account = DIRECT_EXPENSE_ACCOUNTS[(hj >> 4) % len(DIRECT_EXPENSE_ACCOUNTS)]
                    cc = self.cost_centers[(hj >> 12) % len(self.cost_centers)]
                    cost_center, subaccount = cc[0], cc[2]
                amount = Decimal((hj >> 20) % 900_000 + 1_000) * CENT
                total += amount
                rows.append(
                    self._line(
                        len(rows),
                        batch_nbr,
                        period,
                        posted,
                        account,
                        subaccount,
                        branch,
                        cost_center,
                        vendor,
                        amount,
                        Decimal(0),
                    )
                )
            rows.append(
                self._line(
                    len(rows),
                    batch_nbr,
                    period,
                    posted,
                    AP_ACCOUNT,
                    POOL_SUBACCOUNT,
                    branch,
                    ADMIN_COST_CENTER,
                    vendor,
                    Decimal(0),
                    total,
                )
            )
        return rows[:size] if size else []

    def _line(
        self, i, batch_nbr, period, posted, account, subaccount, branch, cost_center, vendor, debit, credit
    ) -> dict:
        return {
            "line_id": i + 1,
            "batch_nbr": f"GL{batch_nbr:07d}",
            "period": fin_period(period.year, period.month),
            "posted_date": posted,
            "account": account,
            "account_name": ACCOUNT_NAMES[account],
            "subaccount": subaccount,
            "branch": branch,
            "cost_center": cost_center,
            "description": f"{ACCOUNT_NAMES[account]} - {vendor['vendor_name']}",
            "debit_amount": debit,
            "credit_amount": credit,
            "vendor": vendor,
        }

    def _allocation(self) -> list[dict]:
        """Each period, each rule's pool (its account's GL debits, or a seeded amount when there are
        none) is credited back and debited to every cost center in proportion to its direct spend."""
        pools: dict[tuple[str, str], Decimal] = {}
        spend: dict[tuple[str, str], Decimal] = {}
        for line in self.gl_lines:
            net = line["debit_amount"] - line["credit_amount"]
            pools[(line["period"], line["account"])] = pools.get((line["period"], line["account"]), 0) + net
            if line["account"] in DIRECT_EXPENSE_ACCOUNTS:
                key = (line["period"], line["cost_center"])
                spend[key] = spend.get(key, 0) + net
        rows: list[dict] = []
        for period in self.periods:
            fp = fin_period(period.year, period.month)
            for allocation_id, name, pool_account, receiving in self.rules:
                pool = pools.get((fp, pool_account), Decimal(0))
                if pool <= 0:
                    pool = Decimal(_h(self.seed, "pool", fp, allocation_id) % 5_000_000 + 100_000) * CENT
                weights = [
                    spend.get((fp, cc[0]), Decimal(0))
                    + Decimal(_h(self.seed, "w", fp, allocation_id, cc[0]) % 10_000 + 100)
                    for cc in self.cost_centers
                ]
                total_weight = sum(weights)
                pool_cents = int(pool / CENT)
                shares = [pool_cents * int(w * 100) // int(total_weight * 100) for w in weights]
                shares[-1] += pool_cents - sum(shares)
                base = {
                    "allocation_id": allocation_id,
                    "rule_name": name,
                    "period": fp,
                    "period_month": period.month_text,
                    "posting_date": period.end,
                }
                rows.append(
                    {
                        **base,
                        "line_nbr": 1,
                        "account": pool_account,
                        "subaccount": POOL_SUBACCOUNT,
                        "branch": self.branches[0],
                        "cost_center": ADMIN_COST_CENTER,
                        "description": f"{name} allocation {period.month_text}: pool",
                        "amount": -pool_cents * CENT,
                    }
                )
                for n, (cc, share) in enumerate(zip(self.cost_centers, shares, strict=True)):
                    code, department, subaccount, branch = cc
                    rows.append(
                        {
                            **base,
                            "line_nbr": n + 2,
                            "account": receiving,
                            "subaccount": subaccount,
                            "branch": branch,
                            "cost_center": code,
                            "description": f"{name} allocation {period.month_text}: {department} {code}",
                            "amount": share * CENT,
                        }
                    )
        return rows
