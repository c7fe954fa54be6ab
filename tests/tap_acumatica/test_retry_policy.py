"""tap-acumatica follows the shared retry policy (mlc_run_audit.retry) on every request, sign-in
included: at most max_retries + 1 attempts, one log line per retry, Retry-After honoured up to
max_backoff_seconds, and a final error naming the host. Requests are counted by the emulator."""

from __future__ import annotations

import pytest
from tap_acumatica.tap import TapAcumatica

from tests.support.retry import check_renamed_setting, closed_port_url, retry_lines


def test_unreachable_host_fails_after_max_retries_plus_one_attempts_naming_the_host(tap):
    url = closed_port_url()
    # Before: the sign-in retried 5 times whatever max_retries said, then a bare ConnectionError.
    sync = tap.sync(["vendors"], base_url=url, max_retries=1, check=False)
    assert sync.returncode != 0 and sync.records == {}
    lines = retry_lines(sync.stderr)
    assert [(m[5], m[6]) for m in lines] == [("1", "1")], sync.stderr[-3000:]
    assert lines[0][2].startswith(url) and "Connection refused" in lines[0][4]
    assert "failed after 2 attempt(s) (max_retries 1)" in sync.stderr
    assert f"Check base_url ({url})" in sync.stderr


def test_503_storm_at_sign_in_stops_after_max_retries_plus_one_requests(tap, emulator):
    emulator.fail_next(100, status=503)
    sync = tap.sync(["vendors"], max_retries=2, check=False)
    assert sync.returncode != 0 and sync.records == {}
    assert emulator.stats.statuses[503] == 3  # before: 5, the sign-in's own budget
    lines = retry_lines(sync.stderr)
    assert [(m[1], m[3], m[5], m[6]) for m in lines] == [
        ("POST", "OAuth token request", "1", "2"),
        ("POST", "OAuth token request", "2", "2"),
    ]
    assert "failed after 3 attempt(s) (max_retries 2)" in sync.stderr
    assert "127.0.0.1" in sync.stderr.splitlines()[-1]


def test_503_storm_on_a_stream_stops_after_max_retries_plus_one_requests(tap, emulator):
    def storm(info):
        if info.entity == "Vendor" and info.number == 1:
            emulator.fail_next(100, status=503)

    emulator.on_request(storm)
    # One request at a time: with more, the first page and the probe of the window's newest row are
    # both in flight, and each gets max_retries + 1 attempts (test_parallel covers that).
    sync = tap.sync(["vendors"], max_retries=2, max_concurrent_requests=1, check=False)
    assert sync.returncode != 0
    assert emulator.stats.statuses[503] == 3
    lines = retry_lines(sync.stderr)
    assert [(m[3], m[5], m[6]) for m in lines] == [("stream vendors", "1", "2"), ("stream vendors", "2", "2")]
    assert all("/Vendor" in m[2] and "503" in m[4] for m in lines)


@pytest.mark.parametrize("emulator_config", [{"retry_after_s": 30}], indirect=True)
def test_retry_after_is_capped_at_max_backoff_seconds(tap, emulator):
    def limit(info):
        if info.entity == "Vendor" and info.number == 1:
            emulator.fail_next(2, status=429)

    emulator.on_request(limit)
    sync = tap.sync(["vendors"], max_backoff_seconds=0.2)
    assert len(sync.records["vendors"]) == len(emulator.store.records("Vendor", "24.200.001"))
    assert [m[7] for m in retry_lines(sync.stderr)] == ["0.2", "0.2"]


@pytest.mark.parametrize("emulator_config", [{"retry_after_s": 1}], indirect=True)
def test_retry_after_is_honoured_at_sign_in(tap, emulator):
    emulator.fail_next(1, status=429)  # the first request of the run is the token request
    sync = tap.sync(["vendors"], max_backoff_seconds=5)
    assert sync.records["vendors"]
    # Before: the sign-in ignored Retry-After and waited a random 0-1 s.
    assert [(m[3], m[7]) for m in retry_lines(sync.stderr)] == [("OAuth token request", "1.0")]


def test_request_timeout_under_its_old_name_still_sets_the_timeout_with_a_warning(tap_config):
    tap = check_renamed_setting(TapAcumatica, tap_config, "request_timeout", "request_timeout_seconds", 7)
    # Before: request_timeout_seconds was unknown and the old name the only one read.
    assert tap.streams["vendors"].timeout == 7
