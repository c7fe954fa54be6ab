"""max_concurrent_requests: several pages of a stream at once, within the license's limits, emitted in
the order of a sequential read, with bookmarks as safe as one page at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tap_acumatica.parallel import LicenseGate, SlicedRead

from tests.support.compare import instant
from tests.support.taprun import assert_state_never_passes_emitted_records

#: Enough bills for many pages of 10, and a latency that keeps requests in flight together.
MANY = {"sizes": {"Bill": 400}, "latency_ms": 30}


def comparable(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "_audit_run_id"} for r in records]


@pytest.mark.parametrize("emulator_config", [MANY], indirect=True)
def test_four_concurrent_requests_emit_what_one_does_row_for_row(tap, emulator):
    one = tap.sync(["bills"], page_size=10, max_concurrent_requests=1)
    assert emulator.app.limits.peak_running == 1
    emulator.app.limits.reset_counters()

    four = tap.sync(["bills"], page_size=10, max_concurrent_requests=4)

    assert emulator.app.limits.peak_running == 4, "the pages were not read concurrently"
    assert comparable(four.records["bills"]) == comparable(one.records["bills"])
    assert four.bookmark("bills") == one.bookmark("bills")
    assert_state_never_passes_emitted_records(four, "bills")


@pytest.mark.parametrize("emulator_config", [MANY], indirect=True)
def test_concurrency_never_exceeds_the_setting(tap, emulator):
    sync = tap.sync(["bills", "vendors"], page_size=10, max_concurrent_requests=3)
    assert len(sync.records["bills"]) == 400
    assert emulator.app.limits.peak_running == 3


@pytest.mark.parametrize(
    "emulator_config",
    # A license whose concurrency is the tap's default, and whose rate queue starts delaying
    # requests at 500 a minute: a default run must neither queue nor be declined.
    [{**MANY, "max_concurrent_requests": 4, "requests_per_minute": 1000}],
    indirect=True,
)
def test_default_settings_stay_within_the_license_limits(tap, emulator):
    sync = tap.sync(["bills"], page_size=10)
    assert len(sync.records["bills"]) == 400
    assert emulator.app.limits.peak_running == 4
    assert emulator.app.limits.queued_total == 0
    assert emulator.stats.statuses.get(429, 0) == 0


@pytest.mark.parametrize("emulator_config", [MANY], indirect=True)
def test_a_concurrent_run_killed_mid_stream_resumes_without_loss(tap, emulator):
    source = {(r["Type"], r["ReferenceNbr"]) for r in emulator.store.records("Bill", "24.200.001")}
    killed = tap.sync_killed_after(["bills"], states=6, page_size=10, max_concurrent_requests=4)
    assert killed.returncode != 0, "the tap finished before it could be killed"
    assert_state_never_passes_emitted_records(killed, "bills")
    checkpoint = killed.bookmark("bills")
    assert checkpoint is not None

    resumed = tap.sync(["bills"], state=killed.state, page_size=10, max_concurrent_requests=4)
    before = {(r["Type"], r["ReferenceNbr"]) for r in killed.records["bills"]}
    after = [(r["Type"], r["ReferenceNbr"]) for r in resumed.records["bills"]]
    assert len(after) == len(set(after)), "a bill was emitted twice in one run"
    assert before | set(after) == source
    assert all(instant(r["LastModifiedDateTime"]) > instant(checkpoint) for r in resumed.records["bills"])


@pytest.mark.parametrize("emulator_config", [MANY], indirect=True)
def test_a_failing_page_fails_the_run_and_keeps_state_behind_emitted_records(tap, emulator):
    def fail_later_pages(info):
        if info.entity == "Bill" and info.number == 8:
            emulator.fail_next(100, status=500)

    emulator.on_request(fail_later_pages)
    broken = tap.sync(["bills"], page_size=10, max_retries=1, max_concurrent_requests=4, check=False)
    assert broken.returncode != 0
    assert "500" in broken.stderr
    assert_state_never_passes_emitted_records(broken, "bills")


def test_the_gate_starts_at_most_per_minute_requests_in_any_window():
    now = [0.0]
    started: list[float] = []

    def sleep(seconds: float) -> None:
        now[0] += seconds

    gate = LicenseGate(2, 5, window_s=60.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(12):
        gate.acquire()
        started.append(now[0])
        gate.release()
        now[0] += 1.0
    for first in started:
        assert sum(1 for t in started if first <= t < first + 60.0) <= 5
    assert started[5] >= 60.0


def test_slices_cut_where_rows_are_and_emit_in_order():
    base = datetime(2024, 1, 1, tzinfo=UTC)
    rows = [{"t": base + timedelta(minutes=i // 3), "k": f"{i:05d}"} for i in range(900)]

    def cursor_of(r: dict) -> tuple:
        return (r["t"], r["k"])

    def run(workers: int) -> tuple[list[dict], SlicedRead]:
        def fetch(terms: list[str]) -> list[dict]:
            return page_for(terms)

        read = SlicedRead(
            columns=["t", "k"],
            start=None,
            end=base + timedelta(days=365),
            page_size=50,
            workers=workers,
            fetch=fetch,
            cursor_of=cursor_of,
            newest=lambda: rows[-1]["t"],
        )
        return list(read.records()), read

    def page_for(terms: list[str]) -> list[dict]:
        """The page an instance answers: the filter terms evaluated over ``rows``, in order."""
        low, high = bounds(terms)
        out = [r for r in rows if low(r) and r["t"] <= high]
        return out[:50]

    def bounds(terms: list[str]):
        *lower, upper = terms
        high = datetime.fromisoformat(upper.split("'")[1])
        if not lower:
            return (lambda r: True), high
        text = lower[0]
        values = text.split("'")
        instant_ = datetime.fromisoformat(values[1])
        if text.startswith("t gt") or text.startswith("t ge"):
            strict = text.startswith("t gt")
            return (lambda r: r["t"] > instant_ if strict else r["t"] >= instant_), high
        key = values[5]
        return (lambda r: (r["t"], r["k"]) > (instant_, key)), high

    sequential, _ = run(1)
    concurrent, read = run(4)
    assert sequential == rows
    assert concurrent == rows
    # The window reaches a year past the newest row; slices were cut only up to it, so few
    # requests found nothing.
    assert read.requests <= len(rows) / 50 * 1.5 + 2
