"""The console script's errors: one or two lines naming the setting (or stream) and what to do, the
traceback only at debug level; bounds of numeric settings checked by the SDK and shown by --about."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from acumatica_client import AcumaticaAuthError
from target_acumatica.poster import JournalPoster

from tests.support.acumatica_target import (
    MAPPING,
    STREAM,
    TARGET,
    allocation_rows,
    audit_lines,
    posted_journals,
    run_cli,
    run_target,
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
        (
            "request_timeout_seconds",
            0,
            "0 is less than or equal to the minimum of 0 in config['request_timeout_seconds']",
        ),
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
            "max_backoff_seconds",
            "lines_per_request",
            "poll_interval_seconds",
            "release_timeout_seconds",
        )
    }
    assert bounds == {
        "max_retries": 0,
        "max_backoff_seconds": 0,
        "lines_per_request": 1,
        "poll_interval_seconds": 0,
        "release_timeout_seconds": 0,
    }
    assert properties["request_timeout_seconds"]["exclusiveMinimum"] == 0
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


def test_journals_after_a_sign_in_failure_are_failed_as_not_attempted(emulator, tmp_path, monkeypatch):
    """Journals are built and posted one at a time: once signing in fails, each later journal is still
    built from its rows and recorded as not attempted (audit line, failed file), and STATE is held."""
    real_post = JournalPoster.post
    calls = []

    def post(self, journal):
        calls.append(journal.key)
        if len(calls) == 2:
            raise AcumaticaAuthError("sign-in refused")
        return real_post(self, journal)

    monkeypatch.setattr(JournalPoster, "post", post)
    rows = allocation_rows(allocations=3, lines=2)
    run = run_target(target_config(emulator, tmp_path / "audit"), singer_input(rows), tmp_path)
    assert run.returncode == 1 and "sign-in refused" in run.stderr
    assert calls == ["OH:2024-03:A-0001", "OH:2024-03:A-0002"]
    assert list(posted_journals(emulator)) == ["OH:2024-03:A-0001"]
    audit = audit_lines(tmp_path / "audit")
    assert [(a["key"], a["status"], a["rows"]) for a in audit] == [
        ("OH:2024-03:A-0001", "posted", 3),
        ("OH:2024-03:A-0002", "failed", 3),
        ("OH:2024-03:A-0003", "failed", 3),
    ]
    assert {a["error"] for a in audit[1:]} == {"not attempted: signing in to Acumatica failed"}
    assert all(a["failed_file"] for a in audit[1:])
    assert run.states == []


def test_an_unexpected_error_while_posting_emits_no_state(emulator, tmp_path, monkeypatch):
    """Whatever stops the posting (here a bug-like error from inside the poster), the rows of that
    stream may not have landed: the run fails and no STATE follows, even for journals posted before."""
    real_post = JournalPoster.post
    calls = []

    def post(self, journal):
        calls.append(journal.key)
        if len(calls) == 2:
            raise RuntimeError("unexpected")
        return real_post(self, journal)

    monkeypatch.setattr(JournalPoster, "post", post)
    bookmark = {"bookmarks": {"overhead_allocation": {"replication_key_value": "x"}}}
    state = json.dumps({"type": "STATE", "value": bookmark}) + "\n"
    text = singer_input(allocation_rows(allocations=3, lines=2)) + state
    run = run_target(target_config(emulator, tmp_path / "audit"), text, tmp_path)
    assert run.returncode == 1 and "unexpected" in run.stderr
    assert list(posted_journals(emulator)) == ["OH:2024-03:A-0001"]
    assert run.states == []
