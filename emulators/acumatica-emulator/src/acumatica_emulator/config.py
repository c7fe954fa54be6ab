"""Settings of the emulator: fixed instance settings and runtime knobs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

DEFAULT_VERSIONS = ("20.200.001", "22.200.001", "23.200.001", "24.200.001")

#: Records generated per entity when ``sizes`` does not name it.
DEFAULT_SIZES: dict[str, int] = {
    "Bill": 120,
    "Vendor": 25,
    "PurchaseOrder": 40,
    "Check": 40,
    "Account": 38,
    "Subaccount": 10,
    "JournalTransaction": 40,
    "Ledger": 3,
    "SalesInvoice": 30,
    "Invoice": 30,
    "Customer": 25,
    "StockItem": 25,
}

SANDBOX_CLIENT_ID = "4C5E9A1B-7F3D-4E2A-9B6C-1D8F0A2E3B4C@Company"


@dataclass
class Knobs:
    """Behaviour that can change while the emulator runs (``emulator.knobs``, ``PATCH /_emulator/knobs``).

    Knobs marked UNCONFIRMED choose between behaviours that the public documentation does not settle,
    so a client can be tested against both.
    """

    #: License limit on requests per minute; None means unlimited.
    requests_per_minute: int | None = None
    #: Length of the rate-limit window in seconds (60 on a real instance; tests shrink it).
    rate_window_s: float = 60.0
    #: License limit on requests served at once; None means unlimited. Extra requests queue.
    max_concurrent_requests: int | None = None
    #: A request is declined with 429 when more than this many requests are queued.
    max_queue: int = 20
    #: ... or when it would wait longer than this in the queue.
    max_queue_wait_s: float = 600.0
    #: UNCONFIRMED: send an integer ``Retry-After`` header with 429 answers (None = no header).
    retry_after_s: int | None = None
    #: License limit on API users (cookie sessions plus OAuth token chains); a trial has 2.
    max_api_users: int | None = None
    #: Lifetime of OAuth access tokens.
    token_lifetime_s: float = 3600.0
    #: Lifetime of an OAuth refresh-token chain, counted from the first sign-in (30 days).
    refresh_chain_lifetime_s: float = 30 * 24 * 3600.0
    #: A cookie session not used for this long is closed (10 minutes on a real instance).
    session_idle_timeout_s: float = 600.0
    #: What a PUT answers with: "sent" = the fields sent plus those asked for with ``$select`` and
    #: ``$expand`` (and id, rowNumber, note, custom), as Acumatica documents (API-FACTS 1.5);
    #: "whole" = every field of the record, as earlier emulator versions did (for comparison only).
    put_answer: str = "sent"
    #: Latency added to every request under the instance path, while it holds a concurrency slot.
    latency_ms: int = 0
    #: Probability that a request under the instance path answers 500 (seeded RNG).
    error_rate_5xx: float = 0.0
    #: UNCONFIRMED: "honour" sorts by ``$orderby``; "ignore" returns key order regardless.
    orderby: str = "honour"
    #: UNCONFIRMED: whether ``GET /entity`` needs a signed-in caller.
    discovery_requires_auth: bool = False
    #: UNCONFIRMED: answer an unknown endpoint version with an HTML page instead of JSON.
    unknown_version_html: bool = False
    #: UNCONFIRMED: status of a failed cookie sign-in (500 on the documented list; 401 also seen).
    login_failure_status: int = 500
    #: UNCONFIRMED: render empty values as ``{}`` (as many real responses do) instead of
    #: ``{"value": null}``.
    null_as_empty_object: bool = False
    #: UNCONFIRMED: actions answer 202 + Location (polled until 204) when True, 204 at once when False.
    action_async: bool = True
    #: Status requests of a started action that answer 202 before it completes.
    action_polls: int = 1
    #: UNCONFIRMED: where an action's validation error shows: "post" answers the POST with 422;
    #: "poll" accepts it with 202 and the status URL answers 500 with the message.
    action_errors_on: str = "post"
    #: UNCONFIRMED: rows per answer of the generic inquiry OData feed; a longer result is cut there
    #: and the answer carries ``odata.nextLink`` (v3) / ``@odata.nextLink`` (v4) to the rest. None
    #: answers every row asked for in one response, with no next link.
    odata_page_size: int | None = None


KNOB_NAMES = tuple(f.name for f in dataclasses.fields(Knobs))


@dataclass
class User:
    """A user of one tenant who may sign in."""

    name: str
    password: str
    tenant: str = "Company"
    branch: str = "HEADOFFICE"


@dataclass
class OAuthClient:
    """A connected application registered on form SM303010; its id is ``<GUID>@<Tenant>``."""

    client_id: str
    client_secret: str


@dataclass
class EmulatorConfig(Knobs):
    """Everything the emulator is started with: instance settings, data shape, and initial knobs.

    All knob fields of :class:`Knobs` are accepted here too and become the starting knobs.
    """

    host: str = "127.0.0.1"
    #: 0 picks a free port.
    port: int = 0
    #: Path of the site under the web root; entity URLs are ``<instance_path>/entity/...``.
    instance_path: str = "/AcumaticaERP"
    #: Endpoint versions of the Default endpoint the instance offers.
    versions: tuple[str, ...] = DEFAULT_VERSIONS
    acumatica_build_version: str = "24.209.0020"
    #: Seed of the data generator and of random fault injection.
    seed: int = 42
    #: Records per entity (overrides DEFAULT_SIZES per entity).
    sizes: dict[str, int] = field(default_factory=dict)
    #: Detail lines per generated document (Bill, PurchaseOrder, Invoice ...).
    lines_per_document: int = 3
    #: Consecutive records sharing one LastModifiedDateTime, so keysets must break ties.
    same_timestamp_group: int = 4
    #: UTC offset of the instance's time zone, used in every DateTimeValue.
    timezone_offset: str = "-05:00"
    tenants: tuple[str, ...] = ("Company",)
    users: tuple[User, ...] = (User("admin", "sandbox"),)
    clients: tuple[OAuthClient, ...] = (OAuthClient(SANDBOX_CLIENT_ID, "sandbox-secret"),)
    #: Generic inquiries served through OData besides the seeded ones (``inquiries.SEEDED``), each as
    #: ``inquiries.InquiryDefinition`` reads it; more can be defined at run time with
    #: ``PUT /_emulator/inquiries/<name>``.
    inquiries: tuple[dict, ...] = ()
    #: Log each request to stderr.
    verbose: bool = False

    def size_of(self, entity: str) -> int:
        return self.sizes.get(entity, DEFAULT_SIZES.get(entity, 20))

    def initial_knobs(self) -> Knobs:
        return Knobs(**{name: getattr(self, name) for name in KNOB_NAMES})
