"""Settings of the emulator: fixed instance settings and runtime knobs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

SANDBOX_CLIENT_ID = "sandbox-sp"
SANDBOX_CLIENT_SECRET = "sandbox-sp-secret"
SANDBOX_PAT = "dapi-sandbox-token"
SANDBOX_WAREHOUSE_ID = "sandbox-warehouse"


@dataclass
class Knobs:
    """Behaviour that can change while the emulator runs (``emulator.knobs``, ``PATCH /_emulator/knobs``)."""

    #: Lifetime of OAuth access tokens issued by ``/oidc/v1/token`` (3600 on a real workspace).
    token_lifetime_s: float = 3600.0
    #: Every statement sleeps this long before it runs (interruptible by cancel), to exercise polling.
    statement_delay_s: float = 0.0
    #: Latency added to every API request (not to the control API).
    latency_ms: int = 0
    #: ``Retry-After`` seconds sent with injected 429/503 answers.
    retry_after_s: int = 1
    #: Rows per result chunk; larger results are split and fetched with ``result/chunks/{n}``.
    chunk_rows: int = 10_000
    #: Table changes are written as Delta commits at most this long after the statement that made them,
    #: coalescing the statements in between into one commit per table (a new-rows-only change is an
    #: append, anything else rewrites the table). 0: one Delta commit per statement, before it
    #: answers. ``emulator.table_path()``, stop and the ``/_emulator/flush`` route write pending commits.
    delta_commit_delay_s: float = 0.25
    #: A SUCCEEDED statement moves to CLOSED (its result is dropped) this long after it finished
    #: (Databricks keeps results 1 h).
    statement_retention_s: float = 3600.0
    #: Any finished statement is forgotten this long after it finished: GET answers 404 NOT_FOUND
    #: (Databricks: at least 12 h in a terminal state).
    statement_expiry_s: float = 12 * 3600.0


KNOB_NAMES = tuple(f.name for f in dataclasses.fields(Knobs))


@dataclass
class ServicePrincipal:
    """An OAuth M2M client (service principal with an OAuth secret)."""

    client_id: str
    client_secret: str


@dataclass
class EmulatorConfig(Knobs):
    """Everything the emulator is started with; knob fields become the starting knobs."""

    host: str = "127.0.0.1"
    #: 0 picks a free port.
    port: int = 0
    #: Root of the Delta tables (``<data_dir>/<catalog>/<schema>/<table>``) and of volume files
    #: (``<data_dir>/volumes/<catalog>/<schema>/<volume>/...``). None: a fresh temporary directory.
    data_dir: str | None = None
    service_principals: tuple[ServicePrincipal, ...] = (
        ServicePrincipal(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET),
    )
    #: Personal access tokens accepted as Bearer tokens; they never expire.
    personal_access_tokens: tuple[str, ...] = (SANDBOX_PAT,)
    warehouse_ids: tuple[str, ...] = (SANDBOX_WAREHOUSE_ID,)
    #: Catalog created at start and used when a statement names none (newer workspaces use ``workspace``).
    default_catalog: str = "workspace"
    default_schema: str = "default"
    workspace_id: str = "1234567890123456"
    account_id: str = "00000000-0000-0000-0000-000000000000"
    #: Largest accepted ``statement`` text (16 MiB on the real API).
    max_statement_bytes: int = 16 * 1024 * 1024
    #: Largest accepted Files API upload (5 GiB on the real API).
    max_upload_bytes: int = 5 * 1024**3
    #: Log each request to stderr.
    verbose: bool = False

    def initial_knobs(self) -> Knobs:
        return Knobs(**{name: getattr(self, name) for name in KNOB_NAMES})
