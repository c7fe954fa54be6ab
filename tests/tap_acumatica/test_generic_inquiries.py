"""Generic Inquiries through OData v3 and v4: schema from $metadata, exact rows, keyset paging, bookmarks."""

from __future__ import annotations

import time

import pytest
from mlc_run_audit.checks import SettingError
from tap_acumatica.tap import TapAcumatica

from tests.support.compare import differences, instant
from tests.support.inquiries import GENERIC_INQUIRIES, INQUIRY_STREAMS, INSTANCE_TIME_ZONE, source_rows

STREAMS = list(INQUIRY_STREAMS)


@pytest.fixture
def gi_tap(tap):
    tap.config = {
        **tap.config,
        "generic_inquiries": GENERIC_INQUIRIES,
        "instance_time_zone": INSTANCE_TIME_ZONE,
    }
    return tap


def keyed(records: list[dict], keys: list[str]) -> dict[tuple, dict]:
    out = {tuple(r[k] for k in keys): r for r in records}
    assert len(out) == len(records), "a row was emitted twice in one run"
    return out


def assert_equal_source(sync, emulator, stream: str) -> None:
    inquiry, keys = INQUIRY_STREAMS[stream]
    source = keyed(source_rows(emulator, inquiry), keys)
    emitted = keyed(sync.records.get(stream, []), keys)
    assert emitted.keys() == source.keys(), stream
    for key, row in source.items():
        assert not differences(emitted[key], row), (stream, key, differences(emitted[key], row))


def odata_requests(emulator) -> list:
    seen: list = []
    emulator.on_request(lambda info: seen.append(info) if info.version.startswith("odata") else None)
    return seen


def test_schema_comes_from_metadata(gi_tap):
    catalog = {s["tap_stream_id"]: s["schema"] for s in gi_tap.discover()["streams"]}
    aging = catalog["ap_aging"]["properties"]
    assert aging["Balance"] == {"type": ["number", "null"], "x-sql-datatype": "decimal(19,4)"}
    assert aging["LastModifiedDateTime"]["format"] == "date-time"
    assert aging["DaysPastDue"]["type"] == ["integer", "null"]
    assert aging["OnHold"]["type"] == ["boolean", "null"]
    assert catalog["gl_trial_balance"]["properties"]["NetChange"]["x-sql-datatype"] == "decimal(19,4)"


def test_v3_and_v4_rows_are_emitted_exactly_in_keyset_pages(gi_tap, emulator):
    requests_seen = odata_requests(emulator)
    sync = gi_tap.sync(STREAMS, page_size=7)
    for stream in STREAMS:
        assert_equal_source(sync, emulator, stream)
    aging = sync.records["ap_aging"]
    # Exact decimals and UTC dates (v3 gives local times without an offset).
    assert all(str(r["Balance"]).count(".") <= 1 for r in aging)
    assert all(r["LastModifiedDateTime"].endswith("+00:00") for r in aging)
    # Keyset pages: never $skip, every page after the first starts at the previous page's last row.
    data = [r for r in requests_seen if r.entity != "$metadata"]
    assert not any("$skip" in r.params for r in data)
    rows = len(aging) + len(sync.records["gl_trial_balance"])
    assert len(data) <= rows // 7 + 4
    newest = max(instant(r["LastModifiedDateTime"]) for r in source_rows(emulator, "APAgingDetail"))
    assert instant(sync.bookmark("ap_aging")) == newest


def test_second_run_reads_only_changed_rows(gi_tap, emulator):
    first = gi_tap.sync(["ap_aging"])
    changed = sorted(r["RefNbr"] for r in first.records["ap_aging"])[3]
    emulator.store.modify("Bill", ("Bill", changed), {"Description": "touched"})
    second = gi_tap.sync(["ap_aging"], state=first.state)
    assert [r["RefNbr"] for r in second.records["ap_aging"]] == [changed]
    assert instant(second.bookmark("ap_aging")) > instant(first.bookmark("ap_aging"))
    third = gi_tap.sync(["ap_aging"], state=second.state)
    assert third.records.get("ap_aging", []) == []


def test_rows_removed_behind_the_cursor_while_paging_lose_no_row(gi_tap, emulator):
    """Offset paging ($skip) would skip as many rows as vanished before its position."""
    before = {r["RefNbr"] for r in source_rows(emulator, "APAgingDetail")}
    first_three = sorted(before)[:3]
    pages: list = []

    def close_read_bills(info) -> None:
        if info.entity != "APAgingDetail":
            return
        pages.append(info)
        if len(pages) == 2:  # the first page has been read
            for ref in first_three:
                emulator.store.modify("Bill", ("Bill", ref), {"Status": "Closed"})

    emulator.on_request(close_read_bills)
    full_table = [{**GENERIC_INQUIRIES[0], "odata_version": 4, "replication_key": None}]
    sync = gi_tap.sync(["ap_aging"], page_size=10, generic_inquiries=full_table)
    assert len(pages) > 2
    assert not set(first_three) & {r["RefNbr"] for r in source_rows(emulator, "APAgingDetail")}
    emitted = [r["RefNbr"] for r in sync.records["ap_aging"]]
    assert len(emitted) == len(set(emitted))
    assert set(emitted) == before


@pytest.mark.parametrize("emulator_config", [{"odata_page_size": 4}], indirect=True)
def test_next_links_of_short_server_pages_are_not_followed_and_nothing_is_lost(gi_tap, emulator):
    seen = odata_requests(emulator)
    sync = gi_tap.sync(STREAMS, page_size=10)
    for stream in STREAMS:
        assert_equal_source(sync, emulator, stream)
    assert not any("$skip" in r.params for r in seen)


def test_keys_that_are_not_unique_stop_the_stream_loudly(gi_tap, emulator):
    by_vendor = [
        {"name": "APAgingDetail", "odata_version": 4, "key_properties": ["VendorID"], "stream": "ap_aging"}
    ]
    # One row a page: the duplicate straddles every page boundary, where no page holds both rows.
    with pytest.raises(Exception, match="more than one row with VendorID") as raised:
        gi_tap.sync(["ap_aging"], page_size=1, generic_inquiries=by_vendor)
    assert "key_properties" in str(raised.value)


@pytest.mark.parametrize(
    ("entry", "extra", "message"),
    [
        ({"name": "NoSuchInquiry", "key_properties": ["X"]}, {}, "NoSuchInquiry' is not exposed"),
        ({"name": "APAgingDetail", "key_properties": ["Nope"]}, {}, "no column 'Nope'"),
        (
            {"name": "APAgingDetail", "odata_version": 3, "key_properties": ["RefNbr"]},
            {"instance_time_zone": None},
            "set instance_time_zone",
        ),
        (
            {"name": "APAgingDetail", "key_properties": ["RefNbr"], "replication_key": "Balance"},
            {},
            "must be a date-and-time column",
        ),
        (
            {"name": "APAgingDetail", "key_properties": ["RefNbr"]},
            {"instance_time_zone": "Mars/Base"},
            "IANA",
        ),
    ],
)
def test_setting_errors_name_the_inquiry_and_what_to_do(gi_tap, entry, extra, message):
    config = {**gi_tap.config, "generic_inquiries": [entry], **extra}
    config = {k: v for k, v in config.items() if v is not None}
    with pytest.raises(SettingError) as raised:
        TapAcumatica(config=config, parse_env_config=False)
    assert message in str(raised.value)


def test_cookie_sign_in_reads_inquiries_with_basic_authentication(gi_tap, emulator):
    sync = gi_tap.sync(STREAMS, auth_method="cookie")
    for stream in STREAMS:
        assert_equal_source(sync, emulator, stream)


def test_inquiry_requests_wait_no_longer_than_request_timeout_seconds(gi_tap, emulator):
    def slow_pages(info):
        if info.version.startswith("odata") and "$top" in info.params:
            time.sleep(1.5)

    emulator.on_request(slow_pages)
    sync = gi_tap.sync(STREAMS[:1], request_timeout_seconds=0.3, max_retries=0, check=False)
    # Before: inquiry requests read the setting's old name and waited up to 300 s, so this run
    # succeeded after its slow answers.
    assert sync.returncode != 0 and not sync.records.get(STREAMS[0])
    assert "timed out" in sync.stderr.lower(), sync.stderr[-2000:]


@pytest.mark.parametrize("emulator_config", [{"orderby": "ignore"}], indirect=True)
def test_an_inquiry_answered_out_of_its_replication_order_stops_the_stream(gi_tap, emulator):
    # A modified row keeps its place in the key order but moves last in time.
    first = sorted(r["RefNbr"] for r in source_rows(emulator, "APAgingDetail"))[0]
    emulator.store.modify("Bill", ("Bill", first), {"Description": "touched"})
    sync = gi_tap.sync(["ap_aging"], check=False)
    assert sync.returncode != 0
    assert "answered out of LastModifiedDateTime order" in sync.stderr, sync.stderr[-2000:]
