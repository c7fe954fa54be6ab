"""Thin client for the Databricks SQL Statement Execution API 2.0 and the Files API.

The client sends its own HTTP requests (requests) under the shared retry policy
(``mlc_run_audit.retry``), so every failure is bounded by ``max_retries`` and
``max_backoff_seconds`` and every retry is logged. It does not use databricks-sdk: its transport
retries 429/503 answers and unreachable hosts silently for up to 5 minutes, whatever the caller asks,
and importing the package costs more than a second of CPU at every start (its ``__init__`` imports
every service module), while the few fields of a statement answer this target reads are declared here
(``StatementResponse``, decoded with msgspec).

- Authentication: a personal access token, or OAuth M2M (client credentials). The token endpoint
  comes from ``<host>/oidc/.well-known/oauth-authorization-server``; a token is fetched again when
  half its lifetime has passed, and once after a 401 (a token revoked on the server).
- Retries: no answer (connection refused or reset, DNS, timeout) and HTTP 429/502/503/504, with
  exponential backoff and jitter, or ``Retry-After`` when sent; both at most ``max_backoff_seconds``.
  One warning per retry names the request, the status or error, the attempt and the wait.
- Statements that end FAILED with a transient ``error_code`` are run again. Every statement this
  target sends is safe to re-run: a failed statement commits nothing, and the data statements are
  idempotent (MERGE, token-guarded INSERT, guarded audit row).
- Answers that are not the API's (an HTML page from a proxy or sign-in page, a wrong path) raise
  errors naming the host, the request, the status and content type, and the setting to check.
"""

from __future__ import annotations

import html
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any
from urllib.parse import quote, urlsplit

import msgspec
import requests
from mlc_run_audit.retry import RetriesExhausted, Retry, RetryPolicy
from mlc_run_audit.settings import ConnectionSettings

from target_databricks.cli_errors import ConnectorError
from target_databricks.sql import Statement

logger = logging.getLogger(__name__)

#: States of a statement that will not change any more (the others: PENDING, RUNNING).
TERMINAL_STATES = {"SUCCEEDED", "FAILED", "CANCELED", "CLOSED"}
# error_code values of a FAILED statement that are worth running again.
RETRIABLE_ERROR_CODES = {
    "TEMPORARILY_UNAVAILABLE",
    "WORKSPACE_TEMPORARILY_UNAVAILABLE",
    "SERVICE_UNDER_MAINTENANCE",
    "RESOURCE_EXHAUSTED",
    "REQUEST_LIMIT_EXCEEDED",
}
# 429 and 503 are the API's "try again"; 502/504 come from the load balancers in front of it.
RETRIABLE_HTTP_STATUS = {429, 502, 503, 504}
CONNECT_TIMEOUT_SECONDS = 10.0
DEFAULT_STATEMENT_WAIT_TIMEOUT_SECONDS = 30
DEFAULT_MAX_STATEMENT_WAIT_SECONDS: float = 3600
OIDC_DISCOVERY_PATH = "/oidc/.well-known/oauth-authorization-server"
STATEMENTS_PATH = "/api/2.0/sql/statements"
HOST_EXAMPLE = "https://adb-123.4.azuredatabricks.net"
USER_AGENT = f"target-databricks/{version('ml-connector-target-databricks')}"


class DatabricksRequestError(OSError, ConnectorError):
    """A request that got no usable answer: refused by the workspace, answered by something else
    than the Databricks API, or still failing after ``max_retries`` retries. An ``OSError``, like the
    connection errors it stands for."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        error_code: str | None = None,
        said: str | None = None,
    ) -> None:
        super().__init__(message)
        #: The API's ``error_code`` in that answer, when it named one.
        self.error_code = error_code
        #: HTTP status of the last answer (None: no answer).
        self.status_code = status_code
        #: What that answer said (``ERROR_CODE: message``, or its content type).
        self.said = said


class StatementError(RuntimeError, ConnectorError):
    """A statement that ended FAILED, CANCELED or CLOSED, or did not finish in time."""

    def __init__(
        self, kind: str, state: str, error_code: str | None, message: str | None, statement_id: str | None
    ) -> None:
        super().__init__(
            f"{kind} statement {statement_id or '?'} ended {state}: {error_code or 'no error_code'}: "
            f"{message or 'no message'}"
        )
        self.kind = kind
        self.state = state
        self.error_code = error_code
        self.statement_id = statement_id

    @property
    def retriable(self) -> bool:
        return self.error_code in RETRIABLE_ERROR_CODES


class ServiceError(msgspec.Struct):
    """``status.error`` of a statement answer."""

    error_code: str | None = None
    message: str | None = None


class StatementStatus(msgspec.Struct):
    """``status`` of a statement answer: its state (PENDING, RUNNING, SUCCEEDED, FAILED, CANCELED,
    CLOSED) and, when it did not succeed, its error."""

    state: str | None = None
    error: ServiceError | None = None


class ResultData(msgspec.Struct):
    """``result`` of a statement answer: the first chunk of rows (JSON_ARRAY format)."""

    data_array: list[list[str | None]] | None = None


class StatementResponse(msgspec.Struct):
    """The fields of a Statement Execution API answer (POST or GET ``/api/2.0/sql/statements``) that
    this target reads; the others are ignored."""

    statement_id: str | None = None
    status: StatementStatus | None = None
    result: ResultData | None = None


@dataclass
class StatementResult:
    """Outcome of a statement: its id and the first chunk of JSON_ARRAY rows (strings or None)."""

    statement_id: str
    rows: list[list[str | None]] = field(default_factory=list)


def workspace_url(host: str) -> str:
    """``host`` as a base URL: ``https://`` added when no scheme is given, no trailing slash."""
    host = host.strip()
    if "://" not in host:
        host = f"https://{host}"
    return host.rstrip("/")


class DatabricksClient:
    """Runs statements on one SQL warehouse; uploads files to Unity Catalog volumes."""

    def __init__(
        self,
        *,
        host: str,
        warehouse_id: str,
        client_id: str | None = None,
        client_secret: str | None = None,
        token: str | None = None,
        wait_timeout_s: int = DEFAULT_STATEMENT_WAIT_TIMEOUT_SECONDS,
        max_statement_wait_s: float = DEFAULT_MAX_STATEMENT_WAIT_SECONDS,
        settings: ConnectionSettings | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not token and not (client_id and client_secret):
            raise ValueError("set either token, or client_id and client_secret")
        self.host = workspace_url(host)
        self.warehouse_id = warehouse_id
        # The API accepts 0 (answer at once, then poll) or 5-50 seconds; the config schema checks it.
        self.wait_timeout_s = int(wait_timeout_s)
        # A statement answers within its wait timeout; the margin covers a busy network.
        self.read_timeout_s = max(60.0, self.wait_timeout_s + 30.0)
        self.max_statement_wait_s = max_statement_wait_s
        self.policy = RetryPolicy.from_settings(
            settings or ConnectionSettings(), host_setting="host", logger=logger, sleep=sleep
        )
        self.max_retries = self.policy.max_retries
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = f"{USER_AGENT} {requests.utils.default_user_agent()}"
        self._sleep = sleep
        self._token = token
        self._oauth = None if token else _ClientCredentials(self, client_id or "", client_secret or "")
        #: Requests sent, by "METHOD path" (statement ids and file paths left out), retries included.
        self.requests: Counter[str] = Counter()
        self._count_lock = threading.Lock()
        self.retries = 0
        self.reauthentications = 0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DatabricksClient:
        """The client for the target's settings (validated by the config schema)."""

        def setting(name: str, default: Any) -> Any:
            value = config.get(name)
            return default if value is None else value

        return cls(
            host=config["host"],
            warehouse_id=config["warehouse_id"],
            client_id=config.get("client_id"),
            client_secret=config.get("client_secret"),
            token=config.get("token"),
            wait_timeout_s=int(
                setting("statement_wait_timeout_seconds", DEFAULT_STATEMENT_WAIT_TIMEOUT_SECONDS)
            ),
            max_statement_wait_s=float(
                setting("max_statement_wait_seconds", DEFAULT_MAX_STATEMENT_WAIT_SECONDS)
            ),
            settings=ConnectionSettings.from_config(config),
        )

    @property
    def auth_setting(self) -> str:
        """The settings that hold the credentials in use, for messages."""
        return "token" if self._oauth is None else "client_id and client_secret"

    # --- statements ------------------------------------------------------------------------

    def execute(
        self, statement: Statement, *, catalog: str | None = None, schema: str | None = None
    ) -> StatementResult:
        """Run a statement to a terminal state; run it again after transient failures, with backoff."""
        failed: list[StatementError] = []

        def send() -> StatementResult:
            try:
                return self._execute_once(statement, catalog=catalog, schema=schema)
            except StatementError as exc:
                if not exc.retriable:
                    raise
                failed.append(exc)
                raise Retry(f"{exc}; running it again", status=None) from None

        try:
            return self.policy.run(
                send,
                method="POST",
                url=f"{self.host}{STATEMENTS_PATH}",
                what=f"{statement.kind} statement",
                on_retry=self._count_retry,
            )
        except RetriesExhausted:
            # The statement's own error says more than "failed after n attempts".
            raise failed[-1] from None

    def _execute_once(
        self, statement: Statement, *, catalog: str | None, schema: str | None
    ) -> StatementResult:
        body: dict[str, Any] = {
            "statement": statement.sql,
            "warehouse_id": self.warehouse_id,
            "wait_timeout": f"{self.wait_timeout_s}s",
            "on_wait_timeout": "CONTINUE",
        }
        if catalog:
            body["catalog"] = catalog
        if schema:
            body["schema"] = schema
        if statement.parameters:
            body["parameters"] = [p.as_json() for p in statement.parameters]
        response = self._statement_response(
            self._request(
                "POST",
                STATEMENTS_PATH,
                what=f"{statement.kind} statement",
                json_body=body,
                not_found_hint=f"check warehouse_id ({self.warehouse_id!r})",
            ),
            statement.kind,
        )
        statement_id = response.statement_id
        deadline = time.monotonic() + self.max_statement_wait_s
        poll_s = 0.5
        while _state(response) not in TERMINAL_STATES:
            if time.monotonic() > deadline:
                if statement_id:
                    self._request(
                        "POST",
                        f"{STATEMENTS_PATH}/{quote(statement_id, safe='')}/cancel",
                        what=f"cancel of {statement.kind} statement {statement_id}",
                    )
                raise StatementError(
                    statement.kind,
                    "TIMEOUT",
                    None,
                    f"not finished after {self.max_statement_wait_s}s (max_statement_wait_seconds); "
                    "cancel requested",
                    statement_id,
                )
            self._sleep(poll_s)
            poll_s = min(poll_s * 2, 10.0)
            response = self._statement_response(
                self._request(
                    "GET",
                    f"{STATEMENTS_PATH}/{quote(statement_id or '', safe='')}",
                    what=f"poll of {statement.kind} statement {statement_id}",
                ),
                statement.kind,
            )
        state = _state(response)
        if state != "SUCCEEDED":
            error = response.status.error if response.status else None
            raise StatementError(
                statement.kind,
                state or "UNKNOWN",
                error.error_code if error else None,
                error.message if error else None,
                response.statement_id,
            )
        rows = response.result.data_array if response.result and response.result.data_array else []
        return StatementResult(response.statement_id or "", [list(r) for r in rows])

    def _statement_response(self, answer: requests.Response, kind: str) -> StatementResponse:
        body = _json_body(answer)
        problem = "no status"
        if isinstance(body, dict) and "status" in body:
            try:
                return msgspec.convert(body, StatementResponse)
            except msgspec.ValidationError as exc:
                problem = str(exc)
        raise DatabricksRequestError(
            f"{kind} statement: {answer.request.method} {self._where(answer)} answered JSON that is not "
            f"a statement ({problem}): {_excerpt(answer)}. Check host ({self.host}).",
            status_code=answer.status_code,
        )

    # --- Files API -------------------------------------------------------------------------

    def upload(self, volume_path: str, data: bytes, *, overwrite: bool = True) -> None:
        """Upload bytes to ``/Volumes/<catalog>/<schema>/<volume>/<path>`` with one Files API PUT
        (the API takes up to 5 GiB in one request)."""
        self._request(
            "PUT",
            f"/api/2.0/fs/files{quote(volume_path)}",
            what=f"upload of {volume_path}",
            params={"overwrite": "true" if overwrite else "false"},
            data=data,
            headers={"Content-Type": "application/octet-stream"},
            expect_json=False,
        )

    def delete_file(self, volume_path: str) -> None:
        """Delete a volume file; a file already gone is fine."""
        self._delete("/api/2.0/fs/files", volume_path)

    def delete_directory(self, volume_path: str) -> None:
        """Delete an empty volume directory; a directory already gone is fine."""
        self._delete("/api/2.0/fs/directories", volume_path)

    def _delete(self, api: str, volume_path: str) -> None:
        self._request(
            "DELETE",
            f"{api}{quote(volume_path)}",
            what=f"delete of {volume_path}",
            accept={404},
            expect_json=False,
        )

    # --- transport -------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json_body: Any = None,
        data: bytes | dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        url: str | None = None,
        auth: Any = None,
        authenticated: bool = True,
        expect_json: bool = True,
        accept: set[int] | frozenset[int] = frozenset(),
        not_found_hint: str | None = None,
    ) -> requests.Response:
        """Send one request under the retry policy; returns a 2xx answer (or one of ``accept``).

        ``what`` names the request in logs and errors ("merge statement", "upload of /Volumes/...").
        """
        url = url or f"{self.host}{path}"
        shown = f"{method} {_without_query(url)}"
        renewed = False

        def send() -> requests.Response:
            nonlocal renewed
            while True:
                sent = dict(headers or {})
                if authenticated:
                    sent["Authorization"] = self._authorization()
                with self._count_lock:
                    self.requests[f"{method} {_route(path)}"] += 1
                answer = self.session.request(
                    method,
                    url,
                    json=json_body,
                    data=data,
                    params=params,
                    headers=sent,
                    auth=auth,
                    timeout=(CONNECT_TIMEOUT_SECONDS, self.read_timeout_s),
                )
                status = answer.status_code
                if status == 401 and authenticated and self._oauth is not None and not renewed:
                    # Tokens are renewed ahead of expiry; a token revoked on the server only shows
                    # as a 401. A refused request did nothing, so it is safe to repeat.
                    renewed = True
                    logger.warning(
                        "%s: HTTP 401 (%s); fetching a new OAuth token", shown, _error_text(answer)
                    )
                    self._oauth.invalidate()
                    self.reauthentications += 1
                    continue
                if status in RETRIABLE_HTTP_STATUS:
                    raise Retry(
                        f"HTTP {status} {_error_text(answer)}",
                        status=status,
                        retry_after=self.policy.retry_after(answer),
                        response=answer,
                    )
                if 200 <= status < 300 or status in accept:
                    self._check_content(answer, what, expect_json and status not in accept)
                    return answer
                raise self._refused(answer, what, not_found_hint)

        try:
            return self.policy.run(send, method=method, url=url, what=what, on_retry=self._count_retry)
        except RetriesExhausted as exc:
            raise DatabricksRequestError(str(exc), status_code=exc.status) from None

    def _count_retry(self) -> None:
        self.retries += 1

    def _authorization(self) -> str:
        if self._oauth is None:
            return f"Bearer {self._token}"
        return self._oauth.authorization()

    def _where(self, answer: requests.Response) -> str:
        """The URL that answered (where a redirect led, if it did), without its query."""
        where = _without_query(answer.url or "")
        if answer.history:
            where = f"{_without_query(answer.history[0].url)} (redirected to {where})"
        return where

    def _check_content(self, answer: requests.Response, what: str, expect_json: bool) -> None:
        """A 2xx answer must be the API's: JSON where JSON is due, and never an HTML page (a proxy,
        load balancer or sign-in page that answers in the workspace's place)."""
        content_type = _content_type(answer)
        html_page = "html" in content_type
        if expect_json and not html_page:
            try:
                answer.json()
                return
            except ValueError:
                pass
        elif not html_page:
            return
        raise DatabricksRequestError(
            f"{what}: {answer.request.method} {self._where(answer)} answered HTTP {answer.status_code} with "
            f"{_describe_body(answer)}, not the Databricks API's JSON: something else answers at "
            f"{self.host} (a proxy or sign-in page?). Check host: it must be the workspace URL, "
            f"e.g. {HOST_EXAMPLE}.",
            status_code=answer.status_code,
        )

    def _refused(
        self, answer: requests.Response, what: str, not_found_hint: str | None
    ) -> DatabricksRequestError:
        status = answer.status_code
        body = _json_body(answer)
        error_code = _error_code(body)
        shown = f"{answer.request.method} {self._where(answer)}"
        said = _error_text(answer)
        if status == 404 and (error_code in (None, "ENDPOINT_NOT_FOUND") or not isinstance(body, dict)):
            path = urlsplit(self.host).path
            has_path = f" (it has the path {path!r}; a workspace URL has none)" if path else ""
            advice = (
                f"There is no Databricks API at this URL: check host ({self.host}){has_path}; it must be the "
                f"workspace URL, e.g. {HOST_EXAMPLE}."
            )
        elif status in (401, 403) and isinstance(body, dict):
            advice = (
                f"Check {self.auth_setting}: the workspace at {self.host} refused them."
                if status == 401
                else f"The credentials in {self.auth_setting} work but lack a permission this load needs "
                f"(warehouse {self.warehouse_id!r}, or the catalog, schema or volume)."
            )
        elif not isinstance(body, dict):
            advice = (
                f"That is not the Databricks API's answer: something else answers at {self.host} "
                f"(a proxy or sign-in page?). Check host."
            )
        elif status == 404 and not_found_hint:
            advice = f"Not found: {not_found_hint}."
        else:
            advice = ""
        return DatabricksRequestError(
            f"{what}: {shown} answered HTTP {status} {_sentence(said)} {advice}".rstrip(),
            status_code=status,
            error_code=error_code,
            said=said,
        )


class _ClientCredentials:
    """OAuth M2M access tokens of one service principal: the token endpoint is discovered once from
    the workspace's OIDC document; a token is fetched again once half its lifetime has passed (as
    databricks-sdk does) or after the workspace answered 401."""

    def __init__(self, client: DatabricksClient, client_id: str, client_secret: str) -> None:
        self._client = client
        self._client_id = client_id
        self._client_secret = client_secret
        self._lock = threading.Lock()
        self._token_endpoint: str | None = None
        self._header: str | None = None
        self._renew_at = 0.0

    def invalidate(self) -> None:
        with self._lock:
            self._header = None

    def authorization(self) -> str:
        with self._lock:
            if self._header is None or time.monotonic() >= self._renew_at:
                self._fetch()
            assert self._header is not None
            return self._header

    def _fetch(self) -> None:
        client = self._client
        if self._token_endpoint is None:
            answer = client._request("GET", OIDC_DISCOVERY_PATH, what="OAuth discovery", authenticated=False)
            endpoint = (
                _json_body(answer).get("token_endpoint") if isinstance(_json_body(answer), dict) else None
            )
            if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
                raise DatabricksRequestError(
                    f"OAuth discovery: GET {client._where(answer)} named no token_endpoint. "
                    f"Check host ({client.host}): it must be the workspace URL, e.g. {HOST_EXAMPLE}."
                )
            self._token_endpoint = endpoint
        started = time.monotonic()
        try:
            answer = client._request(
                "POST",
                urlsplit(self._token_endpoint).path,
                url=self._token_endpoint,
                what="OAuth token request",
                data={"grant_type": "client_credentials", "scope": "all-apis"},
                auth=(self._client_id, self._client_secret),
                authenticated=False,
            )
        except DatabricksRequestError as exc:
            if exc.status_code in (400, 401):
                raise DatabricksRequestError(
                    f"OAuth token request to {_without_query(self._token_endpoint)} was refused "
                    f"(HTTP {exc.status_code} {exc.said}): check client_id ({self._client_id!r}) and "
                    "client_secret.",
                    status_code=exc.status_code,
                ) from exc
            raise
        body = _json_body(answer)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise DatabricksRequestError(
                f"OAuth token request: POST {client._where(answer)} answered without an access_token."
            )
        try:
            lifetime = float(body.get("expires_in", 3600))
        except (TypeError, ValueError):
            lifetime = 3600.0
        self._header = f"{body.get('token_type') or 'Bearer'} {token}"
        self._renew_at = started + lifetime / 2


# --- answers ----------------------------------------------------------------------------------

_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)


def _content_type(answer: requests.Response) -> str:
    return (answer.headers.get("Content-Type") or "").split(";")[0].strip().lower()


def _json_body(answer: requests.Response) -> Any:
    try:
        return answer.json()
    except ValueError:
        return None


def _error_code(body: Any) -> str | None:
    if isinstance(body, dict):
        code = body.get("error_code") or body.get("errorCode") or body.get("error")
        return code if isinstance(code, str) else None
    return None


def _error_text(answer: requests.Response) -> str:
    """What an error answer says: ``ERROR_CODE: message`` for the API's JSON, else the content type."""
    body = _json_body(answer)
    if isinstance(body, dict):
        code = _error_code(body)
        message = body.get("message") or body.get("error_description") or body.get("detail") or ""
        return ": ".join(str(p) for p in (code, message) if p) or _excerpt(answer)
    return f"with {_describe_body(answer)}"


def _describe_body(answer: requests.Response) -> str:
    content_type = _content_type(answer) or "no content type"
    if not answer.content:
        return f"{content_type}, empty body"
    title = _TITLE.search(answer.text[:20000])
    if title:
        return f"{content_type}, page title {_short(html.unescape(title.group(1)))!r}"
    return f"{content_type}, body {_excerpt(answer)}"


def _excerpt(answer: requests.Response) -> str:
    return repr(_short(answer.text))


def _sentence(text: str) -> str:
    """``text`` ending in one full stop, to put another sentence after it."""
    return text.rstrip().rstrip(".") + "."


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.netloc else url


def _route(path: str) -> str:
    """The API route of a path, for counting: statement ids and volume paths left out."""
    if path.startswith(STATEMENTS_PATH + "/"):
        return STATEMENTS_PATH + ("/{id}/cancel" if path.endswith("/cancel") else "/{id}")
    for prefix in ("/api/2.0/fs/files", "/api/2.0/fs/directories"):
        if path.startswith(prefix):
            return prefix
    return path


def _state(response: StatementResponse) -> str | None:
    return response.status.state if response.status else None
