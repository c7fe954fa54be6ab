"""target-acumatica follows the shared retry policy (mlc_run_audit.retry) on every request, sign-in
included: at most max_retries + 1 attempts, one log line per retry, Retry-After honoured up to
max_backoff_seconds, and a final error naming the host. Requests are counted by the emulator."""

from __future__ import annotations

import logging

import pytest
from target_acumatica.target import TargetAcumatica

from tests.support.acumatica_target import (
    allocation_rows,
    posted_journals,
    run_target,
    singer_input,
    target_config,
)
from tests.support.retry import check_renamed_setting, closed_port_url, retry_lines


def test_unreachable_host_fails_after_max_retries_plus_one_attempts_naming_the_host(emulator, tmp_path):
    url = closed_port_url()
    config = target_config(emulator, tmp_path / "audit", base_url=url, max_retries=1)
    run = run_target(config, singer_input(allocation_rows(1, 1)), tmp_path)
    assert run.returncode == 1
    lines = retry_lines(run.stderr)
    # Before: the sign-in retried 5 times whatever max_retries said, then a bare ConnectionError.
    assert [(m[5], m[6]) for m in lines] == [("1", "1")], run.stderr[-3000:]
    assert lines[0][2].startswith(url) and "Connection refused" in lines[0][4]
    error = run.stderr.splitlines()[-1]
    assert "failed after 2 attempt(s) (max_retries 1)" in error and f"Check base_url ({url})" in error


def test_503_storm_stops_after_max_retries_plus_one_requests_each_retry_logged(emulator, tmp_path):
    emulator.fail_next(100, status=503)
    config = target_config(emulator, tmp_path / "audit", max_retries=2)
    run = run_target(config, singer_input(allocation_rows(1, 1)), tmp_path)
    assert run.returncode == 1
    assert emulator.stats.statuses[503] == 3  # before: 5, the sign-in's own budget
    lines = retry_lines(run.stderr)
    assert [(m[1], m[3], m[5], m[6]) for m in lines] == [
        ("POST", "OAuth token request", "1", "2"),
        ("POST", "OAuth token request", "2", "2"),
    ]
    error = run.stderr.splitlines()[-1]
    assert "failed after 3 attempt(s) (max_retries 2)" in error and "127.0.0.1" in error
    assert posted_journals(emulator) == {}


@pytest.mark.parametrize("emulator_config", [{"retry_after_s": 30}], indirect=True)
def test_retry_after_is_honoured_up_to_max_backoff_seconds(emulator, tmp_path):
    emulator.fail_next(2, status=429)  # the token request, twice
    config = target_config(emulator, tmp_path / "audit", max_backoff_seconds=0.2)
    run = run_target(config, singer_input(allocation_rows(1, 1)), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    # Before: the sign-in ignored Retry-After (a random wait of up to 2**n s).
    assert [(m[3], m[7]) for m in retry_lines(run.stderr)] == [("OAuth token request", "0.2")] * 2
    assert len(posted_journals(emulator)) == 1


@pytest.mark.parametrize("emulator_config", [{"retry_after_s": 0}], indirect=True)
def test_retry_after_replaces_the_backoff_and_sign_in_retries_count_with_the_run(emulator, tmp_path, caplog):
    emulator.fail_next(2, status=429)  # the token request, twice
    # Without Retry-After the waits would be 2-4 s and 4-8 s (retry_backoff_seconds 4).
    config = target_config(emulator, tmp_path / "audit", retry_backoff_seconds=4, max_backoff_seconds=10)
    with caplog.at_level(logging.INFO, logger="target-acumatica"):
        run = run_target(config, singer_input(allocation_rows(1, 1)), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert [(m[3], m[7]) for m in retry_lines(run.stderr)] == [("OAuth token request", "0.0")] * 2
    # Before: sign-ins had a policy of their own, and the run's summary said "retries: 0".
    summary = [m for m in caplog.messages if m.startswith("Acumatica requests: ")]
    assert len(summary) == 1 and summary[0].endswith("; retries: 2."), caplog.messages


@pytest.mark.parametrize(
    ("old", "new", "value"),
    [
        ("release_timeout_s", "release_timeout_seconds", 42),
        ("poll_interval_s", "poll_interval_seconds", 0.5),
        ("request_timeout", "request_timeout_seconds", 7),
    ],
)
def test_a_setting_under_its_old_name_still_works_with_a_warning(emulator, tmp_path, old, new, value):
    target = check_renamed_setting(
        TargetAcumatica, target_config(emulator, tmp_path / "audit"), old, new, value
    )
    poster, api = target.poster, target.api
    assert {
        "release_timeout_seconds": poster.release_timeout_seconds,
        "poll_interval_seconds": poster.poll_interval_seconds,
        "request_timeout_seconds": api.timeout,
    }[new] == value
