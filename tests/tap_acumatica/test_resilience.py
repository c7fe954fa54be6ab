"""Rate limits, server errors and dropped connections: retried, bounded, never silent."""

from __future__ import annotations

import re

import pytest

from tests.support.taprun import assert_state_never_passes_emitted_records

VERSION = "24.200.001"


def bill_count(emulator) -> int:
    return len(emulator.store.records("Bill", VERSION))


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_a_burst_of_errors_is_retried_and_nothing_is_lost(tap, emulator, status):
    def burst(info):
        if info.entity == "Bill" and info.number == 2:
            emulator.fail_next(4, status=status)

    emulator.on_request(burst)
    sync = tap.sync(["bills"], page_size=20)
    assert len(sync.records["bills"]) == bill_count(emulator)
    assert emulator.stats.statuses.get(status, 0) >= 4
    assert f"HTTP {status}" in sync.stderr or f"{status} " in sync.stderr
    assert re.search(r"\(stream bills\): .*; retry 1 of 8 in [\d.]+ s", sync.stderr)


@pytest.mark.parametrize("emulator_config", [{"retry_after_s": 1}], indirect=True)
def test_retry_after_is_honoured_on_429(tap, emulator):
    def limit(info):
        if info.entity == "Vendor" and info.number == 1:
            emulator.fail_next(2, status=429)

    emulator.on_request(limit)
    sync = tap.sync(["vendors"], max_backoff_seconds=5, page_size=10)
    assert len(sync.records["vendors"]) == len(emulator.store.records("Vendor", VERSION))
    assert len(re.findall(r"; retry \d of 8 in 1\.0 s", sync.stderr)) == 2


def test_dropped_connections_are_retried(tap, emulator):
    def drop(info):
        if info.entity == "Bill" and info.number == 2:
            emulator.reset_next(2)

    emulator.on_request(drop)
    sync = tap.sync(["bills"], page_size=30)
    assert len(sync.records["bills"]) == bill_count(emulator)


@pytest.mark.parametrize(
    "emulator_config", [{"requests_per_minute": 10, "rate_window_s": 2.0}], indirect=True
)
def test_license_request_limit_slows_the_run_but_it_completes(tap, emulator):
    sync = tap.sync(["bills"], page_size=15)
    assert len(sync.records["bills"]) == bill_count(emulator)


def test_an_unrecoverable_error_fails_the_run_and_state_stays_behind_emitted_records(tap, emulator):
    def break_later(info):
        if info.entity == "Bill" and info.number == 4:
            emulator.fail_next(100, status=503)

    emulator.on_request(break_later)
    sync = tap.sync(["bills"], page_size=10, max_retries=2, check=False)
    assert sync.returncode != 0
    assert "503" in sync.stderr and "Bill" in sync.stderr
    assert_state_never_passes_emitted_records(sync, "bills")
    assert 0 < len(sync.records["bills"]) < bill_count(emulator)


def test_a_bad_request_is_not_retried_and_names_the_response(tap, emulator):
    sync = tap.sync(["bills"], custom_fields={"bills": ["Document.UsrDoesNotExist"]}, check=False)
    assert sync.returncode != 0
    assert "400" in sync.stderr
    assert "; retry " not in sync.stderr


@pytest.mark.parametrize("status", [429, 503])
def test_errors_at_start_up_are_retried_too(tap, emulator, status):
    # The first calls of a run: sign-in, GET /entity and the $orderby probe.
    emulator.fail_next(3, status=status)
    sync = tap.sync(["vendors"])
    assert len(sync.records["vendors"]) == len(emulator.store.records("Vendor", VERSION))
    assert emulator.stats.statuses.get(status, 0) == 3


def test_start_up_gives_up_after_max_retries_with_the_servers_message(tap, emulator):
    emulator.fail_next(100, status=503)
    sync = tap.sync(["vendors"], max_retries=2, check=False)
    assert sync.returncode != 0
    assert "503" in sync.stderr
    assert sync.records == {}
