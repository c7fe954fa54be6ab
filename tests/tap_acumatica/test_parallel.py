"""max_concurrent_requests: several pages of a stream at once, within the license's limits, emitted in
the order of a sequential read, with bookmarks as safe as one page at a time."""

from __future__ import annotations

import errno
import gc
import io
import socket
import threading
import tracemalloc
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
import requests
import urllib3
from requests.structures import CaseInsensitiveDict
from tap_acumatica import parallel
from tap_acumatica.parallel import (
    LicenseGate,
    SlicedRead,
    SliceQuery,
    SpooledPage,
    read_body,
    read_body_mapped,
)
from tap_acumatica.tap import TapAcumatica

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


#: Pages of 500 Bills with their lines (about 1.7 MB of JSON each), several more than the workers.
LARGE_PAGES = {"sizes": {"Bill": 4000}}


@pytest.mark.parametrize("emulator_config", [LARGE_PAGES], indirect=True)
def test_pages_read_ahead_wait_outside_memory(tap_config, monkeypatch):
    """Pages read ahead of the one being emitted used to wait as the answers' bytes, several MB
    each: the tap's peak grew with workers x pages ahead x page size. The consumer here holds
    back until four pages wait, and the tap's Python heap then holds less than one answer."""
    config = {**tap_config, "page_size": 500, "max_concurrent_requests": 4, "audit_columns": False}
    tap = TapAcumatica(config=config)
    tap.check_endpoint()  # as a sync does first: the read is bounded by the instance's clock
    stream = tap.streams["bills"]
    held: dict[str, int] = {}
    take_next_page = SlicedRead._next_page

    def next_page(read: SlicedRead):
        if not held:
            with read._cond:
                # Four pages or more waiting, and no request under way (none is half read).
                settled = read._cond.wait_for(
                    lambda: read._error is not None
                    or (
                        read._buffered >= 4
                        and not any(s.active for s in read.slices)
                        and read._probe != "running"
                    ),
                    timeout=120,
                )
                assert settled, "the workers never settled with four pages read ahead"
                held["pages"] = read._buffered
            gc.collect()
            held["bytes"] = tap_heap(tracemalloc.take_snapshot()) - tap_heap(before)
            excluded = [
                tracemalloc.Filter(False, f"*{name}*")
                for name in ("acumatica_emulator", "emulator_kit", "tracemalloc")
            ]
            import sys

            for st in (
                tracemalloc.take_snapshot()
                .filter_traces(excluded)
                .compare_to(before.filter_traces(excluded), "lineno")[:8]
            ):
                print("DIFF", st, file=sys.stderr)
        return take_next_page(read)

    monkeypatch.setattr(SlicedRead, "_next_page", next_page)
    answer_bytes = len(stream._getter(None)({"$top": 500, "$expand": "Details"}).content)
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        count = sum(1 for _ in stream.get_records(None))
    finally:
        tracemalloc.stop()
    assert count == 4000
    assert held["pages"] >= 4, "no pages were read ahead"
    assert held["bytes"] < answer_bytes, (
        f"{held['pages']} pages waiting held {held['bytes']} bytes (an answer: {answer_bytes})"
    )


def tap_heap(snapshot: tracemalloc.Snapshot) -> int:
    """Bytes traced outside the emulator (which serves from this process) and tracemalloc's own."""
    excluded = [
        tracemalloc.Filter(False, f"*{name}*")
        for name in ("acumatica_emulator", "emulator_kit", "tracemalloc")
    ]
    return sum(stat.size for stat in snapshot.filter_traces(excluded).statistics("filename"))


@pytest.mark.parametrize("emulator_config", [MANY], indirect=True)
@pytest.mark.parametrize("stop_after", [None, 15])
def test_spooled_pages_leave_no_file_open(tap_config, monkeypatch, stop_after):
    """Each page read ahead waits in a temporary file, closed (so deleted) once the page was
    emitted, or when the read stops before it (here: the consumer stops after 15 records)."""
    files = []
    temporary_file = parallel.tempfile.TemporaryFile

    def tracked(*args, **kwargs):
        files.append(temporary_file(*args, **kwargs))
        return files[-1]

    monkeypatch.setattr(parallel.tempfile, "TemporaryFile", tracked)
    config = {**tap_config, "page_size": 10, "max_concurrent_requests": 4, "audit_columns": False}
    tap = TapAcumatica(config=config)
    tap.check_endpoint()
    records = tap.streams["bills"].get_records(None)
    if stop_after is None:
        assert sum(1 for _ in records) == 400
    else:
        assert sum(1 for _, _ in zip(range(stop_after), records, strict=False)) == stop_after
        records.close()
    assert len(files) > 4
    assert all(f.closed for f in files)


def test_a_page_of_a_slice_halved_meanwhile_stays_spooled():
    """A page asked for before its slice was halved is cut where the slice now ends; the rows kept
    stay in the page's file rather than coming back into memory."""
    base = datetime(2024, 1, 1, tzinfo=UTC)
    raws = [
        msgspec.Raw(msgspec.json.encode({"t": (base + timedelta(minutes=i)).isoformat(), "k": i}))
        for i in range(250)
    ]

    def cursor_of(raw: msgspec.Raw) -> tuple:
        row = msgspec.json.decode(raw)
        return (datetime.fromisoformat(row["t"]), row["k"])

    read = SlicedRead(
        columns=["t", "k"],
        start=None,
        end=base + timedelta(days=1),
        page_size=250,
        workers=2,
        fetch=lambda terms: [],
        cursor_of=cursor_of,
    )
    piece = read.slices[0]
    asked = SliceQuery([], piece.end)
    piece.end = base + timedelta(minutes=149)  # halved while the page was read
    page = SpooledPage(raws)
    read._file(piece, page, asked)

    assert page._file.closed
    (kept,) = piece.pages
    assert isinstance(kept, SpooledPage)
    assert [bytes(r) for r in kept] == [bytes(r) for r in raws[:150]]
    assert piece.done, "the rest of the page is the upper half's"
    assert piece.cursor == (base + timedelta(minutes=149), 149)
    kept.close()


@pytest.mark.parametrize("emulator_config", [MANY], indirect=True)
def test_a_full_temporary_directory_fails_the_run_naming_it(tap, monkeypatch):
    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(parallel.tempfile, "TemporaryFile", no_space)
    broken = tap.sync(["bills"], page_size=10, max_concurrent_requests=4, check=False)
    assert broken.returncode != 0
    assert "Could not spool a page read ahead to the temporary directory" in broken.stderr
    assert "set TMPDIR to a directory with room, or set max_concurrent_requests to 1" in broken.stderr
    assert_state_never_passes_emitted_records(broken, "bills")


@pytest.mark.parametrize("read", [read_body, read_body_mapped])
def test_an_answer_cut_off_mid_body_is_retried_as_requests_names_it(read):
    """The tap reads bodies itself (in one piece, or into a mapping); an answer that ends before its
    Content-Length is requests' ChunkedEncodingError, which the run's retry rules retry."""
    with socket.create_server(("127.0.0.1", 0)) as server:

        def answer_short() -> None:
            connection, _ = server.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 500000\r\n\r\n" + b"x" * 1000)

        thread = threading.Thread(target=answer_short)
        thread.start()
        response = requests.get(f"http://127.0.0.1:{server.getsockname()[1]}/", stream=True, timeout=10)
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            read(response)
        thread.join()


def test_a_whole_answer_reads_the_same_either_way():
    body = b"[" + b",".join(b'{"n":%d}' % i for i in range(200_000)) + b"]"
    for read in (read_body, read_body_mapped):
        response = requests.Response()
        response.headers = CaseInsensitiveDict({"Content-Length": str(len(body))})
        response.raw = urllib3.HTTPResponse(
            body=io.BytesIO(body), headers={"Content-Length": str(len(body))}, preload_content=False
        )
        assert bytes(read(response)) == body
