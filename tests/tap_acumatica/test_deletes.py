"""detect_deletes: records deleted in Acumatica between runs come out as tombstones (keys and
_sdc_deleted_at), from a key-only read compared with the previous run's key set; the state keeps
only that set's hash and count."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.support.compare import instant
from tests.support.taprun import TAP

VERSION = "24.200.001"


@pytest.fixture
def deletes_dir(tmp_path):
    return tmp_path / "keys"


@pytest.fixture
def tap_deletes(tap, deletes_dir):
    tap.config = {
        **tap.config,
        "detect_deletes": ["bills", "vendors"],
        "detect_deletes_dir": str(deletes_dir),
    }
    return tap


def bill_keys(emulator) -> set[tuple]:
    return {(r["Type"], r["ReferenceNbr"]) for r in emulator.store.records("Bill", VERSION)}


def tombstones(sync, stream: str) -> list[dict]:
    return [r for r in sync.records.get(stream, []) if r.get("_sdc_deleted_at")]


def test_records_deleted_between_runs_come_out_as_tombstones_once(tap_deletes, emulator):
    first = tap_deletes.sync(["bills", "vendors"])
    assert tombstones(first, "bills") == [] and tombstones(first, "vendors") == []
    assert first.schemas["bills"]["properties"]["_sdc_deleted_at"]["format"] == "date-time"

    emulator.store.delete("Bill", ("Bill", "000007"))
    emulator.store.delete("Bill", ("Bill", "000042"))
    emulator.store.delete("Vendor", ("V000003",))
    second = tap_deletes.sync(["bills", "vendors"], state=first.state)

    dead = tombstones(second, "bills")
    assert sorted((r["Type"], r["ReferenceNbr"]) for r in dead) == [("Bill", "000007"), ("Bill", "000042")]
    assert [r["VendorID"] for r in tombstones(second, "vendors")] == ["V000003"]
    for record in dead:
        # Only the keys and the deletion time: a loader must not take the empty fields as values.
        assert set(record) - {"_audit_run_id", "_audit_source_id", "_audit_source_version"} == {
            "Type",
            "ReferenceNbr",
            "_sdc_deleted_at",
        }
        assert instant(record["_sdc_deleted_at"]).tzinfo is not None

    third = tap_deletes.sync(["bills", "vendors"], state=second.state)
    assert tombstones(third, "bills") == [] and tombstones(third, "vendors") == []


def test_state_holds_a_hash_and_count_not_the_keys(tap_deletes, emulator):
    sync = tap_deletes.sync(["bills"])
    entry = sync.state["bookmarks"]["bills"]["deletes"]
    assert entry["keys"] == len(bill_keys(emulator))
    assert set(entry) == {"keys_sha256", "keys"}
    assert "000007" not in json.dumps(sync.state)


def test_key_read_costs_one_request_per_page_of_keys(tap_deletes, emulator):
    selects: list[dict] = []
    emulator.on_request(lambda info: selects.append(info.params) if "$select" in info.params else None)
    tap_deletes.sync(["bills"], detect_deletes_page_size=50)
    # (The $orderby probe also selects the keys, two of them, in descending order.)
    key_reads = [p for p in selects if p["$select"] == "Type,ReferenceNbr" and "$orderby" not in p]
    # 120 bills, 50 keys a request: 50 + 50 + 20.
    assert len(key_reads) == 3
    assert all(p["$top"] == "50" for p in key_reads)


def test_a_run_whose_state_never_landed_marks_the_deletions_again(tap_deletes, emulator):
    first = tap_deletes.sync(["bills"])
    emulator.store.delete("Bill", ("Bill", "000011"))
    second = tap_deletes.sync(["bills"], state=first.state)
    assert [r["ReferenceNbr"] for r in tombstones(second, "bills")] == ["000011"]

    # The loader failed before the second run's STATE landed: the next run starts from the first's.
    again = tap_deletes.sync(["bills"], state=first.state)
    assert [r["ReferenceNbr"] for r in tombstones(again, "bills")] == ["000011"]


def test_a_missing_key_set_stops_the_run_naming_the_setting(tap_deletes, emulator, deletes_dir):
    first = tap_deletes.sync(["bills"])
    for path in deletes_dir.iterdir():
        path.unlink()
    emulator.store.delete("Bill", ("Bill", "000007"))

    failed = tap_deletes.sync(["bills"], state=first.state, check=False)

    assert failed.returncode != 0
    assert "detect_deletes_dir" in failed.stderr and "bills" in failed.stderr
    assert failed.records.get("bills", []) == []


def test_an_unknown_stream_in_detect_deletes_is_a_setting_error(tap_config, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**tap_config, "detect_deletes": ["bils"]}))
    proc = subprocess.run(
        [TAP, "--config", str(path), "--discover"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode != 0
    assert "detect_deletes" in proc.stderr and "bils" in proc.stderr
