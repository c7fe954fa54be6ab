"""lookup, readUserFormatting, AUDITHISTORY, filters, function-level errors, controlid/uniqueid,
transaction counts, request hooks and data changing mid-run."""

from __future__ import annotations

from tests.support.intacct_xml import Client, error_of, ok_data, query, read_by_query, read_more, rows


def test_lookup_lists_fields_with_custom_ones(client, sess):
    data = ok_data(client.result("<lookup><object>VENDOR</object></lookup>", sess))
    fields = {f.findtext("ID"): f for f in data.iterfind("Type/Fields/Field")}
    assert data.find("Type").get("Name") == "VENDOR"
    assert fields["RECORDNO"].findtext("DATATYPE") == "INTEGER"
    assert fields["WHENMODIFIED"].findtext("DATATYPE") == "TIMESTAMP"
    assert fields["TOTALDUE"].findtext("DATATYPE") == "CURRENCY"
    custom = {name for name, f in fields.items() if f.findtext("ISCUSTOM") == "true"}
    assert custom == {"RISK_RATING", "PORTAL_VENDOR_CODE"}
    bill = ok_data(client.result("<lookup><object>APBILL</object></lookup>", sess))
    assert {
        f.findtext("ID") for f in bill.iterfind("Type/Fields/Field") if f.findtext("ISCUSTOM") == "true"
    } == {"APPROVAL_CODE", "COST_CENTER"}
    rel = bill.find("Type/Relationships/Relationship")
    assert (rel.findtext("OBJECTNAME"), rel.findtext("RELATIONSHIPTYPE")) == ("VENDOR", "MANY2ONE")


def test_read_user_formatting_reports_the_user_zone(client, sess):
    data = ok_data(
        client.result("<readUserFormatting><userId>sandbox-user</userId></readUserFormatting>", sess)
    )
    fmt = data.find("userformatting")
    assert fmt.findtext("gmtoffset") in ("-07:00", "-08:00")  # America/Los_Angeles
    assert fmt.findtext("locale") == "en_US" and fmt.findtext("recordno") == "1"
    missing = client.result("<readUserFormatting/>", sess)
    assert missing.findtext("status") == "failure"


def test_function_level_errors(client, sess, emu):
    bad_object = client.result(read_by_query("BADOBJECT"), sess)
    assert bad_object.findtext("status") == "failure" and bad_object.findtext("function") == "readByQuery"
    assert error_of(bad_object)["description2"] == "Object definition BADOBJECT not found"
    bad_field = error_of(client.result(query("VENDOR", ["RECORDNO", "NOPE"]), sess))
    assert "NOPE" in bad_field["description2"]
    bad_filter = client.result(read_by_query("VENDOR", "NOPE = 'x'"), sess)
    assert "NOPE" in error_of(bad_filter)["description2"]
    bad_date = client.result(read_by_query("VENDOR", "WHENMODIFIED &gt; '2024-01-01'"), sess)
    assert bad_date.findtext("status") == "failure"
    emu.knobs.unsubscribed_objects = ["PROJECT"]
    emu.knobs.denied_objects = ["AUDITHISTORY"]
    try:
        assert "not subscribed" in error_of(client.result(read_by_query("PROJECT"), sess))["description2"]
        assert "permission" in error_of(client.result(query("AUDITHISTORY", ["ID"]), sess))["description2"]
    finally:
        emu.knobs.unsubscribed_objects = []
        emu.knobs.denied_objects = []


def test_failed_function_does_not_fail_its_siblings(client, sess):
    root = client.post(
        [read_by_query("BADOBJECT"), read_by_query("CLASS", pagesize=2)], session=sess[0], url=sess[1]
    )
    statuses = [r.findtext("status") for r in root.iterfind("operation/result")]
    assert statuses == ["failure", "success"]
    assert root.findtext("control/status") == "success"


def test_filters_in_like_null_and_case(client, sess, emu):
    vendors = emu.store.records("VENDOR")
    ids = [vendors[3]["VENDORID"], vendors[7]["VENDORID"]]
    data = ok_data(client.result(read_by_query("VENDOR", f"VENDORID IN ('{ids[0]}', '{ids[1]}')"), sess))
    assert [r["VENDORID"] for r in rows(data)] == ids
    name = vendors[5]["NAME"]
    like = ok_data(
        client.result(
            query(
                "VENDOR",
                ["NAME"],
                f"<like><field>NAME</field><value>{name[:4]}%</value></like>",
                pagesize=2000,
            ),
            sess,
        )
    )
    assert {r["NAME"] for r in rows(like)} == {v["NAME"] for v in vendors if v["NAME"].startswith(name[:4])}
    lower = query("VENDOR", ["NAME"], f"<equalto><field>NAME</field><value>{name.lower()}</value></equalto>")
    assert ok_data(client.result(lower, sess)).get("count") == "0"
    folded = lower.replace("</query>", "<options><caseinsensitive>true</caseinsensitive></options></query>")
    assert [r["NAME"] for r in rows(ok_data(client.result(folded, sess)))] == [name]
    blank = ok_data(client.result(read_by_query("VENDOR", "PORTAL_VENDOR_CODE IS NULL", "RECORDNO"), sess))
    assert int(blank.get("totalcount")) == sum(1 for v in vendors if v["PORTAL_VENDOR_CODE"] == "")
    amounts = ok_data(
        client.result(
            query(
                "APBILL",
                ["RECORDNO", "TOTALENTERED"],
                "<or><greaterthan><field>TOTALENTERED</field><value>5000</value></greaterthan>"
                "<isnull><field>WHENPAID</field></isnull></or>",
                [("TOTALENTERED", True)],
                pagesize=2000,
            ),
            sess,
        )
    )
    got = rows(amounts)
    assert got and [float(r["TOTALENTERED"]) for r in got] == sorted(
        (float(r["TOTALENTERED"]) for r in got), reverse=True
    )


def test_count_aggregate(client, sess, emu):
    data = ok_data(
        client.result(
            "<query><object>GLDETAIL</object><select><count>RECORDNO</count></select></query>", sess
        )
    )
    assert rows(data) == [{"COUNT.RECORDNO": str(len(emu.store.records("GLDETAIL")))}]


def test_single_row_result_is_one_element(client, sess):
    data = ok_data(client.result(read_by_query("VENDOR", "RECORDNO = 3"), sess))
    assert (data.get("count"), data.get("totalcount"), data.get("numremaining")) == ("1", "1", "0")
    assert len(data) == 1 and data[0].findtext("RECORDNO") == "3"
    none = ok_data(
        client.result(
            query("VENDOR", ["RECORDNO"], "<equalto><field>RECORDNO</field><value>99999</value></equalto>"),
            sess,
        )
    )
    assert (none.get("count"), len(none)) == ("0", 0)


def test_audit_history_records_create_modify_delete(fresh):
    client = Client(fresh)
    sess = client.session()
    key = fresh.store.insert("VENDOR", {"VENDORID": "VNEW", "NAME": "New Vendor"})
    fresh.store.modify("VENDOR", key, {"NAME": "Renamed"})
    fresh.store.delete("VENDOR", 2)
    data = ok_data(
        client.result(
            query(
                "AUDITHISTORY",
                ["OBJECTTYPE", "OBJECTKEY", "ACCESSMODE", "ACCESSTIME"],
                "<equalto><field>OBJECTTYPE</field><value>vendor</value></equalto>",
                [("ACCESSTIME", False)],
            ),
            sess,
        )
    )
    assert [(r["OBJECTKEY"], r["ACCESSMODE"]) for r in rows(data)] == [
        (str(key), "C"),
        (str(key), "M"),
        ("2", "D"),
    ]
    words = ok_data(client.result(read_by_query("AUDITHISTORY", "ACCESSMODE = 'Delete'"), sess))
    assert [(r["OBJECTKEY"], r["ACCESSMODE"]) for r in rows(words)] == [("2", "Delete")]
    fresh.knobs.audit_objectkey_suffix = "--REC"
    fresh.store.delete("VENDOR", 3)
    last = rows(
        ok_data(
            client.result(
                query(
                    "AUDITHISTORY",
                    ["OBJECTKEY"],
                    "<equalto><field>ACCESSMODE</field><value>D</value></equalto>",
                ),
                sess,
            )
        )
    )
    assert last[-1]["OBJECTKEY"] == "3--REC"


def test_changes_mid_run_are_seen_by_later_pages(fresh):
    client = Client(fresh)
    sess = client.session()
    data = ok_data(
        client.result(read_by_query("VENDOR", fields="RECORDNO,NAME,WHENMODIFIED", pagesize=10), sess)
    )
    first = rows(data)
    changed = fresh.store.modify("VENDOR", 25, {"NAME": "Changed mid-run"})
    fresh.store.delete("VENDOR", 30)
    new = fresh.store.insert("VENDOR", {"NAME": "Inserted mid-run"})
    got = list(first)
    while data.get("numremaining") != "0":
        data = ok_data(client.result(read_more(data.get("resultId")), sess))
        got += rows(data)
    by_key = {r["RECORDNO"]: r for r in got}
    assert (
        by_key["25"]["NAME"] == "Changed mid-run" and by_key["25"]["WHENMODIFIED"] == changed["WHENMODIFIED"]
    )
    assert "30" not in by_key and by_key[str(new)]["NAME"] == "Inserted mid-run"
    assert [r["RECORDNO"] for r in got] == [r["RECORDNO"] for r in fresh.store.records("VENDOR")]
    since = first[0]["WHENMODIFIED"]
    newer = rows(
        ok_data(
            client.result(
                query(
                    "VENDOR",
                    ["RECORDNO"],
                    f"<greaterthan><field>WHENMODIFIED</field><value>{since}</value></greaterthan>",
                    [("WHENMODIFIED", False), ("RECORDNO", False)],
                    pagesize=2000,
                ),
                sess,
            )
        )
    )
    assert [r["RECORDNO"] for r in newer][-2:] == ["25", str(new)]


def test_uniqueid_true_does_not_run_a_function_twice(fresh):
    client = Client(fresh)
    function = f'<function controlid="once">{read_by_query("CLASS")}</function>'
    first = client.post([function], uniqueid="true")
    assert first.findtext("operation/result/status") == "success"
    transactions = fresh.stats.transactions
    again = client.post([function], uniqueid="true")
    assert again.findtext("operation/result/status") == "failure"
    assert "once" in error_of(again.find("operation/result"))["description2"]
    assert fresh.stats.transactions == transactions
    assert client.post([function], uniqueid="false").findtext("operation/result/status") == "success"
    fresh.knobs.uniqueid_scope = "request"
    client.post([read_by_query("CLASS")], uniqueid="true", controlid="req-1")
    repeat = client.post([read_by_query("CLASS")], uniqueid="true", controlid="req-1")
    assert repeat.findtext("control/status") == "failure"


def test_transactions_requests_and_hooks(fresh):
    client = Client(fresh)
    seen = []
    remove = fresh.on_request(seen.append)
    sess = client.session()
    client.post(
        [read_by_query("CLASS"), query("VENDOR", ["RECORDNO"]), read_by_query("NOPE")],
        session=sess[0],
        url=sess[1],
    )
    remove()
    client.post([read_by_query("CLASS")], session=sess[0], url=sess[1])
    assert fresh.stats.requests == 3
    assert fresh.stats.transactions == 4  # getAPISession, 2 readByQuery, query; the failed one is not billed
    assert fresh.stats.functions == {"getAPISession": 1, "readByQuery": 2, "query": 1}
    assert [(i.function, i.object) for i in seen] == [
        ("getAPISession", None),
        ("readByQuery", "CLASS"),
        ("query", "VENDOR"),
        ("readByQuery", "NOPE"),
    ]


def test_hook_changes_data_before_the_function_answers(fresh):
    client = Client(fresh)
    sess = client.session()

    def rename(info):
        if info.function == "readByQuery":
            fresh.store.modify("CLASS", 1, {"NAME": "Renamed by hook"})

    fresh.on_request(rename)
    data = ok_data(client.result(read_by_query("CLASS", "RECORDNO = 1"), sess))
    assert rows(data)[0]["NAME"] == "Renamed by hook"


def test_readbyquery_case_knob(fresh):
    client = Client(fresh)
    sess = client.session()
    fresh.knobs.readbyquery_case = "upper"
    data = ok_data(client.result(read_by_query("VENDOR", pagesize=1), sess))
    assert data.get("listtype") == "VENDOR" and data[0].tag == "VENDOR"
