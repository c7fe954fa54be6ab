"""Mutation API, records() and the lazy base sequence at a million Bills."""

from __future__ import annotations

from decimal import Decimal

import pytest
from acumatica_emulator import AcumaticaEmulator, EmulatorConfig, RecordNotFound

V24 = "24.200.001"


def _all(emu, session, entity="Bill", **params):
    return session.get(f"{emu.base_url}/entity/Default/{V24}/{entity}", params=params).json()


def test_records_are_unwrapped_in_key_order(fresh):
    rows = fresh.store.records("Bill", V24)
    assert len(rows) == 120
    assert [r["ReferenceNbr"] for r in rows[:3]] == ["000001", "000002", "000003"]
    first = rows[0]
    assert isinstance(first["Amount"], Decimal) and first["Amount"] == sum(
        d["Amount"] for d in first["Details"]
    )
    assert isinstance(first["Hold"], bool) and first["LastModifiedDateTime"].endswith("-05:00")
    assert first["custom"] == {}
    with_custom = fresh.store.records("Bill", V24, custom=["Document.UsrApprovalCode"])[0]
    assert with_custom["custom"]["Document"]["UsrApprovalCode"].startswith("A-")
    assert "LastModifiedDateTime" not in fresh.store.records("SalesInvoice", "22.200.001", expand=())[0]


def test_insert_modify_delete_are_visible(fresh, signed_in):
    s = signed_in(fresh)
    stamps_before = max(r["LastModifiedDateTime"] for r in fresh.store.records("Bill", V24, expand=()))
    made = fresh.store.insert(
        "Bill",
        {
            "Vendor": "V000002",
            "Amount": Decimal("10.50"),
            "Details": [{"Amount": "10.50", "Account": "60000"}],
        },
    )
    assert made["ReferenceNbr"] == "000121" and made["Type"] == "Bill"
    row = s.get(
        f"{fresh.base_url}/entity/Default/{V24}/Bill/Bill/000121", params={"$expand": "Details"}
    ).json()
    assert row["Amount"]["value"] == 10.5 and row["Details"][0]["Account"]["value"] == "60000"

    changed = fresh.store.modify("Bill", ("Bill", "000005"), {"Description": "changed"})
    assert changed["LastModifiedDateTime"] > stamps_before
    assert changed["LastModifiedDateTime"] > made["LastModifiedDateTime"]
    ordered = _all(fresh, s, **{"$orderby": "LastModifiedDateTime,Type,ReferenceNbr"})
    assert [r["ReferenceNbr"]["value"] for r in ordered[-2:]] == ["000121", "000005"]
    assert len(ordered) == 121
    keyed = _all(fresh, s)
    assert [r["ReferenceNbr"]["value"] for r in keyed[3:6]] == ["000004", "000005", "000006"]
    assert keyed[4]["Description"]["value"] == "changed"

    fresh.store.delete("Bill", changed["id"])
    assert len(_all(fresh, s)) == 120
    with pytest.raises(RecordNotFound):
        fresh.store.find("Bill", ("Bill", "000005"))
    with pytest.raises(ValueError):
        fresh.store.insert("Bill", {"ReferenceNbr": "000001"})


def test_request_hook_can_change_data_between_pages(fresh, signed_in):
    s = signed_in(fresh)
    seen = []

    def hook(info):
        seen.append((info.entity, info.params.get("$skip"), info.number))
        if info.params.get("$skip") == "10":
            fresh.store.modify("Vendor", ("V000001",), {"VendorName": "Between pages"})

    remove = fresh.on_request(hook)
    _all(fresh, s, "Vendor", **{"$top": 10})
    second = _all(fresh, s, "Vendor", **{"$top": 10, "$skip": 10})
    remove()
    _all(fresh, s, "Vendor", **{"$top": 1})
    assert [e for e, _, _ in seen] == ["Vendor", "Vendor"]
    assert len(second) == 10
    assert fresh.store.find("Vendor", ("V000001",))["VendorName"] == "Between pages"


def test_stats_count_requests(fresh, signed_in):
    s = signed_in(fresh)
    fresh.stats.reset()
    _all(fresh, s, "Vendor", **{"$top": 2})
    assert fresh.stats.requests[("GET", "entity_list")] == 1
    assert fresh.stats.statuses[200] == 1


def test_million_bills_deep_keyset_page(signed_in):
    config = EmulatorConfig(sizes={"Bill": 1_000_000})
    with AcumaticaEmulator(config) as emu:
        s = signed_in(emu)
        # The record at index 876,543 and its successors, found by a keyset filter.
        target = emu.store.gen.header("Bill", 876_543)
        t, ref = target["LastModifiedDateTime"], target["ReferenceNbr"]
        keyset = (
            f"LastModifiedDateTime gt datetimeoffset'{t}' or (LastModifiedDateTime eq "
            f"datetimeoffset'{t}' and (Type gt 'Bill' or (Type eq 'Bill' and ReferenceNbr gt '{ref}')))"
        )
        page = _all(
            emu,
            s,
            **{
                "$filter": keyset,
                "$top": 100,
                "$expand": "Details",
                "$orderby": "LastModifiedDateTime,Type,ReferenceNbr",
            },
        )
        assert [r["ReferenceNbr"]["value"] for r in page] == [f"{n:07d}" for n in range(876_545, 876_645)]
        stamps = [r["LastModifiedDateTime"]["value"] for r in page]
        assert stamps == sorted(stamps)
        last = _all(emu, s, **{"$top": 1, "$skip": 999_999, "$select": "ReferenceNbr"})
        assert last[0]["ReferenceNbr"]["value"] == "1000000"
        by_key = s.get(f"{emu.base_url}/entity/Default/{V24}/Bill/Bill/0500000").json()
        assert by_key["ReferenceNbr"]["value"] == "0500000"


@pytest.mark.parametrize("empty_nulls", [False, True])
def test_template_renderer_matches_general_renderer(fresh, empty_nulls):
    from acumatica_emulator import KEY_FIELDS
    from acumatica_emulator.render import ENCODER, PagePlan

    fresh.store.modify("Bill", ("Bill", "000003"), {"Description": 'quote " and back\\slash'})
    plan = PagePlan(
        fresh.store,
        "Bill",
        V24,
        None,
        "Details",
        "Document.UsrApprovalCode,Details/Transactions.UsrProjectPhase",
        "/AcumaticaERP",
        empty_nulls,
    )
    rows = fresh.store.query("Bill", lambda r: True, [(k, False) for k in KEY_FIELDS["Bill"]], 0, None)
    general = ENCODER.encode([plan.record(r, n) for n, r in enumerate(rows, 1)])
    assert plan.render(rows) == general
