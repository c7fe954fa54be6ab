"""A replication field is filtered from the bookmark (or start_date) and bookmarked once emitted."""

from __future__ import annotations

from tests.support.looker import ALLOCATION_QUERY, by_key, expected, run_tap, tap_config

INCREMENTAL = {**ALLOCATION_QUERY, "replication_field": "overhead_allocation.posting_date"}


def test_first_run_reads_everything_and_bookmarks_the_last_posting_date(emulator):
    sync = run_tap(tap_config(emulator, [INCREMENTAL]))
    rows = sync.records["overhead_allocation"]
    assert by_key(rows) == by_key(expected(emulator, INCREMENTAL))
    assert sync.bookmark("overhead_allocation") == max(r["posting_date"] for r in rows) == "2026-10-31"


def test_a_bookmark_filters_the_query_on_or_after_it(emulator):
    state = {
        "bookmarks": {
            "overhead_allocation": {"replication_key": "posting_date", "replication_key_value": "2026-08-31"}
        }
    }
    sync = run_tap(tap_config(emulator, [INCREMENTAL]), state=state)
    rows = sync.records["overhead_allocation"]
    source = expected(emulator, INCREMENTAL, {"overhead_allocation.posting_date": "after 2026/08/31"})
    assert by_key(rows) == by_key(source)
    assert {r["posting_date"] for r in rows} == {"2026-08-31", "2026-09-30", "2026-10-31"}
    assert sync.bookmark("overhead_allocation") == "2026-10-31"


def test_start_date_bounds_the_first_run(emulator):
    sync = run_tap(tap_config(emulator, [INCREMENTAL], start_date="2026-10-01"))
    assert {r["posting_date"] for r in sync.records["overhead_allocation"]} == {"2026-10-31"}


def test_an_empty_answer_keeps_the_bookmark(emulator):
    state = {
        "bookmarks": {
            "overhead_allocation": {"replication_key": "posting_date", "replication_key_value": "2026-12-31"}
        }
    }
    sync = run_tap(tap_config(emulator, [INCREMENTAL]), state=state)
    assert "overhead_allocation" not in sync.records
    assert sync.bookmark("overhead_allocation") == "2026-12-31"
