"""The shared retry policy: how many attempts, how long each wait, what is logged and what the final
error says. Sleep and clock are injected, so nothing here waits."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
from mlc_run_audit.retry import (
    RetriesExhausted,
    Retry,
    RetryPolicy,
    retry_after_seconds,
    shown_url,
)
from mlc_run_audit.settings import connection_schema

from tests.support.retry import closed_port_url, retry_lines

NOW = datetime(2026, 12, 6, 8, 0, 0, tzinfo=UTC)


def policy(**kwargs) -> tuple[RetryPolicy, list[float]]:
    waits: list[float] = []
    return RetryPolicy(sleep=waits.append, clock=NOW.timestamp, **kwargs), waits


def test_max_retries_counts_retries_after_the_first_attempt(caplog):
    retry, waits = policy(max_retries=3, max_backoff_seconds=60)
    calls = []

    def send():
        calls.append(1)
        raise Retry("HTTP 503 Service Unavailable", status=503)

    with caplog.at_level(logging.WARNING), pytest.raises(RetriesExhausted) as caught:
        retry.run(send, method="GET", url="https://erp.example.com/entity/Account?$filter=x&token=s3cret")
    assert len(calls) == 4 and len(waits) == 3 and retry.retries == 3
    lines = retry_lines(caplog.text)
    assert [(m[1], m[2], m[5], m[6]) for m in lines] == [
        ("GET", "https://erp.example.com/entity/Account", str(n), "3") for n in (1, 2, 3)
    ]
    assert "s3cret" not in caplog.text and "s3cret" not in str(caught.value)
    assert str(caught.value).startswith(
        "GET https://erp.example.com/entity/Account failed after 4 attempt(s) (max_retries 3): "
        "HTTP 503 Service Unavailable. The server at https://erp.example.com is overloaded"
    )
    assert caught.value.status == 503 and caught.value.attempts == 4


def test_zero_retries_sends_once_and_logs_nothing(caplog):
    retry, waits = policy(max_retries=0)
    calls = []

    def send():
        calls.append(1)
        raise Retry("HTTP 429", status=429)

    with caplog.at_level(logging.WARNING), pytest.raises(RetriesExhausted):
        retry.run(send, method="POST", url="https://x.example.com/login")
    assert len(calls) == 1 and waits == [] and retry_lines(caplog.text) == []


def test_an_unreachable_host_is_named_with_the_setting_to_check():
    url = closed_port_url()
    retry, waits = policy(max_retries=2, host_setting="endpoint_url")
    calls = []

    def send():
        calls.append(1)
        return requests.get(f"{url}/ia/xml/xmlgw.phtml", timeout=5)

    with pytest.raises(RetriesExhausted) as caught:
        retry.run(send, method="GET", url=f"{url}/ia/xml/xmlgw.phtml", what="getAPISession")
    assert len(calls) == 3 and len(waits) == 2
    message = str(caught.value)
    assert message.startswith(f"getAPISession: GET {url}/ia/xml/xmlgw.phtml failed after 3 attempt(s)")
    assert "no answer (ConnectionRefusedError" in message and f"Check endpoint_url ({url})" in message
    assert caught.value.status is None


def test_other_errors_and_answers_are_not_retried():
    retry, waits = policy(max_retries=5)
    with pytest.raises(KeyError):
        retry.run(lambda: {}["missing"], method="GET", url="https://x.example.com/")
    assert retry.run(lambda: "answer", method="GET", url="https://x.example.com/") == "answer"
    assert waits == []


def test_a_failure_then_success_returns_the_answer_after_one_retry():
    retry, waits = policy(max_retries=5)
    answers = iter([Retry("HTTP 502", status=502), "rows"])

    def send():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert retry.run(send, method="GET", url="https://x.example.com/") == "rows"
    assert len(waits) == 1 and retry.retries == 1


def test_backoff_doubles_from_the_base_with_jitter_keeping_at_least_half_and_is_capped():
    retry, _ = policy(backoff_base_seconds=1.0, max_backoff_seconds=10)
    for n, full in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (9, 10.0)]:
        for _ in range(50):
            assert full / 2 <= retry.delay(n) <= full


def test_retry_after_in_seconds_or_as_an_http_date_is_honoured_up_to_the_cap():
    retry, waits = policy(max_retries=3, max_backoff_seconds=60)
    later = format_datetime(NOW + timedelta(seconds=42), usegmt=True)
    answers = [
        Retry("HTTP 429", status=429, retry_after=retry_after_seconds("7")),
        Retry("HTTP 429", status=429, retry_after=retry_after_seconds(later, NOW.timestamp)),
        Retry("HTTP 503", status=503, retry_after=retry_after_seconds("3600")),
    ]

    def send():
        if answers:
            raise answers.pop(0)
        return "ok"

    assert retry.run(send, method="GET", url="https://x.example.com/") == "ok"
    assert waits == [7.0, 42.0, 60.0]  # Retry-After is not jittered; 3600 s is capped


def test_retry_after_values():
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("") is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(" 5 ") == 5.0
    past = format_datetime(NOW - timedelta(minutes=5), usegmt=True)
    assert retry_after_seconds(past, NOW.timestamp) == 0.0


def test_the_policy_reads_retry_after_from_an_answer_by_its_clock():
    retry, _ = policy()
    answer = requests.Response()
    answer.headers["Retry-After"] = format_datetime(NOW + timedelta(seconds=9), usegmt=True)
    assert retry.retry_after(answer) == 9.0


def test_shown_urls_carry_no_query_and_no_user_info():
    assert (
        shown_url("https://user:pw@erp.example.com:8443/a/b?token=x#f") == "https://erp.example.com:8443/a/b"
    )
    assert shown_url("/relative?x=1") == "/relative"


def test_settings_come_from_one_declaration_and_defaults_apply_to_missing_or_null_values():
    declared = connection_schema()
    default = RetryPolicy.from_config({"max_retries": None})
    assert default.max_retries == declared["max_retries"]["default"]
    assert default.max_backoff_seconds == declared["max_backoff_seconds"]["default"]
    assert default.backoff_base_seconds == declared["retry_backoff_seconds"]["default"]
    configured = RetryPolicy.from_config(
        {"max_retries": 0, "max_backoff_seconds": 0.5, "retry_backoff_seconds": 0.1}
    )
    assert (configured.max_retries, configured.max_backoff_seconds, configured.backoff_base_seconds) == (
        0,
        0.5,
        0.1,
    )
