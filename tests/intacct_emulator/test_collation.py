"""The ``text_collation`` knob: text fields sort in orderby and compare in ordered filters alike, so a
keyset on a text field (AUDITHISTORY OBJECTKEY) pages consistently under each collation; and the
``misordered_objects`` fault."""

from __future__ import annotations

import pytest

from tests.support.intacct_xml import Client, ok_data, query, rows

DELETED = "<equalto><field>ACCESSMODE</field><value>D</value></equalto>"


def deletion_keys(client: Client, sess, filter_xml: str = DELETED) -> list[str]:
    body = query("AUDITHISTORY", ["OBJECTKEY"], filter_xml, [("OBJECTKEY", False)])
    data = ok_data(client.result(body, sess))
    return [r["OBJECTKEY"] for r in rows(data)]


@pytest.mark.parametrize(
    ("collation", "order"),
    [("binary", ["10", "11", "9"]), ("nocase", ["10", "11", "9"]), ("numeric", ["9", "10", "11"])],
)
def test_text_keys_sort_and_compare_in_the_collation(fresh, collation, order):
    for key in (9, 10, 11):
        fresh.store.delete("VENDOR", key)
    fresh.knobs.text_collation = collation
    client = Client(fresh)
    sess = client.session()
    assert deletion_keys(client, sess) == order
    after = f"<greaterthan><field>OBJECTKEY</field><value>{order[0]}</value></greaterthan>"
    after_first = f"<and>{DELETED}{after}</and>"
    assert deletion_keys(client, sess, after_first) == order[1:]


def test_misordered_objects_answer_in_reverse(fresh):
    client = Client(fresh)
    sess = client.session()
    body = query("CLASS", ["RECORDNO"], orderby=[("RECORDNO", False)], pagesize=5)
    asked = ok_data(client.result(body, sess))
    fresh.knobs.misordered_objects = ["CLASS"]
    reversed_ = ok_data(client.result(body, sess))
    assert [r["RECORDNO"] for r in rows(reversed_)] == [r["RECORDNO"] for r in rows(asked)][::-1]
