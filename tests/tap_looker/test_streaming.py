"""tap-looker parses a query task's answer as it downloads: rows leave before the answer is read
whole, exactly (decimals), and an answer that breaks off fails loudly, naming the query."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Iterator
from decimal import Decimal

import pytest
import requests
from tap_looker.client import LookerError, stream_rows
from tap_looker.tap import TapLooker

from tests.support.looker import ALLOCATION_QUERY, by_key, expected, run_tap, tap_config

LARGE = {"sizes": {"overhead_allocation": 10_000}}


@pytest.mark.parametrize("emulator_config", [LARGE], indirect=True)
def test_rows_leave_before_the_answer_is_read_whole(emulator):
    tap = TapLooker(config=tap_config(emulator, inline_row_limit=0), setup_mapper=True)
    answers: list[requests.Response] = []

    def keep_results(response: requests.Response, *args: object, **kwargs: object) -> None:
        if response.request.url.endswith("/results") and response.status_code == 200:
            answers.append(response)

    tap.client.session.hooks["response"].append(keep_results)
    records = tap.streams["overhead_allocation"].get_records(None)
    first = next(records)
    (answer,) = answers
    length = int(answer.headers["Content-Length"])
    assert length > 2_000_000  # 10,000 rows
    # When the first row leaves, at most a few reads of the answer have come off the socket.
    assert answer.raw.tell() < length / 10
    rest = list(records)
    assert answer.raw.tell() == length
    source = expected(emulator, ALLOCATION_QUERY)
    assert len(rest) + 1 == len(source)
    assert first["allocated_amount"] == source[0]["allocated_amount"]
    tap.client.logout()


def _answer(rows: int, chunk: int = 65_536) -> Iterator[bytes]:
    """A Looker ``json`` answer of ``rows`` rows, generated piece by piece (never whole in memory)."""
    buffer = bytearray(b"[")
    for i in range(rows):
        row = {"gl.account": f"{60000 + i % 900}", "gl.memo": "x" * 600, "gl.id": i}
        buffer += (b"," if i else b"") + json.dumps(row).encode()[:-1] + f', "gl.amount": {i}.01}}'.encode()
        if len(buffer) >= chunk:
            yield bytes(buffer)
            buffer.clear()
    yield bytes(buffer + b"]")


def test_parsing_a_large_answer_holds_a_chunk_not_the_answer():
    total = sum(len(piece) for piece in _answer(10_000))
    assert total > 6_000_000
    tracemalloc.start()
    try:
        count, amounts = 0, Decimal(0)
        for row in stream_rows(_answer(10_000), "query task 7 (gl)"):
            count += 1
            amounts += row["gl.amount"]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 10_000
    assert amounts == sum(Decimal(f"{i}.01") for i in range(10_000))
    # The whole answer decoded would be several times its bytes; streamed, a few chunks.
    assert peak < total / 8


def test_decimals_stay_exact_and_integers_stay_integers():
    rows = list(stream_rows([b'[{"a": 0.1, "b": 3, "c": null, "d": 1e-2, "e": "x"}', b"]"], "q"))
    assert rows == [{"a": Decimal("0.1"), "b": 3, "c": None, "d": Decimal("0.01"), "e": "x"}]
    assert isinstance(rows[0]["b"], int) and not isinstance(rows[0]["b"], bool)


def test_an_answer_cut_mid_json_fails_after_the_rows_that_arrived_naming_the_query():
    rows = stream_rows([b'[{"a": 1}, {"a": 2}, {"a"', b": 3"], "query task 9 (allocation)")
    assert next(rows) == {"a": 1}
    assert next(rows) == {"a": 2}
    with pytest.raises(LookerError, match=r"query task 9 \(allocation\): the answer is not complete JSON"):
        next(rows)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"looker_error": "SQL Error: relation does not exist"}', "failed: SQL Error: relation"),
        (b'[{"looker_error": "Timeout"}]', "failed: Timeout"),
        (b'{"rows": []}', "answered dict, expected an array of rows"),
        (b"<html>Bad gateway</html>", "did not answer JSON"),
    ],
)
def test_error_answers_fail_naming_the_query(body, message):
    with pytest.raises(LookerError, match=message) as info:
        list(stream_rows([body[:7], body[7:]], "query task 3 (allocation)"))
    assert "query task 3 (allocation)" in str(info.value)


def test_an_empty_array_is_no_rows():
    assert list(stream_rows([b"  ", b"[", b"]"], "q")) == []


@pytest.mark.parametrize("emulator_config", [{"sizes": {"overhead_allocation": 6500}}], indirect=True)
def test_a_download_that_breaks_off_fails_the_run_naming_the_query(emulator):
    emulator.knobs.results_cut_after_bytes = 300_000
    with pytest.raises(LookerError, match=r"overhead_allocation \(finance::overhead_allocation\).*broke off"):
        run_tap(tap_config(emulator))


@pytest.mark.parametrize("emulator_config", [{"sizes": {"overhead_allocation": 6500}}], indirect=True)
def test_a_task_answer_is_emitted_whole_and_exact(emulator):
    sync = run_tap(tap_config(emulator, inline_row_limit=0))
    assert by_key(sync.records["overhead_allocation"]) == by_key(expected(emulator, ALLOCATION_QUERY))
    assert emulator.stats.query_tasks == 1
