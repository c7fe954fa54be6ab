"""Round trips through target-acumatica into the Acumatica emulator: hostile strings and exact amounts
posted as journal lines, hostile strings written as reference records (vendors).

The property is per journal (and per record), as the target documents it: each one lands exactly, or
it is refused naming the journal and the value, with nothing of it posted, while the others land; a
run with a refused journal exits non-zero and emits no STATE. Amounts must land when they have at most
two decimal places and 13 integer digits (Acumatica keeps decimal(19,4), rounded to the currency's two
places; the emulator reads JSON numbers as doubles, so 15 significant digits is what it holds exactly);
more places, or amounts and totals beyond decimal(19,4), may be refused.
"""

from __future__ import annotations

import itertools
from decimal import Decimal

from acumatica_emulator.store import RecordNotFound
from hypothesis import example, given
from hypothesis import strategies as st

from tests.support.acumatica_target import EXPENSE, MAPPING, SCHEMA, STREAM, run_target, target_config
from tests.support.roundtrip import ENCODER, _mentions, decimal_values, loads, text_values

_prefixes = itertools.count(1)
LIMIT = Decimal(10) ** 15  # decimal(19,4): 15 integer digits
STATE = {"bookmarks": {STREAM: {"property_suite": True}}}

amounts = st.one_of(
    decimal_values(max_digits=15, max_scale=2),
    st.sampled_from([Decimal("0.01"), Decimal("9999999999999.99"), Decimal("-0.01"), Decimal("1.10")]),
)
#: Amounts that Acumatica cannot hold as sent: too many places, or beyond decimal(19,4).
unfit_amounts = st.sampled_from(
    [Decimal("1E30"), Decimal("0.001"), Decimal("1000000000000000"), Decimal("12.345"), Decimal("-1E16")]
)


def allocation_row(allocation: str, number: int, account: str, description: str, amount: Decimal) -> dict:
    return {
        "allocation_id": allocation,
        "line": number,
        "period": "2024-03",
        "account": account,
        "subaccount": "000000",
        "branch": "HEADOFFICE",
        "cost_center": None,
        "description": description,
        "allocated_amount": amount,
    }


def balanced(allocation: str, account: str, amount: Decimal) -> list[dict]:
    """Issue 12's journal of two lines, the debit ``amount`` and its credit to the pool 67000."""
    return [
        allocation_row(allocation, 1, account, "debit", amount),
        allocation_row(allocation, 2, "67000", "credit", -amount),
    ]


@st.composite
def journals(draw) -> list[list[dict]]:
    """2-6 journals of 2-40 debit lines and one balancing credit each (50-200 rows in all, about); now and
    then one line with an amount Acumatica cannot hold. Every line has a hostile description."""
    out = []
    names = draw(
        st.lists(
            text_values.filter(lambda t: 0 < len(t.strip()) <= 40),
            min_size=2,
            max_size=6,
            unique_by=lambda t: t.strip(),
        )
    )
    for j, allocation in enumerate(names):
        count = draw(st.integers(2, 40))
        values = draw(st.lists(amounts, min_size=count, max_size=count))
        if draw(st.integers(0, 4)) == 0:
            values[draw(st.integers(0, count - 1))] = draw(unfit_amounts)
        rows = [
            allocation_row(allocation, n + 1, EXPENSE[(j + n) % len(EXPENSE)], draw(text_values), value)
            for n, value in enumerate(values)
        ]
        rows.append(
            allocation_row(allocation, count + 1, "67000", draw(text_values), -sum(values, Decimal(0)))
        )
        out.append(rows)
    return out


def fits(rows: list[dict]) -> bool:
    amounts = [r["allocated_amount"] for r in rows]
    debit = sum((a for a in amounts if a > 0), Decimal(0))
    return all(-a.normalize().as_tuple().exponent <= 2 and abs(a) < Decimal(10) ** 13 for a in amounts) and (
        debit < LIMIT
    )


def line(row: dict) -> tuple:
    """A line as Acumatica keeps it: text trimmed, empty text sent as no value (target_acumatica.mapping)."""
    amount = row["allocated_amount"]
    return (
        row["account"],
        amount if amount > 0 else Decimal(0),
        -amount if amount < 0 else Decimal(0),
        row["description"].strip(),
    )


def posted_line(detail: dict) -> tuple:
    return (
        detail["Account"],
        Decimal(str(detail["DebitAmount"] or 0)),
        Decimal(str(detail["CreditAmount"] or 0)),
        detail.get("TransactionDescription") or "",
    )


@loads(examples=5)
@given(groups=journals())
@example(groups=[balanced("FAC", "60000", Decimal("1E30")), balanced("ADM", "61000", Decimal("200.00"))])
def test_journal_lines_land_exactly_or_the_journal_is_refused_by_name(acumatica, tmp_path_factory, groups):
    prefix = f"PROP{next(_prefixes)}"
    config = target_config(
        acumatica,
        tmp_path_factory.mktemp("audit"),
        journals={
            STREAM: {
                **MAPPING,
                "group_by": ["allocation_id"],
                "key_prefix": prefix,
                "description": {"template": "Property {allocation_id}"},
            }
        },
    )
    messages = [SCHEMA] + [{"type": "RECORD", "stream": STREAM, "record": r} for g in groups for r in g]
    messages.append({"type": "STATE", "value": STATE})
    run = run_target(
        config, b"".join(ENCODER.encode(m) + b"\n" for m in messages).decode(), tmp_path_factory.getbasetemp()
    )
    posted = [
        sorted(posted_line(d) for d in acumatica.store.lines("JournalTransaction", rec))
        for rec in acumatica.store.records("JournalTransaction", "24.200.001")
        if (rec.get("Description") or "").startswith(prefix + ":")
    ]
    missing = []
    for rows in groups:
        want = sorted(line(r) for r in rows)
        if want in posted:
            posted.remove(want)
            continue
        name = rows[0]["allocation_id"]
        unfit = [r["allocated_amount"] for r in rows if not fits([r])] or [
            sum((r["allocated_amount"] for r in rows if r["allocated_amount"] > 0), Decimal(0))
        ]
        assert not fits(rows), (
            f"journal {name!r} fits Acumatica's amounts but did not land exactly: exit {run.returncode}, "
            f"log tail: {run.stderr.strip().splitlines()[-3:]}"
        )
        assert _mentions(run.stderr, name, tail=None), (
            f"journal {name!r} refused without naming it: {run.stderr[-800:]}"
        )
        assert any(
            _mentions(run.stderr, str(a), tail=None) or _mentions(run.stderr, f"{a:f}", tail=None)
            for a in unfit
        ), (
            f"journal {name!r} refused without naming its amount {unfit}: "
            f"{run.stderr.strip().splitlines()[-3:]}"
        )
        missing.append(name)
    assert not posted, f"journals posted that were not sent as such: {posted[:3]}"
    if missing:
        assert run.returncode != 0 and run.states == [], f"journals {missing} refused, yet exit 0 / STATE"
    else:
        assert run.returncode == 0 and run.states == [STATE], run.stderr[-2000:]


VENDOR_SCHEMA = {
    "type": "SCHEMA",
    "stream": "approved_vendors",
    "key_properties": ["vendor_id"],
    "schema": {
        "type": "object",
        "properties": {"vendor_id": {"type": "string"}, "vendor_name": {"type": "string"}},
    },
}


@loads(examples=3)
@given(names=st.lists(text_values, min_size=50, max_size=120))
def test_vendor_names_of_every_plane_land_exactly_or_are_refused_by_name(acumatica, tmp_path_factory, names):
    batch = next(_prefixes)
    rows = [{"vendor_id": f"PV{batch:04d}{i:04d}", "vendor_name": name} for i, name in enumerate(names)]
    config = target_config(
        acumatica,
        tmp_path_factory.mktemp("audit"),
        journals={},
        reference_records={
            "approved_vendors": {
                "entity": "Vendor",
                "key": ["VendorID"],
                "fields": {"VendorID": "vendor_id", "VendorName": "vendor_name"},
            }
        },
    )
    messages = [VENDOR_SCHEMA] + [{"type": "RECORD", "stream": "approved_vendors", "record": r} for r in rows]
    messages.append({"type": "STATE", "value": STATE})
    run = run_target(
        config, b"".join(ENCODER.encode(m) + b"\n" for m in messages).decode(), tmp_path_factory.getbasetemp()
    )
    refused = []
    for row in rows:
        trimmed = row["vendor_name"].strip()  # the target trims text (target_acumatica.mapping.text)
        try:
            landed = acumatica.store.find("Vendor", (row["vendor_id"],))["VendorName"]
        except RecordNotFound:
            assert not trimmed, f"vendor {row['vendor_id']} ({row['vendor_name']!r}) was not written"
            assert _mentions(run.stderr, row["vendor_id"], tail=None) and "VendorName" in run.stderr, (
                f"vendor {row['vendor_id']} ({row['vendor_name']!r}) not written and not named: "
                f"{run.stderr[-800:]}"
            )
            refused.append(row["vendor_id"])
            continue
        assert landed == trimmed, f"vendor {row['vendor_id']}: sent {row['vendor_name']!r}, landed {landed!r}"
    if refused:
        assert run.returncode != 0 and run.states == [], f"vendors {refused} refused, yet exit 0 or STATE"
    else:
        assert run.returncode == 0 and run.states == [STATE], run.stderr[-2000:]
