"""License limits (rate queue, concurrency, 429) and injected faults."""

from __future__ import annotations

import itertools
import threading
import time

import pytest
import requests
from acumatica_emulator.config import Knobs
from acumatica_emulator.limits import Declined, LicenseLimits

V24 = "24.200.001"


@pytest.fixture
def session(fresh, signed_in):
    return signed_in(fresh)


def _get(fresh, session):
    return session.get(f"{fresh.base_url}/entity/Default/{V24}/Subaccount", params={"$top": 1})


def test_rate_limit_delays_after_half_and_declines_long_waits(fresh, session):
    fresh.knobs.rate_window_s = 2.0
    fresh.knobs.requests_per_minute = 8
    started = time.monotonic()
    for _ in range(4):  # below 50% of the limit: no delay
        assert _get(fresh, session).status_code == 200
    assert time.monotonic() - started < 0.5
    t0 = time.monotonic()
    assert _get(fresh, session).status_code == 200  # delayed ~ (2 s left) / (4 remaining)
    assert 0.3 < time.monotonic() - t0 < 1.5
    fresh.knobs.max_queue_wait_s = 0.05
    declined = _get(fresh, session)
    assert declined.status_code == 429
    assert (
        declined.json()["message"] == "The number of requests has exceeded the limit imposed by the license."
    )
    assert "Retry-After" not in declined.headers
    fresh.knobs.retry_after_s = 3
    assert _get(fresh, session).headers.get("Retry-After") == "3"


def test_queued_requests_leave_one_by_one_at_the_documented_rate():
    """Eight requests arrive at once under a limit of 8 per 2 s window: the first half pass, then
    each queued request waits for the one ahead of it and then (time left) / (requests left), so
    they leave 0.5 s apart instead of together."""
    limits = LicenseLimits(Knobs(requests_per_minute=8, rate_window_s=2.0))
    waits = [limits.reserve(100.0) for _ in range(8)]
    assert waits == [0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 1.5, 2.0]
    limits.knobs.max_queue_wait_s = 2.0
    with pytest.raises(Declined):  # its turn would come 2.5 s from now
        limits.reserve(100.0)


def test_latency_is_spent_holding_a_concurrency_slot(fresh, signed_in):
    """With one slot, requests are served one after another, each for the whole latency."""
    fresh.knobs.max_concurrent_requests = 1
    fresh.knobs.latency_ms = 100
    served: list[float] = []
    remove = fresh.on_request(lambda info: served.append(time.monotonic()))
    sessions = [signed_in(fresh) for _ in range(5)]
    threads = [threading.Thread(target=_get, args=(fresh, s)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    remove()
    served.sort()
    assert len(served) == 5
    # Each was routed only after the one before it had held the slot for its latency.
    assert all(b - a >= 0.1 for a, b in itertools.pairwise(served))


def test_queue_longer_than_max_queue_is_declined(fresh, signed_in):
    fresh.knobs.max_concurrent_requests = 1
    fresh.knobs.max_queue = 1
    fresh.knobs.max_queue_wait_s = 2
    fresh.knobs.latency_ms = 0
    release = threading.Event()
    entered = threading.Event()

    def slow(info):
        entered.set()
        release.wait(3)

    remove = fresh.on_request(slow)
    sessions = [signed_in(fresh) for _ in range(3)]
    results = {}

    def call(n):
        results[n] = _get(fresh, sessions[n]).status_code

    first = threading.Thread(target=call, args=(0,))
    first.start()
    assert entered.wait(2)
    second = threading.Thread(target=call, args=(1,))
    second.start()
    time.sleep(0.2)  # second is queued behind the running one
    remove()
    results[2] = _get(fresh, sessions[2]).status_code  # queue full -> declined at once
    release.set()
    first.join(5)
    second.join(5)
    assert results == {0: 200, 1: 200, 2: 429}


def test_fail_next_statuses_then_recovery(fresh, session):
    fresh.fail_next(2, status=503)
    first, second = _get(fresh, session), _get(fresh, session)
    assert first.status_code == second.status_code == 503
    assert {"message", "exceptionMessage", "exceptionType", "stackTrace"} <= set(first.json())
    fresh.fail_next(1, status=429)
    assert _get(fresh, session).status_code == 429
    assert _get(fresh, session).status_code == 200


def test_reset_next_closes_the_connection(fresh, session):
    fresh.reset_next(1)
    with pytest.raises(requests.ConnectionError):
        _get(fresh, session)
    assert _get(fresh, session).status_code == 200


def test_error_rate_is_seeded(fresh, session):
    fresh.knobs.error_rate_5xx = 0.5
    statuses = [_get(fresh, session).status_code for _ in range(20)]
    assert set(statuses) == {200, 500}


def test_latency_knob(fresh, session):
    fresh.knobs.latency_ms = 200
    t0 = time.monotonic()
    _get(fresh, session)
    assert time.monotonic() - t0 >= 0.2


def test_logout_bypasses_limits(fresh):
    s = requests.Session()
    s.post(f"{fresh.base_url}/entity/auth/login", json={"name": "admin", "password": "sandbox"})
    fresh.fail_next(5, status=500)
    assert s.post(f"{fresh.base_url}/entity/auth/logout").status_code == 204


def test_http_control_api(fresh, session):
    root = fresh.root_url
    assert requests.patch(f"{root}/_emulator/knobs", json={"orderby": "ignore"}).status_code == 200
    assert fresh.knobs.orderby == "ignore"
    assert requests.patch(f"{root}/_emulator/knobs", json={"bogus": 1}).status_code == 400
    requests.post(f"{root}/_emulator/fail_next", json={"n": 1, "status": 502})
    assert _get(fresh, session).status_code == 502
    stats = requests.get(f"{root}/_emulator/stats").json()
    assert stats["statuses"]["502"] == 1 and stats["tokens_issued"] == 1
    made = requests.post(f"{root}/_emulator/records/Vendor", json={"VendorName": "Via HTTP"}).json()
    assert (
        requests.patch(
            f"{root}/_emulator/records/Vendor/{made['VendorID']}", json={"VendorName": "Renamed"}
        ).json()["VendorName"]
        == "Renamed"
    )
    assert requests.delete(f"{root}/_emulator/records/Vendor/{made['VendorID']}").status_code == 204
    assert requests.post(f"{root}/_emulator/expire_tokens").json()["expired"] == 1
    assert _get(fresh, session).status_code == 401
