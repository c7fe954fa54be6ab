"""tap-looker follows the shared retry policy (mlc_run_audit.retry): at most max_retries + 1
attempts, one log line per retry naming the request, Retry-After honoured up to max_backoff_seconds,
and a final error naming the host and what to do. Requests are counted by the emulator."""

from __future__ import annotations

import pytest
from tap_looker.client import LookerError
from tap_looker.tap import TapLooker

from tests.support.looker import run_tap, tap_config
from tests.support.retry import captured_log, check_renamed_setting, closed_port_url, retry_lines, waits


def test_unreachable_host_fails_after_max_retries_plus_one_attempts_naming_the_host(emulator):
    url = closed_port_url()
    with captured_log("tap-looker") as log, pytest.raises(LookerError) as caught:
        TapLooker(config=tap_config(emulator, base_url=url, max_retries=1))  # discovery logs in
    lines = retry_lines(log.getvalue())
    assert [(m[1], m[2], m[5], m[6]) for m in lines] == [("POST", f"{url}/api/4.0/login", "1", "1")]
    assert "Connection refused" in lines[0][4]
    # Before: "POST /api/4.0/login failed after 2 tries: ConnectionError", naming no host.
    assert "failed after 2 attempt(s) (max_retries 1)" in str(caught.value)
    assert f"Check base_url ({url})" in str(caught.value)


def test_503_storm_stops_after_max_retries_plus_one_requests_each_retry_logged(emulator):
    config = tap_config(emulator, max_retries=2)
    tap = TapLooker(config=config)
    emulator.fail_next(100, 503, "run_inline_query")
    with captured_log("tap-looker") as log, pytest.raises(LookerError) as caught:
        run_tap(config, tap=tap)
    assert emulator.stats.requests[("POST", "run_inline_query")] == 3
    lines = retry_lines(log.getvalue())
    assert [(m[5], m[6]) for m in lines] == [("1", "2"), ("2", "2")]
    assert all(m[2].endswith("/api/4.0/queries/run/json") and "HTTP 503" in m[4] for m in lines)
    assert "failed after 3 attempt(s) (max_retries 2)" in str(caught.value)
    assert emulator.base_url.split("://")[1].split("/")[0] in str(caught.value)


def test_retry_after_is_honoured_up_to_max_backoff_seconds(emulator):
    emulator.knobs.retry_after_s = 30
    emulator.fail_next(2, 429, "login")
    with captured_log("tap-looker") as log:
        TapLooker(config=tap_config(emulator, max_backoff_seconds=0.2))
    assert emulator.stats.logins == 1
    assert [(m[2].rsplit("/", 1)[1], m[7]) for m in retry_lines(log.getvalue())] == [("login", "0.2")] * 2


def test_retry_after_replaces_the_backoff(emulator):
    emulator.knobs.retry_after_s = 0
    emulator.fail_next(2, 429, "login")
    with captured_log("tap-looker") as log:
        # Without Retry-After the waits would be 2-4 s and 4-8 s (retry_backoff_seconds 4).
        TapLooker(config=tap_config(emulator, retry_backoff_seconds=4, max_backoff_seconds=10))
    assert emulator.stats.logins == 1
    assert waits(log.getvalue()) == ["0.0", "0.0"]


def test_request_timeout_under_its_old_name_still_sets_the_timeout_with_a_warning(emulator):
    tap = check_renamed_setting(
        TapLooker, tap_config(emulator), "request_timeout", "request_timeout_seconds", 7
    )
    assert tap.client.timeout == 7
