"""What a real company returns that the tap must survive: a field lookup lists but query refuses, an
object of a module the company does not have, an object that does not exist. Each time the other
streams are read to the end, and the run's record says what was not read."""

from __future__ import annotations

import logging

import pytest
from mlc_run_audit.checks import StreamHalted

from tests.support.intacct import catalog, mismatches, run

UNQUERYABLE = {"APBILL": ["PAYTOCONTACTNAME"], "APBILLITEM": ["GLACCOUNTNO"]}


@pytest.mark.parametrize("style", ["cannot_be_queried", "invalid_field"])
def test_a_field_query_refuses_is_dropped_with_one_warning_and_the_stream_goes_on(
    intacct, config, caplog, style
):
    intacct.knobs.unqueryable_fields = UNQUERYABLE
    intacct.knobs.unqueryable_error = style
    caplog.set_level(logging.WARNING)
    sync = run({**config, "page_size": 10}, ["ap_bills", "vendors", "_audit_runs"], lookup=True)
    assert sync.schemas["ap_bills"]["properties"]["PAYTOCONTACTNAME"]
    bills, source = sync.records["ap_bills"], intacct.store.records("APBILL")
    assert len(bills) == len(source) == 40
    assert all(bill["PAYTOCONTACTNAME"] is None for bill in bills)
    assert all(line["GLACCOUNTNO"] is None for bill in bills for line in bill["APBILLITEMS"])
    # Every other field equals the source, row for row.
    kept = {n: p for n, p in sync.schemas["ap_bills"]["properties"].items() if n != "PAYTOCONTACTNAME"}
    assert not mismatches({"properties": kept}, bills, source)
    assert not mismatches(sync.schemas["vendors"], sync.records["vendors"], intacct.store.records("VENDOR"))
    warnings = [r.getMessage() for r in caplog.records if "query will not read" in r.getMessage()]
    assert len(warnings) == 2, warnings  # one per object, not one per page
    assert "Stream ap_bills" in warnings[0] and "PAYTOCONTACTNAME" in warnings[0]
    # Each refused field cost one failed call, not one per page.
    assert intacct.stats.counters["function_failures"] == 2
    (record,) = sync.records["_audit_runs"]
    assert record["status"] == "extracted"
    assert record["dropped_fields"] == ["ap_bills:APBILL.PAYTOCONTACTNAME", "ap_bills:APBILLITEM.GLACCOUNTNO"]
    assert record["skipped"] == []


@pytest.mark.parametrize(
    ("knob", "word"), [("unsubscribed_objects", "not subscribed"), ("denied_objects", "permission")]
)
def test_a_selected_stream_of_a_missing_module_is_skipped_the_others_complete_and_the_run_fails(
    intacct, config, knob, word
):
    setattr(intacct.knobs, knob, ["ARINVOICE"])
    sync = run(config, ["ar_invoices", "vendors", "gl_details", "_audit_runs"], raises=StreamHalted)
    assert "ar_invoices" in str(sync.error) and "--exclude ar_invoices" in str(sync.error)
    assert "ar_invoices" not in sync.records
    for stream, obj in (("vendors", "VENDOR"), ("gl_details", "GLDETAIL")):
        assert not mismatches(sync.schemas[stream], sync.records[stream], intacct.store.records(obj))
        assert sync.state["bookmarks"][stream]["replication_key_value"]
    (record,) = sync.records["_audit_runs"]
    assert record["status"] == "failed" and "ar_invoices" in record["error"]
    ((skipped),) = record["skipped"]
    assert (
        skipped["stream"] == "ar_invoices" and word in skipped["reason"] and "ARINVOICE" in skipped["reason"]
    )


def test_a_stream_selected_by_default_only_is_skipped_with_a_warning_and_the_run_succeeds(intacct, config):
    intacct.knobs.unsubscribed_objects = ["SODOCUMENT", "SODOCUMENTENTRY"]
    entries = catalog(config, ["so_documents", "so_document_entries", "vendors", "_audit_runs"])
    for entry in entries["streams"]:
        root = next(m for m in entry["metadata"] if not m["breadcrumb"])["metadata"]
        if root["selected"]:
            del root["selected"]  # left to the tap's selected-by-default
    sync = run(config, entries=entries)
    assert sync.error is None
    assert len(sync.records["vendors"]) == len(intacct.store.records("VENDOR"))
    (record,) = sync.records["_audit_runs"]
    assert record["status"] == "extracted"
    assert [s["stream"] for s in record["skipped"]] == ["so_document_entries", "so_documents"]


def test_an_object_that_does_not_exist_is_skipped_and_the_others_complete(intacct, config):
    objects = [
        {
            "name": "widgets",
            "object": "WIDGET",
            "fields": {"RECORDNO": "integer", "WHENMODIFIED": "timestamp"},
        }
    ]
    config = {**config, "objects": objects}
    sync = run(config, ["widgets", "classes", "_audit_runs"], raises=StreamHalted)
    assert "widgets" in str(sync.error)
    assert not mismatches(sync.schemas["classes"], sync.records["classes"], intacct.store.records("CLASS"))
    (record,) = sync.records["_audit_runs"]
    ((skipped),) = record["skipped"]
    assert skipped["stream"] == "widgets" and "Object definition WIDGET not found" in skipped["reason"]
