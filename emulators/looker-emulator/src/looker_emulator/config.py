"""Settings of the emulator: fixed instance settings and runtime knobs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

#: The sandbox API3 credentials (also in tap-looker's Meltano sandbox config).
SANDBOX = {"client_id": "sandbox-looker-id", "client_secret": "sandbox-looker-secret"}

#: Records generated per table when ``sizes`` does not name it.
DEFAULT_SIZES: dict[str, int] = {
    "gl_lines": 2000,
    "vendors": 40,
    #: Financial periods, one month each from ``first_period``.
    "periods": 10,
    #: Receiving cost centers of the overhead allocation.
    "cost_centers": 8,
    #: Allocation rules (overhead pools) run each period.
    "allocation_rules": 3,
}


@dataclass
class Knobs:
    """Behaviour that can change while the emulator runs (``emulator.knobs``, ``PATCH /_emulator/knobs``).

    Knobs marked UNCONFIRMED choose between behaviours the public documentation does not settle, so a
    client can be tested against both.
    """

    #: Lifetime of access tokens issued by ``/login`` (``expires_in``; one hour on Looker).
    token_lifetime_s: float = 3600.0
    #: Rows a query returns when its ``limit`` is empty (UNCONFIRMED: commonly 500). Truncates silently.
    default_limit: int = 500
    #: Rows an inline run (``/queries/run``, ``/queries/{id}/run``) returns at most, whatever its limit,
    #: including ``-1`` (UNCONFIRMED: the 5,000 row cap of the UI). Truncates silently. None: no cap.
    inline_row_cap: int | None = 5000
    #: The same for query task results (UNCONFIRMED; Looker documents none). None: no cap.
    query_task_row_cap: int | None = None
    #: Status polls (``GET /query_tasks/{id}`` or ``.../results``) answered "running" before a task
    #: completes; counting polls rather than seconds keeps tests deterministic.
    query_task_polls: int = 1
    #: Seconds a query task also needs before it completes (0: polls alone decide).
    query_task_runtime_s: float = 0.0
    #: Status of ``GET /query_tasks/{id}/results`` while the task runs: 202 in the current spec, 204 in
    #: older reference pages (UNCONFIRMED which instances send).
    results_pending_status: int = 202
    #: Seconds after completion when a task's results are gone (``/results`` answers 404).
    query_task_expiry_s: float = 3600.0
    #: Bytes of a query task's ``/results`` answer sent before the connection drops, as when a worker
    #: dies mid-download (``Content-Length`` still announces the whole answer). None: whole answers.
    results_cut_after_bytes: int | None = None
    #: Status of a call without a valid token (UNCONFIRMED: the spec lists no 401; the body says
    #: "Requires authentication").
    unauthenticated_status: int = 401
    #: Requests per ``rate_window_s`` allowed for each operation named here (operationId, e.g.
    #: ``{"run_inline_query": 5}``); extra requests answer 429.
    rate_limits: dict[str, int] = field(default_factory=dict)
    rate_window_s: float = 1.0
    #: ``Retry-After`` seconds on 429 answers (UNCONFIRMED whether Looker sends one). None: no header.
    retry_after_s: int | None = None
    #: Latency added to every API request (not to the control API).
    latency_ms: int = 0
    #: The instance's current date for relative date filters (``last 3 months``), YYYY-MM-DD. None: today
    #: in UTC.
    today: str | None = None
    #: Accept ``client_id``/``client_secret`` as query parameters on ``/login`` (deprecated by Looker).
    login_query_params: bool = True


KNOB_NAMES = tuple(f.name for f in dataclasses.fields(Knobs))


@dataclass
class ApiCredentials:
    """An API3 key pair (client id and secret) of a Looker user."""

    client_id: str
    client_secret: str
    user_id: int = 1


@dataclass
class EmulatorConfig(Knobs):
    """Everything the emulator is started with; knob fields become the starting knobs."""

    host: str = "127.0.0.1"
    #: 0 picks a free port.
    port: int = 0
    #: Seed of the generated finance data: the same seed and sizes give the same rows.
    seed: int = 42
    #: Rows per table (``gl_lines``, ``vendors``) and shape of the allocation (``periods``,
    #: ``cost_centers``, ``allocation_rules``). ``overhead_allocation``: a minimum number of allocation
    #: rows; enough cost centers are generated to reach it.
    sizes: dict[str, int] = field(default_factory=dict)
    #: First financial period (YYYY-MM) of the data.
    first_period: str = "2026-01"
    #: Branches the data is spread over. Acumatica's sandbox company has only HEADOFFICE.
    branches: tuple[str, ...] = ("HEADOFFICE",)
    credentials: tuple[ApiCredentials, ...] = (
        ApiCredentials(SANDBOX["client_id"], SANDBOX["client_secret"]),
    )
    #: Log each request to stderr.
    verbose: bool = False

    def initial_knobs(self) -> Knobs:
        return Knobs(**{name: getattr(self, name) for name in KNOB_NAMES})

    def size(self, table: str) -> int:
        return self.sizes.get(table, DEFAULT_SIZES.get(table, 0))
