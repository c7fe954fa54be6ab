"""The gateway: one POST endpoint taking the DTD 3.0 request envelope, answering the response envelope.

Control block (sender credentials, controlid, uniqueid, dtdversion) -> operation (login or sessionid)
-> functions. Failures at each level are reported inside an HTTP 200, as Intacct does. The control API
for tests and benchmarks lives at ``/_emulator`` on the server root.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from emulator_kit import Request, Response, Stats
from lxml import etree

from . import errors
from . import xmlout as x
from .clock import UserClock
from .config import GATEWAY_PATH, KNOB_NAMES, EmulatorConfig, Knobs
from .errors import GatewayError
from .faults import Faults
from .functions import NAMES, Caller, Functions
from .sessions import SessionRegistry
from .store import RecordNotFound, RecordStore, Scan, UnknownObject

XML_TYPE = "text/xml; charset=UTF-8"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class IntacctStats(Stats):
    """Counters: ``transactions`` (functions executed, as Intacct bills), ``requests`` (gateway POSTs),
    ``sessions_issued``, ``logins``, ``rate_limited``, ``records_served``, ``statuses`` (HTTP codes)
    and ``functions`` (per function name)."""

    @property
    def requests(self) -> int:
        return self.__dict__["counters"]["requests"]

    @requests.setter
    def requests(self, value) -> None:
        pass  # Stats.reset assigns a per-route Counter; gateway requests are one named counter here

    @property
    def functions(self) -> dict[str, int]:
        with self._lock:
            return {k[9:]: v for k, v in self.counters.items() if k.startswith("function:")}

    def snapshot(self) -> dict:
        with self._lock:
            snap: dict = {"statuses": {str(s): n for s, n in sorted(self.statuses.items())}}
            snap.update(self.counters)
            return snap


@dataclass
class FunctionInfo:
    """What a request hook sees before a function is answered."""

    function: str
    object: str | None
    controlid: str
    locationid: str
    number: int


def _bool(text: str | None, default: bool) -> bool:
    if text is None or not text.strip():
        return default
    return text.strip().lower() == "true"


class IntacctApp:
    """The request router and handlers; transport-free so it can be unit-tested."""

    def __init__(
        self, config: EmulatorConfig, knobs: Knobs, store: RecordStore, clock: UserClock, stats: IntacctStats
    ) -> None:
        self.config, self.knobs, self.store, self.clock, self.stats = config, knobs, store, clock, stats
        self.gateway_path = GATEWAY_PATH
        self.sessions = SessionRegistry(knobs)
        self.faults = Faults(knobs, config.seed)
        self.functions = Functions(self)
        self._hooks: list[Callable[[FunctionInfo], None]] = []
        self._lock = threading.Lock()
        self._number = 0
        self._completed: set[tuple[str, str]] = set()
        self._counts: OrderedDict[tuple, int] = OrderedDict()

    # ---- hooks and helpers ----------------------------------------------------------------
    def on_request(self, callback: Callable[[FunctionInfo], None]) -> Callable[[], None]:
        self._hooks.append(callback)
        return lambda: self._hooks.remove(callback) if callback in self._hooks else None

    def cached_count(self, scan: Scan, key: tuple) -> int:
        """Count of a scan, remembered until the data changes (offset pages repeat the count)."""
        full_key = (key, self.store.version)
        with self._lock:
            if full_key in self._counts:
                return self._counts[full_key]
        n = self.store.count(scan)
        with self._lock:
            self._counts[full_key] = n
            while len(self._counts) > 256:
                self._counts.popitem(last=False)
        return n

    def origin(self, req: Request) -> str:
        return "http://" + req.headers.get("host", f"{self.config.host}:{self.config.port}")

    def gateway_paths(self) -> set[str]:
        return {self.gateway_path, self.knobs.session_endpoint_path or self.gateway_path}

    # ---- dispatch ---------------------------------------------------------------------------
    def internal_error(self, exc: Exception) -> Response:
        self.stats.status(500)
        return Response(
            500, b"<html><body><h1>500 Internal Server Error</h1></body></html>", content_type="text/html"
        )

    def handle(self, req: Request) -> Response:
        if req.path.startswith("/_emulator/"):
            return self._control(req)
        if req.path not in self.gateway_paths():
            return self._html(404, "Not Found")
        if req.method != "POST":
            return self._html(405, "Method Not Allowed")
        self.stats.count("requests")
        self.faults.delay()
        status = self.faults.http_failure()
        if status is not None:
            return self._html(
                status,
                {502: "Bad Gateway", 504: "Gateway Timeout", 524: "A Timeout Occurred"}.get(
                    status, "Service Unavailable" if status == 503 else "Internal Server Error"
                ),
            )
        if not self.faults.admit():
            self.stats.count("rate_limited")
            code = self.knobs.rate_limit_http_status
            self.stats.status(code)
            return Response(
                code, x.encode(self._control_failure(None, errors.rate_limited())), content_type=XML_TYPE
            )
        try:
            text = self._gateway(req)
        finally:
            self.faults.release()
        self.stats.status(200)
        return Response(200, self.faults.truncate(x.encode(text)), content_type=XML_TYPE)

    def _html(self, status: int, reason: str) -> Response:
        self.stats.status(status)
        body = f"<html><head><title>{status} {reason}</title></head><body><h1>{reason}</h1></body></html>"
        return Response(status, body.encode(), content_type="text/html; charset=UTF-8")

    # ---- the envelope -------------------------------------------------------------------------
    def _control_failure(self, control: dict | None, error: GatewayError) -> str:
        control = control or {}
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n<response><control><status>failure</status>'
            + x.elements(
                [
                    ("senderid", control.get("senderid", "")),
                    ("controlid", control.get("controlid", "")),
                    ("uniqueid", control.get("uniqueid", "false")),
                    ("dtdversion", "3.0"),
                ]
            )
            + "</control>"
            + x.errormessage([error])
            + "</response>"
        )

    def _gateway(self, req: Request) -> str:
        try:
            root = etree.fromstring(req.body, _PARSER)
        except etree.XMLSyntaxError as exc:
            return self._control_failure(None, errors.xml_parse_error(str(exc)))
        control_el = root.find("control") if root.tag == "request" else None
        if control_el is None:
            return self._control_failure(
                None, errors.bad_request("The request has no <request><control> block.")
            )
        control = {
            t: (control_el.findtext(t) or "").strip()
            for t in ("senderid", "password", "controlid", "uniqueid", "dtdversion", "includewhitespace")
        }
        control["uniqueid"] = control["uniqueid"] or "true"
        if control["dtdversion"] != "3.0":
            return self._control_failure(
                control,
                errors.bad_request(
                    f"dtdversion {control['dtdversion'] or '(none)'} is not supported; use 3.0"
                ),
            )
        if (control["senderid"], control["password"]) != (self.config.sender_id, self.config.sender_password):
            self.stats.count("control_failures")
            return self._control_failure(control, errors.bad_sender())
        unique = _bool(control["uniqueid"], True)
        if unique and self.knobs.uniqueid_scope == "request":
            key = ("request", control["controlid"])
            with self._lock:
                seen = key in self._completed
                self._completed.add(key)
            if seen:
                return self._control_failure(control, errors.duplicate_request(control["controlid"]))
        operation = root.find("operation")
        if operation is None or operation.find("authentication") is None or operation.find("content") is None:
            return self._control_failure(
                control,
                errors.bad_request("The request needs <operation> with <authentication> and <content>."),
            )
        head = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<response><control><status>success</status>'
            + x.elements(
                [
                    ("senderid", control["senderid"]),
                    ("controlid", control["controlid"]),
                    ("uniqueid", control["uniqueid"]),
                    ("dtdversion", "3.0"),
                ]
            )
            + "</control><operation>"
        )
        try:
            caller, expires = self._authenticate(operation.find("authentication"), req)
        except errors.AuthError as exc:
            self.stats.count("authentication_failures")
            auth = operation.find("authentication")
            login = auth.find("login")
            who = [
                ("userid", login.findtext("userid") or "" if login is not None else ""),
                ("companyid", login.findtext("companyid") or "" if login is not None else ""),
            ]
            return (
                head
                + "<authentication><status>failure</status>"
                + x.elements(who)
                + "<locationid></locationid></authentication>"
                + x.errormessage([exc])
                + "</operation></response>"
            )
        caller.whitespace = _bool(control["includewhitespace"], True)
        results = [
            self._function(el, caller, unique) for el in operation.find("content").iterfind("function")
        ]
        now = time.time()
        auth_xml = (
            "<authentication><status>success</status>"
            + x.elements(
                [
                    ("userid", caller.userid),
                    ("companyid", caller.companyid),
                    ("locationid", caller.locationid),
                    ("sessiontimestamp", self.clock.iso(now)),
                    ("sessiontimeout", self.clock.iso(expires)),
                ]
            )
            + "</authentication>"
        )
        sep = "\n" if caller.whitespace else ""
        return head + auth_xml + sep + sep.join(results) + "</operation></response>"

    def _authenticate(self, auth: etree._Element, req: Request) -> tuple[Caller, float]:
        sessionid = (auth.findtext("sessionid") or "").strip()
        login = auth.find("login")
        if sessionid:
            session = self.sessions.use(sessionid)
            if session is None or session.endpoint_path != req.path:
                raise errors.bad_session()
            return (
                Caller(session.userid, session.companyid, session.locationid, sessionid, self.origin(req)),
                session.expires_at,
            )
        if login is None:
            raise errors.bad_login()
        self.stats.count("logins")
        userid, companyid, password = (
            (login.findtext(t) or "").strip() for t in ("userid", "companyid", "password")
        )
        locationid = (login.findtext("locationid") or "").strip()
        if "|" in companyid:  # console slide-in: console|client|entity
            parts = companyid.split("|")
            companyid, locationid = (
                parts[1] if len(parts) > 1 else parts[0],
                parts[2] if len(parts) > 2 else locationid,
            )
        cfg = self.config
        if (userid, companyid.upper(), password) != (cfg.user_id, cfg.company_id.upper(), cfg.user_password):
            raise errors.bad_login()
        if locationid and locationid not in self.store.gen.entities:
            raise errors.bad_entity(locationid)
        return Caller(
            userid, cfg.company_id, locationid, None, self.origin(req)
        ), time.time() + self.knobs.session_timeout_s

    def _function(self, el: etree._Element, caller: Caller, unique: bool) -> str:
        controlid = el.get("controlid", "")
        body = next((c for c in el if isinstance(c.tag, str)), None)
        name = body.tag if body is not None else ""
        with self._lock:
            self._number += 1
            number = self._number
        info = FunctionInfo(
            name,
            (body.findtext("object") or "").strip().upper() or None if body is not None else None,
            controlid,
            caller.locationid,
            number,
        )
        for hook in list(self._hooks):
            hook(info)
        self.stats.count("functions_called")
        key = ("function", caller.companyid, controlid)
        try:
            if name not in NAMES:
                raise GatewayError(
                    "XL03000008",
                    "",
                    f"Unknown function {name or '(none)'}",
                    "Check the function name against the XML API reference.",
                )
            if unique and self.knobs.uniqueid_scope == "function":
                with self._lock:
                    if key in self._completed:
                        raise errors.duplicate_function(controlid)
            data = getattr(self.functions, name)(body, caller)
        except GatewayError as exc:
            self.stats.count("function_failures")
            return (
                "<result><status>failure</status>"
                + x.elements([("function", name), ("controlid", controlid)])
                + x.errormessage([exc])
                + "</result>"
            )
        if unique and self.knobs.uniqueid_scope == "function":
            with self._lock:
                self._completed.add(key)
        self.stats.count("transactions")
        self.stats.count(f"function:{name}")
        return (
            "<result><status>success</status>"
            + x.elements([("function", name), ("controlid", controlid)])
            + data
            + "</result>"
        )

    # ---- control API (not part of Intacct) ----------------------------------------------------
    def _control(self, req: Request) -> Response:
        parts = [unquote(p) for p in req.path.strip("/").split("/")][1:]
        try:
            body = json.loads(req.body) if req.body.strip() else {}
        except ValueError:
            return _json(400, {"message": "invalid JSON"})
        try:
            if parts == ["stats"] and req.method == "GET":
                snap = self.stats.snapshot()
                snap["active_sessions"] = self.sessions.active()
                return _json(200, snap)
            if parts == ["stats"] and req.method == "DELETE":
                self.stats.reset()
                return Response(204)
            if parts == ["knobs"] and req.method == "GET":
                return _json(200, dataclasses.asdict(self.knobs))
            if parts == ["knobs"] and req.method == "PATCH":
                unknown = set(body) - set(KNOB_NAMES)
                if unknown:
                    return _json(400, {"message": f"unknown knobs: {sorted(unknown)}"})
                for name, value in body.items():
                    setattr(self.knobs, name, value)
                return _json(200, dataclasses.asdict(self.knobs))
            if parts == ["expire_sessions"] and req.method == "POST":
                return _json(200, {"expired": self.sessions.expire_all()})
            if len(parts) >= 2 and parts[0] == "records":
                name, rest = parts[1], parts[2:]
                if req.method == "GET" and not rest:
                    return _json(200, self.store.records(name))
                if req.method == "POST" and not rest:
                    return _json(201, {"RECORDNO": self.store.insert(name, body)})
                if req.method == "PATCH" and len(rest) == 1:
                    return _json(200, self.store.modify(name, int(rest[0]), body))
                if req.method == "DELETE" and len(rest) == 1:
                    self.store.delete(name, int(rest[0]))
                    return Response(204)
        except (RecordNotFound, UnknownObject) as exc:
            return _json(404, {"message": str(exc)})
        except ValueError as exc:
            return _json(400, {"message": str(exc)})
        return _json(404, {"message": "unknown control route"})


def _json(status: int, body) -> Response:
    return Response(status, json.dumps(body).encode())
