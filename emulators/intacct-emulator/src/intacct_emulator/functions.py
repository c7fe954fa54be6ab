"""The functions of the ``<content>`` block, in the order of the XML API reference: getAPISession,
readByQuery, readMore, query, lookup, readUserFormatting.

Each handler takes the function's element and the caller and returns the ``<data>`` part of its
``<result>`` (or raises a GatewayError for a function-level failure).
"""

from __future__ import annotations

import calendar
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from lxml import etree

from . import errors
from . import xmlout as x
from .filters import (
    FilterError,
    compile_filter,
    converter,
    fields_read,
    index_range,
    parse_sql,
    parse_xml_filter,
)
from .schema import ACCESSMODE_WORDS, LIGHT_FIELDS, NUMERIC, ObjectDef
from .store import RecordStore, Scan, UnknownObject

READBYQUERY_MAX_PAGE = 1000
QUERY_MAX_PAGE = 2000
DEFAULT_PAGE = 100
AGGREGATES = ("count", "sum", "avg", "min", "max")


@dataclass
class Caller:
    """Who calls: the login's or the session's user, company and entity."""

    userid: str
    companyid: str
    locationid: str
    sessionid: str | None
    #: Origin of the gateway (scheme, host, port) to build endpoint URLs.
    origin: str
    #: ``includewhitespace`` of the request: records on their own lines.
    whitespace: bool = True


@dataclass
class Cursor:
    """A readByQuery result set read with readMore: the scan continues after the last key served."""

    result_id: str
    owner: tuple[str, str, str]
    obj: ObjectDef
    scan: Scan
    fields: list[str]
    pagesize: int
    total: int
    served: int = 0
    last_key: int = 0


def _text(el: etree._Element, tag: str, default: str | None = None) -> str | None:
    child = el.find(tag)
    if child is None:
        return default
    return (child.text or "").strip()


def _int(el: etree._Element, tag: str, default: int, low: int, high: int) -> int:
    raw = _text(el, tag)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise errors.bad_query(f"{tag} must be an integer, got '{raw}'") from None
    if not low <= value <= high:
        raise errors.bad_query(f"{tag} must be between {low} and {high}, got {value}")
    return value


class Functions:
    def __init__(self, app) -> None:
        self.app = app
        self.store: RecordStore = app.store
        self.clock = app.clock
        self.knobs = app.knobs
        self._cursors: OrderedDict[str, Cursor] = OrderedDict()
        self._lock = threading.Lock()

    # ---- helpers --------------------------------------------------------------------------
    def object_for(self, name: str | None) -> ObjectDef:
        if not name:
            raise errors.bad_query("object is required")
        try:
            obj = self.store.obj(name.strip())
        except UnknownObject:
            raise errors.unknown_object(name.strip()) from None
        if obj.name in {o.upper() for o in self.knobs.unsubscribed_objects}:
            raise errors.not_subscribed(obj.name)
        if obj.name in {o.upper() for o in self.knobs.denied_objects}:
            raise errors.permission_denied(obj.name)
        return obj

    def plan(self, obj: ObjectDef, tree, caller: Caller, casefold: bool = False) -> Scan:
        """The scan for a condition tree, restricted to the caller's entity."""
        if caller.locationid and obj.entity_owned:
            own = ("cmp", "=", "MEGAENTITYID", [caller.locationid])
            tree = own if tree is None else ("and", [own, tree])
        try:
            predicate = compile_filter(tree, obj, self.clock, casefold, self.knobs.text_collation)
        except FilterError as exc:
            if exc.field and exc.field not in obj.by_name:
                raise errors.bad_field(exc.field, obj.name) from None
            raise errors.bad_query(str(exc)) from None
        gen = self.store.gen
        size = self.store.size(obj.name)
        lo, hi, exact = index_range(
            tree, obj, self.clock, size, lambda s: gen.first_index_at_or_after(obj.name, s)
        )
        if casefold and any(f not in (obj.key, obj.timestamp) for f in fields_read(tree)):
            exact = False
        return Scan(obj, predicate, lo, hi, exact, fields_read(tree) <= LIGHT_FIELDS)

    def rows_xml(
        self,
        tag: str,
        obj: ObjectDef,
        rows: list[dict],
        fields: list[str],
        caller: Caller,
        words: bool = False,
    ) -> str:
        out = []
        for rec in rows:
            full = self.store.full(obj.name, rec)
            if words and obj.name == "AUDITHISTORY":
                full = {**full, "ACCESSMODE": ACCESSMODE_WORDS.get(full["ACCESSMODE"], full["ACCESSMODE"])}
            full = self.app.faults.corrupt(obj, full, fields)
            out.append(x.record(tag, full, fields))
        self.app.stats.count("records_served", len(rows))
        sep = "\n" if caller.whitespace else ""
        return sep.join(out)

    # ---- getAPISession --------------------------------------------------------------------
    def getAPISession(self, el: etree._Element, caller: Caller) -> str:
        location = caller.locationid
        requested = el.find("locationid")
        if requested is not None:
            location = (requested.text or "").strip()
            if location and location not in self.store.gen.entities:
                raise errors.GatewayError(
                    "XL03000006", "", f"Entity {location} not found", "Check the location ID of the entity."
                )
        path = self.knobs.session_endpoint_path or self.app.gateway_path
        if caller.sessionid and location == caller.locationid:
            session = self.app.sessions.use(caller.sessionid)
        else:
            session = self.app.sessions.open(caller.userid, caller.companyid, location, path)
            self.app.stats.count("sessions_issued")
        return (
            "<data><api>"
            + x.elements(
                [
                    ("sessionid", session.sessionid),
                    ("endpoint", caller.origin + session.endpoint_path),
                    ("locationid", session.locationid),
                ]
            )
            + "</api></data>"
        )

    # ---- readByQuery / readMore ------------------------------------------------------------
    def readByQuery(self, el: etree._Element, caller: Caller) -> str:
        obj = self.object_for(_text(el, "object"))
        raw_fields = _text(el, "fields", "*") or "*"
        if raw_fields == "*":
            fields = obj.field_names
        else:
            fields = [f.strip().upper() for f in raw_fields.split(",") if f.strip()]
            for f in fields:
                if f not in obj.by_name:
                    raise errors.bad_field(f, obj.name)
        if el.find("query") is None:
            raise errors.bad_query("readByQuery requires a query element (it may be empty)")
        fmt = (_text(el, "returnFormat", "xml") or "xml").lower()
        if fmt != "xml":
            raise errors.bad_query(f"returnFormat {fmt} is not served by this gateway; use xml")
        pagesize = _int(el, "pagesize", DEFAULT_PAGE, 1, READBYQUERY_MAX_PAGE)
        try:
            tree = parse_sql(_text(el, "query"))
        except FilterError as exc:
            raise errors.bad_query(str(exc)) from None
        if obj.name == "AUDITHISTORY":
            tree = _accessmode_letters(tree)
        scan = self.plan(obj, tree, caller)
        total = self.store.count(scan)
        cursor = Cursor(
            secrets.token_hex(12) + "-" + obj.name.lower(),
            (caller.userid, caller.companyid, caller.locationid),
            obj,
            scan,
            fields,
            pagesize,
            total,
        )
        return self._page(cursor, caller)

    def readMore(self, el: etree._Element, caller: Caller) -> str:
        result_id = _text(el, "resultId")
        owner = (caller.userid, caller.companyid, caller.locationid)
        with self._lock:
            if result_id:
                cursor = self._cursors.get(result_id)
            else:
                name = (_text(el, "object") or "").upper()
                if not name:
                    raise errors.bad_query("readMore needs a resultId or an object")
                cursor = next(
                    (c for c in reversed(self._cursors.values()) if c.obj.name == name and c.owner == owner),
                    None,
                )
        if cursor is None or cursor.owner != owner:
            raise errors.bad_result_id(result_id or "")
        return self._page(cursor, caller)

    def _page(self, cursor: Cursor, caller: Caller) -> str:
        obj = cursor.obj
        rows = self.store.scan(
            cursor.scan, [(obj.key, False)], limit=cursor.pagesize, after_key=cursor.last_key or None
        )
        cursor.served += len(rows)
        if rows:
            cursor.last_key = int(rows[-1][obj.key])
        remaining = 0 if len(rows) < cursor.pagesize else max(0, cursor.total - cursor.served)
        with self._lock:
            if remaining:
                self._cursors[cursor.result_id] = cursor
                self._cursors.move_to_end(cursor.result_id)
                while len(self._cursors) > 500:
                    self._cursors.popitem(last=False)
            else:
                self._cursors.pop(cursor.result_id, None)
        tag = obj.name.lower() if self.knobs.readbyquery_case == "lower" else obj.name
        body = self.rows_xml(tag, obj, rows, cursor.fields, caller, words=True)
        return (
            f'<data listtype="{tag}" count="{len(rows)}" totalcount="{cursor.total}" '
            f'numremaining="{remaining}" resultId="{x.attr(cursor.result_id)}">{body}</data>'
        )

    # ---- query ------------------------------------------------------------------------------
    def query(self, el: etree._Element, caller: Caller) -> str:
        obj = self.object_for(_text(el, "object"))
        select = el.find("select")
        items = [c for c in select if isinstance(c.tag, str)] if select is not None else []
        if not items:
            raise errors.bad_query("select is required: name the fields to return")
        fields, aggregates = [], []
        for item in items:
            name = (item.text or "").strip().upper()
            if name == "*":
                raise errors.bad_query("Returning all fields is not supported; list the fields in select")
            if name not in obj.by_name:
                raise errors.bad_field(name, obj.name)
            if item.tag == "field":
                fields.append(name)
            elif item.tag.lower() in AGGREGATES:
                aggregates.append((item.tag.lower(), name))
            else:
                raise errors.bad_query(f"Unknown select element <{item.tag}>")
        if fields and aggregates:
            raise errors.bad_query("select cannot mix fields and aggregates (there is no group by)")
        self._check_queryable(obj, [name for name in fields] + [name for _, name in aggregates])
        options = el.find("options")
        casefold = (
            options is not None and (_text(options, "caseinsensitive", "false") or "").lower() == "true"
        )
        fmt = (_text(options, "returnformat", "xml") if options is not None else "xml") or "xml"
        if fmt.lower() != "xml":
            raise errors.bad_query(f"returnformat {fmt} is not served by this gateway; use xml")
        try:
            tree = parse_xml_filter(el.find("filter"))
        except FilterError as exc:
            raise errors.bad_query(str(exc)) from None
        order = []
        for o in el.iterfind("orderby/order"):
            name = (_text(o, "field") or "").upper()
            if name not in obj.by_name:
                raise errors.bad_field(name, obj.name)
            order.append((name, o.find("descending") is not None))
        pagesize = _int(el, "pagesize", DEFAULT_PAGE, 1, QUERY_MAX_PAGE)
        offset = _int(el, "offset", 0, 0, 1 << 40)
        scan = self.plan(obj, tree, caller, casefold)
        if aggregates:
            return self._aggregate(obj, scan, aggregates)
        total = self.app.cached_count(scan, (obj.name, etree.tostring(el), caller.locationid))
        rows = self.store.scan(scan, order, skip=offset, limit=pagesize)
        if order and obj.name in {o.upper() for o in self.knobs.misordered_objects}:
            rows = rows[::-1]
        body = self.rows_xml(obj.name, obj, rows, fields, caller)
        remaining = max(0, total - offset - len(rows))
        return (
            f'<data listtype="{obj.name}" totalcount="{total}" offset="{offset}" count="{len(rows)}" '
            f'numremaining="{remaining}">{body}</data>'
        )

    def _check_queryable(self, obj: ObjectDef, names: list[str]) -> None:
        """Fields ``lookup`` lists that ``query`` will not serve (the ``unqueryable_fields`` knob)."""
        configured = {k.upper(): {f.upper() for f in v} for k, v in self.knobs.unqueryable_fields.items()}
        rejected = [name for name in names if name in configured.get(obj.name, ())]
        if not rejected:
            return
        if self.knobs.unqueryable_error == "invalid_field":
            raise errors.bad_field(rejected[0], obj.name)
        raise errors.unqueryable(obj.name, rejected)

    def _aggregate(self, obj: ObjectDef, scan: Scan, aggregates: list[tuple[str, str]]) -> str:
        rows = (
            [self.store.full(obj.name, r) for r in self.store.scan(scan, [])]
            if any(fn != "count" for fn, _ in aggregates)
            else None
        )
        out = []
        for fn, name in aggregates:
            if fn == "count":
                value = str(self.store.count(scan))
            else:
                conv = converter(obj, name, self.clock)
                values = [v for v in (conv(r.get(name)) for r in rows) if v is not None]
                if not values:
                    value = ""
                elif fn == "sum":
                    value = str(sum(values))
                elif fn == "avg":
                    value = str(
                        (sum(values) / len(values)).quantize(Decimal("0.01"))
                        if obj.by_name[name].datatype in NUMERIC
                        else sum(values) / len(values)
                    )
                else:
                    pick = (min if fn == "min" else max)(range(len(values)), key=values.__getitem__)
                    value = [r.get(name) for r in rows if conv(r.get(name)) is not None][pick]
            out.append((f"{fn.upper()}.{name}", value))
        self.app.stats.count("records_served", 1)
        return (
            f'<data listtype="{obj.name}" totalcount="1" offset="0" count="1" numremaining="0">'
            f"<{obj.name}>{x.elements(out)}</{obj.name}></data>"
        )

    # ---- lookup -------------------------------------------------------------------------------
    def lookup(self, el: etree._Element, caller: Caller) -> str:
        obj = self.object_for(_text(el, "object"))
        fields = "".join(
            "<Field>"
            + x.elements(
                [
                    ("ID", f.name),
                    ("LABEL", f.label or f.name),
                    ("DESCRIPTION", f.label or f.name),
                    ("REQUIRED", "true" if f.required else "false"),
                    ("READONLY", "true" if f.readonly else "false"),
                    ("DATATYPE", f.datatype),
                ]
            )
            + (
                "<VALIDVALUES>" + x.elements(("VALIDVALUE", v) for v in f.validvalues) + "</VALIDVALUES>"
                if f.validvalues
                else ""
            )
            + x.element("ISCUSTOM", "true" if f.custom else "false")
            + "</Field>"
            for f in obj.fields
        )
        rels = "".join(
            "<Relationship>"
            + x.elements(
                [
                    ("OBJECTPATH", r.objectpath),
                    ("OBJECTNAME", r.objectname),
                    ("LABEL", r.objectname.title()),
                    ("RELATIONSHIPTYPE", r.relationshiptype),
                    ("RELATEDBY", r.relatedby),
                ]
            )
            + "</Relationship>"
            for r in obj.relationships
        )
        return (
            f'<data listtype="All" count="1"><Type Name="{obj.name}" DocumentType="">'
            f"<Fields>{fields}</Fields><Relationships>{rels}</Relationships></Type></data>"
        )

    # ---- get_trialbalance / get_accountbalances (legacy GL report functions) --------------------
    def _balances(
        self,
        el: etree._Element,
        caller: Caller,
        dimensions: tuple[str, ...],
        accounts: tuple[str, str] | None,
    ) -> list[dict[str, str]]:
        """Balances of GLDETAIL in a period, grouped by account and ``dimensions``: the opening
        balance (signed amounts dated before the period), debits, credits and the closing balance."""
        start, end = _period(el)
        location = _text(el, "locationid") or ""
        zero = (_text(el, "showzerobalances", "false") or "").lower() == "true"
        groups: dict[tuple[str, ...], list[Decimal]] = {}
        for rec in self.store.records("GLDETAIL"):
            if caller.locationid and rec["MEGAENTITYID"] != caller.locationid:
                continue
            if location and rec["LOCATIONID"] != location:
                continue
            if accounts and not accounts[0] <= rec["ACCOUNTNO"] <= accounts[1]:
                continue
            day = datetime.strptime(rec["ENTRY_DATE"], "%m/%d/%Y").date()
            if day > end:
                continue
            sums = groups.setdefault((rec["ACCOUNTNO"], *(rec[d] for d in dimensions)), [Decimal(0)] * 3)
            if day < start:
                sums[0] += Decimal(rec["DEBITAMOUNT"]) - Decimal(rec["CREDITAMOUNT"])
            else:
                sums[1] += Decimal(rec["DEBITAMOUNT"])
                sums[2] += Decimal(rec["CREDITAMOUNT"])
        rows = []
        for key in sorted(groups):
            opening, debits, credits = groups[key]
            if not zero and not (opening or debits or credits):
                continue
            row = {"glaccountno": key[0]}
            row.update((d.lower(), v) for d, v in zip(dimensions, key[1:], strict=True))
            row.update(
                startbalance=_money(opening),
                debits=_money(debits),
                credits=_money(credits),
                adjdebits="0.00",
                adjcredits="0.00",
                endbalance=_money(opening + debits - credits),
                reportingbook=_text(el, "reportingbook") or "ACCRUAL",
                currency="USD",
            )
            rows.append(row)
        self.app.stats.count("records_served", len(rows))
        return rows

    def get_trialbalance(self, el: etree._Element, caller: Caller) -> str:
        dims = tuple(
            d
            for d, flag in (("DEPARTMENTID", "showdeptdetail"), ("LOCATIONID", "showlocdetail"))
            if (_text(el, flag, "false") or "").lower() == "true"
        )
        rows = self._balances(el, caller, dims, None)
        body = "".join("<trialbalance>" + x.elements(r.items()) + "</trialbalance>" for r in rows)
        return f'<data listtype="trialbalance" count="{len(rows)}">{body}</data>'

    def get_accountbalances(self, el: etree._Element, caller: Caller) -> str:
        account = _text(el, "glaccountno")
        low, high = _text(el, "startaccountno"), _text(el, "endaccountno")
        if account:
            accounts = (account, account)
        elif low and high:
            accounts = (low, high)
        else:
            raise errors.bad_query("Give a glaccountno, or a startaccountno and an endaccountno")
        dims = ("DEPARTMENTID", "LOCATIONID", "CLASSID", "PROJECTID")
        rows = self._balances(el, caller, dims, accounts)
        body = "".join("<accountbalance>" + x.elements(r.items()) + "</accountbalance>" for r in rows)
        return f'<data listtype="accountbalance" count="{len(rows)}">{body}</data>'

    # ---- readUserFormatting -------------------------------------------------------------------
    def readUserFormatting(self, el: etree._Element, caller: Caller) -> str:
        key, userid = _text(el, "key"), _text(el, "userId")
        if not key and not userid:
            raise errors.bad_query("readUserFormatting needs a key (user RECORDNO) or a userId (LOGINID)")
        if (userid and userid != self.app.config.user_id) or (key and key != "1"):
            raise errors.GatewayError("DL02000005", "", f"User {userid or key} not found", "Check the user.")
        return (
            "<data><userformatting>"
            + x.elements(
                [
                    ("recordno", "1"),
                    ("locale", "en_US"),
                    ("dateformat", "/mdY"),
                    ("gmtoffset", self.clock.gmt_offset()),
                    ("clock", "24"),
                ]
            )
            + "</userformatting></data>"
        )


MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def _day(el: etree._Element | None, tag: str) -> date | None:
    node = el.find(tag) if el is not None else None
    if node is None:
        return None
    try:
        return date(
            int(_text(node, "year") or 0), int(_text(node, "month") or 0), int(_text(node, "day") or 0)
        )
    except ValueError:
        raise errors.bad_query(f"{tag} needs a valid year, month and day") from None


def _period(el: etree._Element) -> tuple[date, date]:
    """The reporting period (``Month Ended January 2024``) or the startdate and enddate asked for."""
    name = _text(el, "reportingperiodname")
    if name:
        words = name.lower().split()
        if len(words) == 4 and words[:2] == ["month", "ended"] and words[2] in MONTHS and words[3].isdigit():
            first = date(int(words[3]), MONTHS.index(words[2]) + 1, 1)
            return first, date(first.year, first.month, calendar.monthrange(first.year, first.month)[1])
        raise errors.GatewayError(
            "BL01001973", "", f"Reporting period {name} not found", "Check the period name."
        )
    start, end = _day(el, "startdate"), _day(el, "enddate")
    if start is None or end is None:
        raise errors.bad_query("Give a reportingperiodname, or a startdate and an enddate")
    if end < start:
        raise errors.bad_query("enddate is before startdate")
    return start, end


def _accessmode_letters(tree):
    """readByQuery filters AUDITHISTORY ACCESSMODE by the full words (Delete ...)."""
    if tree is None:
        return None
    if tree[0] == "cmp":
        _, op, field, values = tree
        if field == "ACCESSMODE":
            letters = {w.lower(): k for k, w in ACCESSMODE_WORDS.items()}
            values = [letters.get(v.lower(), v) for v in values]
        return ("cmp", op, field, values)
    if tree[0] == "not":
        return ("not", _accessmode_letters(tree[1]))
    return (tree[0], [_accessmode_letters(n) for n in tree[1]])


NAMES = (
    "getAPISession",
    "readByQuery",
    "readMore",
    "query",
    "lookup",
    "readUserFormatting",
    "get_trialbalance",
    "get_accountbalances",
)
