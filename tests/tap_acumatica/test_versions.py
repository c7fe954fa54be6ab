"""Endpoint versions, custom fields and extra entities."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.support.compare import differences
from tests.support.taprun import TAP


@pytest.mark.parametrize("emulator_config", [{"versions": ("20.200.001",)}], indirect=True)
def test_version_20_reads_stock_items_by_last_modified_and_sales_invoices_in_full(tap, emulator):
    sync = tap.sync(["stock_items", "sales_invoices", "subaccounts"], endpoint_version="20.200.001")
    assert sync.schemas["stock_items"]["properties"].keys() >= {"LastModified", "InventoryID"}
    assert "LastModifiedDateTime" not in sync.schemas["stock_items"]["properties"]
    assert sync.bookmark("stock_items") is not None
    for stream, entity, key in (
        ("stock_items", "StockItem", "InventoryID"),
        ("sales_invoices", "SalesInvoice", "ReferenceNbr"),
        ("subaccounts", "Subaccount", "SubaccountCD"),
    ):
        source = {r[key]: r for r in emulator.store.records(entity, "20.200.001")}
        emitted = {r[key]: r for r in sync.records[stream]}
        assert emitted.keys() == source.keys(), stream
        for k, record in source.items():
            assert not differences(
                emitted[k],
                record,
                [f for f in record if f not in ("Details", "custom", "note", "rowNumber", "_links")],
            ), k
    assert sync.bookmark("sales_invoices") is None


def test_version_24_stock_items_use_last_modified_date_time(tap):
    sync = tap.sync(["stock_items"])
    assert sync.bookmark("stock_items") is not None
    assert "LastModifiedDateTime" in sync.schemas["stock_items"]["properties"]


def test_custom_fields_arrive_as_typed_columns(tap, emulator):
    sync = tap.sync(["bills"], custom_fields={"bills": ["Document.UsrApprovalCode"]})
    source = {
        r["ReferenceNbr"]: r
        for r in emulator.store.records("Bill", "24.200.001", custom=("Document.UsrApprovalCode",))
    }
    assert sync.schemas["bills"]["properties"]["custom_Document_UsrApprovalCode"]["type"] == [
        "string",
        "null",
    ]
    for record in sync.records["bills"]:
        expected = source[record["ReferenceNbr"]]["custom"]["Document"]["UsrApprovalCode"]
        assert record["custom_Document_UsrApprovalCode"] == expected


def test_extra_entities_are_streams_too(tap, emulator):
    extra = [{"name": "ar_payments", "entity": "Payment", "key_properties": ["Type", "ReferenceNbr"]}]
    catalog = tap.discover(extra_entities=extra)
    assert "ar_payments" in {s["tap_stream_id"] for s in catalog["streams"]}


def test_an_expansion_the_version_lacks_is_a_clear_error(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"expand": {"bills": ["NoSuchDetail"]}}))
    proc = subprocess.run([TAP, "--config", str(config), "--discover"], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "Setting expand: cannot expand 'NoSuchDetail': Bill in endpoint version 24.200.001" in proc.stderr


def test_an_extra_entity_with_a_linked_expansion_is_read_like_the_builtins(tap, emulator):
    extra = [
        {
            "name": "vendor_contacts",
            "entity": "Vendor",
            "key_properties": ["VendorID"],
            "expand": ["MainContact"],
        }
    ]
    sync = tap.sync(["vendor_contacts"], extra_entities=extra)
    vendors = emulator.store.records("Vendor", "24.200.001", expand=("MainContact",))
    source = {r["VendorID"]: r for r in vendors}
    emitted = {r["VendorID"]: r for r in sync.records["vendor_contacts"]}
    assert emitted.keys() == source.keys()
    assert sync.schemas["vendor_contacts"]["properties"]["MainContact"]["type"] == ["object", "null"]
    for key, record in source.items():
        assert record["MainContact"], "the emulator fills linked entities"
        assert not differences(emitted[key]["MainContact"], record["MainContact"]), key
    assert sync.bookmark("vendor_contacts") is not None
