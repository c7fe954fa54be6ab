"""Every record tap-acumatica emits says which run extracted it and which source record, in which
version, it is; the run's own record comes last, and is written even when the run fails."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.support.meltano import FLOWS, VERSION

RUN = "_audit_runs"


def test_records_carry_the_run_id_source_id_and_version_and_the_run_record_counts_them(tap, emulator):
    run_id = str(uuid.uuid4())
    sync = tap.sync(None, env={"MELTANO_RUN_ID": run_id.upper()})
    replication_keys = {s["tap_stream_id"]: s.get("replication_key") for s in tap.discover()["streams"]}

    for stream, (entity, keys) in FLOWS.items():
        source = {tuple(r[k] for k in keys): r for r in emulator.store.records(entity, VERSION)}
        rk = replication_keys[stream]
        assert sync.records[stream], stream
        for record in sync.records[stream]:
            original = source[tuple(record[k] for k in keys)]
            assert record["_audit_run_id"] == run_id, stream
            assert record["_audit_source_id"] == original["id"], stream
            assert record["_audit_source_version"] == (record[rk] if rk else None), stream

    (run,) = sync.records[RUN]
    assert sync.messages[-2]["stream"] == RUN, "the run's record is written after every other stream"
    assert run["run_id"] == run_id and run["status"] == "extracted" and run["error"] is None
    assert run["tap"] == "tap-acumatica"
    assert run["source"] == f"{emulator.base_url}/entity/Default/{VERSION} tenant Company"
    assert {s["stream"]: s["records"] for s in run["streams"]} == {
        stream: len(records) for stream, records in sync.records.items() if stream != RUN
    }
    assert run["records"] == sum(s["records"] for s in run["streams"])
    final = sync.state["bookmarks"]
    assert {s["stream"]: s["bookmark"] for s in run["streams"]} == {
        stream: final[stream].get("replication_key_value") for stream in FLOWS
    }
    assert json.loads(run["state"])["bookmarks"] == {k: v for k, v in final.items() if k != RUN}
    assert run["started_at"] <= run["finished_at"]


def test_without_meltano_run_id_each_run_gets_its_own(tap):
    first = tap.sync(["vendors", RUN])
    second = tap.sync(["vendors", RUN])
    ids = {r["_audit_run_id"] for r in first.records["vendors"]}
    assert ids == {first.records[RUN][0]["run_id"]}
    assert uuid.UUID(ids.pop())
    assert second.records[RUN][0]["run_id"] != first.records[RUN][0]["run_id"]
    assert f"Run id {first.records[RUN][0]['run_id']}" in first.stderr


def test_audit_columns_can_be_switched_off(tap):
    sync = tap.sync(["vendors", RUN], audit_columns=False)
    assert not [k for k in sync.schemas["vendors"]["properties"] if k.startswith("_audit")]
    assert not [k for r in sync.records["vendors"] for k in r if k.startswith("_audit")]
    assert sync.records[RUN][0]["records"] == len(sync.records["vendors"])


def test_a_failed_run_still_writes_its_record_with_the_error(tap, emulator):
    def forbid_bills(info):
        if info.entity == "Bill":
            emulator.fail_next(50, status=403)

    emulator.on_request(forbid_bills)
    run_id = str(uuid.uuid4())
    # Streams run in name order: ap_payments lands, then bills fails.
    sync = tap.sync(["ap_payments", "bills", RUN], check=False, env={"MELTANO_RUN_ID": run_id})
    assert sync.returncode != 0
    (run,) = sync.records[RUN]
    assert run["run_id"] == run_id and run["status"] == "failed"
    assert "bills" in run["error"] and "403" in run["error"], run["error"]
    assert sync.records["ap_payments"]
    landed = {"ap_payments": len(sync.records["ap_payments"])}
    assert {s["stream"]: s["records"] for s in run["streams"]} == landed


@pytest.mark.parametrize("value", ["run-42", "'; drop table x"])
def test_a_run_id_that_is_not_a_uuid_is_refused_naming_the_variable(tap, value):
    sync = tap.sync(["vendors"], check=False, env={"MELTANO_RUN_ID": value})
    assert sync.returncode != 0
    assert "MELTANO_RUN_ID must be a UUID" in sync.stderr
    assert not sync.records


def test_discovery_declares_the_audit_columns_and_the_run_stream(tap):
    catalog = {s["tap_stream_id"]: s for s in tap.discover()["streams"]}
    assert catalog[RUN]["key_properties"] == ["run_id"]
    for stream in FLOWS:
        properties = catalog[stream]["schema"]["properties"]
        assert properties["_audit_run_id"]["type"] == ["string"]
        assert properties["_audit_source_id"]["type"] == ["null", "string"]
