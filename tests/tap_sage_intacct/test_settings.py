"""tap-sage-intacct refuses unsafe or colliding names, out-of-range settings, bookmarks of another
replication key and catalogs selecting a stream it lacks before it reads anything; field names that
are not safe columns are emitted under a safe name; config errors end in one or two lines."""

from __future__ import annotations

import json
import subprocess

import pytest
from mlc_run_audit.checks import SettingError
from singer_sdk.exceptions import ConfigValidationError
from tap_sage_intacct.schema import Shape
from tap_sage_intacct.tap import TapSageIntacct

from tests.support.intacct import TAP, catalog, run

CLASS_FIELDS = {"RECORDNO": "integer", "CLASSID": "text", "NAME": "text", "WHENMODIFIED": "timestamp"}


def tap(config: dict, **kwargs) -> TapSageIntacct:
    return TapSageIntacct(config=config, parse_env_config=False, **kwargs)


@pytest.mark.parametrize(
    ("setting", "value"),
    [("page_size", 0), ("page_size", 2001), ("max_retries", -1), ("request_timeout_seconds", 0)],
)
def test_settings_out_of_range_are_refused(config, setting, value):
    with pytest.raises(ConfigValidationError) as raised:
        tap({**config, setting: value})
    assert any(setting in error for error in raised.value.errors)


@pytest.mark.parametrize("name", ['x" (i int); DROP TABLE ap_bills; --', "class-names", "Ünits"])
def test_an_unsafe_object_stream_name_is_refused(config, name):
    objects = [{"name": name, "object": "CLASS", "fields": CLASS_FIELDS}]
    with pytest.raises(SettingError, match="Setting objects: stream name"):
        tap({**config, "objects": objects})


@pytest.mark.parametrize("name", ["vendors", "Vendors"])
def test_an_object_named_like_a_builtin_in_any_case_is_refused(config, name):
    objects = [{"name": name, "object": "CLASS", "fields": CLASS_FIELDS}]
    with pytest.raises(SettingError, match=f"stream name '{name}' is taken by a built-in stream"):
        tap({**config, "objects": objects})


def test_fields_with_dots_are_emitted_under_a_safe_name(intacct, config):
    sync = run(config, ["vendors"])
    properties = sync.schemas["vendors"]["properties"]
    assert "DISPLAYCONTACT_MAILADDRESS_CITY" in properties
    assert not [name for name in properties if "." in name]
    source = {int(r["RECORDNO"]): r for r in intacct.store.records("VENDOR")}
    for record in sync.records["vendors"]:
        assert record["DISPLAYCONTACT_EMAIL1"] == source[record["RECORDNO"]]["DISPLAYCONTACT.EMAIL1"]


def test_fields_landing_on_one_column_are_refused():
    with pytest.raises(SettingError, match=r"fields A\.B and A_B would both be emitted as column A_B"):
        Shape([("A.B", "text"), ("A_B", "text")], what="Stream x: CLASS")


def test_a_bookmark_on_another_replication_key_is_refused(config):
    state = {
        "bookmarks": {
            "vendors": {
                "replication_key": "LastModifiedDateTime",
                "replication_key_value": "2030-01-01T00:00:00Z",
            }
        }
    }
    with pytest.raises(SettingError, match=r"vendors has a bookmark on LastModifiedDateTime.*WHENMODIFIED"):
        tap(config, state=state)


def test_a_catalog_selecting_a_stream_the_tap_lacks_is_an_error(config):
    entries = catalog(config, ["vendors"])
    entry = next(e for e in entries["streams"] if e["tap_stream_id"] == "vendors")
    entry["tap_stream_id"] = entry["stream"] = "suppliers"
    with pytest.raises(SettingError, match=r"selects stream.* suppliers"):
        tap(config, catalog=entries)


def test_a_config_error_is_one_or_two_lines_without_traceback(tmp_path, config):
    (tmp_path / "config.json").write_text(json.dumps({**config, "timezone": "Mars/Olympus"}))
    (tmp_path / "catalog.json").write_text(json.dumps(catalog(config, ["vendors"])))
    proc = subprocess.run(
        [TAP, "--config", str(tmp_path / "config.json"), "--catalog", str(tmp_path / "catalog.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "| ERROR" in line]
    assert 1 <= len(errors) <= 2, proc.stderr[-3000:]
    assert "timezone 'Mars/Olympus'" in errors[0]


def test_a_deletions_bookmark_that_is_not_a_time_is_refused(config):
    state = {"bookmarks": {"ap_bills": {"deleted_after": "last tuesday"}}}
    with pytest.raises(SettingError, match="ap_bills: deleted_after 'last tuesday'"):
        tap({**config, "include_deleted": True}, state=state)
