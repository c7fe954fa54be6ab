"""Generic Inquiries (form SM208000) read through Acumatica's OData interface.

An inquiry exposed through OData is served at ``<site>/odata/<tenant>/<inquiry>`` (OData v3) and,
from Acumatica 2020 R2, at ``<site>/odatav4/<tenant>/<inquiry>`` (OData v4). Its columns and their
Edm types come from the service's ``$metadata``; the setting ``generic_inquiries`` names the
inquiries to read, the columns their rows are unique on and, optionally, a date-and-time column to
read incrementally on.

Paging. OData offers ``$top``/``$skip`` and, on some services, a next link; both count rows, so a
row inserted or deleted before the current position while the tap reads moves every later row by
one and a row is lost or read twice. Streams page with a keyset instead: ``$orderby`` on the
replication column (when there is one) and the key columns, and each request asks, with
``$filter``, for the rows after the last row received. A next link in an answer only says that more
rows follow; it is not followed. The key columns must be unique per row: the tap stops with an
error when a page does not move past the previous one, instead of looping.

Incremental reads are bounded above by the instance's clock at the start of the run and bookmark a
value only once every row carrying it was emitted (as the entity streams do).

Dates. OData v3 types dates as ``Edm.DateTime``, the instance's local time with no offset: the
setting ``instance_time_zone`` says which zone that is, and the tap emits UTC. OData v4 types them as
``Edm.DateTimeOffset``, which carries its offset.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import requests
from acumatica_client import AcumaticaError, describe_error
from acumatica_client.odata import string_literal
from lxml import etree
from mlc_run_audit.checks import SettingError, check_name, check_unique, safe_name
from mlc_run_audit.tap import AuditedStream, with_audit_columns
from singer_sdk import RESTStream
from singer_sdk import typing as th
from singer_sdk.exceptions import FatalAPIError
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_acumatica.streams import GroupBookmarks, PageCursor, RequestRules, out_of_order

if TYPE_CHECKING:
    from acumatica_client import AcumaticaAuth

    from tap_acumatica.tap import TapAcumatica

#: Exact decimals: amounts must not pass through binary floating point.
_decode = msgspec.json.Decoder(float_hook=Decimal).decode

#: An answer that broke off mid-body: as transient as no answer at all.
_CUT_OFF = (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)

SETTING = "generic_inquiries"

#: The tap's settings for inquiries, added to its config schema.
INQUIRY_PROPERTIES = (
    th.Property(
        SETTING,
        th.ArrayType(
            th.ObjectType(
                th.Property("name", th.StringType, required=True),
                th.Property("odata_version", th.IntegerType, allowed_values=[3, 4], default=4),
                th.Property("key_properties", th.ArrayType(th.StringType), required=True),
                th.Property("replication_key", th.StringType),
                th.Property("stream", th.StringType),
            )
        ),
        title="Generic inquiries",
        description="Generic Inquiries to read through OData: 'name' as exposed (the entity set of "
        "<site>/odata/<tenant>/$metadata), 'odata_version' 3 (/odata) or 4 (/odatav4, Acumatica "
        "2020 R2 and later; default), 'key_properties' (columns unique per row), optional "
        "'replication_key' (a date-and-time column to read incrementally on) and 'stream' (default: "
        "the name made safe).",
    ),
    th.Property(
        "instance_time_zone",
        th.StringType,
        title="Instance time zone",
        description="Time zone of the Acumatica instance (IANA name such as America/New_York, or a "
        "UTC offset such as -05:00): OData v3 inquiries give dates in it without an offset. Required "
        "when a v3 inquiry has a date-and-time column.",
    ),
)

#: Decimal columns without a precision in $metadata: as wide as the entity streams' decimals.
_DEFAULT_DECIMAL = "decimal(38,9)"
_DATETIME_TYPES = frozenset({"Edm.DateTime", "Edm.DateTimeOffset"})
_INTEGER_TYPES = frozenset({"Edm.Byte", "Edm.SByte", "Edm.Int16", "Edm.Int32", "Edm.Int64"})
_STRING_TYPES = frozenset({"Edm.String", "Edm.Guid", "Edm.Time", "Edm.TimeOfDay", "Edm.Duration"})


@dataclass(frozen=True)
class InquirySpec:
    """One entry of ``generic_inquiries``."""

    inquiry: str
    odata_version: int
    key_properties: tuple[str, ...]
    replication_key: str | None
    stream: str

    @classmethod
    def parse(cls, entry: dict[str, Any]) -> InquirySpec:
        name = entry.get("name")
        keys = entry.get("key_properties") or []
        if not isinstance(name, str) or not name.strip():
            msg = f"Setting {SETTING}: an entry has no 'name' ({entry!r:.80})."
            raise SettingError(msg)
        if not keys:
            msg = (
                f"Setting {SETTING}, inquiry {name}: 'key_properties' must list the columns that are "
                "unique per row; without them the inquiry cannot be paged safely."
            )
            raise SettingError(msg)
        version = entry.get("odata_version", 4)
        if version not in (3, 4):
            msg = f"Setting {SETTING}, inquiry {name}: odata_version {version!r} must be 3 or 4."
            raise SettingError(msg)
        stream = entry.get("stream") or safe_name(name)
        check_name(stream, f"Setting {SETTING}, inquiry {name}: stream name")
        return cls(name, version, tuple(keys), entry.get("replication_key") or None, stream)


@dataclass(frozen=True)
class Column:
    """A property of the inquiry's entity type and the column it lands in."""

    name: str
    column: str
    edm: str
    precision: int | None = None
    scale: int | None = None

    def json_schema(self, where: str) -> dict[str, Any]:
        if self.edm == "Edm.Decimal":
            hint = _DEFAULT_DECIMAL
            if self.precision is not None and self.precision <= 38:
                hint = f"decimal({self.precision},{self.scale or 0})"
            return {"type": ["number", "null"], "x-sql-datatype": hint}
        if self.edm in _DATETIME_TYPES:
            return {"type": ["string", "null"], "format": "date-time"}
        if self.edm == "Edm.Date":
            return {"type": ["string", "null"], "format": "date"}
        if self.edm in _INTEGER_TYPES:
            return {"type": ["integer", "null"]}
        if self.edm in ("Edm.Double", "Edm.Single"):
            return {"type": ["number", "null"]}
        if self.edm == "Edm.Boolean":
            return {"type": ["boolean", "null"]}
        if self.edm in _STRING_TYPES:
            return {"type": ["string", "null"]}
        msg = f"{where}: column {self.name} has type {self.edm}, which the tap cannot read."
        raise AcumaticaError(msg)


def parse_metadata(content: bytes) -> dict[str, list[Column]]:
    """Entity set name -> its columns, from an EDMX ``$metadata`` document (v3 or v4)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.fromstring(content, parser=parser)
    types: dict[str, list[Column]] = {}
    sets: dict[str, str] = {}
    for schema in root.iter("{*}Schema"):
        namespace = schema.get("Namespace", "")
        for entity_type in schema.iter("{*}EntityType"):
            columns = []
            for prop in entity_type.iter("{*}Property"):
                precision, scale = prop.get("Precision"), prop.get("Scale")
                columns.append(
                    Column(
                        prop.get("Name", ""),
                        safe_name(prop.get("Name", "")),
                        prop.get("Type", ""),
                        int(precision) if precision and precision.isdigit() else None,
                        int(scale) if scale and scale.isdigit() else None,
                    )
                )
            types[f"{namespace}.{entity_type.get('Name')}"] = columns
        for entity_set in schema.iter("{*}EntitySet"):
            sets[entity_set.get("Name", "")] = entity_set.get("EntityType", "")
    return {name: types[kind] for name, kind in sets.items() if kind in types}


def parse_time_zone(text: str) -> tzinfo:
    """An IANA zone name or a fixed UTC offset (``-05:00``)."""
    value = text.strip()
    if value[:1] in "+-" and len(value) == 6 and value[3] == ":":
        try:
            hours, minutes = int(value[1:3]), int(value[4:6])
        except ValueError:
            pass
        else:
            sign = -1 if value[0] == "-" else 1
            return timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        msg = (
            f"Setting instance_time_zone {text!r} is neither an IANA time zone name (e.g. "
            "America/New_York) nor a UTC offset (e.g. -05:00)."
        )
        raise SettingError(msg) from None


# ---- the OData service ---------------------------------------------------------------------------


class BasicAuth(requests.auth.HTTPBasicAuth):
    """Basic authentication, which the inquiry OData interface takes when the tap signs in with a
    cookie session elsewhere; nothing to renew or sign out of."""

    def invalidate(self) -> None:
        """A 401 with Basic credentials will not pass on a second try either."""

    def close(self) -> None:
        """No session to end."""


class ODataService:
    """The OData root of one version (``<site>/odata[v4]/<tenant>``), its sign-in and ``$metadata``."""

    def __init__(self, tap: TapAcumatica, version: int) -> None:
        self.tap = tap
        self.version = version
        tenant = tap.config.get("tenant")
        segment = "odatav4" if version == 4 else "odata"
        base = tap.instance.base_url
        self.root = f"{base}/{segment}/{quote(tenant, safe='')}" if tenant else f"{base}/{segment}"
        self._metadata: dict[str, list[Column]] | None = None
        self._lock = threading.Lock()

    @property
    def auth(self) -> AcumaticaAuth:
        """The run's OAuth token (bearer), or Basic credentials when the tap signs in with cookies."""
        if self.tap.config.get("auth_method", "oauth") == "oauth":
            return self.tap.auth
        return _basic_auth(self.tap.config)

    def metadata(self) -> dict[str, list[Column]]:
        with self._lock:
            if self._metadata is None:
                response = self.get(f"{self.root}/$metadata")
                if not response.ok:
                    msg = f"Reading {self.root}/$metadata for {SETTING}: {describe_error(response)}"
                    raise AcumaticaError(msg)
                self._metadata = parse_metadata(response.content)
            return self._metadata

    def get(self, url: str) -> requests.Response:
        """A GET under the run's retry policy, signing in again once after a 401."""
        return self.tap.get_outside_streams(url, auth=self.auth)


def _basic_auth(config: Mapping[str, Any]) -> BasicAuth:
    username, password = config.get("username"), config.get("password")
    if not username or not password:
        msg = (
            f"Setting {SETTING} with auth_method cookie reads inquiries with Basic authentication: "
            "set username and password."
        )
        raise SettingError(msg)
    return BasicAuth(username, password)


def inquiry_streams(tap: TapAcumatica) -> list[InquiryStream]:
    """The streams of the ``generic_inquiries`` setting; reads each OData version's $metadata once."""
    entries = tap.config.get(SETTING) or []
    if not entries:
        return []
    specs = [InquirySpec.parse(e) for e in entries]
    zone_text = tap.config.get("instance_time_zone")
    zone = parse_time_zone(zone_text) if zone_text else None
    services: dict[int, ODataService] = {}
    streams = []
    for spec in specs:
        service = services.setdefault(spec.odata_version, ODataService(tap, spec.odata_version))
        columns = service.metadata().get(spec.inquiry)
        if columns is None:
            offered = ", ".join(sorted(service.metadata())) or "none"
            msg = (
                f"Setting {SETTING}: inquiry {spec.inquiry!r} is not exposed at {service.root} "
                f"(OData v{spec.odata_version}); it offers: {offered}. Check 'Expose via OData' on "
                "form SM208000 and the inquiry's name."
            )
            raise SettingError(msg)
        streams.append(InquiryStream(tap, spec, service, columns, zone))
    return streams


# ---- reading ---------------------------------------------------------------------------------------


class InquiryStream(GroupBookmarks, RequestRules, AuditedStream, RESTStream[tuple[Any, ...] | None]):
    """One Generic Inquiry, read with keyset paging through OData v3 or v4."""

    # Rows are converted against the columns the schema comes from.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    is_sorted = True
    records_jsonpath = "$.value[*]"

    def __init__(
        self,
        tap: TapAcumatica,
        spec: InquirySpec,
        service: ODataService,
        columns: list[Column],
        zone: tzinfo | None,
    ) -> None:
        where = f"Setting {SETTING}, inquiry {spec.inquiry}"
        by_name = {c.name: c for c in columns}
        for name in (*spec.key_properties, *([spec.replication_key] if spec.replication_key else [])):
            if name not in by_name:
                msg = f"{where}: no column {name!r}; its columns are {', '.join(by_name)}."
                raise SettingError(msg)
        rk = by_name[spec.replication_key] if spec.replication_key else None
        if rk is not None and rk.edm not in _DATETIME_TYPES:
            msg = f"{where}: replication_key {rk.name} is {rk.edm}; it must be a date-and-time column."
            raise SettingError(msg)
        if spec.odata_version == 3 and zone is None and any(c.edm == "Edm.DateTime" for c in columns):
            msg = (
                f"{where}: OData v3 gives its dates in the instance's time zone without an offset; set "
                "instance_time_zone (e.g. America/New_York or -05:00), or read it with odata_version 4."
            )
            raise SettingError(msg)
        check_unique(((c.column, c.name) for c in columns), f"Stream {spec.stream}: columns")
        self.spec = spec
        self.service = service
        self.columns = columns
        self.zone = zone
        self._tap_ref = tap
        self._by_name = by_name
        self._rk = rk
        self._cursor_columns = [by_name[n] for n in ([rk.name] if rk else []) + list(spec.key_properties)]
        properties = {c.column: c.json_schema(where) for c in columns}
        schema = with_audit_columns(
            {"type": "object", "properties": properties}, dict(tap.config), spec.stream
        )
        super().__init__(tap, name=spec.stream, schema=schema, path=f"/{quote(spec.inquiry, safe='')}")
        self.primary_keys = [by_name[k].column for k in spec.key_properties]
        self.replication_key = rk.column if rk else None
        self._paginator: PageCursor | None = None
        self._lower: tuple[str, datetime] | None = None
        self._upper: datetime | None = None
        self._previous_cursor: tuple[Any, ...] | None = None
        self._asked = self.page_size
        self._convert = self._converters()
        # A checkpoint per page: a run cut off loses at most one page of progress.
        self.STATE_MSG_FREQUENCY = self.page_size

    # Where and how to ask ----------------------------------------------------------------------

    @property
    def url_base(self) -> str:
        return self.service.root

    @property
    def authenticator(self) -> AcumaticaAuth:
        return self.service.auth

    def get_new_paginator(self) -> PageCursor:
        self._paginator = PageCursor()
        return self._paginator

    def get_url_params(self, context: Any, next_page_token: tuple[Any, ...] | None) -> dict[str, Any]:
        terms = []
        rk = self._rk
        if rk is not None and self._lower is not None:
            op, value = self._lower
            terms.append(f"{rk.name} {op} {self._datetime_literal(value)}")
        if rk is not None and self._upper is not None:
            terms.append(f"{rk.name} le {self._datetime_literal(self._upper)}")
        top = self.page_size
        if next_page_token is not None:
            terms.append(self._at_or_after(next_page_token))
            top += 1  # the previous page's last row comes again
        self._asked = top
        params: dict[str, Any] = {"$top": top, "$orderby": ",".join(c.name for c in self._cursor_columns)}
        if terms:
            params["$filter"] = " and ".join(terms)
        return params

    def _at_or_after(self, values: Sequence[Any]) -> str:
        """Rows from ``values`` on, in the order of the cursor columns. The row at ``values`` itself
        is asked for again: a second row with the same key values shows the keys are not unique, which
        a strict ``gt`` would pass over in silence."""
        columns = self._cursor_columns
        literals = [self._literal(c, v) for c, v in zip(columns, values, strict=True)]
        clause = f"{columns[-1].name} ge {literals[-1]}"
        for column, literal in zip(reversed(columns[:-1]), reversed(literals[:-1]), strict=True):
            clause = f"{column.name} gt {literal} or ({column.name} eq {literal} and ({clause}))"
        return f"({clause})"

    def _literal(self, column: Column, raw: Any) -> str:
        """A value as this OData version writes it in ``$filter``; ``raw`` is as the service sent it."""
        v3 = self.spec.odata_version == 3
        if column.edm in _DATETIME_TYPES:
            return f"datetime'{raw}'" if v3 else str(raw)
        if column.edm == "Edm.Guid":
            return f"guid'{raw}'" if v3 else str(raw)
        if column.edm == "Edm.Boolean":
            return "true" if raw else "false"
        if column.edm == "Edm.Decimal":
            return f"{raw}M" if v3 else str(raw)
        if column.edm == "Edm.Int64":
            return f"{raw}L" if v3 else str(raw)
        if column.edm in _INTEGER_TYPES:
            return str(int(raw))
        return string_literal(str(raw))

    def _datetime_literal(self, moment: datetime) -> str:
        if self.spec.odata_version == 3:
            assert self.zone is not None  # checked in __init__
            local = moment.astimezone(self.zone).replace(tzinfo=None)
            return f"datetime'{local.isoformat(timespec='microseconds')}'"
        return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")

    # Reading -----------------------------------------------------------------------------------

    def get_records(self, context: Any) -> Iterable[dict[str, Any]]:
        self._begin(context)
        yield from self.request_records(context)
        if self._group_value is not None:
            # Every row of the last timestamp group has been emitted: it may be bookmarked.
            self._bookmark(self._group_value, context)

    def _begin(self, context: Any) -> None:
        self._group_value = None
        self._previous_cursor = None
        if self._rk is None:
            self._lower = self._upper = None
            self.logger.info("Reading %s (inquiry %s) in full, in key order.", self.name, self.spec.inquiry)
            return
        bookmark = self.stream_state.get("replication_key_value")
        if bookmark:
            self._lower = ("gt", datetime.fromisoformat(bookmark))
        elif self.config.get("start_date"):
            start = self.get_starting_timestamp(context)
            self._lower = ("ge", start) if start is not None else None
        else:
            self._lower = None
        server_now = self._tap_ref.server_time
        self._upper = server_now
        self.logger.info(
            "Reading %s (inquiry %s) %s.",
            self.name,
            self.spec.inquiry,
            f"with {self._rk.name} {self._lower[0]} {self._lower[1].isoformat()}"
            if self._lower
            else "from the beginning",
        )

    def parse_response(self, response: requests.Response) -> Iterator[dict[str, Any]]:
        body = _decode(response.content)
        rows = body.get("value") if isinstance(body, dict) else None
        if not isinstance(rows, list):
            msg = f"Stream {self.name}: expected an OData answer with 'value' from {describe_error(response)}"
            raise FatalAPIError(msg)
        next_link = body.get("@odata.nextLink" if self.spec.odata_version == 4 else "odata.nextLink")
        paginator = self._paginator
        full = bool(next_link) or len(rows) >= self._asked
        cursors = [self._cursor_of(row) for row in rows]
        start = 0
        previous = self._previous_cursor
        while start < len(rows) and previous is not None and _same(cursors[start], previous):
            start += 1
        if start > 1 or any(_same(a, b) for a, b in zip(cursors[start:], cursors[start + 1 :], strict=False)):
            duplicate = (
                cursors[start - 1]
                if start > 1
                else next(
                    a for a, b in zip(cursors[start:], cursors[start + 1 :], strict=False) if _same(a, b)
                )
            )
            msg = (
                f"Stream {self.name}: inquiry {self.spec.inquiry} has more than one row with "
                f"{', '.join(c.name for c in self._cursor_columns)} = {duplicate}; rows cannot be paged "
                f"safely. Set key_properties of this inquiry in {SETTING} to columns unique per row."
            )
            raise FatalAPIError(msg)
        rows = rows[start:]
        if full and not rows:
            msg = (
                f"Stream {self.name}: inquiry {self.spec.inquiry} answered a full page holding only the "
                "row already read; lower page_size is not the cure: the service pages too finely to "
                "read past it safely."
            )
            raise FatalAPIError(msg)
        if paginator is not None:
            # A next link says more rows follow even when the service cut the page short; it is not
            # followed (it counts rows) but the keyset goes on from the last row.
            paginator.page_full = full and bool(rows)
            paginator.next_cursor = cursors[-1] if rows else None
        if rows:
            self._previous_cursor = cursors[-1]
        self._check_order(rows)
        convert = self._convert
        for row in rows:
            yield convert(row)

    def _cursor_of(self, row: dict[str, Any]) -> tuple[Any, ...]:
        values = []
        for column in self._cursor_columns:
            value = row.get(column.name)
            if value is None:
                msg = (
                    f"Stream {self.name}: a row of inquiry {self.spec.inquiry} has no {column.name}; it "
                    f"cannot be paged past. Check key_properties and replication_key in {SETTING}."
                )
                raise FatalAPIError(msg)
            values.append(value)
        return tuple(values)

    def _check_order(self, rows: list[dict[str, Any]]) -> None:
        rk = self._rk
        if rk is None:
            return
        values = (row.get(rk.name) for row in rows)
        if out_of_order(self._utc(str(raw)) for raw in values if raw is not None):
            msg = (
                f"Stream {self.name}: inquiry {self.spec.inquiry} answered out of {rk.name} order "
                "although $orderby asked for it; the rows cannot be bookmarked safely."
            )
            raise FatalAPIError(msg)

    def _utc(self, raw: str) -> str:
        """A date-and-time as fixed-width UTC ISO 8601, so text order is time order."""
        moment = datetime.fromisoformat(raw)
        if moment.tzinfo is None:
            if self.zone is None:
                msg = f"Stream {self.name}: the date {raw!r} has no offset; set instance_time_zone."
                raise FatalAPIError(msg)
            moment = moment.replace(tzinfo=self.zone)
        return moment.astimezone(UTC).isoformat(timespec="microseconds")

    def _converters(self) -> Callable[[dict[str, Any]], dict[str, Any]]:
        plan: list[tuple[str, str, Callable[[Any], Any] | None]] = []
        for column in self.columns:
            convert: Callable[[Any], Any] | None = None
            if column.edm == "Edm.Decimal":
                convert = _to_decimal
            elif column.edm in _DATETIME_TYPES:
                convert = self._utc
            elif column.edm in _INTEGER_TYPES:
                convert = int  # Edm.Int64 is a string in OData v3 JSON
            plan.append((column.name, column.column, convert))

        def convert_row(row: dict[str, Any]) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for name, column, fn in plan:
                value = row.get(name)
                out[column] = fn(value) if fn is not None and value is not None else value
            return out

        return convert_row

    # Audit ---------------------------------------------------------------------------------------

    def post_process(
        self, row: dict[str, Any], context: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        # AuditedStream stamps the audit columns; its signature takes the context as a dict.
        return AuditedStream.post_process(self, row, dict(context) if context is not None else None)

    def audit_source(self, record: dict[str, Any]) -> tuple[Any, Any]:
        """The row's keys (an inquiry row has no id of its own) and its replication value."""
        keys = "/".join(str(record.get(k)) for k in self.primary_keys)
        return keys, record.get(self.replication_key) if self.replication_key else None

    # Errors and retries --------------------------------------------------------------------------

    def _sign_in_again(self) -> None:
        self.service.auth.invalidate()

    def _refused(self, response: requests.Response) -> str:
        return (
            f"Stream {self.name}: Acumatica refused inquiry {self.spec.inquiry} after signing in "
            f"again: {describe_error(response)}. Check the user's access rights to the inquiry."
        )

    def _failed(self, response: requests.Response) -> str:
        return f"Stream {self.name} (inquiry {self.spec.inquiry}): {describe_error(response)}"


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    """Equal key values as the database compares them: Acumatica's collation ignores case."""
    return all(
        (x.casefold() == y.casefold()) if isinstance(x, str) and isinstance(y, str) else x == y
        for x, y in zip(a, b, strict=True)
    )


def _to_decimal(value: Any) -> Decimal:
    # OData v3 JSON writes Edm.Decimal as a string, v4 as a number (decoded exactly).
    return value if isinstance(value, Decimal) else Decimal(str(value))
