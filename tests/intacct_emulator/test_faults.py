"""Fault and behaviour knobs: GW-0010, 5xx, truncation, control characters, invalid bytes, the control
API over HTTP, and the sandbox console script."""

from __future__ import annotations

import subprocess
import sys
import threading

import requests
from intacct_emulator import SANDBOX
from lxml import etree

from tests.support.intacct_xml import Client, envelope, error_of, ok_data, read_by_query, rows


def test_gw_0010_burst_then_service_resumes(fresh):
    client = Client(fresh)
    fresh.knobs.rate_limit_next = 2
    answers = [client.raw(envelope([read_by_query("CLASS")])) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    limited = [etree.fromstring(a.content) for a in answers[:2]]
    for root in limited:
        assert root.findtext("control/status") == "failure"
        assert error_of(root)["errorno"] == "GW-0010"
    assert etree.fromstring(answers[2].content).findtext("operation/result/status") == "success"
    assert fresh.stats.rate_limited == 2 and fresh.stats.transactions == 1
    fresh.knobs.rate_limit_http_status = 429
    fresh.knobs.rate_limit_next = 1
    on_wire = client.raw(envelope([read_by_query("CLASS")]))
    assert on_wire.status_code == 429 and error_of(etree.fromstring(on_wire.content))["errorno"] == "GW-0010"


def test_requests_per_window_limit(fresh):
    client = Client(fresh)
    fresh.knobs.requests_per_window = 2
    fresh.knobs.rate_window_s = 3600
    codes = [
        error_of(etree.fromstring(client.raw(envelope([read_by_query("CLASS")])).content))["errorno"]
        if i == 2
        else client.post([read_by_query("CLASS")]).findtext("control/status")
        for i in range(3)
    ]
    assert codes == ["success", "success", "GW-0010"]


def test_concurrency_limit_answers_gw_0010(fresh):
    fresh.knobs.max_concurrent_requests = 1
    fresh.knobs.latency_ms = 0
    gate, entered = threading.Event(), threading.Event()

    def hold(info):
        entered.set()
        gate.wait(5)

    fresh.on_request(hold)
    client, other = Client(fresh), Client(fresh)
    first = threading.Thread(target=client.post, args=([read_by_query("CLASS")],))
    first.start()
    assert entered.wait(5)
    second = etree.fromstring(other.raw(envelope([read_by_query("CLASS")])).content)
    gate.set()
    first.join()
    assert error_of(second)["errorno"] == "GW-0010"


def test_5xx_and_truncated_responses(fresh):
    client = Client(fresh)
    fresh.knobs.fail_next, fresh.knobs.fail_status = 2, 502
    assert [client.raw(envelope([read_by_query("CLASS")])).status_code for _ in range(3)] == [502, 502, 200]
    fresh.knobs.truncate_next = 1
    cut = client.raw(envelope([read_by_query("VENDOR")]))
    assert cut.status_code == 200
    try:
        etree.fromstring(cut.content)
        raise AssertionError("a truncated body must not parse")
    except etree.XMLSyntaxError:
        pass
    assert client.post([read_by_query("VENDOR")]).findtext("operation/result/status") == "success"
    assert fresh.stats.statuses[502] == 2


def test_control_characters_and_invalid_bytes_in_values(fresh):
    client = Client(fresh)
    sess = client.session()
    clean = ok_data(client.result(read_by_query("VENDOR", fields="RECORDNO,NAME", pagesize=6), sess))
    fresh.knobs.control_chars_every = 3
    fresh.knobs.invalid_bytes_every = 5
    dirty = client.raw(
        envelope([read_by_query("VENDOR", fields="RECORDNO,NAME", pagesize=6)], session=sess[0]), sess[1]
    ).content
    assert b"\x0b\x1f" in dirty and b"\xff" in dirty
    try:
        etree.fromstring(dirty)
        raise AssertionError("control characters must make the XML ill-formed")
    except etree.XMLSyntaxError:
        pass
    # what a client must strip: the control characters and the invalid bytes, nothing else
    fixed = etree.fromstring(dirty.replace(b"\x0b", b"").replace(b"\x1f", b"").replace(b"\xff", b""))
    assert rows(fixed.find("operation/result/data")) == rows(clean)


def test_knobs_stats_records_and_expiry_over_http(fresh):
    base = fresh.root_url + "/_emulator"
    assert requests.patch(f"{base}/knobs", json={"session_timeout_s": 60}).json()["session_timeout_s"] == 60
    assert fresh.knobs.session_timeout_s == 60
    assert requests.patch(f"{base}/knobs", json={"nope": 1}).status_code == 400
    key = requests.post(f"{base}/records/VENDOR", json={"NAME": "Over HTTP"}).json()["RECORDNO"]
    assert (
        requests.patch(f"{base}/records/VENDOR/{key}", json={"NAME": "Patched"}).json()["NAME"] == "Patched"
    )
    assert requests.delete(f"{base}/records/VENDOR/{key}").status_code == 204
    assert requests.delete(f"{base}/records/VENDOR/{key}").status_code == 404
    client = Client(fresh)
    sess = client.session()
    assert requests.post(f"{base}/expire_sessions").json() == {"expired": 1}
    root = client.post([read_by_query("CLASS")], session=sess[0], url=sess[1])
    assert root.findtext("operation/authentication/status") == "failure"
    stats = requests.get(f"{base}/stats").json()
    assert stats["requests"] == 2 and stats["sessions_issued"] == 1 and stats["transactions"] == 1


def test_sandbox_console_script_serves_sandbox_credentials():
    proc = subprocess.Popen(
        [sys.executable, "-m", "intacct_emulator.cli", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        line = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in line
        url = line.split("listening on ")[1].strip()
        assert url.endswith("/ia/xml/xmlgw.phtml")
        body = envelope(["<getAPISession/>"], login={"userid": SANDBOX["user_id"]})
        root = etree.fromstring(requests.post(url, data=body, timeout=10).content)
        assert root.findtext("operation/result/status") == "success"
    finally:
        proc.terminate()
        proc.wait(10)
