"""The seeded data: deterministic, balanced, sized on demand, and on the Acumatica sandbox chart."""

from __future__ import annotations

import pytest
from acumatica_emulator import AcumaticaEmulator
from looker_emulator import EmulatorConfig, LookerEmulator

from tests.support.looker import ALLOCATION


def test_same_seed_same_rows_other_seed_other_rows():
    fields = ["gl_lines.line_id", "gl_lines.account", "gl_lines.debit"]
    first = LookerEmulator(EmulatorConfig(seed=7)).run("finance", "gl_lines", fields)
    assert first == LookerEmulator(EmulatorConfig(seed=7)).run("finance", "gl_lines", fields)
    assert first != LookerEmulator(EmulatorConfig(seed=8)).run("finance", "gl_lines", fields)


@pytest.mark.parametrize("wanted", [6000, 12000])
def test_allocation_size_is_configurable_and_still_balances(wanted):
    rows = LookerEmulator(EmulatorConfig(sizes={"overhead_allocation": wanted})).run(
        "finance", "overhead_allocation", ALLOCATION
    )
    assert len(rows) >= wanted
    totals: dict = {}
    for row in rows:
        key = (row["overhead_allocation.allocation_id"], row["overhead_allocation.period"])
        totals[key] = totals.get(key, 0) + row["overhead_allocation.allocated_amount"]
    assert set(totals.values()) == {0}


def test_every_account_subaccount_and_branch_exists_in_the_acumatica_sandbox(emulator):
    acumatica = AcumaticaEmulator().store
    accounts = {r["AccountCD"] for r in acumatica.records("Account", "24.200.001")}
    subaccounts = {r["SubaccountCD"] for r in acumatica.records("Subaccount", "24.200.001")}
    branches = {
        line["BranchID"]
        for ledger in acumatica.records("Ledger", "24.200.001")
        for line in ledger.get("Branches") or []
    } or {"HEADOFFICE"}
    for explore, view in (("overhead_allocation", "overhead_allocation"), ("gl_lines", "gl_lines")):
        fields = [f"{view}.account", f"{view}.subaccount", f"{view}.branch"]
        rows = emulator.run("finance", explore, fields)
        assert {r[fields[0]] for r in rows} <= accounts
        assert {r[fields[1]] for r in rows} <= subaccounts
        assert {r[fields[2]] for r in rows} <= branches
