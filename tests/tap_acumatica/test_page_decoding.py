"""tap-acumatica decodes a page record by record: the page's wrapped values are never all alive at
once, records come out exactly as a whole-page decode would give them, and the timestamp-order check
still runs over the whole page before any record leaves."""

from __future__ import annotations

import tracemalloc
from decimal import Decimal

import msgspec
import pytest
from singer_sdk.exceptions import FatalAPIError
from tap_acumatica.streams import TIMESTAMP_ORDER
from tap_acumatica.tap import TapAcumatica

PAGE = {"sizes": {"Bill": 1000}}


def first_page(tap_config: dict, **overrides: object):
    config = {k: v for k, v in tap_config.items() if k != "start_date"}  # the first page of all time
    tap = TapAcumatica(config={**config, "page_size": 1000, **overrides})
    stream = tap.streams["bills"]
    stream._begin(None)
    prepared = stream.prepare_request(context=None, next_page_token=None)
    response = stream.requests_session.send(prepared, timeout=60)
    assert response.status_code == 200, response.text[:300]
    return stream, response


@pytest.mark.parametrize("emulator_config", [PAGE], indirect=True)
def test_a_page_is_decoded_one_record_at_a_time(emulator, tap_config):
    stream, response = first_page(tap_config)
    page_bytes = len(response.content)
    assert page_bytes > 2_000_000  # 1,000 Bills with their lines
    tracemalloc.start()
    try:
        count = 0
        for _ in stream.parse_response(response):
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 1000
    # Decoded whole, the page's {"value": x} dicts take several times its bytes; one record at a
    # time, a small fraction of them.
    assert peak < page_bytes / 2


@pytest.mark.parametrize("emulator_config", [PAGE], indirect=True)
def test_records_are_those_of_a_whole_page_decode(emulator, tap_config):
    stream, response = first_page(tap_config)
    whole = msgspec.json.Decoder(float_hook=Decimal).decode(response.content)
    assert list(stream.parse_response(response)) == [stream.shape.unwrap(row) for row in whole]
    assert stream._paginator is None or stream._paginator.page_full


def test_a_page_out_of_timestamp_order_fails_before_any_record(emulator, tap_config):
    stream, response = first_page(tap_config, paging_order="timestamp")
    assert stream._order == TIMESTAMP_ORDER
    rows = msgspec.json.Decoder(float_hook=Decimal).decode(response.content)
    response._content = msgspec.json.Encoder(decimal_format="number").encode(rows[::-1])
    records = stream.parse_response(response)
    with pytest.raises(FatalAPIError, match=r"Stream bills: .* out of LastModifiedDateTime order"):
        next(records)


def test_an_answer_that_is_not_an_array_fails_naming_the_entity(emulator, tap_config):
    stream, response = first_page(tap_config)
    response._content = b'{"message": "An error has occurred."}'
    with pytest.raises(FatalAPIError, match="Expected a JSON array of Bill records"):
        next(stream.parse_response(response))
