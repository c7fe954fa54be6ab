"""Incremental reads: bookmarks, keyset paging through ties, changes during a run, resume."""

from __future__ import annotations

import pytest

from tests.support.compare import differences, instant
from tests.support.taprun import assert_state_never_passes_emitted_records

VERSION = "24.200.001"
BILL_KEY = ("Type", "ReferenceNbr")


def source_bills(emulator) -> dict[tuple, dict]:
    return {
        (r["Type"], r["ReferenceNbr"]): r
        for r in emulator.store.records("Bill", VERSION, expand=("Details",))
    }


def by_key(records: list[dict]) -> dict[tuple, dict]:
    keyed = {(r["Type"], r["ReferenceNbr"]): r for r in records}
    assert len(keyed) == len(records), "a bill was emitted twice in one run"
    return keyed


def test_first_run_emits_every_bill_with_its_lines_exactly(tap, emulator):
    sync = tap.sync(["bills"])
    emitted = by_key(sync.records["bills"])
    source = source_bills(emulator)
    assert emitted.keys() == source.keys()
    for key, record in source.items():
        assert not differences(emitted[key], record), (key, differences(emitted[key], record))
        assert len(emitted[key]["Details"]) == len(record["Details"]) > 0
    # The bookmark is the newest modification time, in UTC.
    newest = max(instant(r["LastModifiedDateTime"]) for r in source.values())
    assert instant(sync.bookmark("bills")) == newest


def test_second_run_emits_only_changed_records(tap, emulator):
    first = tap.sync(["bills"])
    edited = emulator.store.modify("Bill", ("Bill", "000007"), {"Description": "edited after run 1"})
    added = emulator.store.insert("Bill", {"Description": "new after run 1"})

    second = tap.sync(["bills"], state=first.state)

    emitted = by_key(second.records["bills"])
    assert set(emitted) == {("Bill", "000007"), (added["Type"], added["ReferenceNbr"])}
    assert emitted[("Bill", "000007")]["Description"] == "edited after run 1"
    newest = max(instant(edited["LastModifiedDateTime"]), instant(added["LastModifiedDateTime"]))
    assert instant(second.bookmark("bills")) == newest

    third = tap.sync(["bills"], state=second.state)
    assert third.records.get("bills", []) == []


@pytest.mark.parametrize("page_size", [1, 3, 4, 5, 7])
def test_pages_cut_inside_groups_of_equal_timestamps_lose_nothing(tap, emulator, page_size):
    source = source_bills(emulator)
    stamps = [r["LastModifiedDateTime"] for r in source.values()]
    assert len(set(stamps)) < len(stamps), "the seeded data must share timestamps for this test"

    sync = tap.sync(["bills"], page_size=page_size)

    assert sorted(sync.keys("bills", *BILL_KEY)) == sorted(source)
    assert len(sync.records["bills"]) == len(source)


@pytest.mark.parametrize("emulator_config", [{"same_timestamp_group": 50}], indirect=True)
def test_a_tie_group_larger_than_a_page_is_read_whole(tap, emulator):
    source = source_bills(emulator)
    sync = tap.sync(["bills"], page_size=7)
    assert sorted(sync.keys("bills", *BILL_KEY)) == sorted(source)


def test_records_changed_during_the_run_are_neither_lost_nor_duplicated(tap, emulator):
    changes = []

    def change_between_pages(info):
        if info.entity == "Bill" and info.number == 3 and not changes:
            # One bill already read, one not yet read, one new.
            changes.append(
                emulator.store.modify("Bill", ("Bill", "000001"), {"Description": "early one edited"})
            )
            changes.append(
                emulator.store.modify("Bill", ("Bill", "000100"), {"Description": "late one edited"})
            )
            changes.append(emulator.store.insert("Bill", {"Description": "inserted mid-run"}))

    before = source_bills(emulator)
    emulator.on_request(change_between_pages)
    first = tap.sync(["bills"], page_size=10)
    assert changes, "the change hook never ran"

    first_keys = by_key(first.records["bills"])
    # Every bill that existed before the run and was not changed during it is read once.
    unchanged = set(before) - {("Bill", "000001"), ("Bill", "000100")}
    assert unchanged <= set(first_keys)

    second = tap.sync(["bills"], state=first.state, page_size=10)
    second_keys = by_key(second.records["bills"])
    # The changed and new records arrive, in their new versions, by the next run at the latest.
    for change in changes:
        key = (change["Type"], change["ReferenceNbr"])
        latest = second_keys.get(key) or first_keys.get(key)
        assert latest is not None, f"{key} was lost"
        assert latest["Description"] == change["Description"]
    assert set(first_keys) | set(second_keys) == set(source_bills(emulator))


def test_a_run_cut_off_mid_stream_resumes_without_losing_records(tap, emulator):
    source = source_bills(emulator)

    def fail_on_fifth_page(info):
        if info.entity == "Bill" and info.number == 5:
            emulator.fail_next(50, status=500)

    remove_hook = emulator.on_request(fail_on_fifth_page)
    broken = tap.sync(["bills"], page_size=5, max_retries=1, check=False)
    remove_hook()
    emulator.app.faults.clear()

    assert broken.returncode != 0
    assert broken.states, "no checkpoint was written before the failure"
    assert_state_never_passes_emitted_records(broken, "bills")
    read_before = by_key(broken.records["bills"])
    assert 0 < len(read_before) < len(source)

    resumed = tap.sync(["bills"], state=broken.state, page_size=5)
    read_after = by_key(resumed.records["bills"])
    assert set(read_before) | set(read_after) == set(source)
    # Only records at or after the checkpoint are read again.
    checkpoint = instant(broken.bookmark("bills"))
    assert all(instant(r["LastModifiedDateTime"]) > checkpoint for r in read_after.values())


def test_a_tap_killed_mid_stream_resumes_from_its_last_checkpoint(tap, emulator):
    source = source_bills(emulator)
    killed = tap.sync_killed_after(["bills"], states=4, page_size=6)
    assert killed.returncode != 0, "the tap finished before it could be killed"
    assert_state_never_passes_emitted_records(killed, "bills")
    checkpoint = killed.bookmark("bills")
    assert checkpoint is not None

    resumed = tap.sync(["bills"], state=killed.state, page_size=6)
    read_after = by_key(resumed.records["bills"])
    assert set(by_key(killed.records["bills"])) | set(read_after) == set(source)
    assert all(instant(r["LastModifiedDateTime"]) > instant(checkpoint) for r in read_after.values())
    # At most about a page is read again, never the whole table.
    assert len(read_after) < len(source) - len(killed.records["bills"]) + 2 * 6


@pytest.mark.parametrize("emulator_config", [{"orderby": "ignore"}], indirect=True)
def test_an_instance_that_ignores_orderby_is_paged_in_key_order(tap, emulator):
    emulator.store.modify("Bill", ("Bill", "000002"), {"Description": "moves to the end in time"})
    source = source_bills(emulator)

    sync = tap.sync(["bills"], page_size=4)

    assert sorted(sync.keys("bills", *BILL_KEY)) == sorted(source)
    assert "key order" in sync.stderr
    newest = max(instant(r["LastModifiedDateTime"]) for r in source.values())
    assert instant(sync.bookmark("bills")) == newest
