"""Sessions, errors at each of the three levels, rate limiting, 5xx, cut-off answers, control
characters and data changing during a run, against the emulator's fault knobs."""

from __future__ import annotations

import time

import pytest
from tap_sage_intacct.client import Credentials, IntacctClient
from tap_sage_intacct.objects import BALANCES, BUILTIN
from tap_sage_intacct.tap import TapSageIntacct
from tap_sage_intacct.xmlgw import IntacctAuthError, IntacctError, query

from tests.support.intacct import after_this_second, mismatches, run

# Sessions ----------------------------------------------------------------------------------------


def test_one_session_for_the_whole_run_opened_only_when_reading(intacct, config):
    streams = TapSageIntacct(config={**config, "lookup_fields": False}, parse_env_config=False).streams
    assert len(streams) == len(BUILTIN) + len(BALANCES) + 1
    assert intacct.stats.sessions_issued == 0 and intacct.stats.requests == 0
    run(config)
    assert intacct.stats.sessions_issued == 1


def test_sessions_expiring_mid_run_are_replaced_and_nothing_is_lost(intacct, config):
    pages = []

    def expire_every_third_query(info):
        if info.function == "query":
            pages.append(info)
            if len(pages) % 3 == 0:
                intacct.expire_sessions()

    intacct.on_request(expire_every_third_query)
    sync = run(config, ["gl_details", "vendors"])
    assert not mismatches(
        sync.schemas["gl_details"], sync.records["gl_details"], intacct.store.records("GLDETAIL")
    )
    assert len(sync.records["vendors"]) == len(intacct.store.records("VENDOR"))
    # Each expiry followed by another query cost one new session, nothing else.
    assert intacct.stats.sessions_issued == 1 + len(range(3, len(pages), 3))
    assert len(pages) >= 6


def test_a_session_is_replaced_before_its_sliding_timeout_passes(intacct, config):
    client = IntacctClient(
        Credentials(
            *(config[k] for k in ("sender_id", "sender_password", "company_id", "user_id", "user_password"))
        ),
        config["endpoint_url"],
    )
    body = query("CLASS", ["RECORDNO"], None, ["RECORDNO"], 5)
    client.call(body, what="query CLASS")
    client.call(body, what="query CLASS")
    assert intacct.stats.sessions_issued == 1
    client.session.expires_at = time.monotonic()  # the gateway's sessiontimeout has come
    client.call(body, what="query CLASS")
    assert intacct.stats.sessions_issued == 2
    assert client.counts.requests == 5, "no call was sent with a stale session"


@pytest.mark.parametrize(
    "emulator_config", [{"session_endpoint_path": "/ia/xml/na12/xmlgw.phtml"}], indirect=True
)
def test_calls_go_to_the_endpoint_the_session_names(intacct, config):
    sync = run(config, ["classes"])
    assert len(sync.records["classes"]) == len(intacct.store.records("CLASS"))
    assert sync.tap.client.session.endpoint.endswith("/ia/xml/na12/xmlgw.phtml")


# Errors at each level ----------------------------------------------------------------------------


def test_control_level_error_bad_sender_fails_at_once(intacct, config):
    with pytest.raises(IntacctError) as caught:
        run({**config, "sender_password": "wrong-sender-pw"}, ["classes"])
    assert caught.value.level == "control" and caught.value.errornos
    assert "wrong-sender-pw" not in str(caught.value)
    assert intacct.stats.requests == 1, "a permanent error is not retried"


def test_authentication_level_error_bad_password_names_errorno(intacct, config):
    with pytest.raises(IntacctAuthError) as caught:
        run({**config, "user_password": "wrong-user-pw"}, ["classes"])
    assert caught.value.level == "authentication"
    assert "XL03000006" in str(caught.value)
    assert "wrong-user-pw" not in str(caught.value)
    assert intacct.stats.requests == 1


# Transient trouble -----------------------------------------------------------------------------


@pytest.mark.parametrize("http_status", [200, 429], ids=["GW-0010-in-200", "GW-0010-as-429"])
def test_gw_0010_storm_is_ridden_out(intacct, config, http_status):
    intacct.knobs.rate_limit_http_status = http_status
    intacct.knobs.rate_limit_next = 6
    sync = run(config, ["gl_details"])
    assert not mismatches(
        sync.schemas["gl_details"], sync.records["gl_details"], intacct.store.records("GLDETAIL")
    )
    assert sync.tap.client.counts.retries == 6


def test_steady_rate_limit_window_is_ridden_out(intacct, config):
    intacct.knobs.requests_per_window = 2
    intacct.knobs.rate_window_s = 0.05
    sync = run(config, ["gl_details"])
    assert len(sync.records["gl_details"]) == len(intacct.store.records("GLDETAIL"))


def test_5xx_are_retried(intacct, config):
    intacct.knobs.fail_next = 2
    sync = run(config, ["classes"])
    assert len(sync.records["classes"]) == len(intacct.store.records("CLASS"))
    assert sync.tap.client.counts.retries == 2


def test_cut_off_answers_are_retried_with_the_same_controlid(intacct, config):
    seen = []

    def cut_the_first_query_twice(info):
        if info.function == "query" and all(f != "query" for f, _ in seen):
            intacct.knobs.truncate_next = 2
        seen.append((info.function, info.controlid))

    intacct.on_request(cut_the_first_query_twice)
    sync = run(config, ["gl_details"])
    assert not mismatches(
        sync.schemas["gl_details"], sync.records["gl_details"], intacct.store.records("GLDETAIL")
    )
    queries = [c for f, c in seen if f == "query"]
    # The function was executed three times under one controlid (uniqueid false: reads may repeat).
    assert queries[0] == queries[1] == queries[2] and len(set(queries)) == len(queries) - 2
    assert sync.tap.client.counts.retries == 2


def test_retries_run_out_with_a_clear_error(intacct, config):
    intacct.knobs.fail_next = 100
    with pytest.raises(IntacctError, match=r"failed after 3 attempt\(s\) \(max_retries 2\): .*HTTP 503"):
        run({**config, "max_retries": 2}, ["classes"])
    assert intacct.stats.requests == 0 or intacct.stats.statuses[503] == 3


@pytest.mark.parametrize(
    "emulator_config", [{"control_chars_every": 3, "invalid_bytes_every": 4}], indirect=True
)
def test_control_characters_and_invalid_bytes_are_stripped_and_rows_still_equal(intacct, config):
    sync = run(config, ["vendors", "gl_details"])
    for stream, obj in (("vendors", "VENDOR"), ("gl_details", "GLDETAIL")):
        assert not mismatches(sync.schemas[stream], sync.records[stream], intacct.store.records(obj)), stream


# Data changing during a run --------------------------------------------------------------------


def test_changes_during_a_run_are_neither_lost_nor_repeated(intacct, config):
    before = {int(r["RECORDNO"]): r for r in intacct.store.records("GLDETAIL")}
    changed = {}

    def change_after_the_second_page(info):
        if info.object == "GLDETAIL" and info.function == "query":
            change_after_the_second_page.pages += 1
            if change_after_the_second_page.pages == 2:
                changed["early"] = 3  # already emitted
                changed["late"] = max(before)  # not read yet: moves past the run's upper bound
                intacct.store.modify("GLDETAIL", changed["early"], {"DESCRIPTION": "changed early"})
                intacct.store.modify("GLDETAIL", changed["late"], {"DESCRIPTION": "changed late"})
                changed["new"] = intacct.store.insert("GLDETAIL", {"AMOUNT": "1.23", "DESCRIPTION": "new"})

    change_after_the_second_page.pages = 0
    intacct.on_request(change_after_the_second_page)
    first = run(config, ["gl_details"])
    keys = [r["RECORDNO"] for r in first.records["gl_details"]]
    assert len(keys) == len(set(keys)), "a record was emitted twice"
    after_this_second()
    second = run(config, ["gl_details"], state=first.state)
    seen = {r["RECORDNO"]: r for r in first.records["gl_details"]}
    seen.update({r["RECORDNO"]: r for r in second.records["gl_details"]})
    assert not mismatches(first.schemas["gl_details"], list(seen.values()), intacct.store.records("GLDETAIL"))
    assert {r["RECORDNO"] for r in second.records["gl_details"]} == set(changed.values())
