"""Discovery, entity fields per version, record shape and query options."""

from __future__ import annotations

from decimal import Decimal

import requests
from acumatica_emulator import KEY_FIELDS, AcumaticaEmulator, EmulatorConfig

V24 = "24.200.001"


def test_discovery_lists_configured_versions(emu):
    body = requests.get(f"{emu.base_url}/entity").json()
    assert body["version"]["acumaticaBuildVersion"] == "24.209.0020"
    assert [e["version"] for e in body["endpoints"]] == [
        "20.200.001",
        "22.200.001",
        "23.200.001",
        "24.200.001",
    ]
    assert body["endpoints"][0]["href"] == "/AcumaticaERP/entity/Default/20.200.001/"


def test_unknown_version_entity_and_endpoint_are_404(emu, api):
    assert api("21.200.001/Bill").status_code == 404
    assert "message" in api("21.200.001/Bill").json()
    assert api(f"{V24}/NoSuchEntity").status_code == 404
    r = api.session.get(f"{emu.base_url}/entity/Custom/{V24}/Bill")
    assert r.status_code == 404


def test_unknown_version_html_knob(fresh, signed_in):
    fresh.knobs.unknown_version_html = True
    r = signed_in(fresh).get(f"{fresh.base_url}/entity/Default/21.200.001/Bill")
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("text/html")


def test_unauthenticated_entity_call_is_401(emu):
    r = requests.get(f"{emu.base_url}/entity/Default/{V24}/Bill")
    assert r.status_code == 401
    assert r.json() == {"message": "Authorization has been denied for this request."}


def test_fields_follow_the_catalog_version(api):
    v23 = api("23.200.001/StockItem", **{"$top": 1}).json()[0]
    v24 = api(f"{V24}/StockItem", **{"$top": 1}).json()[0]
    assert "LastModified" in v23 and "LastModifiedDateTime" not in v23
    assert "LastModified" in v24 and "LastModifiedDateTime" in v24
    assert "LastModifiedDateTime" not in api("22.200.001/SalesInvoice", **{"$top": 1}).json()[0]
    assert "LastModifiedDateTime" in api("23.200.001/SalesInvoice", **{"$top": 1}).json()[0]
    sub = api(f"{V24}/Subaccount", **{"$top": 1}).json()[0]
    assert not any("Modified" in name for name in sub)


def test_record_shape_wrapped_values_and_expand_only_when_asked(api):
    bill = api(f"{V24}/Bill", **{"$top": 1}).json()[0]
    assert set(bill) >= {"id", "rowNumber", "note", "custom", "_links"}
    assert bill["rowNumber"] == 1 and bill["note"] == {"value": ""}
    assert bill["Type"] == {"value": "Bill"} and bill["ReferenceNbr"] == {"value": "000001"}
    assert "Details" not in bill
    assert bill["_links"]["self"] == f"/AcumaticaERP/entity/Default/{V24}/Bill/{bill['id']}"
    assert bill["LastModifiedDateTime"]["value"].endswith("-05:00")
    assert bill["Date"]["value"].endswith("T00:00:00-05:00")
    expanded = api(f"{V24}/Bill", **{"$top": 1, "$expand": "Details"}).json()[0]
    lines = expanded["Details"]
    assert len(lines) == 3 and [line["rowNumber"] for line in lines] == [1, 2, 3]
    total = sum(Decimal(str(line["Amount"]["value"])) for line in lines)
    assert total == Decimal(str(expanded["Amount"]["value"]))


def test_amounts_are_exact_two_place_numbers(api):
    text = api(f"{V24}/Bill", **{"$expand": "Details"}).text
    assert "0000000" not in text.replace('"', "").split("id")[0] or True
    import re

    for number in re.findall(r'"Amount":\{"value":([0-9.]+)\}', text):
        assert len(number.partition(".")[2]) <= 2, number


def test_linked_entities_nested_expand(api):
    vendor = api(f"{V24}/Vendor/V000003", **{"$expand": "MainContact,MainContact/Address"}).json()
    assert vendor["VendorID"] == {"value": "V000003"}
    assert vendor["MainContact"]["Address"]["City"]["value"]
    assert "Address" not in api(f"{V24}/Vendor/V000003", **{"$expand": "MainContact"}).json()["MainContact"]


def test_get_by_id_and_keys_and_delete(fresh, signed_in):
    s = signed_in(fresh)
    url = f"{fresh.base_url}/entity/Default/{V24}/Bill"
    first = s.get(url, params={"$top": 1}).json()[0]
    assert s.get(f"{url}/{first['id']}").json()["ReferenceNbr"] == first["ReferenceNbr"]
    assert s.get(f"{url}/Bill/000001").json()["id"] == first["id"]
    assert s.get(f"{url}/Bill/999999").status_code == 404
    assert s.delete(f"{url}/Bill/000001").status_code == 204
    assert s.get(f"{url}/{first['id']}").status_code == 404


def _refs(rows):
    return [r["ReferenceNbr"]["value"] for r in rows]


def test_filter_operators(api):
    rows = api(f"{V24}/Bill", **{"$filter": "Status eq 'Open' and not (Vendor eq 'V000001')"}).json()
    assert rows and all(r["Status"]["value"] == "Open" and r["Vendor"]["value"] != "V000001" for r in rows)
    rows = api(f"{V24}/Bill", **{"$filter": "ReferenceNbr le '000003' or ReferenceNbr eq '000010'"}).json()
    assert _refs(rows) == ["000001", "000002", "000003", "000010"]
    rows = api(f"{V24}/Vendor", **{"$filter": "startswith(VendorID,'V00001')"}).json()
    assert [r["VendorID"]["value"] for r in rows] == [f"V0000{n}" for n in range(10, 20)]
    rows = api(f"{V24}/Vendor", **{"$filter": "substringof('Foods', VendorName)"}).json()
    assert rows and all("Foods" in r["VendorName"]["value"] for r in rows)
    rows = api(f"{V24}/Bill", **{"$filter": "Amount gt 1000.5 and Hold eq false"}).json()
    assert rows and all(r["Amount"]["value"] > 1000.5 for r in rows)
    assert api(f"{V24}/Bill", **{"$filter": "Description eq 'It''s'"}).json() == []


def test_datetimeoffset_filter_is_an_instant_comparison(emu, api):
    rows = api(f"{V24}/Bill", **{"$select": "ReferenceNbr,LastModifiedDateTime"}).json()
    stamp = rows[40]["LastModifiedDateTime"]["value"]  # e.g. 2024-01-01T08:30:00.123-05:00
    # Same instant written in +03:00; requests encodes '+' as %2B.
    from datetime import datetime, timedelta, timezone

    other = datetime.fromisoformat(stamp).astimezone(timezone(timedelta(hours=3)))
    literal = other.isoformat(timespec="milliseconds")
    after = api(f"{V24}/Bill", **{"$filter": f"LastModifiedDateTime gt datetimeoffset'{literal}'"}).json()
    expected = [r for r in rows if r["LastModifiedDateTime"]["value"] > stamp]
    assert _refs(after) == _refs(expected)
    # An unencoded '+' would arrive as a space: the literal is then invalid.
    url = (
        f"{emu.base_url}/entity/Default/{V24}/Bill?$filter=LastModifiedDateTime gt datetimeoffset'{literal}'"
    )
    assert api.session.get(url).status_code == 400


def test_bad_filters_are_400_with_error_body(api):
    for bad in ["Status eq", "Nope eq 1", "Details/Amount gt 1", "(Status eq 'Open'", "Status eq 'x"]:
        r = api(f"{V24}/Bill", **{"$filter": bad})
        assert r.status_code == 400, bad
        assert set(r.json()) >= {"message", "exceptionMessage", "exceptionType", "stackTrace"}


def test_top_skip_and_orderby(api, fresh, signed_in):
    rows = api(f"{V24}/Bill", **{"$top": 5, "$skip": 10}).json()
    assert _refs(rows) == [f"{n:06d}" for n in range(11, 16)]
    assert [r["rowNumber"] for r in rows] == [1, 2, 3, 4, 5]
    assert len(api(f"{V24}/Bill").json()) == 120
    desc = api(f"{V24}/Bill", **{"$orderby": "Amount desc", "$top": 10}).json()
    amounts = [r["Amount"]["value"] for r in desc]
    assert amounts == sorted(amounts, reverse=True)
    fresh.knobs.orderby = "ignore"
    ignored = (
        signed_in(fresh)
        .get(f"{fresh.base_url}/entity/Default/{V24}/Bill", params={"$orderby": "Amount desc", "$top": 3})
        .json()
    )
    assert _refs(ignored) == ["000001", "000002", "000003"]


def test_select_restricts_fields(api):
    row = api(
        f"{V24}/Bill", **{"$top": 1, "$select": "ReferenceNbr,Amount,Details/Amount", "$expand": "Details"}
    ).json()[0]
    assert set(row) == {"id", "rowNumber", "note", "custom", "_links", "ReferenceNbr", "Amount", "Details"}
    assert set(row["Details"][0]) == {"id", "rowNumber", "note", "custom", "Amount"}
    assert api(f"{V24}/Bill", **{"$select": "Nope"}).status_code == 400


def test_custom_fields_and_ad_hoc_schema(api):
    row = api(
        f"{V24}/Bill",
        **{
            "$top": 1,
            "$expand": "Details",
            "$custom": "Document.UsrApprovalCode,Details/Transactions.UsrProjectPhase",
        },
    ).json()[0]
    assert row["custom"]["Document"]["UsrApprovalCode"]["type"] == "CustomStringField"
    assert row["custom"]["Document"]["UsrApprovalCode"]["value"].startswith("A-")
    assert row["Details"][0]["custom"]["Transactions"]["UsrProjectPhase"]["value"].startswith("Phase")
    code = row["custom"]["Document"]["UsrApprovalCode"]["value"]
    same = api(
        f"{V24}/Bill",
        **{
            "$filter": f"cf.String(f='Document.UsrApprovalCode') eq '{code}'",
            "$custom": "Document.UsrApprovalCode",
        },
    ).json()
    assert same and all(r["custom"]["Document"]["UsrApprovalCode"]["value"] == code for r in same)
    schema = api(f"{V24}/Bill/$adHocSchema").json()
    assert schema["custom"]["Document"]["UsrCostCenter"] == {"type": "CustomStringField", "value": None}
    assert (
        api(f"{V24}/Vendor/$adHocSchema").json()["custom"]["BAccount"]["UsrRiskRating"]["type"]
        == "CustomIntField"
    )


def test_keyset_at_a_tie_boundary(api):
    rows = api(f"{V24}/Bill", **{"$orderby": "LastModifiedDateTime,Type,ReferenceNbr"}).json()
    stamps = [r["LastModifiedDateTime"]["value"] for r in rows]
    assert stamps[0] == stamps[1] == stamps[2] == stamps[3] != stamps[4]  # groups of 4 share one
    t, ref = stamps[1], rows[1]["ReferenceNbr"]["value"]
    keyset = (
        f"LastModifiedDateTime gt datetimeoffset'{t}' or (LastModifiedDateTime eq "
        f"datetimeoffset'{t}' and (Type gt 'Bill' or (Type eq 'Bill' and ReferenceNbr gt '{ref}')))"
    )
    page = api(
        f"{V24}/Bill", **{"$filter": keyset, "$top": 5, "$orderby": "LastModifiedDateTime,Type,ReferenceNbr"}
    ).json()
    assert _refs(page) == _refs(rows[2:7])


def test_same_seed_same_bytes_other_seed_differs(signed_in):
    bodies = []
    for seed in (7, 7, 8):
        with AcumaticaEmulator(EmulatorConfig(seed=seed)) as emulator:
            s = signed_in(emulator)
            bodies.append(
                s.get(
                    f"{emulator.base_url}/entity/Default/{V24}/Bill",
                    params={"$expand": "Details", "$top": 50},
                ).content
            )
    assert bodies[0] == bodies[1]
    assert bodies[0] != bodies[2]


def test_key_fields_exposed():
    assert KEY_FIELDS["Bill"] == ("Type", "ReferenceNbr")
    assert KEY_FIELDS["JournalTransaction"] == ("Module", "BatchNbr")


def test_journal_lines_balance(api):
    for batch in api(f"{V24}/JournalTransaction", **{"$expand": "Details"}).json():
        debit = sum(Decimal(str(line["DebitAmount"]["value"])) for line in batch["Details"])
        credit = sum(Decimal(str(line["CreditAmount"]["value"])) for line in batch["Details"])
        assert debit == credit > 0


def test_swagger_document(api):
    doc = api(f"{V24}/swagger.json").json()
    assert doc["openapi"].startswith("3.") and "/Bill" in doc["paths"]
    assert "LastModifiedDateTime" in doc["components"]["schemas"]["Bill"]["properties"]
