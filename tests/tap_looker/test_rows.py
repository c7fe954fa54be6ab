"""tap-looker emits exactly the rows Looker answers, typed, whatever their number."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tap_looker.client import TruncatedResultError

from tests.support.looker import ALLOCATION_QUERY, by_key, expected, run_tap, tap_config

VENDORS = {
    "name": "approved_vendors",
    "model": "finance",
    "explore": "vendors",
    "fields": ["vendors.vendor_id", "vendors.vendor_name", "vendors.approved", "vendors.created_date"],
    "filters": {"vendors.approved": "Yes", "vendors.status": "-Inactive"},
    "key_properties": ["vendors.vendor_id"],
}
GL_BY_ACCOUNT = {
    "name": "gl_by_account",
    "model": "finance",
    "explore": "gl_lines",
    "fields": [
        "gl_lines.period",
        "gl_lines.account",
        "vendors.vendor_name",
        "gl_lines.net_amount",
        "gl_lines.count",
    ],
    "filters": {"gl_lines.posted_date": "2026/01/01 to 2026/04/01", "gl_lines.account": "5%,6%"},
}


def test_allocation_rows_equal_lookers_answer_to_the_cent(emulator):
    sync = run_tap(tap_config(emulator))
    rows = sync.records["overhead_allocation"]
    assert by_key(rows) == by_key(expected(emulator, ALLOCATION_QUERY))
    assert all(isinstance(r["allocated_amount"], Decimal) for r in rows)
    assert sum(r["allocated_amount"] for r in rows) == 0
    assert emulator.stats.queries_run == 1 and emulator.stats.query_tasks == 0


def test_schema_is_typed_from_the_explore_and_names_are_warehouse_safe(emulator):
    sync = run_tap(tap_config(emulator, [VENDORS, GL_BY_ACCOUNT]))
    vendors = sync.schemas["approved_vendors"]["properties"]
    assert vendors["approved"]["type"] == ["boolean", "null"]
    assert vendors["created_date"]["format"] == "date"
    gl = sync.schemas["gl_by_account"]["properties"]
    assert list(gl) == [
        "period",
        "account",
        "vendors__vendor_name",
        "net_amount",
        "count",
        "_audit_run_id",
        "_audit_source_id",
        "_audit_source_version",
    ]
    assert gl["net_amount"]["type"] == ["number", "null"] and gl["count"]["type"] == ["integer", "null"]
    assert "gl_lines.net_amount" in gl["net_amount"]["description"]
    approved = sync.records["approved_vendors"]
    assert approved and all(r["approved"] is True for r in approved)
    source = expected(emulator, VENDORS, VENDORS["filters"])
    assert [r["vendor_id"] for r in approved] == [r["vendor_id"] for r in source]
    gl_rows = sync.records["gl_by_account"]
    assert by_key(gl_rows) == by_key(expected(emulator, GL_BY_ACCOUNT, GL_BY_ACCOUNT["filters"]))
    assert {r["account"][0] for r in gl_rows} <= {"5", "6"}


@pytest.mark.parametrize("emulator_config", [{"sizes": {"overhead_allocation": 6500}}], indirect=True)
def test_a_6000_plus_row_query_returns_every_row_through_a_query_task(emulator):
    emulator.knobs.query_task_polls = 3
    sync = run_tap(tap_config(emulator))
    rows = sync.records["overhead_allocation"]
    source = expected(emulator, ALLOCATION_QUERY)
    assert len(source) > 6000
    assert by_key(rows) == by_key(source)
    # One capped inline run (5,000 rows), then one unlimited query task, polled until done.
    assert emulator.stats.query_tasks == 1
    assert emulator.stats.requests[("GET", "query_task_results")] == 4


@pytest.mark.parametrize("emulator_config", [{"sizes": {"overhead_allocation": 6500}}], indirect=True)
def test_an_instance_that_caps_query_tasks_too_fails_loudly(emulator):
    emulator.knobs.query_task_row_cap = 5000
    with pytest.raises(TruncatedResultError, match="caps this result"):
        run_tap(tap_config(emulator))


def test_a_result_of_exactly_the_inline_limit_is_checked_and_kept(emulator):
    # 270 rows with inline_row_limit 270: possibly cut, so the tap runs it as a task and confirms the
    # ascending and descending answers agree before emitting.
    sync = run_tap(tap_config(emulator, inline_row_limit=270))
    assert by_key(sync.records["overhead_allocation"]) == by_key(expected(emulator, ALLOCATION_QUERY))
    assert emulator.stats.query_tasks == 3


def test_more_rows_than_max_rows_fails_naming_the_setting(emulator):
    with pytest.raises(TruncatedResultError, match="max_rows=100"):
        run_tap(tap_config(emulator, inline_row_limit=0, max_rows=100))


def test_an_unknown_field_fails_naming_the_query_and_field(emulator):
    query = {**ALLOCATION_QUERY, "fields": ["overhead_allocation.account", "overhead_allocation.nope"]}
    with pytest.raises(ValueError, match=r"queries \(overhead_allocation\).*overhead_allocation\.nope"):
        run_tap(tap_config(emulator, [query]))
