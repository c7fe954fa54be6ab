"""The generic inquiry-based OData interface: ``<site>/odata/<tenant>/<inquiry>`` (OData v3) and
``<site>/odatav4/<tenant>/<inquiry>`` (OData v4, Acumatica 2020 R2 and later).

Routes, in the order a client meets them: the service document (``/odata/<tenant>/``), the
``$metadata`` document (EDMX), and an inquiry's rows with ``$filter``, ``$orderby``, ``$select``,
``$top`` and ``$skip``. The tenant segment may be left out when the instance has one tenant (or the
Basic user name says ``user@tenant``). Callers sign in with Basic authentication or an OAuth bearer
token. Errors are OData error bodies of the version asked for.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlencode
from xml.sax.saxutils import quoteattr

import msgspec

from .inquiries import CONTRACT_TYPES, Column, Inquiry, InquiryDefinition, Row, json_value
from .odata import (
    COMPARISONS,
    Field,
    FilterCompiler,
    Literal,
    Node,
    QueryError,
    parse_filter,
    parse_number,
    parse_orderby,
    split_list,
)

if TYPE_CHECKING:
    from .auth import Authenticator
    from .config import EmulatorConfig, Knobs
    from .store import RecordStore

#: msgspec writes Decimal as a JSON number (v4) and str as a string (v3 decimals are strings already).
_ENCODER = msgspec.json.Encoder(decimal_format="number")
_NAMESPACE = "Default"


@dataclass
class FeedResponse:
    """What the feed answers: status, JSON or XML body, extra headers."""

    status: int
    body: bytes
    content_type: str
    headers: list[tuple[str, str]]


class ODataFeed:
    """Serves the inquiries of one emulated instance; transport-free like ``AcumaticaApp``."""

    def __init__(
        self,
        config: EmulatorConfig,
        knobs: Knobs,
        store: RecordStore,
        auth: Authenticator,
        inquiries: dict[str, Inquiry],
    ) -> None:
        self.config, self.knobs, self.store, self.auth = config, knobs, store, auth
        self.inquiries = inquiries

    # ---- defining inquiries (control API) -------------------------------------------------------
    def define(self, spec: dict[str, Any]) -> Inquiry:
        inquiry = InquiryDefinition.from_json(spec, tuple(self.config.versions))
        self.inquiries[inquiry.name] = inquiry
        return inquiry

    # ---- dispatch -------------------------------------------------------------------------------
    def handle(
        self, method: str, sub: str, query: dict[str, str], headers: dict[str, str], site: str
    ) -> FeedResponse:
        """``sub`` is the path under the site (``site``), starting ``/odata`` or ``/odatav4``."""
        parts = [unquote(p) for p in sub.strip("/").split("/")]
        version = 4 if parts[0].lower() == "odatav4" else 3
        rest = parts[1:]
        tenant = None
        if rest and rest[0] in self.config.tenants:
            tenant, rest = rest[0], rest[1:]
        signed_in = self._sign_in(headers, tenant)
        if signed_in is None:
            return self._error(
                version, 401, "Authorization has been denied for this request.", challenge=True
            )
        tenant = signed_in
        if method != "GET":
            return self._error(
                version, 405, f"The HTTP method {method} is not allowed; the feed is read-only."
            )
        root = f"{site}/{parts[0]}/{quote(tenant)}"
        if not rest or rest == [""]:
            return self._service_document(version, root)
        if rest == ["$metadata"]:
            return FeedResponse(200, self._metadata(version), "application/xml;charset=utf-8", [])
        inquiry = self.inquiries.get(rest[0]) if len(rest) == 1 else None
        if inquiry is None:
            return self._error(version, 404, f"Resource not found for the segment '{'/'.join(rest)}'.")
        try:
            return self._rows(version, root, inquiry, query)
        except QueryError as exc:
            return self._error(version, 400, str(exc))

    # ---- sign-in --------------------------------------------------------------------------------
    def _sign_in(self, headers: dict[str, str], tenant: str | None) -> str | None:
        """The tenant the caller may read, or None (401)."""
        header = headers.get("authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer":
            token_tenant = self.auth.bearer_tenant(credentials.strip())
            if token_tenant is None or (tenant is not None and tenant != token_tenant):
                return None
            return token_tenant
        if scheme.lower() != "basic":
            return None
        try:
            user, sep, password = base64.b64decode(credentials.strip()).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        if not sep:
            return None
        name, at, named_tenant = user.partition("@")
        if at and tenant is not None and named_tenant != tenant:
            return None
        chosen = tenant or (named_tenant if at else None)
        if chosen is None:
            if len(self.config.tenants) != 1:
                return None
            chosen = self.config.tenants[0]
        known = any(
            u.name == name and u.password == password and u.tenant == chosen for u in self.config.users
        )
        return chosen if known else None

    # ---- documents ------------------------------------------------------------------------------
    def _service_document(self, version: int, root: str) -> FeedResponse:
        sets = [{"name": n, "url": n} for n in sorted(self.inquiries)]
        if version == 3:
            body: dict[str, Any] = {"odata.metadata": f"{root}/$metadata", "value": sets}
        else:
            body = {
                "@odata.context": f"{root}/$metadata",
                "value": [{**s, "kind": "EntitySet"} for s in sets],
            }
        return self._json(200, body, version)

    def _metadata(self, version: int) -> bytes:
        types = []
        sets = []
        for name in sorted(self.inquiries):
            inquiry = self.inquiries[name]
            keys = "".join(f"<PropertyRef Name={quoteattr(k)}/>" for k in inquiry.keys)
            props = "".join(_property_xml(c, version, c.name in inquiry.keys) for c in inquiry.columns)
            types.append(f"<EntityType Name={quoteattr(name)}><Key>{keys}</Key>{props}</EntityType>")
            sets.append(f"<EntitySet Name={quoteattr(name)} EntityType={quoteattr(f'{_NAMESPACE}.{name}')}/>")
        if version == 3:
            head = (
                '<edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx">'
                '<edmx:DataServices m:DataServiceVersion="3.0" m:MaxDataServiceVersion="3.0" '
                'xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata">'
                f'<Schema Namespace="{_NAMESPACE}" xmlns="http://schemas.microsoft.com/ado/2009/11/edm">'
            )
            container = f'<EntityContainer Name="{_NAMESPACE}" m:IsDefaultEntityContainer="true">'
        else:
            head = (
                '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">'
                "<edmx:DataServices>"
                f'<Schema Namespace="{_NAMESPACE}" xmlns="http://docs.oasis-open.org/odata/ns/edm">'
            )
            container = f'<EntityContainer Name="{_NAMESPACE}">'
        text = (
            '<?xml version="1.0" encoding="utf-8"?>'
            + head
            + "".join(types)
            + container
            + "".join(sets)
            + "</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>"
        )
        return text.encode("utf-8")

    # ---- rows -----------------------------------------------------------------------------------
    def _rows(self, version: int, root: str, inquiry: Inquiry, q: dict[str, str]) -> FeedResponse:
        for option in q:
            if option.startswith("$") and option not in _OPTIONS:
                raise QueryError(f"The query parameter '{option}' is not supported.")
        fmt = q.get("$format")
        if fmt is not None and fmt.lower() not in ("json", "application/json"):
            raise QueryError(f"The $format value '{fmt}' is not supported; use json.")
        columns = {c.name: c for c in inquiry.columns}
        select = split_list(q.get("$select"))
        for name in select:
            if name != "*" and name not in columns:
                raise QueryError(
                    f"Could not find a property named '{name}' on type '{_NAMESPACE}.{inquiry.name}'."
                )
        shown = [c for c in inquiry.columns if not select or "*" in select or c.name in select]
        order = parse_orderby(q.get("$orderby"))
        for name, _ in order:
            if name not in columns:
                raise QueryError(
                    f"Could not find a property named '{name}' on type '{_NAMESPACE}.{inquiry.name}'."
                )
        top = parse_number("$top", q.get("$top"))
        skip = parse_number("$skip", q.get("$skip")) or 0
        rows = inquiry.rows(self.store)
        if q.get("$filter"):
            tree = parse_filter(q["$filter"], version)
            _check_literals(tree, columns, version)
            fields = {c.name: CONTRACT_TYPES[c.type] for c in inquiry.columns}
            predicate = FilterCompiler(fields, {}, self.store.to_ms).compile(tree)
            rows = [r for r in rows if predicate(r)]
        if order and self.knobs.orderby != "ignore":
            for name, descending in reversed(order):
                rows.sort(key=self._sort_key(columns[name]), reverse=descending)
        rows = rows[skip:]
        if top is not None:
            rows = rows[:top]
        page = self.knobs.odata_page_size
        next_link = None
        if page is not None and len(rows) > page:
            rows = rows[:page]
            following = {**q, "$skip": str(skip + page)}
            if top is not None:
                following["$top"] = str(top - page)
            next_link = f"{root}/{quote(inquiry.name)}?{urlencode(following)}"
        values = [_render(r, shown, version, self.store) for r in rows]
        body: dict[str, Any]
        if version == 3:
            body = {"odata.metadata": f"{root}/$metadata#{inquiry.name}", "value": values}
            if next_link:
                body["odata.nextLink"] = next_link
        else:
            body = {"@odata.context": f"{root}/$metadata#{inquiry.name}", "value": values}
            if next_link:
                body["@odata.nextLink"] = next_link
        return self._json(200, body, version)

    def _sort_key(self, column: Column) -> Callable[[Row], tuple[int, Any]]:
        to_ms = self.store.to_ms

        def key(row: Row) -> tuple[int, Any]:
            value = row.get(column.name)
            if value is None:
                return (0, 0)
            return (1, to_ms(value) if column.type == "datetime" else value)

        return key

    # ---- answers --------------------------------------------------------------------------------
    def _json(self, status: int, body: dict[str, Any], version: int) -> FeedResponse:
        ctype = (
            "application/json;odata=minimalmetadata;streaming=true;charset=utf-8"
            if version == 3
            else "application/json;odata.metadata=minimal;odata.streaming=true;charset=utf-8"
        )
        headers = [("DataServiceVersion", "3.0;")] if version == 3 else [("OData-Version", "4.0")]
        return FeedResponse(status, _ENCODER.encode(body), ctype, headers)

    def _error(self, version: int, status: int, message: str, challenge: bool = False) -> FeedResponse:
        if version == 3:
            body: dict[str, Any] = {
                "odata.error": {"code": "", "message": {"lang": "en-US", "value": message}}
            }
        else:
            body = {"error": {"code": "", "message": message}}
        response = self._json(status, body, version)
        if challenge:
            response.headers.append(("WWW-Authenticate", 'Basic realm="Acumatica OData"'))
        return response


_DENIED = "Authorization has been denied for this request."


def _no_property(name: str, inquiry: Inquiry) -> str:
    return f"Could not find a property named '{name}' on type '{_NAMESPACE}.{inquiry.name}'."


_OPTIONS = {"$filter", "$orderby", "$select", "$top", "$skip", "$format"}


def _property_xml(column: Column, version: int, key: bool) -> str:
    attrs = f"Name={quoteattr(column.name)} Type={quoteattr(column.edm(version))}"
    if column.type == "decimal":
        attrs += f' Precision="{column.precision}" Scale="{column.scale}"'
    if version == 4 and column.type == "datetime":
        attrs += ' Precision="3"'
    if key:
        attrs += ' Nullable="false"'
    return f"<Property {attrs}/>"


def _render(row: Row, shown: list[Column], version: int, store: RecordStore) -> dict[str, Any]:
    return {c.name: json_value(c, row.get(c.name), version, store) for c in shown}


#: Literal kinds each version accepts for a date-and-time property.
_DATETIME_LITERALS = {3: {"datetime"}, 4: {"datetimeoffset"}}


def _check_literals(node: object, columns: dict[str, Column], version: int) -> None:
    """Refuse a date literal of the other OData version, as an OData service would: v3 compares an
    Edm.DateTime with ``datetime'...'`` only; v4 an Edm.DateTimeOffset with a bare
    ``2024-01-31T00:00:00Z``."""
    if not isinstance(node, Node):
        return
    if node.op in COMPARISONS:
        left, right = node.args
        for a, b in ((left, right), (right, left)):
            if isinstance(a, Field) and isinstance(b, Literal) and b.kind != "null":
                column = columns.get(a.name)
                if column is None:
                    raise QueryError(f"Could not find a property named '{a.name}'.")
                if column.type == "datetime" and b.kind not in _DATETIME_LITERALS[version]:
                    raise QueryError(
                        f"Operator '{node.op}' incompatible with operand types '{column.edm(version)}' and "
                        f"'{_literal_type(b, version)}' for property '{a.name}'."
                    )
    for arg in node.args:
        _check_literals(arg, columns, version)


def _literal_type(lit: Literal, version: int) -> str:
    return {
        "datetime": "Edm.DateTime",
        "datetimeoffset": "Edm.DateTimeOffset",
        "string": "Edm.String",
        "number": "Edm.Decimal",
        "bool": "Edm.Boolean",
        "guid": "Edm.Guid",
        "date": "Edm.Date",
    }.get(lit.kind, "Edm.String")
