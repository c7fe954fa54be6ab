"""Routes of the emulated instance, in the order of Acumatica's REST API reference.

Everything under the instance path (``/AcumaticaERP``) behaves like the vendor's API; the control
API for tests and benchmarks lives at ``/_emulator`` on the server root.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

import emulator_kit as kit
import msgspec
from acumatica_client import catalog
from emulator_kit import Request, Stats

from . import writes
from .auth import Authenticator, AuthError
from .config import KNOB_NAMES, EmulatorConfig, Knobs
from .generator import KEY_FIELDS, SPECS
from .inquiries import SEEDED, InquiryDefinition, InquiryError
from .limits import LICENSE_LIMIT_MESSAGE, Declined, FaultInjector, LicenseLimits
from .odata import (
    FilterCompiler,
    QueryError,
    filter_fields,
    parse_filter,
    parse_number,
    parse_orderby,
    timestamp_accept,
    timestamp_range,
)
from .odata_feed import ODataFeed
from .render import ENCODER, PagePlan, ad_hoc_schema
from .store import TIMESTAMP_FIELDS, RecordNotFound, RecordStore
from .swagger import swagger_document

DENIED = {"message": "Authorization has been denied for this request."}


@dataclass
class Response(kit.Response):
    content_type: str | None = "application/json; charset=utf-8"


@dataclass
class RequestInfo:
    """What a request hook sees before an entity list GET (or an OData feed GET: ``entity`` is then
    the last path segment, ``version`` ``odata`` or ``odatav4``) is answered."""

    method: str
    path: str
    entity: str
    version: str
    params: dict[str, str]
    number: int


def error_body(message: str, exception_type: str = "PX.Api.ContractBased.OperationException") -> dict:
    return {
        "message": message,
        "exceptionMessage": message,
        "exceptionType": exception_type,
        "stackTrace": "   at PX.Api.ContractBased.EntityService (emulated)",
    }


def json_response(status: int, body: object, headers: list | None = None) -> Response:
    return Response(status, ENCODER.encode(body), headers or [])


class AcumaticaApp:
    """The request router and handlers; transport-free so it can be unit-tested."""

    def __init__(self, config: EmulatorConfig, knobs: Knobs, store: RecordStore, stats: Stats) -> None:
        self.config, self.knobs, self.store, self.stats = config, knobs, store, stats
        self.auth = Authenticator(config, knobs, stats)
        self.limits = LicenseLimits(knobs)
        self.faults = FaultInjector(knobs, config.seed)
        self.instance = "/" + config.instance_path.strip("/") if config.instance_path.strip("/") else ""
        self._hooks: list[Callable[[RequestInfo], None]] = []
        self._plans: dict[tuple, PagePlan] = {}
        self._number = 0
        self._lock = threading.Lock()
        self.refs = writes.ReferenceCheck(store)
        self.actions = writes.Actions(store)
        inquiries = {i.name: i for i in SEEDED}
        for spec in config.inquiries:
            inquiry = InquiryDefinition.from_json(spec, tuple(config.versions))
            inquiries[inquiry.name] = inquiry
        self.odata = ODataFeed(
            config,
            knobs,
            store,
            self.auth,
            inquiries,
        )

    # ---- hooks ---------------------------------------------------------------------------
    def on_request(self, callback: Callable[[RequestInfo], None]) -> Callable[[], None]:
        self._hooks.append(callback)
        return lambda: self._hooks.remove(callback) if callback in self._hooks else None

    # ---- dispatch ------------------------------------------------------------------------
    def internal_error(self, exc: Exception) -> Response:
        """What IIS answers when the application throws: a 500 with the exception."""
        return json_response(500, error_body(repr(exc), "System.Exception"))

    def handle(self, req: Request) -> Response:
        if req.path.startswith("/_emulator/"):
            return self._control(req)
        if self.instance and not (req.path == self.instance or req.path.startswith(self.instance + "/")):
            return json_response(404, {"message": f"The resource '{req.path}' was not found."})
        sub = req.path[len(self.instance) :] or "/"
        kind = _route_kind(req.method, sub)
        if kind == "logout":  # sign-out bypasses the queue and the limits
            response = self._logout(req)
            self.stats.request(req.method, kind, response.status)
            return response
        fault = self.faults.next_fault()
        if fault is not None:
            self.faults.delay()
            self.stats.request(req.method, kind, 0 if fault.reset else fault.status)
            if fault.reset:
                return Response(0, reset=True)
            return self._fault_response(fault.status)
        try:
            self.limits.acquire()
        except Declined:
            self.stats.request(req.method, kind, 429)
            return self._too_many()
        try:
            self.faults.delay()
            response = self._route(req, sub, kind)
        except QueryError as exc:
            response = json_response(400, error_body(str(exc)))
        except AuthError as exc:
            response = json_response(exc.status, exc.body)
        finally:
            self.limits.release()
        self.stats.request(req.method, kind, response.status)
        return response

    def _too_many(self) -> Response:
        headers = []
        if self.knobs.retry_after_s is not None:
            headers.append(("Retry-After", str(int(self.knobs.retry_after_s))))
        body = {
            "message": LICENSE_LIMIT_MESSAGE,
            "exceptionMessage": LICENSE_LIMIT_MESSAGE,
            "exceptionType": "PX.Api.ContractBased.LicenseLimitException",
            "stackTrace": "",
        }
        return json_response(429, body, headers)

    def _fault_response(self, status: int) -> Response:
        if status == 429:
            return self._too_many()
        message = {502: "Bad Gateway", 503: "Service Unavailable"}.get(status, "Internal Server Error")
        return json_response(status, error_body(f"Injected fault: {message}", "System.Exception"))

    def _route(self, req: Request, sub: str, kind: str) -> Response:
        if kind == "openid":
            return self._openid()
        if kind == "token":
            return self._token(req)
        if kind == "login":
            return self._login(req)
        if kind == "discovery":
            if self.knobs.discovery_requires_auth and not self._authorized(req):
                return json_response(401, DENIED)
            return self._discovery()
        if kind.startswith("entity"):
            return self._entity(req, sub)
        if kind == "odata":
            self._notify(req, sub.strip("/").split("/")[-1], sub.strip("/").split("/")[0])
            # Links name the site as the caller addressed it.
            site = (
                f"http://{req.headers.get('host') or f'{self.config.host}:{self.config.port}'}{self.instance}"
            )
            feed = self.odata.handle(req.method, sub, dict(req.query), req.headers, site)
            return Response(feed.status, feed.body, feed.headers, content_type=feed.content_type)
        return json_response(
            404, {"message": f"No HTTP resource was found that matches the request URI '{req.path}'."}
        )

    def _authorized(self, req: Request) -> bool:
        header = req.headers.get("authorization", "")
        bearer = header[7:].strip() if header.lower().startswith("bearer ") else None
        cookie = _cookies(req.headers.get("cookie", "")).get(".ASPXAUTH")
        return self.auth.authorize(bearer, cookie)

    # ---- identity (OAuth 2.0 / OpenID Connect) --------------------------------------------
    def _openid(self) -> Response:
        base = f"http://{self.config.host}:{self.config.port}{self.instance}/identity"
        return json_response(
            200,
            {
                "issuer": base,
                "authorization_endpoint": f"{base}/connect/authorize",
                "token_endpoint": f"{base}/connect/token",
                "userinfo_endpoint": f"{base}/connect/userinfo",
                "end_session_endpoint": f"{base}/connect/endsession",
                "scopes_supported": [
                    "openid",
                    "profile",
                    "email",
                    "api",
                    "offline_access",
                    "api:concurrent_access",
                ],
                "grant_types_supported": [
                    "authorization_code",
                    "password",
                    "refresh_token",
                    "implicit",
                    "hybrid",
                ],
                "response_types_supported": [
                    "code",
                    "token",
                    "id_token",
                    "id_token token",
                    "code id_token",
                    "code token",
                    "code id_token token",
                ],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            },
        )

    def _token(self, req: Request) -> Response:
        form = dict(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
        body = self.auth.token(form)
        return json_response(200, body, [("Cache-Control", "no-store")])

    # ---- cookie sign-in -------------------------------------------------------------------
    def _login(self, req: Request) -> Response:
        ctype = req.headers.get("content-type", "")
        try:
            if "json" in ctype or req.body.strip().startswith(b"{"):
                body = json.loads(req.body or b"{}")
            else:
                body = dict(parse_qsl(req.body.decode("utf-8", "replace")))
        except ValueError:
            return json_response(400, error_body("The request body is not valid."))
        cookie, session = self.auth.login(body)
        attrs = "; path=/; HttpOnly"
        headers = [
            ("Set-Cookie", f".ASPXAUTH={cookie}{attrs}"),
            ("Set-Cookie", f"ASP.NET_SessionId={cookie[:24].lower()}{attrs}"),
            ("Set-Cookie", f"UserBranch={session.branch}{attrs}"),
            ("Set-Cookie", f"Locale=Culture={body.get('locale') or 'en-US'}&TimeZone=GMTM0500A{attrs}"),
        ]
        return Response(204, b"", headers)

    def _logout(self, req: Request) -> Response:
        header = req.headers.get("authorization", "")
        bearer = header[7:].strip() if header.lower().startswith("bearer ") else None
        self.auth.logout(_cookies(req.headers.get("cookie", "")).get(".ASPXAUTH"), bearer)
        expired = "; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/; HttpOnly"
        return Response(204, b"", [("Set-Cookie", f".ASPXAUTH={expired}")])

    # ---- /entity -------------------------------------------------------------------------
    def _discovery(self) -> Response:
        build = self.config.acumatica_build_version
        return json_response(
            200,
            {
                "version": {"acumaticaBuildVersion": build, "databaseVersion": build},
                "endpoints": [
                    {"name": "Default", "version": v, "href": f"{self.instance}/entity/Default/{v}/"}
                    for v in self.config.versions
                ],
            },
        )

    def _not_found(self, message: str) -> Response:
        return json_response(404, {"message": message})

    def _entity(self, req: Request, sub: str) -> Response:
        parts = [unquote(p) for p in sub.strip("/").split("/")]
        # parts: entity, <endpoint>, <version>, <Entity>, keys...
        if len(parts) < 3 or parts[1] != "Default":
            return self._not_found(f"Endpoint '{'/'.join(parts[1:2])}' is not found.")
        version = parts[2]
        if version not in self.config.versions:
            if self.knobs.unknown_version_html:
                html = (
                    f"<html><head><title>Error</title></head><body><h1>Not Found</h1>"
                    f"<p>Endpoint Default {version} is not found.</p></body></html>"
                ).encode()
                return Response(404, html, content_type="text/html; charset=utf-8")
            return self._not_found(f"Endpoint 'Default' of version '{version}' is not found.")
        if not self._authorized(req):
            return json_response(401, DENIED)
        if len(parts) == 3 or parts[3] == "":
            return self._not_found("No entity name given.")
        if parts[3] == "swagger.json" and len(parts) == 4:
            return Response(200, ENCODER.encode(swagger_document(version, self.instance)))
        entity = parts[3]
        if entity not in SPECS or not catalog.has_entity(version, entity):
            return self._not_found(f"Entity '{entity}' is not found in endpoint Default {version}.")
        rest = parts[4:]
        if rest == ["$adHocSchema"] and req.method == "GET":
            return Response(200, ad_hoc_schema(entity, version))
        if req.method == "GET" and not rest:
            return self._list(req, entity, version)
        if req.method == "GET" and len(rest) == 3 and rest[1] == "status":
            return self._action_status(entity, version, rest[0], rest[2])
        if req.method in ("GET", "DELETE") and rest:
            return self._one(req, entity, version, rest)
        if req.method == "PUT" and not rest:
            return self._put(req, entity, version)
        if req.method == "POST" and len(rest) == 1:
            return self._action(req, entity, version, rest[0])
        return json_response(405, error_body(f"The method {req.method} is not allowed here."))

    def _plan(self, entity: str, version: str, q: dict[str, str]) -> PagePlan:
        key = (
            entity,
            version,
            q.get("$select"),
            q.get("$expand"),
            q.get("$custom"),
            self.knobs.null_as_empty_object,
        )
        plan = self._plans.get(key)
        if plan is None:
            plan = PagePlan(
                self.store,
                entity,
                version,
                q.get("$select"),
                q.get("$expand"),
                q.get("$custom"),
                self.instance,
                self.knobs.null_as_empty_object,
            )
            if len(self._plans) > 256:
                self._plans.clear()
            self._plans[key] = plan
        return plan

    def _notify(self, req: Request, entity: str, version: str) -> None:
        with self._lock:
            self._number += 1
            number = self._number
        for hook in list(self._hooks):
            hook(RequestInfo(req.method, req.path, entity, version, dict(req.query), number))

    def _list(self, req: Request, entity: str, version: str) -> Response:
        q = req.query
        self._notify(req, entity, version)
        fields = catalog.fields(version, entity)
        spec = SPECS[entity]
        predicate, low, high = (lambda r: True), None, None
        read: set[str] = set()  # fields the filter reads ("" for custom fields)
        tree = None
        if q.get("$filter"):
            tree = parse_filter(q["$filter"])
            read = filter_fields(tree)
            predicate = FilterCompiler(fields, spec.custom, self.store.to_ms).compile(tree)
            names = {n for n in TIMESTAMP_FIELDS if n in fields}
            low, high = timestamp_range(tree, names, self.store.to_ms)
        order = parse_orderby(q.get("$orderby"))
        for name, _ in order:
            if name not in fields or not catalog.is_scalar(fields[name]):
                raise QueryError(f"The $orderby field '{name}' is not found in the entity.")
        if not order or self.knobs.orderby == "ignore":
            order = [(k, False) for k in KEY_FIELDS[entity]]
        top = parse_number("$top", q.get("$top"))
        skip = parse_number("$skip", q.get("$skip")) or 0
        plan = self._plan(entity, version, q)
        light = self.store.fused.light_fields(entity)
        lazy = plan.fused and read <= light and all(name in light for name, _ in order)
        accept = None
        if lazy and tree is not None:  # light records carry the one base timestamp
            accept = timestamp_accept(tree, {n for n in TIMESTAMP_FIELDS if n in light}, self.store.to_ms)
        rows = self.store.query(
            entity,
            predicate,
            order,
            skip,
            top,
            low,
            high,
            match_all=not q.get("$filter"),
            lazy=lazy,
            accept=accept,
        )
        self.stats.count("records_served", len(rows))
        return Response(200, plan.render(rows))

    def _one(self, req: Request, entity: str, version: str, rest: list[str]) -> Response:
        key: str | tuple[str, ...] = rest[0] if len(rest) == 1 and _is_guid(rest[0]) else tuple(rest)
        try:
            rec = self.store.find(entity, key)
        except RecordNotFound:
            return self._not_found(f"No entity satisfies the condition ({entity} '{'/'.join(rest)}').")
        if req.method == "DELETE":
            self.store.delete(entity, rec["id"])
            return Response(204)
        plan = self._plan(entity, version, req.query)
        return Response(200, ENCODER.encode(plan.record(rec, 1)))

    def _put(self, req: Request, entity: str, version: str) -> Response:
        # Create or update by id or key fields (If-None-Match: * = create only, If-Match: * = update
        # only); 422 with per-field errors when the record does not validate.
        try:
            body = msgspec.json.decode(req.body or b"{}")
        except msgspec.DecodeError:
            return json_response(400, error_body("The request body is not valid JSON."))
        if not isinstance(body, dict):
            return json_response(400, error_body("The request body must be a JSON object."))
        values = {k: v for k, v in body.items() if k not in ("id", "rowNumber", "note", "_links", "error")}
        keys = tuple(writes.unwrap(values.get(k)) for k in KEY_FIELDS[entity])
        existing = None
        if body.get("id") or all(k is not None for k in keys):
            with contextlib.suppress(RecordNotFound):
                existing = self.store.find(entity, body["id"] if body.get("id") else keys)
        if existing is not None and req.headers.get("if-none-match") == "*":
            return json_response(412, error_body("The record already exists."))
        if existing is None and req.headers.get("if-match") == "*":
            return json_response(412, error_body("The record does not exist."))
        if existing is None and body.get("id"):
            return self._not_found(f"No entity satisfies the condition ({entity} '{body['id']}').")
        problems = self._validate(entity, values, existing)
        if problems:
            return json_response(422, writes.invalid_body(entity, body, SPECS[entity].detail, problems))
        for k in KEY_FIELDS[entity]:  # empty keys are numbered by the instance (BatchNbr ...)
            if k in values and writes.unwrap(values[k]) is None:
                del values[k]
        try:
            if existing is None:
                rec = self.store.insert(entity, values)
            else:
                rec = self.store.modify(entity, existing["id"], values)
        except RecordNotFound as exc:
            return json_response(422, error_body(f"{exc.args[0]} cannot be found in the system."))
        if entity == "JournalTransaction":
            status = writes.journal_status(self.store, rec)
            if rec.get("Status") != status:
                self.store.modify(entity, rec["id"], {"Status": status})
        self.stats.count(f"{entity}_{'created' if existing is None else 'updated'}")
        query = req.query
        if self.knobs.put_answer == "sent":
            query = writes.put_answer_query(version, entity, body, query)
        plan = self._plan(entity, version, query)
        return Response(200, ENCODER.encode(plan.record(self.store.find(entity, rec["id"]), 1)))

    def _validate(self, entity: str, values: dict, existing: dict | None) -> list[writes.Problem]:
        if entity == "JournalTransaction":
            if existing is None:
                self._journal_defaults(values)
            return writes.check_journal(self.refs, values, existing)
        if entity == "Vendor":
            return writes.check_vendor(values, existing)
        return []

    def _journal_defaults(self, values: dict) -> None:
        """What the form fills in on a new batch: today's date, its period, the actual ledger."""
        date = writes.unwrap(values.get("TransactionDate"))
        if not date:
            date = self.store.clock.format_day(self.store.clock.now_ms())
            values["TransactionDate"] = {"value": date}
        if not writes.unwrap(values.get("PostPeriod")):
            values["PostPeriod"] = {"value": str(date)[5:7] + str(date)[0:4]}
        for name, default in (
            ("LedgerID", "ACTUAL"),
            ("BranchID", "HEADOFFICE"),
            ("CurrencyID", "USD"),
            ("Hold", False),
        ):
            if writes.unwrap(values.get(name)) is None:
                values[name] = {"value": default}

    # ---- actions (POST <Entity>/<Action>, 202 + Location, polled until 204) ------------------
    def _action(self, req: Request, entity: str, version: str, action: str) -> Response:
        if (entity, action) != ("JournalTransaction", "ReleaseJournalTransaction"):
            return self._not_found(f"Action '{action}' is not found in entity {entity}.")
        try:
            body = msgspec.json.decode(req.body or b"{}")
        except msgspec.DecodeError:
            return json_response(400, error_body("The request body is not valid JSON."))
        target = (body.get("entity") if isinstance(body, dict) else None) or {}
        keys = tuple(writes.unwrap(target.get(k)) for k in KEY_FIELDS[entity])
        try:
            rec = self.store.find(entity, target["id"] if target.get("id") else keys)
        except RecordNotFound:
            return self._not_found(f"No entity satisfies the condition ({entity} {target}).")
        problem = self.actions.release_problem(rec)
        if problem and self.knobs.action_errors_on == "post":
            echo = {
                "id": rec["id"],
                "Module": {"value": rec.get("Module")},
                "BatchNbr": {"value": rec.get("BatchNbr")},
                "error": problem,
            }
            return json_response(422, echo)
        self.stats.count(f"{action}_started")
        if not self.knobs.action_async and problem is None:
            self.actions.release(rec["id"])
            return Response(204)
        op_id = self.actions.start(entity, rec, max(0, int(self.knobs.action_polls)), problem)
        return Response(202, b"", [("Location", self._status_url(version, entity, action, op_id))])

    def _status_url(self, version: str, entity: str, action: str, op_id: str) -> str:
        return f"{self.instance}/entity/Default/{version}/{entity}/{action}/status/{op_id}"

    def _action_status(self, entity: str, version: str, action: str, op_id: str) -> Response:
        op = self.actions.poll(op_id)
        if op is None or op.entity != entity:
            return self._not_found(f"The operation '{op_id}' is not found.")
        if not op.done:
            return Response(202, b"", [("Location", self._status_url(version, entity, action, op_id))])
        if op.error is not None:
            return json_response(500, error_body(op.error, "PX.Data.PXException"))
        return Response(204)

    # ---- control API (not part of Acumatica) ----------------------------------------------
    def _control(self, req: Request) -> Response:
        parts = [unquote(p) for p in req.path.strip("/").split("/")][1:]
        try:
            body = json.loads(req.body) if req.body.strip() else {}
        except ValueError:
            return json_response(400, {"message": "invalid JSON"})
        try:
            if parts == ["stats"] and req.method == "GET":
                snap = self.stats.snapshot()
                snap["active_sessions"] = self.auth.api_users()
                snap["peak_concurrent_requests"] = self.limits.peak_running
                snap["queued_requests"] = self.limits.queued_total
                return json_response(200, snap)
            if parts == ["stats"] and req.method == "DELETE":
                self.stats.reset()
                self.limits.reset_counters()
                return Response(204)
            if parts == ["knobs"] and req.method == "GET":
                return json_response(200, dataclasses.asdict(self.knobs))
            if parts == ["knobs"] and req.method == "PATCH":
                unknown = set(body) - set(KNOB_NAMES)
                if unknown:
                    return json_response(400, {"message": f"unknown knobs: {sorted(unknown)}"})
                for name, value in body.items():
                    setattr(self.knobs, name, value)
                return json_response(200, dataclasses.asdict(self.knobs))
            if parts == ["fail_next"] and req.method == "POST":
                self.faults.fail_next(int(body.get("n", 1)), int(body.get("status", 500)))
                return Response(204)
            if parts == ["reset_next"] and req.method == "POST":
                self.faults.reset_next(int(body.get("n", 1)))
                return Response(204)
            if parts == ["expire_tokens"] and req.method == "POST":
                return json_response(200, {"expired": self.auth.expire_tokens()})
            if parts == ["inquiries"] and req.method == "GET":
                return json_response(200, sorted(self.odata.inquiries))
            if len(parts) == 2 and parts[0] == "inquiries" and req.method == "PUT":
                inquiry = self.odata.define({**body, "name": parts[1]})
                return json_response(
                    200, {"name": inquiry.name, "columns": [c.name for c in inquiry.columns]}
                )
            if len(parts) == 2 and parts[0] == "inquiries" and req.method == "DELETE":
                if self.odata.inquiries.pop(parts[1], None) is None:
                    return json_response(404, {"message": f"no inquiry {parts[1]}"})
                return Response(204)
            if len(parts) >= 2 and parts[0] == "records":
                entity, rest = parts[1], parts[2:]
                key: str | tuple = rest[0] if len(rest) == 1 and _is_guid(rest[0]) else tuple(rest)
                if req.method == "POST" and not rest:
                    return json_response(201, self.store.insert(entity, body))
                if req.method == "PATCH" and rest:
                    return json_response(200, self.store.modify(entity, key, body))
                if req.method == "DELETE" and rest:
                    self.store.delete(entity, key)
                    return Response(204)
        except RecordNotFound:
            return json_response(404, {"message": "record not found"})
        except InquiryError as exc:
            return json_response(400, {"message": str(exc)})
        except ValueError as exc:
            return json_response(400, {"message": str(exc)})
        return json_response(404, {"message": "unknown control route"})


def _route_kind(method: str, sub: str) -> str:
    lower = sub.lower().rstrip("/")
    if lower == "/identity/.well-known/openid-configuration":
        return "openid"
    if lower == "/identity/connect/token":
        return "token"
    if lower == "/entity/auth/login":
        return "login"
    if lower == "/entity/auth/logout":
        return "logout"
    if lower == "/entity":
        return "discovery"
    if lower.split("/")[1] in ("odata", "odatav4"):
        return "odata"
    if lower.startswith("/entity/"):
        return "entity_list" if method == "GET" and lower.count("/") == 4 else "entity"
    return "other"


def _cookies(header: str) -> dict[str, str]:
    out = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            out[name] = value
    return out


def _is_guid(text: str) -> bool:
    parts = text.split("-")
    return (
        len(parts) == 5
        and [len(p) for p in parts] == [8, 4, 4, 4, 12]
        and all(c in "0123456789abcdefABCDEF" for p in parts for c in p)
    )
