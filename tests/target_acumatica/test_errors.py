"""The console script's errors: one or two lines naming the setting (or stream) and what to do, the
traceback only at debug level; bounds of numeric settings checked by the SDK and shown by --about."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.target_acumatica.helpers import (
    MAPPING,
    STREAM,
    TARGET,
    allocation_rows,
    run_cli,
    singer_input,
    target_config,
)


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "| ERROR" in line or "Traceback" in line]


@pytest.mark.parametrize(
    ("overrides", "stream", "wanted"),
    [
        (
            {"journals": {STREAM: {**MAPPING, "acount": "account"}}},
            STREAM,
            "ConfigError: Setting journals.overhead_allocation has unknown keys ['acount']",
        ),
        ({}, "other", "ConfigError: Stream other is named in neither journals nor reference_records; map it"),
        (
            {"journals": {STREAM: MAPPING, "other": MAPPING}},
            STREAM,
            "ConfigError: Settings journals.other and journals.overhead_allocation share key_prefix 'OH'",
        ),
    ],
)
def test_config_errors_end_in_one_line_naming_the_setting(emulator, tmp_path, overrides, stream, wanted):
    config = target_config(emulator, tmp_path / "audit", **overrides)
    run = run_cli(config, singer_input(allocation_rows(1, 1), stream=stream), tmp_path)
    assert run.returncode == 1
    errors = _errors(run.stderr)
    assert len(errors) == 1 and wanted in errors[0], run.stderr
    assert run.states == []


@pytest.mark.parametrize(
    ("setting", "value", "wanted"),
    [
        ("max_retries", -1, "-1 is less than the minimum of 0 in config['max_retries']"),
        ("request_timeout", 0, "0 is less than the minimum of 1 in config['request_timeout']"),
        ("lines_per_request", 0, "0 is less than the minimum of 1 in config['lines_per_request']"),
        ("amount_rounding", "up", "'up' is not one of ['reject', 'half_up', 'half_even']"),
    ],
)
def test_out_of_range_settings_are_refused_before_the_run(emulator, tmp_path, setting, value, wanted):
    config = target_config(emulator, tmp_path / "audit", **{setting: value})
    run = run_cli(config, singer_input(allocation_rows(1, 1)), tmp_path)
    assert run.returncode == 1
    errors = _errors(run.stderr)
    assert len(errors) == 2 and wanted in errors[0] and "Config validation failed" in errors[1], run.stderr
    assert emulator.stats.requests[("POST", "token")] == 0


def test_about_shows_the_bounds(tmp_path):
    about = json.loads(
        subprocess.run(
            [TARGET, "--about", "--format=json"], capture_output=True, text=True, check=True
        ).stdout
    )
    properties = about["settings"]["properties"]
    bounds = {
        name: properties[name].get("minimum")
        for name in (
            "max_retries",
            "request_timeout",
            "max_backoff_seconds",
            "lines_per_request",
            "poll_interval_s",
            "release_timeout_s",
        )
    }
    assert bounds == {
        "max_retries": 0,
        "request_timeout": 1,
        "max_backoff_seconds": 0,
        "lines_per_request": 1,
        "poll_interval_s": 0,
        "release_timeout_s": 0,
    }
    assert "batch" in about["capabilities"]


def test_the_traceback_is_logged_at_debug_level_only(emulator, tmp_path):
    config = target_config(emulator, tmp_path / "audit")
    text = singer_input(allocation_rows(1, 1), stream="other")
    quiet = run_cli(config, text, tmp_path)
    assert "Traceback" not in quiet.stderr
    path = tmp_path / "target-config.json"
    debug = subprocess.run(
        [TARGET, "--config", str(path)],
        input=text,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TARGET_ACUMATICA_LOGLEVEL": "DEBUG"},
    )
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr and "ConfigError: Stream other" in debug.stderr


@pytest.mark.parametrize(
    ("line", "wanted"),
    [
        ("not json", "InvalidInputLine: An input line is not JSON"),
        ('{"type": "FOO", "stream": "x"}', "MessageError: Unknown Singer message type 'FOO'"),
    ],
)
def test_unreadable_input_ends_in_one_line_before_state(emulator, tmp_path, line, wanted):
    text = singer_input(allocation_rows(1, 1)) + line + "\n"
    run = run_cli(target_config(emulator, tmp_path / "audit"), text, tmp_path)
    assert run.returncode == 1
    errors = _errors(run.stderr)
    assert len(errors) == 1 and wanted in errors[0], run.stderr
    assert run.states == [] and emulator.stats.requests[("PUT", "entity")] == 0
