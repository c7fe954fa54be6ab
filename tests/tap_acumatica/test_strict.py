"""tap-acumatica refuses what would make a run "succeed" having read nothing or land data under a
wrong name, before any data moves, in one or two lines naming the setting (or state, or catalog)."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.support.taprun import TAP, Sync, TapRunner, _catalog, _write

HOSTILE = 'x" (i int); DROP TABLE bills; CREATE TABLE "y'


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "| ERROR" in line]


def refused(result, *words: str) -> None:
    """Exit 1, no record, no traceback, one or two error lines that say ``words``."""
    assert result.returncode == 1, result.stderr[-3000:]
    assert not result.records, "data moved before the error"
    assert "Traceback" not in result.stderr
    lines = errors(result.stderr)
    assert 1 <= len(lines) <= 2, lines
    text = " ".join(lines)
    for word in words:
        assert word in text, (word, lines)


def with_setting(tmp_path, tap_config: dict, **setting):
    """A run with ``setting`` added to a config whose catalog (vendors selected) was discovered without it."""
    result = run_files(tmp_path, {**tap_config, **setting}, vendors_catalog(tap_config))
    return Sync.of_output(result.stdout, result.returncode, result.stderr)


def run_files(tmp_path, config: dict, catalog: dict, state_text: str | None = None):
    args = [TAP, "--config", _write(str(tmp_path), "config.json", config)]
    args += ["--catalog", _write(str(tmp_path), "catalog.json", catalog)]
    if state_text is not None:
        (tmp_path / "state.json").write_text(state_text)
        args += ["--state", str(tmp_path / "state.json")]
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


def vendors_catalog(config: dict) -> dict:
    plain = {k: v for k, v in config.items() if k != "base_url"}
    return _catalog(json.dumps(plain, sort_keys=True), ["vendors"])


@pytest.mark.parametrize(
    ("setting", "value"),
    [("page_size", 0), ("max_retries", -1), ("request_timeout_seconds", 0), ("max_backoff_seconds", -5)],
)
def test_settings_out_of_range_are_refused_naming_them(tap: TapRunner, setting, value):
    refused(tap.sync(["vendors"], check=False, **{setting: value}), setting)


def test_a_start_date_that_is_not_a_date_is_named(tap: TapRunner):
    refused(tap.sync(["vendors"], check=False, start_date="yesterday"), "start_date", "'yesterday'")


def test_about_shows_the_ranges():
    about = json.loads(
        subprocess.run([TAP, "--about", "--format=json"], capture_output=True, text=True, check=True).stdout
    )
    properties = about["settings"]["properties"]
    assert properties["page_size"]["minimum"] == 1
    assert properties["max_retries"]["minimum"] == 0


def test_a_bookmark_on_another_taps_replication_key_is_refused(tap: TapRunner):
    state = {
        "bookmarks": {
            "vendors": {
                "replication_key": "WHENMODIFIED",
                "replication_key_value": "2030-01-01T00:00:00+00:00",
            }
        }
    }
    refused(tap.sync(["vendors"], state, check=False), "vendors", "WHENMODIFIED", "LastModifiedDateTime")


def test_a_bookmark_that_is_not_a_time_is_refused(tap: TapRunner):
    bookmark = {"replication_key": "LastModifiedDateTime", "replication_key_value": "soon"}
    state = {"bookmarks": {"vendors": bookmark}}
    refused(tap.sync(["vendors"], state, check=False), "vendors", "'soon'")


def test_a_stock_item_bookmark_carries_over_from_last_modified(tap: TapRunner, emulator):
    first = tap.sync(["stock_items"], endpoint_version="23.200.001")
    assert first.state["bookmarks"]["stock_items"]["replication_key"] == "LastModified"
    second = tap.sync(["stock_items"], first.state)
    assert second.returncode == 0


def test_a_state_file_that_is_not_json_is_named(tmp_path, tap_config):
    result = run_files(tmp_path, tap_config, vendors_catalog(tap_config), "{not json")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert any("State file" in line and "state.json" in line for line in errors(result.stderr))


def test_a_catalog_selecting_only_a_stream_the_tap_lacks_is_an_error(tmp_path, tap_config):
    catalog = vendors_catalog(tap_config)
    entry = next(e for e in catalog["streams"] if e["tap_stream_id"] == "vendors")
    entry["tap_stream_id"] = entry["stream"] = "vendorz"
    result = run_files(tmp_path, tap_config, catalog)
    assert result.returncode == 1, result.stderr[-2000:]
    assert '"type":"RECORD"' not in result.stdout.replace(" ", "")
    assert any("vendorz" in line for line in errors(result.stderr))


@pytest.mark.parametrize("name", [HOSTILE, "ap-bills", "1bills", "b" * 64, "naïve"])
def test_an_extra_entity_with_an_unsafe_name_is_refused_before_any_data(tmp_path, tap_config, name):
    extra = [{"name": name, "entity": "Bill", "key_properties": ["Type", "ReferenceNbr"]}]
    refused(with_setting(tmp_path, tap_config, extra_entities=extra), "extra_entities", "stream name")


@pytest.mark.parametrize("name", ["vendors", "Vendors", "VENDORS"])
def test_an_extra_entity_named_like_a_builtin_in_any_case_is_refused(tmp_path, tap_config, name):
    extra = [{"name": name, "entity": "Vendor", "key_properties": ["VendorID"]}]
    result = with_setting(tmp_path, tap_config, extra_entities=extra)
    refused(result, "extra_entities", repr(name), "'vendors'")


def test_two_extra_entities_differing_in_case_are_refused(tmp_path, tap_config):
    extra = [
        {"name": "ar_payments", "entity": "Payment", "key_properties": ["Type", "ReferenceNbr"]},
        {"name": "AR_Payments", "entity": "Payment", "key_properties": ["Type", "ReferenceNbr"]},
    ]
    refused(with_setting(tmp_path, tap_config, extra_entities=extra), "extra_entities", "'AR_Payments'")


def test_an_extra_entity_schema_property_that_is_not_safe_is_refused(tmp_path, tap_config):
    extra = [
        {
            "name": "projects_x",
            "entity": "ProjectX",
            "key_properties": ["ProjectID"],
            "schema": {
                "type": "object",
                "properties": {"ProjectID": {"type": "string"}, 'a"b': {"type": "string"}},
            },
        }
    ]
    refused(with_setting(tmp_path, tap_config, extra_entities=extra), "extra_entities", "schema property")


def test_a_custom_field_name_outside_ascii_is_refused(tmp_path, tap_config):
    setting = {"vendors": ["VendorSummary.Usrnaïve"]}
    refused(with_setting(tmp_path, tap_config, custom_fields=setting), "custom_fields")


def test_a_long_custom_field_gets_a_safe_column_name():
    from mlc_run_audit.checks import MAX_NAME_LENGTH, is_safe_name
    from tap_acumatica.schema import CustomField

    column = CustomField.parse("VendorPaymentMethodDetails.UsrAVeryLongCustomFieldNameIndeed").column
    assert is_safe_name(column) and len(column) == MAX_NAME_LENGTH
    assert column == CustomField.parse("VendorPaymentMethodDetails.UsrAVeryLongCustomFieldNameIndeed").column


def test_an_extra_entity_with_a_schema_emits_only_the_schema_properties(tap: TapRunner):
    schema = {
        "type": "object",
        "properties": {
            "VendorID": {"type": ["string", "null"]},
            "VendorName": {"type": ["string", "null"]},
            "LastModifiedDateTime": {"type": ["string", "null"], "format": "date-time"},
        },
    }
    extra = [{"name": "vendor_names", "entity": "Vendor", "key_properties": ["VendorID"], "schema": schema}]
    sync = tap.sync(["vendor_names"], extra_entities=extra)
    records = sync.records["vendor_names"]
    assert records
    for record in records:
        assert {k for k in record if not k.startswith("_audit_")} <= set(schema["properties"]), record
