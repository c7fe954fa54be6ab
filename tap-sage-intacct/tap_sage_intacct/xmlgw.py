"""The Intacct XML gateway protocol: request envelopes, response parsing and errors.

Nothing in this module performs I/O, so every rule here is tested on XML built by hand.

A request is ``<request><control/><operation><authentication/><content><function/>...``
(DTD 3.0). Every answer, failures included, is HTTP 200 with a ``<status>`` at one of
three levels: ``control`` (sender credentials, gateway errors such as rate limiting
``GW-0010``, XML parse errors), ``authentication`` (user credentials or session) and each
function's ``result``. ``parse_response`` turns a failure at any level into an
``IntacctError`` naming errorno, description2 and correction.
"""

from __future__ import annotations

import copy
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from lxml import etree

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

DTD_VERSION = "3.0"

#: Bytes XML 1.0 forbids (C0 controls other than tab, newline, carriage return). UTF-8
#: continuation bytes are all >= 0x80, so removing these never splits a character.
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
#: Character references to the same forbidden code points (``&#1;``, ``&#x1F;``).
_CONTROL_REFS = re.compile(rb"&#(?:0*(?:[0-8]|1[124-9]|2\d|3[01])|x0*(?:[0-8bcBCeEfF]|1[0-9a-fA-F]));")
#: U+FFFE and U+FFFF (never valid in XML) as UTF-8.
_NONCHARACTERS = re.compile(b"\xef\xbf[\xbe\xbf]")
_ENCODING_DECL = re.compile(rb"^(<\?xml[^>]*encoding=[\"'])([^\"']+)")

#: Parser for answers: no network, no entity expansion, huge pages allowed.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, remove_blank_text=False)

#: errorno values that mean "wait and send the same request again".
TRANSIENT_ERRORNOS = frozenset({"GW-0010"})
#: Words in an error's text that mean the same (Intacct's wording varies by service).
_TRANSIENT_TEXT = re.compile(
    r"try again later|temporarily unavailable|too many (?:concurrent )?requests|rate limit|"
    r"system is busy|timed? ?out|service unavailable|please retry",
    re.I,
)


# Errors -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorDetail:
    """One ``<error>`` of an ``<errormessage>``."""

    errorno: str
    description: str = ""
    description2: str = ""
    correction: str = ""

    def __str__(self) -> str:
        text = "; ".join(p for p in (self.description, self.description2) if p) or "(no description)"
        fix = f" Correction: {self.correction}" if self.correction else ""
        return f"{self.errorno or 'no errorno'}: {text}.{fix}".replace("..", ".")


class IntacctError(Exception):
    """The gateway answered with a failure that retrying the same request will not fix."""

    #: control, authentication, function, transport or response
    level = "function"

    def __init__(self, context: str, errors: Sequence[ErrorDetail] = (), *, level: str | None = None):
        self.context = context
        self.errors = tuple(errors)
        if level is not None:
            self.level = level
        details = " | ".join(str(e) for e in self.errors)
        super().__init__(f"{context}: {details}" if details else context)

    @property
    def errornos(self) -> tuple[str, ...]:
        return tuple(e.errorno for e in self.errors)


class IntacctTransientError(IntacctError):
    """A failure worth retrying after a wait: rate limiting, 5xx, "try again later",
    a truncated or unreadable answer."""

    def __init__(
        self,
        context: str,
        errors: Sequence[ErrorDetail] = (),
        *,
        level: str | None = None,
        retry_after: float | None = None,
        status: int | None = None,
    ):
        super().__init__(context, errors, level=level)
        #: Seconds the answer's Retry-After asked for, if it sent one.
        self.retry_after = retry_after
        #: HTTP status of the answer (200 for a GW-0010 inside a 200).
        self.status = status


class IntacctAuthError(IntacctError):
    """Signing in failed: sender or user credentials, company, entity or permissions."""

    level = "authentication"


class SessionRejected(IntacctError):
    """The gateway no longer accepts the session id: sign in again and repeat the call."""

    level = "authentication"


def is_transient(errors: Iterable[ErrorDetail]) -> bool:
    return any(
        e.errorno in TRANSIENT_ERRORNOS
        or _TRANSIENT_TEXT.search(" ".join((e.description, e.description2, e.correction)))
        for e in errors
    )


# Cleaning ------------------------------------------------------------------------------


def clean(body: bytes) -> bytes:
    """Remove what XML 1.0 cannot carry (control characters, references to them, U+FFFE/U+FFFF,
    byte sequences that are not UTF-8) so one bad character in a memo field does not lose a
    page. Everything else is left byte for byte as received."""
    body = _CONTROL_BYTES.sub(b"", body)
    if b"&#" in body:
        body = _CONTROL_REFS.sub(b"", body)
    body = _NONCHARACTERS.sub(b"", body)
    declared = _ENCODING_DECL.match(body)
    if declared is None or declared.group(2).lower().replace(b"_", b"-") in (b"utf-8", b"utf8"):
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            # Drop only the offending bytes; valid characters around them stay as they are.
            body = body.decode("utf-8", errors="ignore").encode("utf-8")
    return body


# Requests ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Control:
    """The ``<control>`` block: sender credentials and this request's ids."""

    sender_id: str
    sender_password: str
    controlid: str
    #: false for reads: a repeated controlid is then executed again rather than rejected.
    uniqueid: bool = False


@dataclass(frozen=True)
class Login:
    """``<login>`` authentication (only for ``getAPISession``)."""

    user_id: str
    company_id: str
    password: str
    location_id: str | None = None


@dataclass(frozen=True)
class Function:
    """One ``<function controlid=...>`` and the element it wraps."""

    controlid: str
    body: etree._Element

    @property
    def name(self) -> str:
        return str(self.body.tag)


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, tag)
    if text is not None:
        child.text = text
    return child


def build_request(control: Control, auth: Login | str, functions: Sequence[Function]) -> bytes:
    """The request document; ``auth`` is a Login or a session id."""
    request = etree.Element("request")
    ctl = _sub(request, "control")
    _sub(ctl, "senderid", control.sender_id)
    _sub(ctl, "password", control.sender_password)
    _sub(ctl, "controlid", control.controlid)
    _sub(ctl, "uniqueid", "true" if control.uniqueid else "false")
    _sub(ctl, "dtdversion", DTD_VERSION)
    _sub(ctl, "includewhitespace", "false")
    operation = _sub(request, "operation")
    operation.set("transaction", "false")
    authentication = _sub(operation, "authentication")
    if isinstance(auth, Login):
        login = _sub(authentication, "login")
        _sub(login, "userid", auth.user_id)
        _sub(login, "companyid", auth.company_id)
        _sub(login, "password", auth.password)
        if auth.location_id:
            _sub(login, "locationid", auth.location_id)
    else:
        _sub(authentication, "sessionid", auth)
    content = _sub(operation, "content")
    for function in functions:
        wrapper = _sub(content, "function")
        wrapper.set("controlid", function.controlid)
        wrapper.append(function.body)
    document: bytes = etree.tostring(request, xml_declaration=True, encoding="UTF-8")
    return document


def element(tag: str, *children: etree._Element, text: str | None = None) -> etree._Element:
    node = etree.Element(tag)
    if text is not None:
        node.text = text
    node.extend(children)
    return node


def get_api_session(location_id: str | None = None) -> etree._Element:
    body = element("getAPISession")
    if location_id:
        body.append(element("locationid", text=location_id))
    return body


def lookup(obj: str) -> etree._Element:
    return element("lookup", element("object", text=obj))


def read_user_formatting(user_id: str) -> etree._Element:
    return element("readUserFormatting", element("userId", text=user_id))


# Filters of the ``query`` function --------------------------------------------------------


def compare(operator: str, field_name: str, value: str | int) -> etree._Element:
    """``<operator><field>F</field><value>V</value></operator>``, e.g. ``greaterthan``."""
    return element(operator, element("field", text=field_name), element("value", text=str(value)))


def one_of(field_name: str, values: Iterable[str | int]) -> etree._Element:
    return element("in", element("field", text=field_name), *(element("value", text=str(v)) for v in values))


def all_of(*conditions: etree._Element | None) -> etree._Element | None:
    present = [c for c in conditions if c is not None]
    if not present:
        return None
    return present[0] if len(present) == 1 else element("and", *present)


def query(
    obj: str,
    fields: Sequence[str],
    condition: etree._Element | None,
    order_by: Sequence[str],
    page_size: int,
) -> etree._Element:
    """The ``query`` function: explicit select (it has no ``*``), ascending order, one page."""
    body = element("query", element("object", text=obj))
    body.append(element("select", *(element("field", text=f) for f in fields)))
    if condition is not None:
        # A copy: conditions are reused from page to page, and an lxml element has one parent.
        body.append(element("filter", copy.deepcopy(condition)))
    if order_by:
        body.append(
            element(
                "orderby",
                *(element("order", element("field", text=f), element("ascending")) for f in order_by),
            )
        )
    body.append(element("pagesize", text=str(page_size)))
    return body


def date_element(tag: str, value: date) -> etree._Element:
    """``<startdate><year>2024</year><month>01</month><day>31</day></startdate>``."""
    return element(
        tag,
        element("year", text=f"{value.year:04d}"),
        element("month", text=f"{value.month:02d}"),
        element("day", text=f"{value.day:02d}"),
    )


def datetime_literal(value: datetime) -> str:
    """``MM/DD/YYYY HH:MM:SS`` in the user's time zone (``value`` must already be local)."""
    return value.strftime("%m/%d/%Y %H:%M:%S")


# Responses -----------------------------------------------------------------------------


@dataclass
class Result:
    """One function's ``<result>``: status, its ``<data>`` element and paging attributes."""

    function: str
    controlid: str
    data: etree._Element | None
    #: Records of a listing function, taken out of the tree as they were parsed.
    parsed_rows: list[dict[str, str]] | None = None

    def attribute(self, name: str) -> int | None:
        if self.data is None:
            return None
        value = self.data.get(name)
        return int(value) if value not in (None, "") else None

    @property
    def count(self) -> int | None:
        return self.attribute("count")

    @property
    def numremaining(self) -> int | None:
        return self.attribute("numremaining")

    def rows(self) -> Iterator[dict[str, str]]:
        """Each record under ``<data>`` as {FIELD: text}; empty elements give "". Related
        fields may come as ``<DISPLAYCONTACT.EMAIL1>`` or nested
        ``<DISPLAYCONTACT><EMAIL1>``: both give ``DISPLAYCONTACT.EMAIL1``. Each record is taken
        out of the tree once read, so a page's memory moves from the tree to its rows rather than
        being held twice; field names are shared between rows."""
        if self.parsed_rows is not None:
            rows, self.parsed_rows = self.parsed_rows, []
            yield from rows
            return
        data = self.data
        if data is None:
            return
        names: dict[str, str] = {}
        while len(data):
            record = data[0]
            data.remove(record)
            if isinstance(record.tag, str):  # not a comment or processing instruction
                yield _row(record, names)


def _row(record: etree._Element, names: dict[str, str]) -> dict[str, str]:
    """One record as {FIELD: text}, its field names shared through ``names``."""
    row: dict[str, str] = {}
    for child in record:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        tag = names.setdefault(tag, tag)
        if len(child) == 0:
            row[tag] = child.text or ""
        else:
            _flatten(child, tag, row)
    return row


def _flatten(node: etree._Element, prefix: str, row: dict[str, str]) -> None:
    for child in node:
        if isinstance(child.tag, str):
            name = f"{prefix}.{child.tag}"
            if len(child) == 0:
                row[name] = child.text or ""
            else:
                _flatten(child, name, row)


@dataclass
class Response:
    """A parsed successful answer: the session's sliding timeout and each function's result."""

    results: list[Result] = field(default_factory=list)
    session_timestamp: datetime | None = None
    session_timeout: datetime | None = None


def _errors(node: etree._Element | None) -> list[ErrorDetail]:
    if node is None:
        return []
    return [
        ErrorDetail(
            (e.findtext("errorno") or "").strip(),
            (e.findtext("description") or "").strip(),
            (e.findtext("description2") or "").strip(),
            (e.findtext("correction") or "").strip(),
        )
        for e in node.iter("error")
    ]


def _iso(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        return None


def _raise(context: str, errors: list[ErrorDetail], level: str, error_class: type[IntacctError]) -> None:
    if is_transient(errors):
        raise IntacctTransientError(context, errors, level=level)
    raise error_class(context, errors, level=level)


#: Listing functions and the element each of their records comes in (None: the object's name).
LISTINGS: dict[str, str | None] = {
    "query": None,
    "get_trialbalance": "trialbalance",
    "get_accountbalances": "accountbalance",
}


def record_tag(body: etree._Element) -> str | None:
    """The element the records of this function's answer come in, if it lists records."""
    if body.tag not in LISTINGS:
        return None
    return LISTINGS[body.tag] or (body.findtext("object") or "").strip().upper() or None


def _parse(
    body: bytes, records: str | None, listings: dict[etree._Element, list[dict[str, str]]]
) -> etree._Element:
    """The answer's tree. With ``records`` (the element a listing's records come in), each record
    under a ``<data>`` is turned into a row (in ``listings``, by its ``<data>``) and dropped as soon
    as it is parsed, so a page of 2,000 records never exists as a tree (about 5 KiB a record)."""
    if records is None:
        return etree.fromstring(body, _PARSER)
    names: dict[str, str] = {}
    events = etree.iterparse(
        io.BytesIO(body),
        events=("end",),
        tag=records,
        resolve_entities=False,
        no_network=True,
        huge_tree=True,
    )
    for _event, element in events:
        data = element.getparent()
        if data is not None and data.tag == "data":
            listings.setdefault(data, []).append(_row(element, names))
            data.remove(element)
    return events.root


def parse_response(body: bytes, *, what: str, with_session: bool, records: str | None = None) -> Response:
    """Parse an answer, raising for a failure at any of the three levels.

    ``what`` names the call in messages (e.g. "query GLDETAIL"); ``with_session`` says the
    request authenticated with a session id, so an authentication failure means the
    session was rejected (sign in again) rather than bad credentials; ``records`` names the
    element a listing's records come in (``record_tag``), read into rows while parsing.
    """
    listings: dict[etree._Element, list[dict[str, str]]] = {}
    try:
        root = _parse(clean(body), records, listings)
    except etree.XMLSyntaxError as exc:
        # Cut-off answers (dropped connections, proxies) and HTML error pages land here.
        snippet = body[:120].decode("utf-8", errors="replace").replace("\n", " ")
        raise IntacctTransientError(
            f"{what}: the answer is not complete XML ({exc.msg}; {len(body)} bytes, starting {snippet!r})",
            level="response",
        ) from None
    if root.tag != "response":
        raise IntacctTransientError(
            f"{what}: the answer's root element is <{root.tag}>, not <response>", level="response"
        )
    control = root.find("control")
    if control is None or (control.findtext("status") or "").strip() != "success":
        errors = _errors(root.find("errormessage"))
        _raise(
            f"{what} failed at control level (sender credentials or gateway)",
            errors,
            "control",
            IntacctAuthError if _sender_problem(errors) else IntacctError,
        )
    operation = root.find("operation")
    if operation is None:
        raise IntacctTransientError(f"{what}: the answer has no <operation>", level="response")
    response = Response()
    auth = operation.find("authentication")
    if auth is not None:
        if (auth.findtext("status") or "").strip() != "success":
            errors = _errors(operation.find("errormessage"))
            if with_session and not is_transient(errors):
                raise SessionRejected(f"{what}: the gateway rejected the session", errors)
            _raise(
                f"{what} failed at authentication level (user id, company id, password, entity)",
                errors,
                "authentication",
                IntacctAuthError,
            )
        response.session_timestamp = _iso(auth.findtext("sessiontimestamp"))
        response.session_timeout = _iso(auth.findtext("sessiontimeout"))
    elif operation.find("errormessage") is not None:
        _raise(
            f"{what} failed at authentication level",
            _errors(operation.find("errormessage")),
            "authentication",
            IntacctAuthError,
        )
    for node in operation.iter("result"):
        status = (node.findtext("status") or "").strip()
        function = node.findtext("function") or ""
        controlid = node.findtext("controlid") or ""
        if status != "success":
            _raise(
                f"{what} failed (function {function}, controlid {controlid})",
                _errors(node.find("errormessage")),
                "function",
                IntacctError,
            )
        data = node.find("data")
        response.results.append(
            Result(function, controlid, data, listings.get(data) if data is not None else None)
        )
    return response


def _sender_problem(errors: list[ErrorDetail]) -> bool:
    text = " ".join(f"{e.description} {e.description2}" for e in errors).lower()
    return any(word in text for word in ("sender", "credential", "not authorized", "password"))
