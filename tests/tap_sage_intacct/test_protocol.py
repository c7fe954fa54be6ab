"""The XML gateway protocol on documents built by hand from the documented envelope:
requests, the three error levels, cleaning, paging attributes, typed values."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from lxml import etree
from tap_sage_intacct import xmlgw
from tap_sage_intacct.schema import BadValue, Clock, Shape, fixed_offset, parse_date
from tap_sage_intacct.xmlgw import (
    Control,
    Function,
    IntacctAuthError,
    IntacctError,
    IntacctTransientError,
    Login,
    SessionRejected,
)

AUTH_OK = (
    "<authentication><status>success</status><userid>u</userid><companyid>c</companyid>"
    "<locationid></locationid><sessiontimestamp>2015-10-25T10:08:34-07:00</sessiontimestamp>"
    "<sessiontimeout>2015-10-26T10:08:34-07:00</sessiontimeout></authentication>"
)
CONTROL_OK = (
    "<control><status>success</status><senderid>s</senderid><controlid>c</controlid>"
    "<uniqueid>false</uniqueid><dtdversion>3.0</dtdversion></control>"
)


def answer(results: str, auth: str = AUTH_OK) -> bytes:
    operation = f"<operation>{auth}{results}</operation>"
    return f"<?xml version='1.0' encoding='UTF-8'?><response>{CONTROL_OK}{operation}</response>".encode()


def error(errorno: str, description2: str, correction: str = "") -> str:
    return (
        f"<errormessage><error><errorno>{errorno}</errorno><description></description>"
        f"<description2>{description2}</description2><correction>{correction}</correction></error></errormessage>"
    )


def query_result(rows: str, remaining: int = 0, listtype: str = "VENDOR") -> str:
    count = rows.count(f"<{listtype}>")
    return (
        f"<result><status>success</status><function>query</function><controlid>f1</controlid>"
        f'<data listtype="{listtype}" totalcount="9" offset="0" count="{count}" numremaining="{remaining}">'
        f"{rows}</data></result>"
    )


def parse(body: bytes, with_session: bool = True) -> xmlgw.Response:
    return xmlgw.parse_response(body, what="query VENDOR", with_session=with_session)


# Requests --------------------------------------------------------------------------------


def test_request_envelope_with_login_follows_the_documented_layout():
    body = xmlgw.build_request(
        Control("sender", "sender-pw", "ctl-1"),
        Login("user", "company", "user-pw", "E100"),
        [Function("fn-1", xmlgw.get_api_session("E100"))],
    )
    root = etree.fromstring(body)
    assert body.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert [c.tag for c in root] == ["control", "operation"]
    control = root.find("control")
    assert [(c.tag, c.text) for c in control] == [
        ("senderid", "sender"),
        ("password", "sender-pw"),
        ("controlid", "ctl-1"),
        ("uniqueid", "false"),
        ("dtdversion", "3.0"),
        ("includewhitespace", "false"),
    ]
    login = root.find("operation/authentication/login")
    assert [(c.tag, c.text) for c in login] == [
        ("userid", "user"),
        ("companyid", "company"),
        ("password", "user-pw"),
        ("locationid", "E100"),
    ]
    function = root.find("operation/content/function")
    assert function.get("controlid") == "fn-1"
    assert function.find("getAPISession/locationid").text == "E100"


def test_query_has_explicit_select_ordered_keyset_filter_and_escapes_values():
    condition = xmlgw.all_of(
        xmlgw.compare("greaterthan", "WHENMODIFIED", "01/02/2024 03:04:05"),
        xmlgw.compare("equalto", "NAME", "O'Brien & <Sons>"),
    )
    body = xmlgw.build_request(
        Control("s", "p", "c"),
        "SESSION",
        [
            Function(
                "f",
                xmlgw.query("VENDOR", ["RECORDNO", "NAME"], condition, ["WHENMODIFIED", "RECORDNO"], 2000),
            )
        ],
    )
    q = etree.fromstring(body).find("operation/content/function/query")
    assert etree.fromstring(body).findtext("operation/authentication/sessionid") == "SESSION"
    assert [f.text for f in q.find("select")] == ["RECORDNO", "NAME"]
    assert q.find("filter/and/greaterthan/value").text == "01/02/2024 03:04:05"
    assert q.find("filter/and/equalto/value").text == "O'Brien & <Sons>"
    assert b"&amp; &lt;Sons&gt;" in body
    assert [(o.findtext("field"), o.find("ascending") is not None) for o in q.find("orderby")] == [
        ("WHENMODIFIED", True),
        ("RECORDNO", True),
    ]
    assert q.findtext("pagesize") == "2000"


def test_a_condition_reused_in_two_queries_stays_in_both():
    condition = xmlgw.compare("lessthan", "WHENMODIFIED", "01/01/2025 00:00:00")
    first = xmlgw.query("GLDETAIL", ["RECORDNO"], condition, [], 10)
    second = xmlgw.query("GLDETAIL", ["RECORDNO"], condition, [], 10)
    assert first.find("filter/lessthan") is not None and second.find("filter/lessthan") is not None


# Responses and the three error levels ------------------------------------------------------------


def test_success_gives_rows_paging_attributes_and_session_lifetime():
    rows = "<VENDOR><RECORDNO>1</RECORDNO><NAME>Acme</NAME><TOTALDUE></TOTALDUE></VENDOR>"
    response = parse(answer(query_result(rows, remaining=5)))
    [result] = response.results
    assert result.numremaining == 5 and result.count == 1
    assert list(result.rows()) == [{"RECORDNO": "1", "NAME": "Acme", "TOTALDUE": ""}]
    assert (response.session_timeout - response.session_timestamp).total_seconds() == 86400


def test_a_single_row_result_is_one_row_and_nested_related_fields_are_flattened():
    rows = (
        "<VENDOR><RECORDNO>7</RECORDNO><DISPLAYCONTACT><EMAIL1>a@b.c</EMAIL1>"
        "<MAILADDRESS><CITY>Austin</CITY></MAILADDRESS></DISPLAYCONTACT><DISPLAYCONTACT.PHONE1>555</DISPLAYCONTACT.PHONE1></VENDOR>"
    )
    [row] = list(parse(answer(query_result(rows))).results[0].rows())
    assert row == {
        "RECORDNO": "7",
        "DISPLAYCONTACT.EMAIL1": "a@b.c",
        "DISPLAYCONTACT.MAILADDRESS.CITY": "Austin",
        "DISPLAYCONTACT.PHONE1": "555",
    }


def test_control_level_failure_names_errorno_description2_and_correction():
    body = (
        b"<response><control><status>failure</status><senderid>s</senderid></control>"
        + error("PL04000055", "This company is a demo company and has expired.", "Contact support").encode()
        + b"</response>"
    )
    with pytest.raises(IntacctError) as caught:
        parse(body)
    assert caught.value.level == "control"
    assert not isinstance(caught.value, IntacctTransientError)
    text = str(caught.value)
    assert "PL04000055" in text and "demo company and has expired" in text and "Contact support" in text


def test_authentication_failure_with_login_is_a_credentials_error():
    auth = "<authentication><status>failure</status><userid>u</userid></authentication>"
    body = answer(error("XL03000006", "Sign-in information is incorrect", "Check user id"), auth=auth)
    with pytest.raises(IntacctAuthError) as caught:
        parse(body, with_session=False)
    assert "XL03000006" in str(caught.value) and "Sign-in information is incorrect" in str(caught.value)


def test_authentication_failure_with_a_session_id_means_sign_in_again():
    auth = "<authentication><status>failure</status></authentication>"
    with pytest.raises(SessionRejected):
        parse(answer(error("XL03000006", "Invalid session"), auth=auth), with_session=True)


def test_function_level_failure_is_permanent_and_names_the_function():
    result = (
        "<result><status>failure</status><function>query</function><controlid>f-9</controlid>"
        + error("BL34000061", "Object definition BADOBJECT not found", "Use a valid object")
        + "</result>"
    )
    with pytest.raises(IntacctError) as caught:
        parse(answer(result))
    assert type(caught.value) is IntacctError and caught.value.level == "function"
    assert (
        "f-9" in str(caught.value)
        and "BADOBJECT" in str(caught.value)
        and "Use a valid object" in str(caught.value)
    )


@pytest.mark.parametrize(
    "body",
    [
        b"<response><control><status>failure</status></control>"
        + error("GW-0010", "Rate limit exceeded").encode()
        + b"</response>",
        answer(
            "<result><status>failure</status><function>query</function><controlid>f</controlid>"
            + error("XX", "The system is busy, please try again later.")
            + "</result>"
        ),
    ],
    ids=["GW-0010", "try-again-later"],
)
def test_rate_limiting_and_try_again_later_are_transient(body):
    with pytest.raises(IntacctTransientError):
        parse(body)


def test_truncated_and_html_answers_are_transient():
    whole = answer(query_result("<VENDOR><RECORDNO>1</RECORDNO></VENDOR>"))
    with pytest.raises(IntacctTransientError, match="not complete XML"):
        parse(whole[: len(whole) // 2])
    with pytest.raises(IntacctTransientError):
        parse(b"<html><body>502 Bad Gateway</body></html>")


# Cleaning ------------------------------------------------------------------------------------------


def test_control_characters_and_invalid_bytes_are_removed_and_nothing_else():
    template = query_result(
        "<VENDOR><RECORDNO>1</RECORDNO><NAME>NAMEX</NAME><MEMO>a\tb\nc &amp; &#233;</MEMO></VENDOR>"
    )
    dirty = answer(template).replace(b"NAMEX", b"Ac\x0bme\x1f Caf\xc3\xa9 \xe2\x82\xac &#x1F;&#8;\xff!")
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(dirty)
    [row] = list(parse(dirty).results[0].rows())
    assert row["NAME"] == "Acme Café € !"
    assert row["MEMO"] == "a\tb\nc & é"


def test_clean_leaves_a_well_formed_document_byte_for_byte():
    body = answer(query_result("<VENDOR><RECORDNO>1</RECORDNO><NAME>Zoë &amp; Søn\t€</NAME></VENDOR>"))
    assert xmlgw.clean(body) == body


# Typed values ----------------------------------------------------------------------------------


def test_timestamps_in_the_user_zone_become_utc_across_daylight_saving():
    clock = Clock(ZoneInfo("America/Los_Angeles"))
    assert clock.to_utc("01/15/2024 10:00:00") == "2024-01-15T18:00:00+00:00"  # PST, -8
    assert clock.to_utc("07/15/2024 10:00:00") == "2024-07-15T17:00:00+00:00"  # PDT, -7
    # The repeated hour in November: the earlier instant, so a bookmark is never late.
    assert clock.to_utc("11/03/2024 01:30:00") == "2024-11-03T08:30:00+00:00"
    assert clock.to_local("2024-07-15T17:00:00+00:00") == datetime(2024, 7, 15, 10, 0, 0)
    assert (
        xmlgw.datetime_literal(clock.to_local(datetime(2024, 1, 1, 8, 0, tzinfo=UTC)))
        == "01/01/2024 00:00:00"
    )


def test_gmtoffset_zone_and_dates():
    clock = Clock(fixed_offset("+09:30"))
    assert clock.to_utc("03/01/2024 09:30:00") == "2024-03-01T00:00:00+00:00"
    assert Clock(fixed_offset("-03:00")).to_utc("03/01/2024 00:00:00") == "2024-03-01T03:00:00+00:00"
    assert parse_date("02/29/2024") == "2024-02-29"


def test_amounts_stay_exact_and_empty_values_are_null_except_text():
    shape = Shape(
        [
            ("RECORDNO", "integer"),
            ("AMOUNT", "decimal"),
            ("ONHOLD", "boolean"),
            ("WHENDUE", "date"),
            ("MEMO", "text"),
            ("WHENMODIFIED", "timestamp"),
        ]
    )
    convert = shape.converter(shape.field_types, "APBILL", Clock(UTC))
    record = convert(
        {
            "RECORDNO": "12",
            "AMOUNT": "1234567890123.10",
            "ONHOLD": "false",
            "WHENDUE": "",
            "MEMO": "",
            "WHENMODIFIED": "12/31/2024 23:59:59",
        }
    )
    assert record == {
        "RECORDNO": 12,
        "AMOUNT": Decimal("1234567890123.10"),
        "ONHOLD": False,
        "WHENDUE": None,
        "MEMO": "",
        "WHENMODIFIED": "2024-12-31T23:59:59+00:00",
    }
    assert str(record["AMOUNT"]) == "1234567890123.10"
    assert convert({"RECORDNO": "1"})["AMOUNT"] is None


def test_a_value_that_is_not_its_type_names_the_record_and_field():
    shape = Shape([("RECORDNO", "integer"), ("AMOUNT", "decimal")])
    with pytest.raises(BadValue, match=r"APBILL record 5: field AMOUNT value 'n/a' is not a valid decimal"):
        shape.converter(shape.field_types, "APBILL", Clock(UTC))({"RECORDNO": "5", "AMOUNT": "n/a"})
