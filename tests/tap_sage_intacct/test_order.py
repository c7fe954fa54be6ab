"""Keyset order as the gateway compares each field type: AUDITHISTORY OBJECTKEY is text, so two
deletions in one second with keys 9 and 10 come as '10', '9'. A page truly out of order stops only its
stream, names it and what to do, and the next run goes on."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.support.intacct import after_this_second, files, messages, run


def delete_in_one_second(intacct, obj: str, keys: list[int]) -> None:
    """Delete ``keys`` within one clock second, so their AUDITHISTORY entries share ACCESSTIME."""
    if time.time() % 1.0 > 0.5:
        after_this_second()
    for key in keys:
        intacct.store.delete(obj, key)
    after_this_second()


@pytest.mark.parametrize(
    "emulator_config",
    [{"text_collation": c} for c in ("binary", "nocase", "numeric")],
    indirect=True,
    ids=["binary", "nocase", "numeric"],
)
@pytest.mark.parametrize("page_size", [2, 50])
def test_deletions_sharing_a_second_with_keys_9_and_10_are_read_and_bookmarked(intacct, config, page_size):
    config = {**config, "include_deleted": True, "page_size": page_size}
    first = run(config, ["ap_bills", "vendors"])
    delete_in_one_second(intacct, "APBILL", [9, 10, 11])
    second = run(config, ["ap_bills", "vendors"], state=first.state)
    deleted = sorted(r["RECORDNO"] for r in second.records["ap_bills"] if r["_sdc_deleted_at"])
    assert deleted == [9, 10, 11]
    assert second.state["bookmarks"]["ap_bills"]["deleted_after"] > first.state["bookmarks"]["ap_bills"].get(
        "deleted_after", ""
    )
    third = run(config, ["ap_bills", "vendors"], state=second.state)
    assert third.records.get("ap_bills", []) == []


def test_a_page_out_of_order_stops_its_stream_only_and_the_next_run_goes_on(tmp_path, intacct, config):
    config = {**config, "include_deleted": True}
    first = run(config, ["ap_bills", "vendors"])
    delete_in_one_second(intacct, "APBILL", [9, 10, 11])
    intacct.store.modify("VENDOR", 3, {"NAME": "Renamed vendor"})
    after_this_second()
    intacct.knobs.misordered_objects = ["AUDITHISTORY"]
    failed = subprocess.run(
        files(tmp_path, config, ["ap_bills", "vendors", "_audit_runs"], first.state),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr
    errors = [line for line in failed.stderr.splitlines() if "ERROR" in line or "stopped" in line]
    assert any(
        "Stream ap_bills" in line and "AUDITHISTORY" in line and "'9'" in line and "include_deleted" in line
        for line in errors
    ), failed.stderr[-3000:]
    out = messages(failed.stdout.splitlines())
    states = [m["value"] for m in out if m["type"] == "STATE"]
    # The streams after ap_bills were read and bookmarked; ap_bills' deletions were not.
    assert [m["record"]["NAME"] for m in out if m["type"] == "RECORD" and m["stream"] == "vendors"] == [
        "Renamed vendor"
    ]
    assert states[-1]["bookmarks"]["vendors"] != first.state["bookmarks"]["vendors"]
    deleted_after = first.state["bookmarks"]["ap_bills"].get("deleted_after")
    assert states[-1]["bookmarks"]["ap_bills"].get("deleted_after") == deleted_after
    run_record = next(m["record"] for m in out if m["type"] == "RECORD" and m["stream"] == "_audit_runs")
    assert run_record["status"] == "failed" and "ap_bills" in run_record["error"]

    intacct.knobs.misordered_objects = []
    again = run(config, ["ap_bills", "vendors"], state=json.loads(json.dumps(states[-1])))
    assert sorted(r["RECORDNO"] for r in again.records["ap_bills"] if r["_sdc_deleted_at"]) == [9, 10, 11]
    assert again.records.get("vendors", []) == []
