"""Reference records (vendors) written by natural key: created, updated, left alone when unchanged."""

from __future__ import annotations

import json

from tests.support.acumatica_target import audit_lines, run_target, target_config

STREAM = "approved_vendors"
SCHEMA = {
    "type": "SCHEMA",
    "stream": STREAM,
    "key_properties": ["vendor_id"],
    "schema": {
        "type": "object",
        "properties": {
            "vendor_id": {"type": "string"},
            "vendor_name": {"type": "string"},
            "payment_terms": {"type": ["string", "null"]},
        },
    },
}
MAPPING = {
    "entity": "Vendor",
    "key": ["VendorID"],
    "fields": {"VendorID": "vendor_id", "VendorName": "vendor_name", "Terms": "payment_terms"},
}


def _input(rows: list[dict]) -> str:
    lines = [SCHEMA] + [{"type": "RECORD", "stream": STREAM, "record": r} for r in rows]
    lines.append({"type": "STATE", "value": {"bookmarks": {STREAM: {"n": len(rows)}}}})
    return "\n".join(json.dumps(m) for m in lines) + "\n"


def _config(emulator, tmp_path, **overrides):
    return target_config(
        emulator, tmp_path / "audit", **{"journals": {}, "reference_records": {STREAM: MAPPING}, **overrides}
    )


def test_vendors_are_created_updated_and_not_written_again(emulator, tmp_path):
    current = emulator.store.find("Vendor", ("V000001",))
    rows = [
        {"vendor_id": "V000001", "vendor_name": "Renamed Supply 1", "payment_terms": current["Terms"]},
        {
            "vendor_id": "V000002",
            "vendor_name": emulator.store.find("Vendor", ("V000002",))["VendorName"],
            "payment_terms": "30D",
        },
        {"vendor_id": "VLOOKER1", "vendor_name": "Looker Approved Ltd", "payment_terms": "45D"},
    ]
    run = run_target(_config(emulator, tmp_path), _input(rows), tmp_path)
    assert run.returncode == 0, run.stderr
    assert emulator.store.find("Vendor", ("V000001",))["VendorName"] == "Renamed Supply 1"
    created = emulator.store.find("Vendor", ("VLOOKER1",))
    assert (created["VendorName"], created["Terms"]) == ("Looker Approved Ltd", "45D")
    assert [a["status"] for a in audit_lines(tmp_path / "audit")] == ["updated", "unchanged", "created"]
    assert emulator.stats.requests[("PUT", "entity")] == 2
    assert run.states == [{"bookmarks": {STREAM: {"n": 3}}}]

    again = run_target(_config(emulator, tmp_path), _input(rows), tmp_path)
    assert again.returncode == 0 and emulator.stats.requests[("PUT", "entity")] == 2


def test_rejected_vendor_names_the_field_and_is_kept_for_replay(emulator, tmp_path):
    rows = [
        {"vendor_id": "VNEW1", "vendor_name": "", "payment_terms": None},
        {"vendor_id": "VNEW2", "vendor_name": "Fine Vendor", "payment_terms": None},
    ]
    run = run_target(_config(emulator, tmp_path), _input(rows), tmp_path)
    assert run.returncode != 0
    assert "Vendor VNEW1: Acumatica rejected VendorName '': 'Vendor Name' cannot be empty." in run.stderr
    assert emulator.store.find("Vendor", ("VNEW2",))["VendorName"] == "Fine Vendor"
    assert run.states == []
    (kept,) = (tmp_path / "audit" / "failed").glob("approved_vendors-*.singer")
    assert [json.loads(line).get("record", {}).get("vendor_id") for line in kept.read_text().splitlines()][
        1:
    ] == ["VNEW1"]


def test_insert_mode_leaves_existing_records_alone(emulator, tmp_path):
    rows = [{"vendor_id": "V000003", "vendor_name": "Not Applied", "payment_terms": None}]
    config = _config(emulator, tmp_path, reference_records={STREAM: {**MAPPING, "mode": "insert"}})
    run = run_target(config, _input(rows), tmp_path)
    assert run.returncode == 0, run.stderr
    assert emulator.store.find("Vendor", ("V000003",))["VendorName"] != "Not Applied"
    assert emulator.stats.requests[("PUT", "entity")] == 0


def test_a_field_mapped_to_null_is_refused_naming_it(emulator, tmp_path):
    mapping = {**MAPPING, "fields": {**MAPPING["fields"], "Terms": None}}
    run = run_target(_config(emulator, tmp_path, reference_records={STREAM: mapping}), _input([]), tmp_path)
    assert run.returncode == 1
    # Before: accepted, then an AttributeError on the stream's first record.
    assert f"Setting reference_records.{STREAM}.fields.Terms is empty" in run.stderr
    assert emulator.stats.requests[("PUT", "entity")] == 0
