"""tap-looker refuses unsafe or colliding stream and column names, out-of-range settings, bookmarks
of another replication key and catalogs selecting a stream it lacks, before running any query."""

from __future__ import annotations

import pytest
from mlc_run_audit.checks import SettingError
from singer_sdk.exceptions import ConfigValidationError
from tap_looker.tap import TapLooker

from tests.support.looker import ALLOCATION_QUERY, run_tap, tap_config

INCREMENTAL = {**ALLOCATION_QUERY, "replication_field": "overhead_allocation.posting_date"}


@pytest.mark.parametrize(
    "name", ['x" (i int); DROP TABLE bills; --', "overhead-allocation", "9lives", "a" * 64]
)
def test_an_unsafe_stream_name_is_refused_naming_the_setting(emulator, name):
    with pytest.raises(SettingError, match=r"Setting queries\[0\]: stream name"):
        TapLooker(config=tap_config(emulator, [{**ALLOCATION_QUERY, "name": name}]))


def test_stream_names_differing_only_in_case_are_refused(emulator):
    queries = [ALLOCATION_QUERY, {**ALLOCATION_QUERY, "name": "Overhead_Allocation"}]
    with pytest.raises(SettingError, match="'overhead_allocation' and 'Overhead_Allocation'"):
        TapLooker(config=tap_config(emulator, queries))


def test_an_unsafe_column_name_is_refused_naming_the_field(emulator):
    query = {**ALLOCATION_QUERY, "column_names": {"overhead_allocation.account": 'acct"; DROP TABLE x; --'}}
    with pytest.raises(SettingError, match=r"column_names\['overhead_allocation.account'\]"):
        TapLooker(config=tap_config(emulator, [query]))


def test_column_names_colliding_in_case_are_refused(emulator):
    query = {**ALLOCATION_QUERY, "column_names": {"overhead_allocation.account": "Branch"}}
    with pytest.raises(SettingError, match="both become column"):
        TapLooker(config=tap_config(emulator, [query]))


@pytest.mark.parametrize(
    ("setting", "value"),
    [("max_retries", -1), ("max_rows", -1), ("inline_row_limit", -5), ("query_timeout_seconds", 0)],
)
def test_settings_out_of_range_are_refused(emulator, setting, value):
    with pytest.raises(ConfigValidationError) as raised:
        TapLooker(config=tap_config(emulator, **{setting: value}))
    assert any(setting in error for error in raised.value.errors)


def test_a_bookmark_on_another_replication_key_is_refused(emulator):
    state = {
        "bookmarks": {
            "overhead_allocation": {"replication_key": "WHENMODIFIED", "replication_key_value": "2030-01-01"}
        }
    }
    with pytest.raises(SettingError, match=r"has a bookmark on WHENMODIFIED.*posting_date"):
        TapLooker(config=tap_config(emulator, [INCREMENTAL]), state=state)


def test_a_month_bookmark_is_a_bookmark(emulator):
    bookmark = {"replication_key": "posting_date", "replication_key_value": "2026-09"}
    state = {"bookmarks": {"overhead_allocation": bookmark}}
    sync = run_tap(tap_config(emulator, [INCREMENTAL]), state=state)
    assert sync.bookmark("overhead_allocation") == "2026-10-31"


def test_a_catalog_selecting_a_stream_the_tap_lacks_is_an_error(emulator):
    config = tap_config(emulator)
    catalog = TapLooker(config=config).catalog_dict
    entry = next(e for e in catalog["streams"] if e["tap_stream_id"] == "overhead_allocation")
    entry["tap_stream_id"] = entry["stream"] = "gl_lines"
    for meta in entry["metadata"]:
        if not meta["breadcrumb"]:
            meta["metadata"]["selected"] = True
    with pytest.raises(SettingError, match=r"selects stream.* gl_lines"):
        TapLooker(config=config, catalog=catalog)
