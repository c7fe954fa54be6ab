"""The write side: PUT with If-None-Match/If-Match, 422 per-field errors, BatchNbr numbering,
reference data for journals (accounts, subaccounts, ledgers with branches) and the
ReleaseJournalTransaction action (202 + Location, polled until 204)."""

from __future__ import annotations

from decimal import Decimal

import pytest

V24 = "24.200.001"


def _journal(*lines, **header) -> dict:
    body = {
        "Description": {"value": "Allocation 03-2024"},
        "TransactionDate": {"value": "2024-03-31"},
        "Details": [{k: {"value": v} for k, v in line.items()} for line in lines],
    }
    body.update({k: {"value": v} for k, v in header.items()})
    return body


BALANCED = (
    {"Account": "61000", "Subaccount": "000000", "BranchID": "EASTDIV", "DebitAmount": 100.25},
    {"Account": "67000", "Subaccount": "000-000", "BranchID": "HEADOFFICE", "CreditAmount": 100.25},
)


@pytest.fixture
def put(fresh, signed_in):
    session = signed_in(fresh)

    def call(entity: str, body: dict, select: str | None = None, **headers):
        # The answer holds the fields sent, those asked for, and the expanded lines.
        params = {"$expand": "Details"} if select is None else {"$expand": "Details", "$select": select}
        return session.put(
            f"{fresh.base_url}/entity/Default/{V24}/{entity}", json=body, headers=headers, params=params
        )

    call.session = session
    return call


def test_reference_data_is_consistent_with_the_documents_that_use_it(fresh):
    accounts = {r["AccountCD"] for r in fresh.store.records("Account", V24)}
    for entity, detail_account in (("JournalTransaction", "Account"), ("Bill", "Account")):
        used = {line[detail_account] for r in fresh.store.records(entity, V24) for line in r["Details"]}
        assert used <= accounts, entity
    subaccounts = {r["SubaccountCD"] for r in fresh.store.records("Subaccount", V24)}
    assert "000-000" in subaccounts
    ledgers = fresh.store.records("Ledger", V24, expand=("Branches",))
    assert [r["LedgerID"] for r in ledgers] == ["ACTUAL", "BUDGET", "STAT"]
    assert {b["BranchID"] for b in ledgers[0]["Branches"]} == {"EASTDIV", "HEADOFFICE", "WESTDIV"}


def test_put_creates_a_journal_with_the_next_batch_number_and_numbered_lines(fresh, put):
    response = put(
        "JournalTransaction",
        _journal(*BALANCED),
        select="BatchNbr,Module,Status,PostPeriod",
        **{"If-None-Match": "*"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["BatchNbr"]["value"] == "000041" and body["Module"]["value"] == "GL"
    assert body["Status"]["value"] == "Balanced" and body["PostPeriod"]["value"] == "032024"
    lines = body["Details"]
    assert [line["LineNbr"]["value"] for line in lines] == [1, 2]
    # Subaccounts are stored in their segmented form whichever form was sent.
    assert [line["Subaccount"]["value"] for line in lines] == ["000-000", "000-000"]
    stored = fresh.store.find("JournalTransaction", ("GL", "000041"))
    assert [(line["DebitAmount"], line["CreditAmount"]) for line in stored["Details"]] == [
        (Decimal("100.25"), Decimal("0.00")),
        (Decimal("0.00"), Decimal("100.25")),
    ]
    again = put("JournalTransaction", _journal(*BALANCED), select="BatchNbr", **{"If-None-Match": "*"})
    assert again.json()["BatchNbr"]["value"] == "000042"


def test_put_answers_with_the_fields_sent_and_asked_for_only(fresh, put):
    """Acumatica answers a PUT with "only the fields that were sent or selected" (API-FACTS 1.5):
    BatchNbr and Status, which the instance sets, come back only when asked for."""
    url = f"{fresh.base_url}/entity/Default/{V24}/JournalTransaction"
    bare = put.session.put(url, json=_journal(*BALANCED))
    assert bare.status_code == 200, bare.text
    body = bare.json()
    assert set(body) == {
        "id",
        "rowNumber",
        "note",
        "custom",
        "_links",
        "Description",
        "TransactionDate",
        "Details",
    }
    sent_in_lines = set(BALANCED[0]) | set(BALANCED[1])  # one selection for the whole detail array
    assert [set(line) - {"id", "rowNumber", "note", "custom"} for line in body["Details"]] == [
        sent_in_lines,
        sent_in_lines,
    ]
    hold = put.session.put(
        url, json={"id": body["id"], "Hold": {"value": True}}, params={"$select": "BatchNbr"}
    )
    assert set(hold.json()) - {"id", "rowNumber", "note", "custom", "_links"} == {"Hold", "BatchNbr"}
    expanded = put.session.put(url, json={"id": body["id"]}, params={"$expand": "Details"}).json()
    assert "BatchNbr" not in expanded and "LineNbr" in expanded["Details"][0]
    fresh.knobs.put_answer = "whole"  # the looser behaviour, kept for comparison
    whole = put.session.put(url, json={"id": body["id"], "Hold": {"value": False}}).json()
    assert whole["BatchNbr"]["value"] == "000041" and whole["Status"]["value"] == "Balanced"


def test_if_none_match_and_if_match_answer_412(fresh, put):
    existing = {"Module": {"value": "GL"}, "BatchNbr": {"value": "000003"}, "Description": {"value": "x"}}
    assert put("JournalTransaction", existing, **{"If-None-Match": "*"}).status_code == 412
    missing = {"Module": {"value": "GL"}, "BatchNbr": {"value": "999999"}, "Description": {"value": "x"}}
    assert put("JournalTransaction", missing, **{"If-Match": "*"}).status_code == 412
    assert (
        put(
            "Vendor",
            {"VendorID": {"value": "V000001"}, "VendorName": {"value": "A"}},
            **{"If-None-Match": "*"},
        ).status_code
        == 412
    )
    assert (
        put(
            "Vendor", {"VendorID": {"value": "VNEW"}, "VendorName": {"value": "B"}}, **{"If-Match": "*"}
        ).status_code
        == 412
    )
    created = put(
        "Vendor", {"VendorID": {"value": "VNEW"}, "VendorName": {"value": "B"}}, **{"If-None-Match": "*"}
    )
    assert created.status_code == 200 and created.json()["VendorName"]["value"] == "B"
    updated = put(
        "Vendor", {"VendorID": {"value": "VNEW"}, "VendorName": {"value": "C"}}, **{"If-Match": "*"}
    )
    assert updated.status_code == 200
    assert fresh.store.find("Vendor", ("VNEW",))["VendorName"] == "C"


def test_422_names_each_failing_field_and_line_and_stores_nothing(fresh, put):
    before = len(fresh.store.records("JournalTransaction", V24, expand=()))
    bad = _journal(
        {"Account": "61000", "DebitAmount": 5},
        {"Account": "99999", "Subaccount": "777-777", "CreditAmount": 3},
        {"BranchID": "NOWHERE", "CreditAmount": 2},
        LedgerID="NOLEDGER",
    )
    response = put("JournalTransaction", bad, **{"If-None-Match": "*"})
    assert response.status_code == 422
    body = response.json()
    assert body["LedgerID"] == {
        "value": "NOLEDGER",
        "error": "Ledger 'NOLEDGER' cannot be found in the system.",
    }
    assert body["Details"][0]["Account"] == {"value": "61000"}
    assert body["Details"][1]["Account"]["error"] == "Account '99999' cannot be found in the system."
    assert "777-777" in body["Details"][1]["Subaccount"]["error"]
    assert body["Details"][2]["Account"]["error"] == "'Account' cannot be empty."
    assert "NOWHERE" in body["Details"][2]["BranchID"]["error"]
    assert "at least one error" in body["error"]
    assert len(fresh.store.records("JournalTransaction", V24, expand=())) == before
    vendor = put("Vendor", {"VendorID": {"value": "VX"}})
    assert (
        vendor.status_code == 422 and vendor.json()["VendorName"]["error"] == "'Vendor Name' cannot be empty."
    )


def test_update_adds_changes_and_deletes_lines_by_id(fresh, put):
    made = put("JournalTransaction", _journal(BALANCED[0], Hold=True), select="Status").json()
    assert made["Status"]["value"] == "On Hold"
    first = made["Details"][0]["id"]
    second = {k: {"value": v} for k, v in BALANCED[1].items()}
    body = {"id": made["id"], "Details": [{"id": first, "DebitAmount": {"value": 40}}, second]}
    changed = put("JournalTransaction", body, **{"If-Match": "*"}).json()
    assert [(line["LineNbr"]["value"], line["DebitAmount"]["value"]) for line in changed["Details"]] == [
        (1, 40),
        (2, 0),
    ]
    removed = put(
        "JournalTransaction",
        {"id": made["id"], "Details": [{"id": first, "delete": True}]},
        **{"If-Match": "*"},
    ).json()
    assert [line["LineNbr"]["value"] for line in removed["Details"]] == [2]


def test_filter_on_description_finds_a_created_journal(fresh, put):
    put("JournalTransaction", _journal(*BALANCED, Description="OH:2024-03:A1 Overhead"))
    rows = put.session.get(
        f"{fresh.base_url}/entity/Default/{V24}/JournalTransaction",
        params={"$filter": "startswith(Description,'OH:2024-03:A1')", "$expand": "Details"},
    ).json()
    assert [r["Description"]["value"] for r in rows] == ["OH:2024-03:A1 Overhead"]
    assert len(rows[0]["Details"]) == 2


def _release(fresh, session, record_id: str):
    return session.post(
        f"{fresh.base_url}/entity/Default/{V24}/JournalTransaction/ReleaseJournalTransaction",
        json={"entity": {"id": record_id}, "parameters": {}},
    )


def test_release_answers_202_with_a_location_polled_until_204(fresh, put):
    fresh.knobs.action_polls = 2
    made = put("JournalTransaction", _journal(*BALANCED)).json()
    started = _release(fresh, put.session, made["id"])
    assert started.status_code == 202
    location = started.headers["Location"]
    assert location.startswith(
        "/AcumaticaERP/entity/Default/24.200.001/JournalTransaction/ReleaseJournalTransaction/status/"
    )
    root = fresh.base_url[: -len("/AcumaticaERP")]
    statuses = [put.session.get(root + location).status_code for _ in range(3)]
    assert statuses == [202, 202, 204]
    assert fresh.store.find("JournalTransaction", made["id"])["Status"] == "Posted"
    again = _release(fresh, put.session, made["id"])
    assert again.status_code == 422 and "already been released" in again.json()["error"]
    locked = put("JournalTransaction", {"id": made["id"], "Description": {"value": "x"}}, **{"If-Match": "*"})
    assert locked.status_code == 422


def test_release_of_an_unbalanced_batch_fails_on_post_or_on_the_status_url(fresh, put):
    unbalanced = _journal(BALANCED[0], {"Account": "67000", "CreditAmount": 100.24})
    made = put("JournalTransaction", unbalanced, select="Status").json()
    assert made["Status"]["value"] == "On Hold"
    refused = _release(fresh, put.session, made["id"])
    assert refused.status_code == 422 and "out of balance" in refused.json()["error"]
    fresh.knobs.action_errors_on = "poll"
    fresh.knobs.action_polls = 0
    started = _release(fresh, put.session, made["id"])
    assert started.status_code == 202
    root = fresh.base_url[: -len("/AcumaticaERP")]
    failed = put.session.get(root + started.headers["Location"])
    assert failed.status_code == 500 and "out of balance" in failed.json()["exceptionMessage"]
    assert fresh.store.find("JournalTransaction", made["id"])["Status"] == "On Hold"


def test_synchronous_release_answers_204(fresh, put):
    fresh.knobs.action_async = False
    made = put("JournalTransaction", _journal(*BALANCED)).json()
    assert _release(fresh, put.session, made["id"]).status_code == 204
    assert fresh.store.find("JournalTransaction", made["id"])["Status"] == "Posted"
