"""Settings of the emulator: fixed company settings, data shape, and runtime knobs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

#: Default gateway path; every session's endpoint is this path unless ``session_endpoint_path`` says
#: otherwise.
GATEWAY_PATH = "/ia/xml/xmlgw.phtml"

#: Credentials the sandbox (``intacct-emulator``) and the tests use.
SANDBOX: dict[str, str] = {
    "sender_id": "sandbox-sender",
    "sender_password": "sandbox-sender-pw",
    "company_id": "SANDBOX-CO",
    "user_id": "sandbox-user",
    "user_password": "sandbox-pw",
}

#: Records generated per object when ``sizes`` does not name it. Line objects (APBILLITEM,
#: APPYMTDETAIL, GLENTRY) default to their header count times ``lines_per_document``.
DEFAULT_SIZES: dict[str, int] = {
    "VENDOR": 40,
    "CUSTOMER": 30,
    "EMPLOYEE": 15,
    "APBILL": 120,
    "APPYMT": 40,
    "GLACCOUNT": 30,
    "GLBATCH": 40,
    "GLDETAIL": 400,
    "DEPARTMENT": 8,
    "LOCATION": 6,
    "CLASS": 6,
    "PROJECT": 12,
    "USERINFO": 3,
}


@dataclass
class Knobs:
    """Behaviour that can change while the emulator runs (``emu.knobs``, ``PATCH /_emulator/knobs``).

    Knobs marked UNCONFIRMED choose between behaviours the public documentation does not settle, so a
    client can be tested against both.
    """

    #: Sliding session lifetime in seconds, reported in every response's ``sessiontimeout``.
    session_timeout_s: float = 3600.0
    #: Path ``getAPISession`` returns as the session's endpoint; a session used on another path is
    #: rejected. None: the default gateway path.
    session_endpoint_path: str | None = None
    #: GW-0010 when more than this many requests are in flight at once (None = unlimited).
    max_concurrent_requests: int | None = None
    #: GW-0010 when more than this many requests arrive within ``rate_window_s`` (None = unlimited).
    requests_per_window: int | None = None
    rate_window_s: float = 1.0
    #: The next N requests are answered GW-0010 (a burst), then service resumes.
    rate_limit_next: int = 0
    #: UNCONFIRMED: HTTP status of a GW-0010 answer (200 like other gateway errors, or 429).
    rate_limit_http_status: int = 200
    #: Latency added to every gateway request.
    latency_ms: int = 0
    #: The next N gateway requests answer ``fail_status`` (5xx) with an HTML error page.
    fail_next: int = 0
    fail_status: int = 503
    #: Probability (seeded RNG) that a gateway request answers 500.
    error_rate_5xx: float = 0.0
    #: The next N responses are cut off after ``truncate_fraction`` of their bytes.
    truncate_next: int = 0
    truncate_fraction: float = 0.5
    #: Every Nth data record served gets raw control characters (U+000B, U+001F) inside a text value,
    #: which makes the XML ill-formed as Intacct's can be (0 = never).
    control_chars_every: int = 0
    #: Every Nth data record served gets a byte that is not UTF-8 (0xFF) inside a text value (0 = never).
    invalid_bytes_every: int = 0
    #: UNCONFIRMED: element case of readByQuery/readMore records and ``listtype`` ("lower" as in the
    #: SDK's fixture for CLASS, or "upper" as ``query`` answers).
    readbyquery_case: str = "lower"
    #: UNCONFIRMED: ``uniqueid`` applies to each function's controlid ("function", per the API
    #: reference wording) or to the control block's controlid ("request").
    uniqueid_scope: str = "function"
    #: UNCONFIRMED: how the gateway orders text fields in ``orderby`` and compares them in ordered
    #: filters (lessthan ... greaterthanorequalto, between): "binary" (code points, so ``10`` before
    #: ``9``), "nocase" (case-insensitive) or "numeric" (text that reads as a number as that number,
    #: before other text). Integers, decimals, dates and timestamps always compare as their type.
    text_collation: str = "binary"
    #: Fault: ``query`` answers on these objects come in the reverse of the ``orderby`` asked for.
    misordered_objects: list[str] = field(default_factory=list)
    #: UNCONFIRMED: suffix of AUDITHISTORY ``OBJECTKEY`` after the RECORDNO ("" or e.g. "--REC").
    audit_objectkey_suffix: str = ""
    #: Objects the company does not subscribe to (function error "not subscribed").
    unsubscribed_objects: list[str] = field(default_factory=list)
    #: Fields ``lookup`` lists but ``query`` rejects, by object (e.g. {"APBILL": ["PAYTOCONTACTNAME"]}), as
    #: Intacct does for some fields (public SDK issues name APBILL PAYTOCONTACTNAME, RETURNTOCONTACTNAME,
    #: APBILLITEM GLACCOUNTNO, ITEM BASEUOM). readByQuery still serves them.
    unqueryable_fields: dict[str, list[str]] = field(default_factory=dict)
    #: UNCONFIRMED: how ``query`` rejects them: "cannot_be_queried" (XL03000006 "The following fields
    #: cannot be queried: [ apbill: [FIELD] ]", as the public SDK issues quote it) or "invalid_field"
    #: (DL02000002 "Invalid field", this emulator's answer before).
    unqueryable_error: str = "cannot_be_queried"
    #: Objects the user may not read (function error "permission denied"); AUDITHISTORY needs the
    #: custom-report View permission, which the sandbox user has.
    denied_objects: list[str] = field(default_factory=list)
    #: Changes made through the store get a WHENMODIFIED strictly after the previous change's (one
    #: second apart if needed). False: real clock seconds, so several changes may share a timestamp.
    strictly_increasing_changes: bool = True


KNOB_NAMES = tuple(f.name for f in dataclasses.fields(Knobs))


@dataclass
class EmulatorConfig(Knobs):
    """Everything the emulator is started with: company settings, data shape and initial knobs.

    All fields of :class:`Knobs` are accepted here too and become the starting knobs.
    """

    host: str = "127.0.0.1"
    #: 0 picks a free port.
    port: int = 0
    #: Seed of the data generator and of random fault injection.
    seed: int = 42
    #: Records per object (overrides DEFAULT_SIZES).
    sizes: dict[str, int] = field(default_factory=dict)
    #: Lines per AP bill, AP payment and GL batch.
    lines_per_document: int = 3
    #: Consecutive base records sharing one WHENMODIFIED, so keysets must break ties on RECORDNO.
    same_timestamp_group: int = 4
    #: The user's time zone (IANA name): WHENCREATED/WHENMODIFIED are written and filtered in it.
    timezone: str = "America/Los_Angeles"
    #: Entities (LOCATION records that are entities) of this multi-entity company.
    entities: tuple[str, ...] = ("E100", "E200")
    sender_id: str = SANDBOX["sender_id"]
    sender_password: str = SANDBOX["sender_password"]
    company_id: str = SANDBOX["company_id"]
    user_id: str = SANDBOX["user_id"]
    user_password: str = SANDBOX["user_password"]
    #: Log each request to stderr.
    verbose: bool = False

    def size_of(self, name: str) -> int:
        return self.sizes.get(name, DEFAULT_SIZES.get(name, 20))

    def initial_knobs(self) -> Knobs:
        return Knobs(**{name: copy_value(getattr(self, name)) for name in KNOB_NAMES})


def copy_value(value):
    if isinstance(value, dict):
        return {k: list(v) for k, v in value.items()}
    return list(value) if isinstance(value, list) else value
