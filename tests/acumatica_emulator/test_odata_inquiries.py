"""The generic inquiry OData feed: /odata (v3), /odatav4 (v4), $metadata, query options, sign-in, errors."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from acumatica_emulator import AcumaticaEmulator, EmulatorConfig
from lxml import etree

BASIC = ("admin", "sandbox")


def feed(
    emu: AcumaticaEmulator, version: int, path: str = "", auth=BASIC, **params: str
) -> requests.Response:
    segment = "odatav4" if version == 4 else "odata"
    return requests.get(f"{emu.base_url}/{segment}/Company/{path}", params=params, auth=auth, timeout=10)


def open_bills(emu: AcumaticaEmulator) -> dict[str, dict]:
    return {
        r["ReferenceNbr"]: r
        for r in emu.store.records("Bill", "24.200.001", expand=())
        if r["Status"] != "Closed" and r["Balance"]
    }


def test_service_document_lists_the_seeded_inquiries_in_each_version(emu):
    v3, v4 = feed(emu, 3).json(), feed(emu, 4).json()
    assert v3["odata.metadata"].endswith("/odata/Company/$metadata")
    assert v4["@odata.context"].endswith("/odatav4/Company/$metadata")
    assert (
        {s["name"] for s in v3["value"]}
        == {s["name"] for s in v4["value"]}
        >= {
            "APAgingDetail",
            "GLTrialBalance",
        }
    )


@pytest.mark.parametrize(("version", "datetime_type"), [(3, "Edm.DateTime"), (4, "Edm.DateTimeOffset")])
def test_metadata_types_the_columns_per_version(emu, version, datetime_type):
    response = feed(emu, version, "$metadata")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/xml")
    root = etree.fromstring(response.content)
    assert root.get("Version") == ("1.0" if version == 3 else "4.0")
    entity = root.find(".//{*}EntityType[@Name='APAgingDetail']")
    props = {p.get("Name"): p for p in entity.iter("{*}Property")}
    assert props["Balance"].get("Type") == "Edm.Decimal"
    assert (props["Balance"].get("Precision"), props["Balance"].get("Scale")) == ("19", "4")
    assert props["DocDate"].get("Type") == datetime_type
    assert props["DaysPastDue"].get("Type") == "Edm.Int32"
    assert props["OnHold"].get("Type") == "Edm.Boolean"
    assert props["NoteID"].get("Type") == "Edm.Guid"
    assert [k.get("Name") for k in entity.iter("{*}PropertyRef")] == ["DocType", "RefNbr"]
    assert root.find(".//{*}EntitySet[@Name='APAgingDetail']").get("EntityType") == "Default.APAgingDetail"


def test_v3_rows_are_json_light_with_decimal_strings_and_local_dates(emu):
    body = feed(emu, 3, "APAgingDetail").json()
    assert body["odata.metadata"].endswith("/odata/Company/$metadata#APAgingDetail")
    bills = open_bills(emu)
    assert {r["RefNbr"] for r in body["value"]} == set(bills)
    row = body["value"][0]
    bill = bills[row["RefNbr"]]
    assert row["Balance"] == f"{bill['Balance']:.4f}"  # Edm.Decimal is a string in OData v3 JSON
    # Edm.DateTime: the instance's local time, no offset.
    assert row["LastModifiedDateTime"] == bill["LastModifiedDateTime"][:23]
    assert datetime.fromisoformat(row["DocDate"]).tzinfo is None


def test_v4_rows_carry_numbers_and_offsets(emu):
    response = feed(emu, 4, "APAgingDetail")
    assert response.headers["OData-Version"] == "4.0"
    body = response.json(parse_float=Decimal)
    assert body["@odata.context"].endswith("/odatav4/Company/$metadata#APAgingDetail")
    row = body["value"][0]
    bill = open_bills(emu)[row["RefNbr"]]
    assert row["Balance"] == bill["Balance"]
    assert datetime.fromisoformat(row["LastModifiedDateTime"]) == datetime.fromisoformat(
        bill["LastModifiedDateTime"]
    )


def test_trial_balance_sums_journal_lines_per_period_and_account(emu):
    rows = feed(emu, 4, "GLTrialBalance").json(parse_float=Decimal)["value"]
    expected: dict[tuple, list[Decimal]] = {}
    for batch in emu.store.records("JournalTransaction", "24.200.001", expand=("Details",)):
        for line in batch["Details"]:
            sums = expected.setdefault((batch["PostPeriod"], line["Account"]), [Decimal(0), Decimal(0)])
            sums[0] += line["DebitAmount"]
            sums[1] += line["CreditAmount"]
    assert {(r["FinPeriodID"], r["AccountCD"]): [r["DebitTotal"], r["CreditTotal"]] for r in rows} == expected
    assert all(r["NetChange"] == r["DebitTotal"] - r["CreditTotal"] for r in rows)


def test_top_skip_orderby_select(emu):
    everything = feed(emu, 4, "APAgingDetail", **{"$orderby": "Balance desc,RefNbr"}).json()["value"]
    page = feed(
        emu, 4, "APAgingDetail", **{"$orderby": "Balance desc,RefNbr", "$skip": "2", "$top": "3"}
    ).json()["value"]
    assert page == everything[2:5]
    balances = [Decimal(str(r["Balance"])) for r in everything]
    assert balances == sorted(balances, reverse=True)
    slim = feed(emu, 3, "APAgingDetail", **{"$select": "RefNbr,Balance", "$top": "1"}).json()["value"]
    assert list(slim[0]) == ["RefNbr", "Balance"]


def test_filter_takes_each_versions_date_literal(emu):
    rows = feed(emu, 3, "APAgingDetail").json()["value"]
    middle = sorted(r["LastModifiedDateTime"] for r in rows)[len(rows) // 2]
    later = {r["RefNbr"] for r in rows if r["LastModifiedDateTime"] > middle}
    v3 = feed(emu, 3, "APAgingDetail", **{"$filter": f"LastModifiedDateTime gt datetime'{middle}'"})
    assert {r["RefNbr"] for r in v3.json()["value"]} == later
    offset = emu.config.timezone_offset
    v4 = feed(emu, 4, "APAgingDetail", **{"$filter": f"LastModifiedDateTime gt {middle}{offset}"})
    assert {r["RefNbr"] for r in v4.json()["value"]} == later
    # Each version refuses the other's date literal, with its own error body.
    wrong3 = feed(emu, 3, "APAgingDetail", **{"$filter": f"LastModifiedDateTime gt {middle}Z"})
    assert wrong3.status_code == 400
    assert "odata.error" in wrong3.json()
    wrong4 = feed(emu, 4, "APAgingDetail", **{"$filter": f"LastModifiedDateTime gt datetime'{middle}'"})
    assert wrong4.status_code == 400
    assert "message" in wrong4.json()["error"]


@pytest.mark.parametrize(
    "params",
    [
        {"$top": "-1"},
        {"$select": "NoSuchColumn"},
        {"$orderby": "NoSuchColumn"},
        {"$filter": "Balance gt"},
        {"$expand": "X"},
    ],
)
def test_bad_query_options_answer_400_in_the_versions_format(emu, params):
    v3, v4 = feed(emu, 3, "APAgingDetail", **params), feed(emu, 4, "APAgingDetail", **params)
    assert (v3.status_code, v4.status_code) == (400, 400)
    assert v3.json()["odata.error"]["message"]["value"]
    assert v4.json()["error"]["message"]


def test_unknown_inquiry_answers_404(emu):
    v3, v4 = feed(emu, 3, "NoSuchInquiry"), feed(emu, 4, "NoSuchInquiry")
    assert (v3.status_code, v4.status_code) == (404, 404)
    assert "NoSuchInquiry" in v3.json()["odata.error"]["message"]["value"]
    assert "NoSuchInquiry" in v4.json()["error"]["message"]


def test_sign_in_basic_user_at_tenant_and_bearer(emu, oauth_token):
    assert feed(emu, 3, "APAgingDetail", auth=("admin", "wrong")).status_code == 401
    anonymous = feed(emu, 4, "APAgingDetail", auth=None)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
    # Without the tenant segment the user name may carry it: user@tenant.
    url = f"{emu.base_url}/odata/APAgingDetail"
    assert requests.get(url, auth=("admin@Company", "sandbox"), timeout=10).status_code == 200
    assert feed(emu, 3, "APAgingDetail", auth=("admin@Other", "sandbox")).status_code == 401
    token = oauth_token(emu, "api")["access_token"]
    bearer = requests.get(
        f"{emu.base_url}/odatav4/Company/APAgingDetail",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert bearer.status_code == 200
    rejected = requests.get(
        f"{emu.base_url}/odatav4/Company/APAgingDetail", headers={"Authorization": "Bearer nope"}, timeout=10
    )
    assert rejected.status_code == 401


def test_rows_follow_the_store_between_requests(fresh):
    before = {r["RefNbr"]: r for r in feed(fresh, 3, "APAgingDetail").json()["value"]}
    changed, closed = sorted(before)[:2]
    fresh.store.modify("Bill", ("Bill", changed), {"Balance": Decimal("1.23")})
    fresh.store.modify("Bill", ("Bill", closed), {"Status": "Closed"})
    after = {r["RefNbr"]: r for r in feed(fresh, 3, "APAgingDetail").json()["value"]}
    assert closed not in after
    assert after[changed]["Balance"] == "1.2300"
    assert after[changed]["LastModifiedDateTime"] > before[changed]["LastModifiedDateTime"]


@pytest.mark.parametrize("version", [3, 4])
def test_server_paging_knob_emits_next_links_that_lead_to_the_rest(fresh, version):
    fresh.knobs.odata_page_size = 10
    every = feed(fresh, version, "APAgingDetail", **{"$orderby": "RefNbr"})
    name = "@odata.nextLink" if version == 4 else "odata.nextLink"
    seen, body = [], every.json()
    while True:
        seen += body["value"]
        link = body.get(name)
        if not link:
            break
        assert len(body["value"]) == 10
        params = dict(parse_qsl(urlsplit(link).query))
        body = requests.get(link.split("?")[0], params=params, auth=BASIC, timeout=10).json()
    fresh.knobs.odata_page_size = None
    assert seen == feed(fresh, version, "APAgingDetail", **{"$orderby": "RefNbr"}).json()["value"]


def test_inquiries_defined_at_run_time_and_by_config():
    spec = {
        "entity": "Bill",
        "columns": {"Ref": "ReferenceNbr", "Vendor": "Vendor", "Line": "Details/Amount"},
        "keys": ["Ref"],
        "where": {"Status": "Open"},
    }
    config = EmulatorConfig(inquiries=({**spec, "name": "BillLines"},))
    with AcumaticaEmulator(config) as emu:
        rows = feed(emu, 4, "BillLines").json()["value"]
        bills = [b for b in emu.store.records("Bill", "24.200.001") if b["Status"] == "Open"]
        assert len(rows) == sum(len(b["Details"]) for b in bills) > 0
        put = requests.put(
            f"{emu.root_url}/_emulator/inquiries/VendorList",
            json={
                "entity": "Vendor",
                "columns": {"VendorID": "VendorID", "Name": "VendorName"},
                "keys": ["VendorID"],
            },
            timeout=10,
        )
        assert put.status_code == 200, put.text
        vendors = feed(emu, 3, "VendorList").json()["value"]
        assert len(vendors) == len(emu.store.records("Vendor", "24.200.001"))
        bad = requests.put(
            f"{emu.root_url}/_emulator/inquiries/Broken",
            json={"entity": "Bill", "columns": {"X": "Nope"}},
            timeout=10,
        )
        assert bad.status_code == 400
        assert "Nope" in bad.json()["message"]
