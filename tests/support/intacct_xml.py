"""A small client of the Intacct emulator's XML gateway that builds DTD 3.0 envelopes, and the
function bodies and answers its tests read."""

from __future__ import annotations

import itertools

import requests
from intacct_emulator import SANDBOX, IntacctEmulator
from lxml import etree

_ids = itertools.count(1)


def envelope(
    functions: list[str],
    *,
    session: str | None = None,
    login: dict | None = None,
    sender: tuple[str, str] | None = None,
    controlid: str | None = None,
    uniqueid: str = "false",
    dtdversion: str = "3.0",
) -> bytes:
    """A request envelope; ``functions`` are inner XML strings, each wrapped in <function controlid>."""
    sender_id, sender_pw = sender or (SANDBOX["sender_id"], SANDBOX["sender_password"])
    if session is not None:
        auth = f"<sessionid>{session}</sessionid>"
    else:
        creds = {
            "userid": SANDBOX["user_id"],
            "companyid": SANDBOX["company_id"],
            "password": SANDBOX["user_password"],
            **(login or {}),
        }
        auth = "<login>" + "".join(f"<{k}>{v}</{k}>" for k, v in creds.items()) + "</login>"
    body = "".join(
        f if f.startswith("<function") else f'<function controlid="f{next(_ids)}">{f}</function>'
        for f in functions
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><request><control><senderid>{sender_id}</senderid>'
        f"<password>{sender_pw}</password><controlid>{controlid or f'c{next(_ids)}'}</controlid>"
        f"<uniqueid>{uniqueid}</uniqueid><dtdversion>{dtdversion}</dtdversion>"
        f"<includewhitespace>false</includewhitespace></control><operation><authentication>{auth}"
        f"</authentication><content>{body}</content></operation></request>"
    ).encode()


class Client:
    """Posts envelopes to one emulator and parses the answers."""

    def __init__(self, emu: IntacctEmulator) -> None:
        self.emu = emu
        self.http = requests.Session()
        self.url = emu.endpoint_url

    def raw(self, body: bytes, url: str | None = None) -> requests.Response:
        return self.http.post(url or self.url, data=body, headers={"Content-Type": "x-intacct-xml-request"})

    def post(self, functions: list[str], url: str | None = None, **kw) -> etree._Element:
        response = self.raw(envelope(functions, **kw), url)
        assert response.status_code == 200, response.text
        return etree.fromstring(response.content)

    def session(self, locationid: str | None = None) -> tuple[str, str]:
        """(sessionid, endpoint URL) from getAPISession, optionally at an entity."""
        login = {"locationid": locationid} if locationid else None
        root = self.post(["<getAPISession/>"], login=login)
        api = root.find("operation/result/data/api")
        assert api is not None, etree.tostring(root)
        return api.findtext("sessionid"), api.findtext("endpoint")

    def result(self, function: str, session: tuple[str, str] | None = None, **kw) -> etree._Element:
        """The one <result> of a single-function request (over a session when given)."""
        if session is not None:
            kw.setdefault("session", session[0])
            kw.setdefault("url", session[1])
        root = self.post([function], **kw)
        results = root.findall("operation/result")
        assert len(results) == 1, etree.tostring(root)
        return results[0]


def ok_data(result: etree._Element) -> etree._Element:
    assert result.findtext("status") == "success", etree.tostring(result)
    return result.find("data")


def error_of(element: etree._Element) -> dict:
    err = element.find(".//errormessage/error")
    assert err is not None, etree.tostring(element)
    return {t: err.findtext(t) for t in ("errorno", "description", "description2", "correction")}


def read_by_query(obj: str, query: str = "", fields: str = "*", pagesize: int = 100) -> str:
    return (
        f"<readByQuery><object>{obj}</object><fields>{fields}</fields><query>{query}</query>"
        f"<pagesize>{pagesize}</pagesize></readByQuery>"
    )


def read_more(result_id: str) -> str:
    return f"<readMore><resultId>{result_id}</resultId></readMore>"


def query(
    obj: str,
    fields: list[str],
    filter_xml: str = "",
    orderby: list[tuple[str, bool]] = (),
    pagesize: int | None = None,
    offset: int | None = None,
    options: str = "",
) -> str:
    select = "".join(f"<field>{f}</field>" for f in fields)
    order = "".join(
        f"<order><field>{f}</field>{'<descending/>' if d else '<ascending/>'}</order>" for f, d in orderby
    )
    return (
        f"<query><object>{obj}</object><select>{select}</select>"
        + (f"<filter>{filter_xml}</filter>" if filter_xml else "")
        + (f"<orderby>{order}</orderby>" if order else "")
        + (f"<options>{options}</options>" if options else "")
        + (f"<pagesize>{pagesize}</pagesize>" if pagesize is not None else "")
        + (f"<offset>{offset}</offset>" if offset is not None else "")
        + "</query>"
    )


def rows(data: etree._Element) -> list[dict]:
    return [{c.tag: c.text or "" for c in rec} for rec in data]
