"""Every stream against the emulator: rows out equal rows in, incremental runs, deletes,
custom fields, configured objects, multi-entity, and how many API transactions it takes."""

from __future__ import annotations

import calendar
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from mlc_run_audit.checks import safe_name
from tap_sage_intacct.objects import BUILTIN
from tap_sage_intacct.tap import TapSageIntacct

from tests.support.compare import instant
from tests.support.intacct import TIMEZONE, after_this_second, custom_fields, mismatches, run, typed

#: Every object stream but AUDITHISTORY (it holds only what a test changes; see below).
STREAMS = {spec.name: spec.object for spec in BUILTIN if spec.object != "AUDITHISTORY"}


def test_every_stream_equals_the_emulator_row_for_row(intacct, config):
    sync = run({**config, "balance_start_date": "2024-01-01"}, lookup=True)
    assert set(sync.records) == {*STREAMS, "trial_balances", "account_balances", "_audit_runs"}
    (run_record,) = sync.records["_audit_runs"]
    assert {s["stream"]: s["records"] for s in run_record["streams"]} == {
        stream: len(records) for stream, records in sync.records.items() if stream != "_audit_runs"
    }
    assert run_record["status"] == "extracted"
    assert run_record["source"].endswith(f"/ia/xml/xmlgw.phtml company {config['company_id']}")
    for stream, obj in STREAMS.items():
        source = intacct.store.records(obj)
        assert source, obj
        assert not mismatches(sync.schemas[stream], sync.records[stream], source), stream
        # Nothing the object has is left out: every field lookup lists, custom fields too.
        emitted = {safe_name(field) for field in source[0]}
        missing = emitted - set(sync.schemas[stream]["properties"])
        assert not missing, (stream, missing)
    bookmark = sync.state["bookmarks"]["gl_details"]["replication_key_value"]
    newest = max(r["WHENMODIFIED"] for r in sync.records["gl_details"])
    assert bookmark == newest


def test_bill_lines_are_an_array_on_each_bill_equal_to_the_items(intacct, config):
    sync = run(config, ["ap_bills"])
    lines = defaultdict(list)
    for item in intacct.store.records("APBILLITEM"):
        lines[int(item["RECORDKEY"])].append(item)
    schema = sync.schemas["ap_bills"]["properties"]["APBILLITEMS"]["items"]
    for bill in sync.records["ap_bills"]:
        assert not mismatches(schema, bill["APBILLITEMS"], lines[bill["RECORDNO"]]), bill["RECORDNO"]
        assert sum(line["AMOUNT"] for line in bill["APBILLITEMS"]) == bill["TOTALENTERED"]


def test_amounts_are_exact_decimals_and_timestamps_utc(config):
    sync = run(config, ["gl_details"])
    props = sync.schemas["gl_details"]["properties"]
    assert props["AMOUNT"]["type"] == ["number", "null"]
    assert props["WHENMODIFIED"]["format"] == "date-time" and props["ENTRY_DATE"]["format"] == "date"
    record = sync.records["gl_details"][0]
    assert record["WHENMODIFIED"].endswith("+00:00")
    assert str(record["AMOUNT"]).count(".") == 1 and len(str(record["AMOUNT"]).split(".")[1]) == 2


def test_transactions_one_session_and_one_query_per_page(intacct, config):
    sync = run({**config, "page_size": 100}, ["gl_details"])
    rows = len(sync.records["gl_details"])
    assert rows == 230
    # getAPISession + ceil(230 / ~99) keyset pages (a page holds back its last timestamp group)
    assert intacct.stats.sessions_issued == 1
    assert intacct.stats.transactions <= 1 + 3
    assert len(sync.states) >= 3, "a STATE after every page"


def test_second_run_reads_only_changes_and_surfaces_deletes(intacct, config):
    config = {**config, "include_deleted": True}
    first = run(config, ["vendors"])
    assert all(r["_sdc_deleted_at"] is None for r in first.records["vendors"])
    intacct.store.modify("VENDOR", 3, {"NAME": "Renamed vendor"})
    new = intacct.store.insert("VENDOR", {"VENDORID": "V9999", "NAME": "New vendor", "TOTALDUE": "10.05"})
    intacct.store.delete("VENDOR", 5)
    after_this_second()
    second = run(config, ["vendors"], state=first.state)
    changed = {r["RECORDNO"]: r for r in second.records["vendors"]}
    assert set(changed) == {3, new, 5}
    assert changed[3]["NAME"] == "Renamed vendor" and changed[3]["_sdc_deleted_at"] is None
    assert str(changed[new]["TOTALDUE"]) == "10.05"
    assert changed[5]["_sdc_deleted_at"] is not None and changed[5]["NAME"] is None
    third = run(config, ["vendors"], state=second.state)
    assert third.records.get("vendors", []) == []


@pytest.mark.parametrize("emulator_config", [{"audit_objectkey_suffix": "--REC"}], indirect=True)
def test_deletes_with_suffixed_audit_object_keys(intacct, config):
    config = {**config, "include_deleted": True}
    first = run(config, ["classes"])
    intacct.store.delete("CLASS", 2)
    after_this_second()
    second = run(config, ["classes"], state=first.state)
    assert [(r["RECORDNO"], r["_sdc_deleted_at"] is not None) for r in second.records["classes"]] == [
        (2, True)
    ]


def test_custom_fields_from_lookup_are_typed_and_read_by_default(intacct, config):
    sync = run(config, ["vendors", "ap_bills"], lookup=True)
    props = sync.schemas["vendors"]["properties"]
    assert props["RISK_RATING"]["type"] == ["integer", "null"]
    assert "APPROVAL_CODE" in sync.schemas["ap_bills"]["properties"]
    for stream, obj in (("vendors", "VENDOR"), ("ap_bills", "APBILL")):
        assert not mismatches(sync.schemas[stream], sync.records[stream], intacct.store.records(obj))
    without = run({**config, "custom_fields": False}, ["vendors"], lookup=True)
    assert not custom_fields("VENDOR") & set(without.schemas["vendors"]["properties"])


def test_fields_setting_narrows_a_stream_to_the_fields_named(intacct, config):
    narrowed = {**config, "fields": {"vendors": ["NAME", "DISPLAYCONTACT.EMAIL1"]}}
    sync = run(narrowed, ["vendors", "classes"], lookup=True)
    assert set(sync.schemas["vendors"]["properties"]) - {
        "_audit_run_id",
        "_audit_source_id",
        "_audit_source_version",
    } == {"RECORDNO", "WHENMODIFIED", "NAME", "DISPLAYCONTACT_EMAIL1"}
    assert not mismatches(sync.schemas["vendors"], sync.records["vendors"], intacct.store.records("VENDOR"))
    assert "DESCRIPTION" in sync.schemas["classes"]["properties"]  # not named: every field
    with pytest.raises(ValueError, match="Setting fields, stream vendors: VENDOR has no field"):
        run({**config, "fields": {"vendors": ["NAME", "COLOUR"]}}, ["vendors"], lookup=True)


def test_any_other_object_by_configuration(intacct, config):
    objects = [
        {"name": "gl_entry_lines", "object": "GLENTRY"},  # fields from lookup
        {
            "name": "class_names",
            "object": "CLASS",
            "replication_key": "",
            "fields": {"RECORDNO": "integer", "CLASSID": "text", "NAME": "text"},
        },
    ]
    sync = run({**config, "objects": objects}, ["gl_entry_lines", "class_names"])
    assert not mismatches(
        sync.schemas["gl_entry_lines"], sync.records["gl_entry_lines"], intacct.store.records("GLENTRY")
    )
    assert not mismatches(
        sync.schemas["class_names"], sync.records["class_names"], intacct.store.records("CLASS")
    )
    assert (
        "bookmarks" not in (sync.state or {})
        or "class_names" not in sync.state["bookmarks"]
        or not (sync.state["bookmarks"]["class_names"].get("replication_key_value"))
    )


def test_bad_object_configuration_names_the_setting(config):
    with pytest.raises(ValueError, match="Setting objects, stream x: field types"):
        run({**config, "objects": [{"name": "x", "object": "CLASS", "fields": {"RECORDNO": "money"}}]})


def test_multi_entity_reads_only_that_entity(intacct, config):
    sync = run({**config, "entity": "E200"}, ["gl_details", "vendors", "gl_accounts"])
    for stream, obj in (("gl_details", "GLDETAIL"), ("vendors", "VENDOR")):
        source = [r for r in intacct.store.records(obj) if r["MEGAENTITYID"] == "E200"]
        assert 0 < len(source) < len(intacct.store.records(obj))
        assert not mismatches(sync.schemas[stream], sync.records[stream], source), stream
    # Top-level objects are visible from every entity.
    assert len(sync.records["gl_accounts"]) == len(intacct.store.records("GLACCOUNT"))


def test_an_entity_the_company_lacks_fails_naming_it(config):
    with pytest.raises(Exception, match="E999"):
        run({**config, "entity": "E999"}, ["vendors"])


@pytest.mark.parametrize(
    "emulator_config", [{"sizes": {"GLDETAIL": 20000}, "same_timestamp_group": 1}], indirect=True
)
def test_the_autumn_daylight_saving_fold_loses_and_repeats_nothing(intacct, config):
    start = "2024-11-03T07:30:00+00:00"
    sync = run({**config, "start_date": start, "page_size": 2000}, ["gl_details"])
    fold = [r for r in sync.records["gl_details"] if r["WHENMODIFIED"].startswith("2024-11-03T08:")]
    assert fold, "the data has rows in the repeated hour 01:00-02:00 of 11/03/2024"
    source = [
        r for r in intacct.store.records("GLDETAIL") if typed_instant(r["WHENMODIFIED"]) >= instant(start)
    ]
    assert not mismatches(sync.schemas["gl_details"], sync.records["gl_details"], source)


def typed_instant(text: str):
    return typed({"format": "date-time"}, text)


@pytest.mark.parametrize("page_size", [3, 4, 7])
def test_pages_smaller_than_a_timestamp_group_page_through_the_group_by_key(intacct, config, page_size):
    # The emulator gives 4 consecutive records one WHENMODIFIED: pages of 3 and 4 are filled by one
    # group (phase 2, RECORDNO > k inside it), pages of 7 end inside a group (held back, read whole).
    sync = run({**config, "page_size": page_size}, ["gl_details", "ap_bills"])
    assert not mismatches(
        sync.schemas["gl_details"], sync.records["gl_details"], intacct.store.records("GLDETAIL")
    )
    assert not mismatches(sync.schemas["ap_bills"], sync.records["ap_bills"], intacct.store.records("APBILL"))
    bookmarks = [
        s["bookmarks"]["gl_details"].get("replication_key_value")
        for s in sync.states
        if "gl_details" in s.get("bookmarks", {})
    ]
    assert bookmarks == sorted(bookmarks) and len(set(bookmarks)) > 10


def _expected_balances(gldetail: list[dict], months: list[str], dims: tuple[str, ...]) -> dict[tuple, tuple]:
    """Per month, account and dimensions: opening balance (debits less credits dated before the
    month), debits and credits within it, closing balance; groups with no amounts left out."""
    out = {}
    for month in months:
        first = datetime.strptime(month, "%Y-%m-%d").date()
        last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
        sums: dict[tuple, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 3)
        for row in gldetail:
            day = datetime.strptime(row["ENTRY_DATE"], "%m/%d/%Y").date()
            key = (month, row["ACCOUNTNO"], *(row[d.upper()] for d in dims))
            if day < first:
                sums[key][0] += Decimal(row["DEBITAMOUNT"]) - Decimal(row["CREDITAMOUNT"])
            elif day <= last:
                sums[key][1] += Decimal(row["DEBITAMOUNT"])
                sums[key][2] += Decimal(row["CREDITAMOUNT"])
        for key, (opening, debits, credits) in sums.items():
            if opening or debits or credits:
                out[key] = (opening, debits, credits, opening + debits - credits)
    return out


def test_trial_and_account_balances_equal_the_sums_of_gldetail(intacct, config):
    sync = run(
        {**config, "balance_start_date": "2024-01-15"}, ["trial_balances", "account_balances", "gl_details"]
    )
    gldetail = intacct.store.records("GLDETAIL")
    assert len(sync.records["gl_details"]) == len(gldetail)
    for stream, dims in (
        ("trial_balances", ("departmentid", "locationid")),
        ("account_balances", ("departmentid", "locationid", "classid", "projectid")),
    ):
        records = sync.records[stream]
        months = sorted({r["startdate"] for r in records})
        assert months[0] == "2024-01-01" and len(months) >= 17  # history runs to 2025-05
        got = {
            (r["startdate"], r["glaccountno"], *(r[d] for d in dims)): (
                r["startbalance"],
                r["debits"],
                r["credits"],
                r["endbalance"],
            )
            for r in records
        }
        assert len(got) == len(records), "one record per month, account and dimensions"
        assert got == _expected_balances(gldetail, months, dims), stream
        assert all(r["enddate"] >= r["startdate"] and r["reportingbook"] == "ACCRUAL" for r in records)
    assert sync.schemas["trial_balances"]["properties"]["debits"]["x-sql-datatype"] == "decimal(38,9)"


def test_audit_history_stream_reads_every_event_when_selected(intacct, config):
    key = intacct.store.insert("VENDOR", {"NAME": "New vendor"})
    intacct.store.modify("CLASS", 2, {"NAME": "Renamed"})
    intacct.store.delete("VENDOR", key)
    after_this_second()
    # Without a catalog (every stream selected by default) it is left out: it is large.
    streams = TapSageIntacct(config={**config, "lookup_fields": False}, parse_env_config=False).streams
    assert streams["vendors"].selected and not streams["audit_history"].selected
    sync = run(config, ["audit_history"])
    events = sync.records["audit_history"]
    assert [(e["OBJECTTYPE"], e["ACCESSMODE"]) for e in events] == [
        ("vendor", "C"),
        ("class", "M"),
        ("vendor", "D"),
    ]
    assert not mismatches(
        sync.schemas["audit_history"], events, intacct.store.records("AUDITHISTORY"), key="ID"
    )
    assert sync.state["bookmarks"]["audit_history"]["replication_key_value"] == events[-1]["ACCESSTIME"]


def test_balance_months_reads_the_latest_months_up_to_the_gateways_month(intacct, config):
    sync = run({**config, "balance_months": 2}, ["trial_balances"])
    now = intacct.clock.now()
    today = datetime.fromtimestamp(now, ZoneInfo(TIMEZONE)).date()
    last = today.replace(day=1)
    first = (last - timedelta(days=1)).replace(day=1)
    assert {r["startdate"] for r in sync.records["trial_balances"]} == {first.isoformat(), last.isoformat()}
    assert intacct.stats.functions["get_trialbalance"] == 2
