"""Fields lookup lists that query refuses (both error styles), the objects beyond the first
fifteen, and the legacy GL report functions get_trialbalance and get_accountbalances."""

from __future__ import annotations

from decimal import Decimal

import pytest
from intacct_emulator.schema import MORE, OBJECTS

from tests.support.intacct_xml import Client, error_of, ok_data, query, read_by_query, rows


@pytest.mark.parametrize(
    ("style", "errorno", "text"),
    [
        (
            "cannot_be_queried",
            "XL03000006",
            "The following fields cannot be queried: [\n        apbill: [PAYTOCONTACTNAME] ]",
        ),
        ("invalid_field", "DL02000002", "Invalid field PAYTOCONTACTNAME for object APBILL"),
    ],
)
def test_unqueryable_fields_are_listed_but_refused_by_query_only(fresh, style, errorno, text):
    fresh.knobs.unqueryable_fields = {"APBILL": ["PAYTOCONTACTNAME"]}
    fresh.knobs.unqueryable_error = style
    client = Client(fresh)
    sess = client.session()
    listed = ok_data(client.result("<lookup><object>APBILL</object></lookup>", sess))
    assert "PAYTOCONTACTNAME" in {f.findtext("ID") for f in listed.iterfind("Type/Fields/Field")}
    refused = client.result(query("APBILL", ["RECORDNO", "PAYTOCONTACTNAME"]), sess)
    assert refused.findtext("status") == "failure"
    assert (error_of(refused)["errorno"], error_of(refused)["description2"]) == (errorno, text)
    served = ok_data(client.result(read_by_query("APBILL", fields="RECORDNO,PAYTOCONTACTNAME"), sess))
    assert len(rows(served)) == 100
    assert rows(ok_data(client.result(query("APBILL", ["RECORDNO", "VENDORID"], pagesize=5), sess)))


def test_every_object_answers_lookup_and_query_with_its_fields_and_lines_point_at_headers(client, sess, emu):
    for name, *_ in MORE:
        obj = OBJECTS[name]
        listed = ok_data(client.result(f"<lookup><object>{name}</object></lookup>", sess))
        assert [f.findtext("ID") for f in listed.iterfind("Type/Fields/Field")] == obj.field_names
        data = rows(ok_data(client.result(query(name, obj.field_names, pagesize=2000), sess)))
        assert len(data) == len(emu.store.records(name)) > 0
        if obj.parent:
            headers = {r["RECORDNO"] for r in emu.store.records(obj.parent)}
            assert {r[obj.parent_field] for r in data} <= headers


def _month(function: str, extra: str = "") -> str:
    return (
        f"<{function}><startdate><year>2024</year><month>03</month><day>01</day></startdate>"
        f"<enddate><year>2024</year><month>03</month><day>31</day></enddate>{extra}</{function}>"
    )


def test_trial_balance_sums_gldetail_and_account_balances_break_it_down(client, sess, emu):
    trial = rows(ok_data(client.result(_month("get_trialbalance"), sess)))
    by_period_name = rows(
        ok_data(
            client.result(
                "<get_trialbalance><reportingperiodname>Month Ended March 2024</reportingperiodname>"
                "</get_trialbalance>",
                sess,
            )
        )
    )
    assert trial == by_period_name and trial
    detail = emu.store.records("GLDETAIL")
    march = [r for r in detail if r["ENTRY_DATE"].startswith("03/") and r["ENTRY_DATE"].endswith("2024")]
    for row in trial:
        lines = [r for r in march if r["ACCOUNTNO"] == row["glaccountno"]]
        assert Decimal(row["debits"]) == sum((Decimal(r["DEBITAMOUNT"]) for r in lines), Decimal(0))
        assert Decimal(row["credits"]) == sum((Decimal(r["CREDITAMOUNT"]) for r in lines), Decimal(0))
        assert Decimal(row["endbalance"]) == Decimal(row["startbalance"]) + Decimal(row["debits"]) - Decimal(
            row["credits"]
        )
    accounts = rows(
        ok_data(
            client.result(
                _month(
                    "get_accountbalances", "<startaccountno>0</startaccountno><endaccountno>9</endaccountno>"
                ),
                sess,
            )
        )
    )
    for row in trial:
        parts = [a for a in accounts if a["glaccountno"] == row["glaccountno"]]
        assert sum((Decimal(a["endbalance"]) for a in parts), Decimal(0)) == Decimal(row["endbalance"])
        assert all({"departmentid", "locationid", "classid", "projectid"} <= set(a) for a in parts)
    missing = client.result(
        "<get_accountbalances><reportingperiodname>Month Ended March 2024</reportingperiodname>"
        "</get_accountbalances>",
        sess,
    )
    assert missing.findtext("status") == "failure"
