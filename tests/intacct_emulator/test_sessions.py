"""getAPISession, session endpoints, sliding timeouts, expiry, login and multi-entity scoping."""

from __future__ import annotations

from datetime import datetime

import pytest
from intacct_emulator import EmulatorConfig, IntacctEmulator
from lxml import etree

from tests.support.intacct_xml import Client, envelope, error_of, ok_data, query, read_by_query, rows


def test_get_api_session_returns_session_endpoint_and_location(client, emu):
    before = emu.stats.sessions_issued
    root = client.post(["<getAPISession/>"])
    assert root.findtext("control/status") == "success"
    auth = root.find("operation/authentication")
    assert auth.findtext("status") == "success" and auth.findtext("companyid") == "SANDBOX-CO"
    api = ok_data(root.find("operation/result")).find("api")
    assert api.findtext("sessionid") and api.findtext("endpoint") == emu.endpoint_url
    assert api.findtext("locationid") == ""
    assert emu.stats.sessions_issued == before + 1


def test_session_timeout_reported_and_sliding():
    config = EmulatorConfig(port=0, session_timeout_s=7200, timezone="America/New_York")
    with IntacctEmulator(config) as emu:
        client = Client(emu)
        sess = client.session()
        root = client.post([read_by_query("CLASS")], session=sess[0], url=sess[1])
        auth = root.find("operation/authentication")
        stamp = datetime.fromisoformat(auth.findtext("sessiontimestamp"))
        timeout = datetime.fromisoformat(auth.findtext("sessiontimeout"))
        assert stamp.utcoffset() == timeout.utcoffset() and stamp.utcoffset().total_seconds() in (
            -14400,
            -18000,
        )
        assert 7199 <= (timeout - stamp).total_seconds() <= 7201
        emu.knobs.session_timeout_s = 0.5
        client.post([read_by_query("CLASS")], session=sess[0], url=sess[1])  # slides to now + 0.5 s
        emu.app.sessions._sessions[sess[0]].expires_at -= 1  # as if 1 s passed
        expired = client.post([read_by_query("CLASS")], session=sess[0], url=sess[1])
        assert expired.findtext("control/status") == "success"
        assert expired.findtext("operation/authentication/status") == "failure"
        assert error_of(expired.find("operation"))["errorno"] == "XL03000006"
        assert expired.find("operation/result") is None


def test_expired_and_unknown_sessions_are_authentication_failures(fresh):
    client = Client(fresh)
    sess = client.session()
    assert fresh.expire_sessions() >= 1
    for sid in (sess[0], "not-a-session"):
        response = client.raw(envelope([read_by_query("CLASS")], session=sid))
        assert response.status_code == 200
        root = etree.fromstring(response.content)
        assert root.findtext("operation/authentication/status") == "failure"
        assert error_of(root.find("operation"))["description2"] == "Invalid session"


def test_session_endpoint_other_path_must_be_used(fresh):
    fresh.knobs.session_endpoint_path = "/pod7/ia/xml/xmlgw.phtml"
    client = Client(fresh)
    sid, endpoint = client.session()
    assert endpoint == fresh.root_url + "/pod7/ia/xml/xmlgw.phtml"
    good = client.post([read_by_query("CLASS")], session=sid, url=endpoint)
    assert good.findtext("operation/result/status") == "success"
    wrong = client.post([read_by_query("CLASS")], session=sid)  # the login endpoint
    assert wrong.findtext("operation/authentication/status") == "failure"


def test_login_per_request_and_bad_credentials(client, emu):
    logins = emu.stats.logins
    root = client.post([read_by_query("CLASS", pagesize=1)])
    assert root.findtext("operation/result/status") == "success"
    assert emu.stats.logins == logins + 1
    bad = client.post([read_by_query("CLASS")], login={"password": "wrong"})
    assert bad.findtext("operation/authentication/status") == "failure"
    assert error_of(bad.find("operation")) == {
        "errorno": "XL03000006",
        "description": "",
        "description2": "Sign-in information is incorrect",
        "correction": "Check the user ID, company ID and password.",
    }
    assert bad.find("operation/result") is None
    company = client.post([read_by_query("CLASS")], login={"companyid": "OTHER-CO"})
    assert company.findtext("operation/authentication/status") == "failure"


def test_bad_sender_is_control_failure(client):
    response = client.raw(envelope([read_by_query("CLASS")], sender=("sandbox-sender", "nope")))
    assert response.status_code == 200
    root = etree.fromstring(response.content)
    assert root.findtext("control/status") == "failure"
    assert root.find("operation") is None
    assert error_of(root)["errorno"] == "XL03000005"


def test_malformed_xml_and_wrong_dtd_are_control_failures(client):
    broken = client.raw(b"<request><control>")
    assert broken.status_code == 200
    assert error_of(etree.fromstring(broken.content))["errorno"] == "XL03000003"
    old = etree.fromstring(client.raw(envelope([read_by_query("CLASS")], dtdversion="2.1")).content)
    assert old.findtext("control/status") == "failure"


def _entities(data) -> set[str]:
    return {r["MEGAENTITYID"] for r in rows(data)}


@pytest.mark.parametrize("how", ["login", "getAPISession"])
def test_entity_session_sees_only_its_entity(client, emu, how):
    everything = emu.store.records("APBILL")
    mine = [r for r in everything if r["MEGAENTITYID"] == "E200"]
    assert 0 < len(mine) < len(everything)
    if how == "login":
        sess = client.session("E200")
    else:
        top = client.session()
        root = client.post(
            ["<getAPISession><locationid>E200</locationid></getAPISession>"], session=top[0], url=top[1]
        )
        api = ok_data(root.find("operation/result")).find("api")
        assert api.findtext("locationid") == "E200"
        sess = (api.findtext("sessionid"), api.findtext("endpoint"))
    data = ok_data(
        client.result(read_by_query("APBILL", fields="RECORDNO,MEGAENTITYID", pagesize=1000), sess)
    )
    assert data.get("totalcount") == str(len(mine)) and _entities(data) == {"E200"}
    lines = ok_data(client.result(query("APBILLITEM", ["RECORDNO", "MEGAENTITYID"], pagesize=2000), sess))
    assert _entities(lines) == {"E200"}
    # top-level objects (GLACCOUNT) stay visible in full
    accounts = ok_data(client.result(query("GLACCOUNT", ["RECORDNO"], pagesize=2000), sess))
    assert accounts.get("totalcount") == str(len(emu.store.records("GLACCOUNT")))
    top = ok_data(
        client.result(
            read_by_query("APBILL", fields="RECORDNO,MEGAENTITYID", pagesize=1000), client.session()
        )
    )
    assert top.get("totalcount") == str(len(everything)) and _entities(top) == {"E100", "E200"}


def test_unknown_entity_fails_authentication(client):
    root = client.post(["<getAPISession/>"], login={"locationid": "NOPE"})
    assert root.findtext("operation/authentication/status") == "failure"
