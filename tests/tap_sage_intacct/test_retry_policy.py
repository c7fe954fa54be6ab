"""tap-sage-intacct follows the shared retry policy (mlc_run_audit.retry): at most max_retries + 1
attempts, one log line per retry naming the request, and a final error naming the host and what to
do. Requests are counted by the emulator. (The emulator sends no Retry-After; the policy's handling of
it is pinned in tests/run_audit/test_retry.py.)"""

from __future__ import annotations

import pytest
from tap_sage_intacct.xmlgw import IntacctError

from tests.support.intacct import run
from tests.support.retry import captured_log, closed_port_url, retry_lines


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
