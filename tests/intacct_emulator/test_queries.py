"""readByQuery/readMore and query over VENDOR and GLDETAIL: paging, counts, filters, order."""

from __future__ import annotations

from tests.support.intacct_xml import error_of, ok_data, query, read_by_query, read_more, rows


def test_read_by_query_pages_through_every_vendor(client, sess, emu):
    expected = emu.store.records("VENDOR")
    data = ok_data(client.result(read_by_query("VENDOR", pagesize=15), sess))
    assert data.get("listtype") == "vendor"
    assert (data.get("count"), data.get("totalcount"), data.get("numremaining")) == (
        "15",
        str(len(expected)),
        str(len(expected) - 15),
    )
    got = rows(data)
    while data.get("numremaining") != "0":
        data = ok_data(client.result(read_more(data.get("resultId")), sess))
        got += rows(data)
    assert got == expected
    assert all(r.tag == "vendor" for r in data)


def test_read_by_query_rejects_pagesize_over_1000(client, sess):
    result = client.result(read_by_query("VENDOR", pagesize=1001), sess)
    assert result.findtext("status") == "failure"
    assert "1000" in error_of(result)["description2"]


def test_read_by_query_fields_and_condition(client, sess, emu):
    stamp = emu.store.records("GLDETAIL")[2000]["WHENMODIFIED"]
    data = ok_data(
        client.result(
            read_by_query("GLDETAIL", f"WHENMODIFIED &gt; '{stamp}'", "RECORDNO,WHENMODIFIED,AMOUNT", 1000),
            sess,
        )
    )
    first = rows(data)
    assert set(first[0]) == {"RECORDNO", "WHENMODIFIED", "AMOUNT"}
    expected = [r for r in emu.store.records("GLDETAIL") if _ts(r["WHENMODIFIED"]) > _ts(stamp)]
    assert int(data.get("totalcount")) == len(expected)
    got = first
    while data.get("numremaining") != "0":
        data = ok_data(client.result(read_more(data.get("resultId")), sess))
        got += rows(data)
    assert [r["RECORDNO"] for r in got] == [r["RECORDNO"] for r in expected]


def _ts(text: str) -> tuple:
    date, time = text.split()
    m, d, y = date.split("/")
    return (y, m, d, time)


def test_read_more_with_unknown_result_id_fails(client, sess):
    result = client.result(read_more("nope"), sess)
    assert result.findtext("status") == "failure"


def test_query_keyset_paging_in_user_timezone(client, sess, emu):
    everything = emu.store.records("GLDETAIL")
    since = everything[100]["WHENMODIFIED"]
    expected = [r for r in everything if _ts(r["WHENMODIFIED"]) > _ts(since)]
    got, offset = [], 0
    while True:
        data = ok_data(
            client.result(
                query(
                    "GLDETAIL",
                    ["RECORDNO", "WHENMODIFIED"],
                    f"<greaterthan><field>WHENMODIFIED</field><value>{since}</value></greaterthan>",
                    [("WHENMODIFIED", False), ("RECORDNO", False)],
                    pagesize=2000,
                    offset=offset,
                ),
                sess,
            )
        )
        assert data.get("listtype") == "GLDETAIL" and data.get("totalcount") == str(len(expected))
        got += rows(data)
        offset += int(data.get("count"))
        if data.get("numremaining") == "0":
            break
    assert [r["RECORDNO"] for r in got] == [r["RECORDNO"] for r in expected]
    assert all(r.tag == "GLDETAIL" for r in data)


def test_query_two_phase_keyset_filter(client, sess, emu):
    everything = emu.store.records("GLDETAIL")
    t = everything[41]["WHENMODIFIED"]
    ties = [r["RECORDNO"] for r in everything if r["WHENMODIFIED"] == t]
    assert len(ties) > 1  # base records share timestamps in groups
    data = ok_data(
        client.result(
            query(
                "GLDETAIL",
                ["RECORDNO"],
                f"<and><equalto><field>WHENMODIFIED</field><value>{t}</value></equalto>"
                f"<greaterthan><field>RECORDNO</field><value>{ties[0]}</value></greaterthan></and>",
                [("RECORDNO", False)],
            ),
            sess,
        )
    )
    assert [r["RECORDNO"] for r in rows(data)] == ties[1:]


def test_query_requires_select_and_caps_pagesize(client, sess):
    no_select = client.result("<query><object>VENDOR</object><select/></query>", sess)
    assert no_select.findtext("status") == "failure"
    star = client.result(query("VENDOR", ["*"]), sess)
    assert "not supported" in error_of(star)["description2"]
    big = client.result(query("VENDOR", ["RECORDNO"], pagesize=2001), sess)
    assert big.findtext("status") == "failure"
    ok = ok_data(client.result(query("GLDETAIL", ["RECORDNO"], pagesize=2000), sess))
    assert ok.get("count") == "2000"


def test_query_default_pagesize_is_100(client, sess):
    data = ok_data(client.result(query("GLDETAIL", ["RECORDNO"]), sess))
    assert data.get("count") == "100" and data.get("offset") == "0"


def test_or_conditions_on_keys_with_and_without_gaps(client, sess, emu):
    everything = emu.store.records("GLDETAIL")
    t = everything[2001]["WHENMODIFIED"]
    keyset = (
        f"<or><greaterthan><field>WHENMODIFIED</field><value>{t}</value></greaterthan>"
        f"<and><equalto><field>WHENMODIFIED</field><value>{t}</value></equalto>"
        f"<greaterthan><field>RECORDNO</field><value>2001</value></greaterthan></and></or>"
    )
    data = ok_data(client.result(query("GLDETAIL", ["RECORDNO"], keyset, pagesize=5, offset=10), sess))
    expected = [
        r["RECORDNO"]
        for r in everything
        if _ts(r["WHENMODIFIED"]) > _ts(t) or (r["WHENMODIFIED"] == t and int(r["RECORDNO"]) > 2001)
    ]
    assert data.get("totalcount") == str(len(expected))
    assert [r["RECORDNO"] for r in rows(data)] == expected[10:15]
    gap = (
        "<or><lessthan><field>RECORDNO</field><value>5</value></lessthan>"
        "<greaterthan><field>RECORDNO</field><value>4990</value></greaterthan></or>"
    )
    data = ok_data(client.result(query("GLDETAIL", ["RECORDNO"], gap, pagesize=2000), sess))
    assert [int(r["RECORDNO"]) for r in rows(data)] == [1, 2, 3, 4, *range(4991, 5001)]


def test_read_more_by_object_and_between(client, sess, emu):
    data = ok_data(client.result(read_by_query("CUSTOMER", fields="RECORDNO", pagesize=10), sess))
    more = ok_data(client.result("<readMore><object>CUSTOMER</object></readMore>", sess))
    assert [r["RECORDNO"] for r in rows(data) + rows(more)] == [str(n) for n in range(1, 21)]
    between = ok_data(
        client.result(
            query(
                "CUSTOMER",
                ["RECORDNO"],
                "<between><field>RECORDNO</field><value>5</value><value>8</value></between>",
            ),
            sess,
        )
    )
    assert [r["RECORDNO"] for r in rows(between)] == ["5", "6", "7", "8"]
