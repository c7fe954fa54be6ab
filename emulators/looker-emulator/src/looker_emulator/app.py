"""Routes of the emulated Looker instance, in the order of the Looker API 4.0 reference.

Everything under ``/api/4.0`` behaves like the vendor's API; the control API for tests and benchmarks
lives at ``/_emulator`` on the server root.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
import secrets
import threading
import time
from collections import deque
from datetime import UTC, date, datetime
from urllib.parse import parse_qsl, unquote

from emulator_kit import Request, Response, Stats

from .config import KNOB_NAMES, EmulatorConfig, Knobs
from .lookml import MODEL, Explore, QueryError, encode_rows, execute, parse_limit

API = "/api/4.0"
DOCS = "https://cloud.google.com/looker/docs/"
#: Result formats the emulator renders (others answer 400).
FORMATS = ("json", "json_detail", "csv", "txt")
TASK_FORMATS = ("json", "json_detail", "csv", "txt", "inline_json")
#: Fields of the Query object echoed back by POST /queries.
QUERY_KEYS = (
    "model",
    "view",
    "fields",
    "pivots",
    "fill_fields",
    "filters",
    "filter_expression",
    "sorts",
    "limit",
    "column_limit",
    "total",
    "row_total",
    "subtotals",
    "vis_config",
    "filter_config",
    "visible_ui_sections",
    "dynamic_fields",
    "query_timezone",
)


def json_response(status: int, body: object, headers: list | None = None) -> Response:
    return Response(status, json.dumps(body).encode(), headers or [])


def error(status: int, message: str, headers: list | None = None) -> Response:
    """Looker's ``Error``: ``{message, documentation_url}``."""
    return json_response(status, {"message": message, "documentation_url": DOCS}, headers)


def validation_error(message: str, field: str, detail: str) -> Response:
    """Looker's 422 ``ValidationError``."""
    return json_response(
        422,
        {
            "message": message,
            "documentation_url": DOCS,
            "errors": [{"field": field, "code": "invalid", "message": detail, "documentation_url": DOCS}],
        },
    )


class Faults:
    """Injected HTTP failures, consumed by the next API requests (login included)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.fail: list[tuple[int, str | None]] = []

    def take(self, operation: str) -> int | None:
        with self._lock:
            for i, (status, only) in enumerate(self.fail):
                if only is None or only == operation:
                    del self.fail[i]
                    return status
        return None


@dataclasses.dataclass
class Token:
    value: str
    user_id: int
    expires_at: float


@dataclasses.dataclass
class QueryTask:
    id: str
    query_id: str
    result_format: str
    limit: int | None
    created: float
    polls_left: int
    source: str | None = None
    completed_at: float | None = None
    runtime: float = 0.0
    rows: list[dict] | None = None
    error: str | None = None

    def body(self) -> dict:
        return {
            "id": self.id,
            "query_id": self.query_id,
            "status": self.status_name(),
            "result_format": self.result_format,
            "source": self.source,
            "runtime": self.runtime,
            "deferred": False,
            "cache_key": f"ck-{self.query_id}",
            "result_source": "query",
            "look_id": None,
            "dashboard_id": None,
            "can": {},
        }

    def status_name(self) -> str:
        if self.error:
            return "error"
        return "complete" if self.completed_at is not None else "running"


class LookerApp:
    """The request router and handlers; transport-free so it can be unit-tested."""

    def __init__(
        self, config: EmulatorConfig, knobs: Knobs, explores: dict[str, Explore], stats: Stats
    ) -> None:
        self.config, self.knobs, self.explores, self.stats = config, knobs, explores, stats
        self.faults = Faults()
        self._lock = threading.Lock()
        self.tokens: dict[str, Token] = {}
        self.queries: dict[str, dict] = {}
        self._query_ids: dict[str, str] = {}
        self.tasks: dict[str, QueryTask] = {}
        self._calls: dict[str, deque] = {}
        self._next_query = 1000
        self.host = ""

    # ---- dispatch ------------------------------------------------------------------------
    def internal_error(self, exc: Exception) -> Response:
        return error(500, f"Internal server error: {exc!r}")

    def handle(self, req: Request) -> Response:
        operation, response = self._route(req)
        self.stats.request(req.method, operation, response.status)
        if response.status == 429:
            self.stats.count("rate_limited")
        elif response.status == 401:
            self.stats.count("unauthorized")
        return response

    def _route(self, req: Request) -> tuple[str, Response]:
        path = req.path.rstrip("/") or "/"
        if path.startswith("/_emulator/"):
            return "control", self._control(req)
        if self.knobs.latency_ms:
            time.sleep(self.knobs.latency_ms / 1000)
        if path == "/api/logout":  # looker-sdk logs out without the version prefix
            path = API + "/logout"
        if not path.startswith(API + "/"):
            return "unknown", error(404, "Not found")
        sub = path[len(API) :]
        operation, handler, args = self._match(req.method, sub)
        if handler is None:
            return operation, error(404, "Not found")
        status = self.faults.take(operation)
        if status is not None:
            return operation, self._fault(status)
        if self._rate_limited(operation):
            return operation, self._fault(429)
        if operation != "login":
            token = self._authenticate(req.headers.get("authorization"))
            if token is None:
                return operation, error(self.knobs.unauthenticated_status, "Requires authentication.")
            req.headers["x-emulator-token"] = token.value
        try:
            return operation, handler(req, *args)
        except QueryError as exc:
            return operation, validation_error("Validation Failed", exc.field, str(exc))

    def _match(self, method: str, sub: str):
        routes = [
            ("POST", r"/login", "login", self._login),
            ("DELETE", r"/logout", "logout", self._logout),
            ("GET", r"/lookml_models", "all_lookml_models", self._models),
            ("GET", r"/lookml_models/([^/]+)", "lookml_model", self._model),
            ("GET", r"/lookml_models/([^/]+)/explores/([^/]+)", "lookml_model_explore", self._explore),
            ("POST", r"/queries", "create_query", self._create_query),
            ("GET", r"/queries/(\d+)", "query", self._query),
            ("POST", r"/queries/run/([a-z_]+)", "run_inline_query", self._run_inline),
            ("GET", r"/queries/(\d+)/run/([a-z_]+)", "run_query", self._run_query),
            ("POST", r"/query_tasks", "create_query_task", self._create_task),
            ("GET", r"/query_tasks/multi_results", "query_task_multi_results", self._multi_results),
            ("GET", r"/query_tasks/([^/]+)", "query_task", self._task),
            ("GET", r"/query_tasks/([^/]+)/results", "query_task_results", self._task_results),
        ]
        for m, pattern, operation, handler in routes:
            match = re.fullmatch(pattern, sub)
            if match and m == method:
                return operation, handler, [unquote(g) for g in match.groups()]
        return "unknown", None, []

    def _fault(self, status: int) -> Response:
        headers = []
        if self.knobs.retry_after_s is not None:
            headers.append(("Retry-After", str(int(self.knobs.retry_after_s))))
        if status == 429:
            return error(429, "Too Many Requests", headers)
        return error(status, "Service Unavailable" if status == 503 else "Internal server error", headers)

    def _rate_limited(self, operation: str) -> bool:
        allowed = (self.knobs.rate_limits or {}).get(operation)
        if allowed is None:
            return False
        now = time.monotonic()
        with self._lock:
            calls = self._calls.setdefault(operation, deque())
            while calls and now - calls[0] > self.knobs.rate_window_s:
                calls.popleft()
            if len(calls) >= allowed:
                return True
            calls.append(now)
        return False

    # ---- authentication ------------------------------------------------------------------
    def _authenticate(self, header: str | None) -> Token | None:
        if not header:
            return None
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() not in ("token", "bearer") or not value.strip():
            return None
        with self._lock:
            token = self.tokens.get(value.strip())
            if token is None:
                return None
            if token.expires_at <= time.time():
                del self.tokens[token.value]
                return None
            return token

    def _login(self, req: Request) -> Response:
        form = dict(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
        if self.knobs.login_query_params:
            form = {**req.query, **form}
        client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        user = next(
            (
                c
                for c in self.config.credentials
                if c.client_id == client_id and secrets.compare_digest(c.client_secret, client_secret)
            ),
            None,
        )
        if user is None:
            self.stats.count("failed_logins")
            return error(404, "Not found")
        lifetime = int(self.knobs.token_lifetime_s)
        token = Token(secrets.token_urlsafe(30), user.user_id, time.time() + lifetime)
        with self._lock:
            self.tokens[token.value] = token
        self.stats.count("logins")
        return json_response(
            200,
            {
                "access_token": token.value,
                "token_type": "Bearer",
                "expires_in": lifetime,
                "refresh_token": None,
            },
        )

    def _logout(self, req: Request) -> Response:
        with self._lock:
            self.tokens.pop(req.headers["x-emulator-token"], None)
        self.stats.count("logouts")
        return Response(204, content_type=None)

    def reset(self) -> None:
        with self._lock:
            self.tokens.clear()
            self.queries.clear()
            self._query_ids.clear()
            self.tasks.clear()
            self._calls.clear()
        with self.faults._lock:
            self.faults.fail.clear()

    def expire_tokens(self) -> int:
        with self._lock:
            n = len(self.tokens)
            self.tokens.clear()
        return n

    # ---- LookML metadata -----------------------------------------------------------------
    def _model_body(self) -> dict:
        return {
            "name": MODEL,
            "label": "Finance",
            "project_name": "finance",
            "has_content": True,
            "unlimited_db_connections": False,
            "allowed_db_connection_names": ["finance_dw"],
            "can": {"index": True, "show": True},
            "explores": [
                {
                    "name": e.name,
                    "label": e.label,
                    "description": e.description,
                    "hidden": False,
                    "group_label": "Finance",
                }
                for e in self.explores.values()
            ],
        }

    def _models(self, req: Request) -> Response:
        return json_response(200, [self._model_body()])

    def _model(self, req: Request, model: str) -> Response:
        if model != MODEL:
            return error(404, "Not found")
        return json_response(200, self._model_body())

    def _explore(self, req: Request, model: str, explore: str) -> Response:
        found = self.explores.get(explore) if model == MODEL else None
        if found is None:
            return error(404, "Not found")
        return json_response(200, found.metadata())

    # ---- queries -------------------------------------------------------------------------
    def _body(self, req: Request) -> dict:
        try:
            body = json.loads(req.body or b"{}")
        except ValueError as exc:
            raise QueryError("Request body is not valid JSON.", "body") from exc
        if not isinstance(body, dict):
            raise QueryError("Request body must be a JSON object.", "body")
        return body

    def _normalise(self, body: dict) -> dict:
        for name in ("model", "view"):
            if not body.get(name):
                raise QueryError(f"{name} is required.", name)
        if body["model"] != MODEL or body["view"] not in self.explores:
            raise QueryError(f"Unknown explore {body['model']}::{body['view']}.", "view")
        query = {k: body.get(k) for k in QUERY_KEYS}
        if query["limit"] is not None and not isinstance(query["limit"], str):
            query["limit"] = str(query["limit"])
        if query["filters"] is not None and not isinstance(query["filters"], dict):
            raise QueryError("filters must be an object of field name to filter expression.", "filters")
        return query

    def _store(self, query: dict) -> dict:
        canonical = json.dumps(query, sort_keys=True)
        with self._lock:
            query_id = self._query_ids.get(canonical)
            if query_id is None:
                self._next_query += 1
                query_id = str(self._next_query)
                self._query_ids[canonical] = query_id
                self.queries[query_id] = {
                    **query,
                    "id": query_id,
                    "slug": secrets.token_hex(4),
                    "client_id": secrets.token_urlsafe(16)[:22],
                    "can": {},
                }
        return self.queries[query_id]

    def _query_body(self, stored: dict) -> dict:
        return {
            **stored,
            "url": f"/x/{stored['client_id']}",
            "share_url": f"{self.host}/x/{stored['client_id']}",
            "expanded_share_url": None,
            "has_table_calculations": False,
            "runtime": None,
        }

    def _create_query(self, req: Request) -> Response:
        stored = self._store(self._normalise(self._body(req)))
        return json_response(200, self._query_body(stored))

    def _query(self, req: Request, query_id: str) -> Response:
        stored = self.queries.get(query_id)
        if stored is None:
            return error(404, "Not found")
        return json_response(200, self._query_body(stored))

    def today(self) -> date:
        if self.knobs.today:
            return date.fromisoformat(self.knobs.today)
        return datetime.now(UTC).date()

    def rows(self, query: dict, limit: int | None) -> list[dict]:
        explore = self.explores[query["view"]]
        return execute(
            explore,
            list(query.get("fields") or []),
            query.get("filters"),
            query.get("sorts"),
            limit,
            self.today(),
        )

    def _limit(self, req: Request, query: dict, cap: int | None) -> int | None:
        raw = req.query.get("limit") or query.get("limit")
        limit = parse_limit(raw, self.knobs.default_limit)
        if cap is not None and (limit is None or limit > cap):
            limit = cap  # silently, as Looker does
        return limit

    def _render(self, fmt: str, query: dict, rows: list[dict]) -> Response:
        self.stats.count("rows_served", len(rows))
        if fmt == "json":
            return Response(200, encode_rows(rows))
        if fmt == "json_detail":
            explore = self.explores[query["view"]]
            fields = [explore.field(n) for n in query.get("fields") or []]
            meta = [f.metadata(explore.view_labels) for f in fields if f is not None]
            body = encode_rows([{k: {"value": v} for k, v in row.items()} for row in rows]).decode()
            head = json.dumps(
                {
                    "id": query.get("id"),
                    "ran_at": datetime.now(UTC).isoformat(),
                    "from_cache": False,
                    "sql": "-- emulated",
                    "timezone": "UTC",
                    "has_totals": False,
                    "has_row_totals": False,
                    "null_sort_treatment": "low",
                    "fields": {
                        "dimensions": [m for m in meta if m["category"] == "dimension"],
                        "measures": [m for m in meta if m["category"] == "measure"],
                        "pivots": [],
                        "table_calculations": [],
                    },
                    "number_format": "1,234.56",
                    "applied_filters": {},
                    "errors": [],
                }
            )
            return Response(200, (head[:-1] + ',"data":' + body + "}").encode())
        out = io.StringIO()
        names = list(query.get("fields") or [])
        explore = self.explores[query["view"]]
        if fmt == "csv":
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow([explore.field(n).label for n in names])
            for row in rows:
                writer.writerow(["" if row.get(n) is None else row.get(n) for n in names])
            return Response(200, out.getvalue().encode(), content_type="text/csv; charset=utf-8")
        writer = csv.writer(out, delimiter="\t", lineterminator="\n")
        writer.writerow([explore.field(n).label for n in names])
        for row in rows:
            writer.writerow(["" if row.get(n) is None else row.get(n) for n in names])
        return Response(200, out.getvalue().encode(), content_type="text/plain; charset=utf-8")

    def _run(self, req: Request, fmt: str, query: dict) -> Response:
        if fmt not in FORMATS:
            return error(
                400, f"Unsupported result format {fmt!r}; the emulator renders {', '.join(FORMATS)}."
            )
        rows = self.rows(query, self._limit(req, query, self.knobs.inline_row_cap))
        self.stats.count("queries_run")
        return self._render(fmt, query, rows)

    def _run_inline(self, req: Request, fmt: str) -> Response:
        return self._run(req, fmt, self._normalise(self._body(req)))

    def _run_query(self, req: Request, query_id: str, fmt: str) -> Response:
        stored = self.queries.get(query_id)
        if stored is None:
            return error(404, "Not found")
        return self._run(req, fmt, stored)

    # ---- query tasks ---------------------------------------------------------------------
    def _create_task(self, req: Request) -> Response:
        body = self._body(req)
        query_id, fmt = str(body.get("query_id") or ""), body.get("result_format")
        if not query_id:
            raise QueryError("query_id is required.", "query_id")
        if fmt not in TASK_FORMATS:
            raise QueryError(f"result_format must be one of {', '.join(TASK_FORMATS)}.", "result_format")
        stored = self.queries.get(query_id)
        if stored is None:
            return error(404, "Not found")
        limit = self._limit(req, stored, self.knobs.query_task_row_cap)
        task = QueryTask(
            secrets.token_hex(16),
            query_id,
            fmt,
            limit,
            time.time(),
            max(0, int(self.knobs.query_task_polls)),
            source=body.get("source"),
        )
        with self._lock:
            self.tasks[task.id] = task
        self.stats.count("query_tasks")
        self._advance(task, poll=False)
        return json_response(200, task.body())

    def _advance(self, task: QueryTask, poll: bool) -> None:
        """Run the task once it has been polled enough and has had its runtime."""
        with self._lock:
            if task.completed_at is not None or task.error:
                return
            if poll and task.polls_left > 0:
                task.polls_left -= 1
                return
            if task.polls_left > 0 or time.time() - task.created < self.knobs.query_task_runtime_s:
                return
        try:
            rows = self.rows(self.queries[task.query_id], task.limit)
        except QueryError as exc:
            task.error = str(exc)
            return
        with self._lock:
            task.rows, task.completed_at = rows, time.time()
            task.runtime = round(task.completed_at - task.created, 3)
        self.stats.count("queries_run")

    def _expired(self, task: QueryTask) -> bool:
        return (
            task.completed_at is not None
            and time.time() - task.completed_at >= self.knobs.query_task_expiry_s
        )

    def _task(self, req: Request, task_id: str) -> Response:
        task = self.tasks.get(task_id)
        if task is None:
            return error(404, "Not found")
        self._advance(task, poll=True)
        body = task.body()
        if self._expired(task):
            body["status"] = "expired"
        return json_response(200, body)

    def _task_results(self, req: Request, task_id: str) -> Response:
        task = self.tasks.get(task_id)
        if task is None or self._expired(task):
            return error(404, "Not found")
        self._advance(task, poll=True)
        if task.error:
            return error(400, task.error)
        if task.completed_at is None:
            return Response(self.knobs.results_pending_status, b"", content_type=None)
        fmt = "json" if task.result_format == "inline_json" else task.result_format
        response = self._render(fmt, self.queries[task.query_id], task.rows or [])
        cut = self.knobs.results_cut_after_bytes
        if cut is not None and cut < len(response.body):
            headers = [("Content-Length", str(len(response.body))), ("Connection", "close")]
            return dataclasses.replace(response, body=response.body[:cut], headers=headers)
        return response

    def _multi_results(self, req: Request) -> Response:
        raw = (req.query.get("query_task_ids") or "").strip()
        try:  # a comma list (DelimSequence), or a JSON array as looker-sdk sends a plain list
            ids = (
                [str(i) for i in json.loads(raw)] if raw.startswith("[") else [i for i in raw.split(",") if i]
            )
        except ValueError:
            ids = []
        parts: list[str] = []
        for task_id in ids:
            task = self.tasks.get(task_id)
            data = "null"
            if task is None:
                status = "missing"
            elif self._expired(task):
                status = "expired"
            else:
                self._advance(task, poll=True)
                if task.error:
                    status, data = "error", json.dumps({"errors": [{"message": task.error}]})
                elif task.completed_at is None:
                    status = "running"
                else:
                    status, rows = "complete", task.rows or []
                    self.stats.count("rows_served", len(rows))
                    data = encode_rows(rows).decode()  # exact decimals, as in /results
            parts.append(f'{json.dumps(task_id)}:{{"status":{json.dumps(status)},"data":{data}}}')
        return Response(200, ("{" + ",".join(parts) + "}").encode())

    # ---- control API ---------------------------------------------------------------------
    def _control(self, req: Request) -> Response:
        parts = [unquote(p) for p in req.path.strip("/").split("/")][1:]
        try:
            body = json.loads(req.body) if req.body.strip() else {}
        except ValueError:
            return error(400, "invalid JSON")
        try:
            if parts == ["stats"] and req.method == "GET":
                return json_response(200, self.stats.snapshot())
            if parts == ["stats"] and req.method == "DELETE":
                self.stats.reset()
                return Response(204, content_type=None)
            if parts == ["knobs"] and req.method == "GET":
                return json_response(200, dataclasses.asdict(self.knobs))
            if parts == ["knobs"] and req.method in ("PATCH", "POST"):
                unknown = set(body) - set(KNOB_NAMES)
                if unknown:
                    return error(400, f"unknown knobs: {sorted(unknown)}")
                for name, value in body.items():
                    setattr(self.knobs, name, value)
                return json_response(200, dataclasses.asdict(self.knobs))
            if parts == ["fail_next"] and req.method == "POST":
                self.fail_next(int(body.get("n", 1)), int(body.get("status", 429)), body.get("operation"))
                return Response(204, content_type=None)
            if parts == ["reset"] and req.method == "POST":
                self.reset()
                return Response(204, content_type=None)
            if parts == ["expire_tokens"] and req.method == "POST":
                return json_response(200, {"expired": self.expire_tokens()})
        except (ValueError, TypeError) as exc:
            return error(400, str(exc))
        return error(404, "unknown control route")

    def fail_next(self, n: int, status: int = 429, operation: str | None = None) -> None:
        if status not in (429, 500, 502, 503, 504):
            raise ValueError("status must be 429 or a 5xx")
        with self.faults._lock:
            self.faults.fail.extend([(status, operation)] * n)
