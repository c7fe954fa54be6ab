"""Thin client for the Databricks SQL Statement Execution API 2.0 and the Files API.

Authentication (OAuth M2M or a personal access token) and HTTP transport come from databricks-sdk,
which already retries HTTP 429 and 503 answers (it honours ``Retry-After``). This module adds what
the SDK does not: polling a statement to a terminal state within a bounded wait, a typed error for
FAILED statements, and re-running statements that FAILED for a transient warehouse reason. Every
statement this target sends is safe to re-run after a FAILED answer, because a failed statement
commits nothing.
"""

from __future__ import annotations

import io
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

from databricks.sdk import WorkspaceClient
from databricks.sdk.config import Config
from databricks.sdk.errors import DatabricksError
from databricks.sdk.service.sql import (
    ExecuteStatementRequestOnWaitTimeout,
    StatementParameterListItem,
    StatementResponse,
    StatementState,
)

from target_databricks.sql import Statement

logger = logging.getLogger(__name__)

TERMINAL_STATES = {
    StatementState.SUCCEEDED,
    StatementState.FAILED,
    StatementState.CANCELED,
    StatementState.CLOSED,
}
# error_code values of a FAILED statement that are worth running again.
RETRIABLE_ERROR_CODES = {
    "TEMPORARILY_UNAVAILABLE",
    "WORKSPACE_TEMPORARILY_UNAVAILABLE",
    "SERVICE_UNDER_MAINTENANCE",
    "RESOURCE_EXHAUSTED",
    "REQUEST_LIMIT_EXCEEDED",
}
RETRIABLE_HTTP_STATUS = {429, 503}


class StatementError(RuntimeError):
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


@dataclass
class StatementResult:
    """Outcome of a statement: its id and the first chunk of JSON_ARRAY rows (strings or None)."""

    statement_id: str
    rows: list[list[str | None]] = field(default_factory=list)


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
        wait_timeout_s: int = 30,
        max_statement_wait_s: float = 3600,
        max_attempts: int = 6,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 60.0,
        workspace_client: WorkspaceClient | None = None,
    ) -> None:
        self._config_kwargs: dict[str, Any] | None = None
        if workspace_client is None:
            if token:
                self._config_kwargs = {"host": host, "token": token, "auth_type": "pat"}
            elif client_id and client_secret:
                self._config_kwargs = {
                    "host": host,
                    "client_id": client_id,
                    "client_secret": client_secret,
                    "auth_type": "oauth-m2m",
                }
            else:
                raise ValueError("set either token, or client_id and client_secret")
            workspace_client = WorkspaceClient(config=Config(**self._config_kwargs))
        self.workspace = workspace_client
        self.reauthentications = 0
        self.warehouse_id = warehouse_id
        # The API accepts 0 or 5-50 seconds for the synchronous part of a call.
        self.wait_timeout_s = min(max(int(wait_timeout_s), 5), 50)
        self.max_statement_wait_s = max_statement_wait_s
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s

    def _call(self, fn):
        """One API call; after a 401 (token revoked or expired early) authenticate afresh, once.

        databricks-sdk refreshes OAuth tokens ahead of their expiry, but a token revoked on the
        server side only shows as a 401. A rejected request did nothing, so repeating it is safe.
        """
        try:
            return fn(self.workspace)
        except DatabricksError as exc:
            if _http_status(exc) != 401 or self._config_kwargs is None:
                raise
            logger.warning("HTTP 401 (%s); authenticating again", exc)
            self.workspace = WorkspaceClient(config=Config(**self._config_kwargs))
            self.reauthentications += 1
            return fn(self.workspace)

    def _sleep_before(self, attempt: int) -> None:
        delay = min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1))
        time.sleep(delay * random.uniform(0.5, 1.0))  # jitter spreads parallel sinks apart

    def execute(
        self, statement: Statement, *, catalog: str | None = None, schema: str | None = None
    ) -> StatementResult:
        """Run a statement to a terminal state; re-run it after transient failures with backoff."""
        for attempt in range(1, self.max_attempts + 1):
            try:
                return self._execute_once(statement, catalog=catalog, schema=schema)
            except StatementError as exc:
                if not exc.retriable or attempt == self.max_attempts:
                    raise
                logger.warning("Retrying %s (attempt %d): %s", statement.kind, attempt, exc)
            except DatabricksError as exc:
                status = _http_status(exc)
                if status not in RETRIABLE_HTTP_STATUS or attempt == self.max_attempts:
                    raise
                logger.warning("Retrying %s after HTTP %s (attempt %d)", statement.kind, status, attempt)
            self._sleep_before(attempt)
        raise AssertionError("unreachable")

    def _execute_once(
        self, statement: Statement, *, catalog: str | None, schema: str | None
    ) -> StatementResult:
        response = self._call(
            lambda w: w.statement_execution.execute_statement(
                statement=statement.sql,
                warehouse_id=self.warehouse_id,
                catalog=catalog,
                schema=schema,
                parameters=[
                    StatementParameterListItem(name=p.name, value=p.value, type=p.type)
                    for p in statement.parameters
                ]
                or None,
                wait_timeout=f"{self.wait_timeout_s}s",
                on_wait_timeout=ExecuteStatementRequestOnWaitTimeout.CONTINUE,
            )
        )
        statement_id = response.statement_id
        deadline = time.monotonic() + self.max_statement_wait_s
        poll_s = 0.5
        while _state(response) not in TERMINAL_STATES:
            if time.monotonic() > deadline:
                if statement_id:
                    self._call(lambda w: w.statement_execution.cancel_execution(statement_id))
                raise StatementError(
                    statement.kind,
                    "TIMEOUT",
                    None,
                    f"not finished after {self.max_statement_wait_s}s; cancel requested",
                    response.statement_id,
                )
            time.sleep(poll_s)
            poll_s = min(poll_s * 2, 10.0)
            response = self._poll(statement_id)
        state = _state(response)
        if state != StatementState.SUCCEEDED:
            error = response.status.error if response.status else None
            raise StatementError(
                statement.kind,
                state.value if state else "UNKNOWN",
                _enum_text(error.error_code) if error else None,
                error.message if error else None,
                response.statement_id,
            )
        rows = response.result.data_array if response.result and response.result.data_array else []
        return StatementResult(response.statement_id or "", [list(r) for r in rows])

    def _poll(self, statement_id: str | None) -> StatementResponse:
        """GET the statement; 429/503 answers to a poll are waited out (the statement keeps running)."""
        for attempt in range(1, self.max_attempts + 1):
            try:
                return self._call(lambda w: w.statement_execution.get_statement(statement_id))
            except DatabricksError as exc:
                if _http_status(exc) not in RETRIABLE_HTTP_STATUS or attempt == self.max_attempts:
                    raise
            self._sleep_before(attempt)
        raise AssertionError("unreachable")

    def upload(self, volume_path: str, data: bytes, *, overwrite: bool = True) -> None:
        """Upload bytes to ``/Volumes/<catalog>/<schema>/<volume>/<path>`` with the Files API."""
        for attempt in range(1, self.max_attempts + 1):
            try:
                self._call(lambda w: w.files.upload(volume_path, io.BytesIO(data), overwrite=overwrite))
                return
            except DatabricksError as exc:
                if _http_status(exc) not in RETRIABLE_HTTP_STATUS or attempt == self.max_attempts:
                    raise
            self._sleep_before(attempt)

    def delete_file(self, volume_path: str) -> None:
        """Delete a volume file; a file already gone is fine."""
        self._delete(lambda w: w.files.delete(volume_path))

    def delete_directory(self, volume_path: str) -> None:
        """Delete an empty volume directory; a directory already gone is fine."""
        self._delete(lambda w: w.files.delete_directory(volume_path))

    def _delete(self, fn) -> None:
        try:
            self._call(fn)
        except DatabricksError as exc:
            if _http_status(exc) != 404:
                raise


def _state(response: StatementResponse) -> StatementState | None:
    return response.status.state if response.status else None


def _enum_text(value: Any) -> str | None:
    return getattr(value, "value", value)


def _http_status(exc: DatabricksError) -> int | None:
    return getattr(exc, "status_code", None) or _status_of(exc)


def _status_of(exc: DatabricksError) -> int | None:
    # Subclasses such as TooManyRequests / TemporarilyUnavailable carry the mapping in their type.
    names = {"TooManyRequests": 429, "TemporarilyUnavailable": 503, "Unauthenticated": 401, "NotFound": 404}
    for cls in type(exc).__mro__:
        if cls.__name__ in names:
            return names[cls.__name__]
    return None
