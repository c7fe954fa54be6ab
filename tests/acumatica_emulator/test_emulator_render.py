"""The fast list-page paths (compiled writers, fused Bill rule, light keyset scan) must produce the
same bytes as the general msgspec renderer, for every query shape and with overlay changes."""

from __future__ import annotations

import itertools

import pytest
from acumatica_client import catalog
from acumatica_emulator import KEY_FIELDS, AcumaticaEmulator, EmulatorConfig
from acumatica_emulator.odata import FilterCompiler, parse_filter
from acumatica_emulator.render import ENCODER, PagePlan

ORDER = [("LastModifiedDateTime", False), ("Type", False), ("ReferenceNbr", False)]
SELECTS = [
    None,
    "ReferenceNbr,Amount,Hold,Details/Amount,Details/InventoryID",
    "Type,ReferenceNbr,LastModifiedDateTime",
]
EXPANDS = [None, "Details", "Details,Applications"]
CUSTOMS = [
    None,
    "Document.UsrApprovalCode,Details/Transactions.UsrProjectPhase",
    "Document.UsrCostCenter,Document.UsrApprovalCode",
]


@pytest.fixture(scope="module")
def changed():
    """An emulator whose Bills have modified, inserted and deleted records in the overlay."""
    with AcumaticaEmulator(EmulatorConfig(sizes={"Bill": 120})) as emu:
        store = emu.store
        store.modify("Bill", ("Bill", "000003"), {"Description": 'quote " and back\\slash'})
        store.modify("Bill", ("Bill", "000100"), {"InventoryID": None, "Hold": True})
        store.insert(
            "Bill",
            {"Vendor": "V000002", "Amount": "10.50", "Details": [{"Amount": "10.50", "Account": "60000"}]},
        )
        store.delete("Bill", ("Bill", "000007"))
        yield emu


@pytest.fixture(scope="module")
def idle():
    """An emulator that is never started: its store and generator are all these tests need."""
    return AcumaticaEmulator(EmulatorConfig())


def _general(plan: PagePlan, rows: list[dict]) -> bytes:
    return ENCODER.encode([plan.record(r, n) for n, r in enumerate(rows, 1)])


@pytest.mark.parametrize("version", ["20.200.001", "22.200.001", "24.200.001"])
@pytest.mark.parametrize("empty_nulls", [False, True])
def test_fused_bill_writer_matches_general(changed, version, empty_nulls):
    store = changed.store
    for select, expand, custom in itertools.product(SELECTS, EXPANDS, CUSTOMS):
        plan = PagePlan(store, "Bill", version, select, expand, custom, "/AcumaticaERP", empty_nulls)
        full = store.query("Bill", lambda r: True, ORDER, 0, None)
        light = store.query("Bill", lambda r: True, ORDER, 0, None, lazy=plan.fused)
        assert [r.get("id") for r in full if "_i" not in r] == [
            r.get("id") for r in light if "_i" not in r
        ]  # the same overlay records
        expected = _general(plan, full)
        assert plan.render(full) == expected, (select, expand, custom)
        assert plan.render(light) == expected, (select, expand, custom)
        assert plan.fused  # the fused Bill rule serves every one of these shapes


@pytest.mark.parametrize(
    "entity",
    [
        "Vendor",
        "PurchaseOrder",
        "Check",
        "JournalTransaction",
        "SalesInvoice",
        "Customer",
        "StockItem",
        "Account",
    ],
)
@pytest.mark.parametrize("empty_nulls", [False, True])
def test_compiled_writer_matches_general(idle, entity, empty_nulls):
    spec_custom = {
        "Vendor": "BAccount.UsrRiskRating",
        "PurchaseOrder": "Document.UsrBuyerCode",
        "Customer": "BAccount.UsrSegment",
        "StockItem": "Item.UsrRepairItemType",
    }
    fields = catalog.fields("24.200.001", entity)
    expand = ",".join(f for f, t in fields.items() if catalog.is_detail(t)) or None
    key = KEY_FIELDS[entity]
    first = idle.store.query(entity, lambda r: True, [(k, False) for k in key], 0, 1)[0]
    idle.store.modify(entity, first["id"], {})
    for custom in (None, spec_custom.get(entity)):
        plan = PagePlan(idle.store, entity, "24.200.001", None, expand, custom, "/AcumaticaERP", empty_nulls)
        rows = idle.store.query(entity, lambda r: True, [(k, False) for k in key], 0, None)
        assert plan.render(rows) == _general(plan, rows)


def _expected_page(emu, params: dict) -> bytes:
    """What the general path answers for a list GET of Bills (no fast path involved)."""
    store = emu.store
    fields = catalog.fields("24.200.001", "Bill")
    predicate = FilterCompiler(fields, {}, store.to_ms).compile(parse_filter(params["$filter"]))
    rows = store.query("Bill", predicate, ORDER, 0, int(params["$top"]))
    plan = PagePlan(
        store,
        "Bill",
        "24.200.001",
        params.get("$select"),
        params.get("$expand"),
        params.get("$custom"),
        "/AcumaticaERP",
        emu.knobs.null_as_empty_object,
    )
    return _general(plan, rows)


@pytest.mark.parametrize("empty_nulls", [False, True])
def test_keyset_pages_over_http_match_general(changed, signed_in, empty_nulls):
    changed.knobs.null_as_empty_object = empty_nulls
    session = signed_in(changed)
    url = f"{changed.base_url}/entity/Default/24.200.001/Bill"
    last = ("2024-01-01T00:00:00.000-05:00", "Bill", "000000")
    pages = 0
    try:
        while True:
            t, typ, ref = last
            params = {
                "$expand": "Details",
                "$top": "25",
                "$orderby": "LastModifiedDateTime,Type,ReferenceNbr",
                "$custom": "Document.UsrApprovalCode,Details/Transactions.UsrProjectPhase",
                "$filter": (
                    f"LastModifiedDateTime gt datetimeoffset'{t}' or (LastModifiedDateTime"
                    f" eq datetimeoffset'{t}' and (Type gt '{typ}' or (Type eq '{typ}' and"
                    f" ReferenceNbr gt '{ref}')))"
                ),
            }
            response = session.get(url, params=params)
            assert response.status_code == 200, response.text
            assert response.content == _expected_page(changed, params)
            page = response.json()
            pages += 1
            if len(page) < 25:
                break
            tail = page[-1]
            last = (
                tail["LastModifiedDateTime"]["value"],
                tail["Type"]["value"],
                tail["ReferenceNbr"]["value"],
            )
        assert pages == 5  # 120 - 1 deleted + 1 inserted = 120 records
        # A filter on a field light records lack takes the full path and still matches.
        params = {
            "$top": "500",
            "$expand": "Details",
            "$filter": "Status eq 'Open'",
            "$orderby": "LastModifiedDateTime,Type,ReferenceNbr",
        }
        response = session.get(url, params=params)
        assert response.content == _expected_page(changed, params)
    finally:
        changed.knobs.null_as_empty_object = False


# ---- bulk (numpy) writer and the keyset scan that skips the filter --------------------------


@pytest.mark.parametrize(
    "tz,lines,group,sizes",
    [
        ("-05:00", 3, 4, {"Bill": 1500}),
        ("+05:30", 1, 1, {"Bill": 700, "Vendor": 1, "StockItem": 0}),
        ("+00:00", 5, 7, {"Bill": 1200, "Vendor": 123456, "StockItem": 3000}),
    ],
)
def test_bulk_writer_matches_per_record(tz, lines, group, sizes):
    emu = AcumaticaEmulator(
        EmulatorConfig(sizes=sizes, timezone_offset=tz, lines_per_document=lines, same_timestamp_group=group)
    )
    store = emu.store
    store.delete("Bill", ("Bill", "000010"))
    rows = store.query("Bill", lambda r: True, ORDER, 0, None, lazy=True)
    sparse = rows[::7] + rows[-3:]  # not contiguous; high indices last
    for version, empty_nulls in (("24.200.001", False), ("20.200.001", True)):
        for select, expand, custom in itertools.product(SELECTS, EXPANDS, CUSTOMS):
            plan = PagePlan(store, "Bill", version, select, expand, custom, "/AcumaticaERP", empty_nulls)
            for page in (rows, sparse):
                one_by_one = plan.render(page, bulk_min=10**9)
                assert plan.render(page, bulk_min=1) == one_by_one, (select, expand, custom)
        full = store.query("Bill", lambda r: True, ORDER, 0, 40)
        assert plan.render(rows[:40], bulk_min=1) == _general(plan, full)


def test_bulk_writer_mixed_with_overlay(changed):
    store = changed.store
    rows = store.query("Bill", lambda r: True, ORDER, 0, None, lazy=True)
    full = store.query("Bill", lambda r: True, ORDER, 0, None)
    assert any("_i" not in r for r in rows)
    plan = PagePlan(store, "Bill", "24.200.001", None, "Details", CUSTOMS[1], "/AcumaticaERP", False)
    assert plan.render(rows, bulk_min=1) == _general(plan, full)


def _keyset(t: str, typ: str, ref: str) -> str:
    return (
        f"LastModifiedDateTime gt datetimeoffset'{t}' or (LastModifiedDateTime eq "
        f"datetimeoffset'{t}' and (Type gt '{typ}' or (Type eq '{typ}' and ReferenceNbr gt '{ref}')))"
    )


def test_timestamp_accept():
    from acumatica_emulator.odata import timestamp_accept

    to_ms = AcumaticaEmulator(EmulatorConfig()).store.to_ms
    t = "2024-02-01T10:00:00.000-05:00"
    ms = to_ms(t)
    names = {"LastModifiedDateTime"}

    def accept(text):
        return timestamp_accept(parse_filter(text), names, to_ms)

    u = "2024-03-01T10:00:00.000-05:00"
    upper = to_ms(u)
    window = f"LastModifiedDateTime ge datetimeoffset'{t}' and LastModifiedDateTime le datetimeoffset'{u}'"
    assert accept(_keyset(t, "Bill", "000004")) == (ms + 1, None)
    assert accept(f"LastModifiedDateTime ge datetimeoffset'{t}'") == (ms, None)
    assert accept(f"datetimeoffset'{t}' lt LastModifiedDateTime") == (ms + 1, None)
    # A read's window: its last millisecond is still evaluated (``le`` and ``lt`` alike).
    assert accept(f"LastModifiedDateTime le datetimeoffset'{u}'") == (None, upper)
    assert accept(f"{window} and ({_keyset(t, 'Bill', '000004')})") == (ms + 1, upper)
    assert accept(f"({_keyset(t, 'Bill', '000004')}) and LastModifiedDateTime lt datetimeoffset'{u}'") == (
        ms + 1,
        upper,
    )
    assert accept(f"LastModifiedDateTime gt datetimeoffset'{t}' and Type eq 'Bill'") is None
    assert (
        accept(f"LastModifiedDateTime gt datetimeoffset'{t}' and LastModifiedDateTime lt datetimeoffset'{t}'")
        is None
    )
    assert accept(f"not (LastModifiedDateTime le datetimeoffset'{t}')") is None
    assert accept(f"LastModifiedDateTime eq datetimeoffset'{t}'") is None
    assert accept(f"CreatedDateTime gt datetimeoffset'{t}'") is None
    assert accept(f"LastModifiedDateTime gt datetimeoffset'{t}' or Type eq 'Bill'") == (ms + 1, None)
    # Either side of an "or" holds on its own interval; overlapping ones make one.
    assert accept(
        f"LastModifiedDateTime le datetimeoffset'{t}' or LastModifiedDateTime ge datetimeoffset'{u}'"
    ) == (None, ms)
    assert accept(
        f"LastModifiedDateTime le datetimeoffset'{u}' or LastModifiedDateTime ge datetimeoffset'{t}'"
    ) == (None, None)


@pytest.mark.parametrize("deleted", [False, True])
def test_keyset_scan_skipping_the_filter_matches(deleted):
    """query(accept_ms=...) gives the records and bytes of a full predicate scan."""
    from acumatica_emulator.odata import timestamp_accept, timestamp_range

    emu = AcumaticaEmulator(EmulatorConfig(sizes={"Bill": 600}))
    store = emu.store
    if deleted:
        for ref in ("000005", "000006", "000007", "000008", "000200"):
            store.delete("Bill", ("Bill", ref))
    fields = catalog.fields("24.200.001", "Bill")
    plan = PagePlan(store, "Bill", "24.200.001", None, "Details", None, "/AcumaticaERP", False)
    everything = store.query("Bill", lambda r: True, ORDER, 0, None)
    cursors = [everything[k] for k in (0, 1, 2, 3, 4, 150, 151, 401, len(everything) - 2)]
    # Windows as tap-acumatica reads them (its lower bound, the server's time at the start of the run
    # as its upper one), ending at a record's own millisecond, inside a tie group, or past the end.
    lower = f" and LastModifiedDateTime ge datetimeoffset'{everything[0]['LastModifiedDateTime']}'"
    windows = ["", lower] + [
        f"{lower} and LastModifiedDateTime {op} datetimeoffset'{everything[k]['LastModifiedDateTime']}'"
        for k in (3, 152, 300, len(everything) - 1)
        for op in ("le", "lt")
    ]
    for cursor in cursors:
        for window in windows:
            keyset = _keyset(cursor["LastModifiedDateTime"], "Bill", cursor["ReferenceNbr"])
            tree = parse_filter(f"({keyset}){window}")
            predicate = FilterCompiler(fields, {}, store.to_ms).compile(tree)
            low, high = timestamp_range(tree, {"LastModifiedDateTime"}, store.to_ms)
            accept = timestamp_accept(tree, {"LastModifiedDateTime"}, store.to_ms)
            for skip, top in ((0, 100), (3, 50), (0, 1000)):
                full = store.query("Bill", predicate, ORDER, skip, top, low, high)
                if accept is None:  # the window ends inside the tie group: nothing to skip
                    continue
                fast = store.query("Bill", predicate, ORDER, skip, top, low, high, lazy=True, accept=accept)
                assert [r["_i"] for r in fast] == [r["_i"] for r in full], (keyset, window, skip, top)
                assert plan.render(fast) == _general(plan, full)


@pytest.mark.parametrize("lazy", [False, True])
def test_a_descending_page_is_the_head_of_the_whole_sorted_set(lazy):
    """query() in descending index order reads from the end: the same records, in the same order, as
    sorting every matching record (ties included, deleted and changed records too)."""
    emu = AcumaticaEmulator(EmulatorConfig(sizes={"Bill": 400}))
    store = emu.store
    for ref in ("000399", "000398", "000120"):
        store.delete("Bill", ("Bill", ref))
    store.modify("Bill", ("Bill", "000010"), {"Description": "changed"})  # now the latest
    everything = store.query("Bill", lambda r: True, ORDER, 0, None)
    stamps = [r["LastModifiedDateTime"] for r in everything]
    assert len(set(stamps)) < len(stamps)  # the data has ties to keep
    middle = store.to_ms(stamps[200])
    orders = [
        [("LastModifiedDateTime", True)],
        [("LastModifiedDateTime", True), ("Type", True), ("ReferenceNbr", True)],
        [("Type", True), ("ReferenceNbr", True)],
    ]
    for order in orders:
        for low, high in ((None, None), (None, middle), (middle, None)):
            whole = store.query("Bill", lambda r: True, order, 0, None, low, high, lazy=lazy)
            for skip, top in ((0, 1), (0, 5), (3, 7), (0, 1000)):
                page = store.query("Bill", lambda r: True, order, skip, top, low, high, lazy=lazy)
                assert [r["_i"] if "_i" in r else r["id"] for r in page] == [
                    r["_i"] if "_i" in r else r["id"] for r in whole[skip : skip + top]
                ], (order, low, high, skip, top)
