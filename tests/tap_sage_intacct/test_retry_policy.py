"""tap-sage-intacct follows the shared retry policy (mlc_run_audit.retry): at most max_retries + 1
attempts, one log line per retry naming the request, and a final error naming the host and what to
do. Requests are counted by the emulator (the emulator sends no Retry-After: a local server that does
stands in for it)."""

from __future__ import annotations

import pytest
from tap_sage_intacct.tap import TapSageIntacct
from tap_sage_intacct.xmlgw import IntacctError

from tests.support.intacct import run
from tests.support.retry import (
    RetryAfterServer,
    captured_log,
    check_renamed_setting,
    closed_port_url,
    retry_lines,
    waits,
)


def test_unreachable_host_fails_after_max_retries_plus_one_attempts_naming_the_host(config):
    url = closed_port_url()
    with captured_log("tap-sage-intacct") as log, pytest.raises(IntacctError) as caught:
        run({**config, "endpoint_url": f"{url}/ia/xml/xmlgw.phtml", "max_retries": 1}, ["classes"])
    lines = retry_lines(log.getvalue())
    assert [(m[1], m[3], m[5], m[6]) for m in lines] == [("POST", "getAPISession", "1", "1")]
    assert lines[0][2] == f"{url}/ia/xml/xmlgw.phtml" and "Connection refused" in lines[0][4]
    message = str(caught.value)
    # Before: "Giving up after 1 retries: getAPISession: ConnectionError talking to 127.0.0.1:<port>".
    assert "failed after 2 attempt(s) (max_retries 1)" in message
    assert f"Check endpoint_url ({url})" in message


def test_503_storm_stops_after_max_retries_plus_one_requests_each_retry_logged(intacct, config):
    intacct.knobs.fail_next = 100
    with captured_log("tap-sage-intacct") as log, pytest.raises(IntacctError) as caught:
        run({**config, "max_retries": 2}, ["classes"])
    assert intacct.stats.statuses[503] == 3
    lines = retry_lines(log.getvalue())
    assert [(m[3], m[5], m[6]) for m in lines] == [("getAPISession", "1", "2"), ("getAPISession", "2", "2")]
    assert all(m[2] == intacct.endpoint_url and "HTTP 503" in m[4] for m in lines)
    assert "failed after 3 attempt(s) (max_retries 2)" in str(caught.value)
    assert "overloaded or unavailable" in str(caught.value)


def test_gw_0010_waits_stay_within_max_backoff_seconds(intacct, config):
    intacct.knobs.rate_limit_next = 3
    with captured_log("tap-sage-intacct") as log:
        sync = run({**config, "max_backoff_seconds": 0.1}, ["classes"])
    assert len(sync.records["classes"]) == len(intacct.store.records("CLASS"))
    waits = [float(m[7]) for m in retry_lines(log.getvalue())]
    assert len(waits) == 3 and all(w <= 0.1 for w in waits)


@pytest.mark.parametrize(
    ("retry_after", "max_backoff_seconds", "wanted"),
    # Without Retry-After the waits would be 2-4 s and 4-8 s (retry_backoff_seconds 4), capped.
    [("0", 10, ["0.0", "0.0"]), ("30", 0.2, ["0.2", "0.2"])],
)
def test_retry_after_replaces_the_backoff_up_to_max_backoff_seconds(
    config, retry_after, max_backoff_seconds, wanted
):
    # The emulator sends no Retry-After (whether the gateway does is not documented): a server that does.
    with RetryAfterServer(429, retry_after) as server, captured_log("tap-sage-intacct") as log:
        settings = {"max_retries": 2, "retry_backoff_seconds": 4, "max_backoff_seconds": max_backoff_seconds}
        endpoint = f"{server.url}/ia/xml/xmlgw.phtml"
        with pytest.raises(IntacctError) as caught:
            run({**config, **settings, "endpoint_url": endpoint}, ["classes"])
    assert server.requests == {"POST /ia/xml/xmlgw.phtml": 3}
    assert waits(log.getvalue()) == wanted
    assert [(m[2], m[3]) for m in retry_lines(log.getvalue())] == [(endpoint, "getAPISession")] * 2
    assert "failed after 3 attempt(s) (max_retries 2)" in str(caught.value)


def test_request_timeout_under_its_old_name_still_sets_the_timeout_with_a_warning(config):
    tap = check_renamed_setting(TapSageIntacct, config, "request_timeout", "request_timeout_seconds", 7)
    assert tap.client.timeout == 7
