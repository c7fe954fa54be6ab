"""The shared connection settings: declared once with their defaults, read with the defaults applied,
durations in _seconds, and old names still taken with a warning naming both."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import pytest
from mlc_run_audit.checks import SettingError
from mlc_run_audit.retry import RetryPolicy
from mlc_run_audit.settings import (
    RENAMED_SETTINGS,
    ConnectionSettings,
    RenamedSettings,
    connection_properties,
    connection_schema,
    rename_settings,
)
from singer_sdk import Tap
from singer_sdk import typing as th

logger = logging.getLogger("tests.run_audit.settings")


def test_the_declaration_holds_the_defaults_the_reader_and_the_policy_use():
    declared = connection_schema()
    assert list(declared) == [
        "request_timeout_seconds",
        "max_retries",
        "retry_backoff_seconds",
        "max_backoff_seconds",
    ]
    defaults = ConnectionSettings()
    assert {name: spec["default"] for name, spec in declared.items()} == {
        "request_timeout_seconds": defaults.request_timeout_seconds,
        "max_retries": defaults.max_retries,
        "retry_backoff_seconds": defaults.retry_backoff_seconds,
        "max_backoff_seconds": defaults.max_backoff_seconds,
    }
    policy = RetryPolicy()
    assert (policy.max_retries, policy.backoff_base_seconds, policy.max_backoff_seconds) == (
        defaults.max_retries,
        defaults.retry_backoff_seconds,
        defaults.max_backoff_seconds,
    )
    assert [p.name for p in connection_properties(request_timeout=False)] == list(declared)[1:]
    # A negative retry count or a zero timeout is refused before the run starts.
    assert (
        declared["max_retries"]["minimum"] == 0
        and declared["request_timeout_seconds"]["exclusiveMinimum"] == 0
    )


def test_a_setting_left_out_or_null_takes_its_default():
    read = ConnectionSettings.from_config(
        {"request_timeout_seconds": 12, "max_retries": None, "max_backoff_seconds": 0}
    )
    assert read == ConnectionSettings(request_timeout_seconds=12.0, max_backoff_seconds=0.0)


def test_every_duration_setting_ends_in_seconds():
    assert all(name.endswith("_seconds") for name in connection_schema() if name != "max_retries")
    assert all(new.endswith("_seconds") for new in RENAMED_SETTINGS.values())


def test_a_setting_under_its_old_name_is_read_under_the_new_one_with_a_warning_naming_both(caplog):
    with caplog.at_level(logging.WARNING):
        config = rename_settings({"request_timeout": 7, "max_retries": 2}, RENAMED_SETTINGS, logger)
    assert config == {"request_timeout_seconds": 7, "max_retries": 2}
    assert caplog.messages == [
        "Setting request_timeout is deprecated: it is now request_timeout_seconds; rename it in the config."
    ]


def test_the_same_value_under_both_names_is_taken():
    config = rename_settings({"request_timeout": 7, "request_timeout_seconds": 7}, RENAMED_SETTINGS, logger)
    assert config == {"request_timeout_seconds": 7}


def test_different_values_under_both_names_is_an_error_naming_both():
    with pytest.raises(SettingError) as caught:
        rename_settings({"request_timeout": 7, "request_timeout_seconds": 30}, RENAMED_SETTINGS, logger)
    assert str(caught.value) == (
        "Settings request_timeout (7) and request_timeout_seconds (30) are both set; request_timeout is "
        "the old name of request_timeout_seconds: keep only request_timeout_seconds."
    )


class _Tap(RenamedSettings, Tap):
    """The smallest tap taking the shared connection settings."""

    name = "tap-renamed-example"
    config_jsonschema: ClassVar[dict[str, Any]] = th.PropertiesList(*connection_properties()).to_dict()

    def discover_streams(self) -> list[Any]:
        return []


def test_a_plugin_keeps_old_names_declared_as_deprecated_and_reads_them_under_the_new_names(caplog):
    # Declared, Meltano passes the old name on (and its environment variable); the type is checked too.
    assert _Tap.config_jsonschema["properties"]["request_timeout"] == {
        "type": ["number", "null"],
        "title": "request_timeout_seconds (old name)",
        "deprecated": True,
        "description": "Deprecated: the old name of request_timeout_seconds; set request_timeout_seconds "
        "instead.",
    }
    with caplog.at_level(logging.WARNING, logger=_Tap.name):
        tap = _Tap(config={"request_timeout": 7})
    assert dict(tap.config) == {
        **{n: s["default"] for n, s in connection_schema().items()},
        "request_timeout_seconds": 7,
    }
    assert [r.getMessage() for r in caplog.records if r.name == _Tap.name] == [
        "Setting request_timeout is deprecated: it is now request_timeout_seconds; rename it in the config."
    ]
