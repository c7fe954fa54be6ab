"""Looker API 4.0 client: API3 login with a cached token, re-login on 401, backoff on 429/5xx, and
query runs that never come back silently truncated.

Looker has no refresh token: an expired or revoked token answers 401 and the client logs in again with
its client id and secret. 429, 5xx and dropped connections are retried under the shared retry policy
(``mlc_run_audit.retry``: ``max_retries`` after the first attempt, ``Retry-After`` up to
``max_backoff_seconds``). Secrets never appear in messages: errors name the method, path and status.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import ijson  # type: ignore[import-untyped]  # ships no type information
import requests
from mlc_run_audit.retry import RetriesExhausted, Retry, RetryPolicy
from mlc_run_audit.settings import ConnectionSettings

API_PATH = "/api/4.0"
#: Bytes read from a streamed answer at a time: rows are parsed and emitted chunk by chunk, so the
#: tap holds one chunk and the rows it yields, never the whole answer.
CHUNK_BYTES = 64 * 1024
RETRIABLE_STATUSES = (429, 500, 502, 503, 504)
#: Row counts Looker is known to cap answers at without saying so (its default API limit and the
#: UI / inline limit). An answer of exactly this size is treated as possibly cut.
KNOWN_ROW_CAPS = (500, 5000)


class LookerError(Exception):
    """A Looker answer the tap cannot use; the message names the request and what came back."""


class LookerAuthError(LookerError):
    """Login failed: wrong client id/secret, or a token refused right after login."""


class TruncatedResultError(LookerError):
    """A query answer is missing rows (a row cap on the instance, or more rows than ``max_rows``)."""


def describe(response: requests.Response) -> str:
    """``METHOD /path -> status: message`` from Looker's ``{message, documentation_url}`` body."""
    request = response.request
    path = urlsplit(request.url).path if request is not None and request.url else "?"
    method = request.method if request is not None else "?"
    try:
        body = response.json()
        message = body.get("message") if isinstance(body, dict) else None
        errors = body.get("errors") if isinstance(body, dict) else None
    except ValueError:
        message, errors = response.text[:300].strip() or None, None
    text = f"{method} {path} -> HTTP {response.status_code}"
    if message:
        text += f": {message}"
    for item in errors or []:
        if isinstance(item, dict):
            text += f"; {item.get('field')}: {item.get('message')}"
    return text


def decode_rows(content: bytes, what: str) -> list[dict[str, Any]]:
    """Looker ``json`` rows with exact decimals (never through binary floats)."""
    try:
        rows = json.loads(content, parse_float=Decimal)
    except ValueError as exc:
        raise LookerError(f"{what} did not answer JSON: {content[:200]!r}") from exc
    if isinstance(rows, dict) and "looker_error" in rows:
        raise LookerError(f"{what} failed: {rows['looker_error']}")
    if not isinstance(rows, list):
        raise LookerError(f"{what} answered {type(rows).__name__}, expected an array of rows")
    for row in rows[:1]:
        if isinstance(row, dict) and "looker_error" in row:
            raise LookerError(f"{what} failed: {row['looker_error']}")
    return rows


#: What ``requests`` raises when an answer stops arriving mid-body.
BROKEN_OFF = (
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    requests.exceptions.ConnectionError,
)


def broken_off(what: str, exc: Exception) -> LookerError:
    return LookerError(
        f"{what}: the download of the answer broke off ({type(exc).__name__}); the rows before the "
        "break were emitted, the stream fails. Run the tap again."
    )


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def stream_rows(chunks: Iterable[bytes], what: str) -> Iterator[dict[str, Any]]:
    """Looker ``json`` rows parsed as the answer arrives, with exact decimals (``ijson`` makes every
    non-integer number a ``Decimal``).

    Only the first bytes decide the shape: ``[`` is an array of rows, streamed; anything else is read
    whole (an error object is small) and named in a ``LookerError``. An answer that stops before its
    closing ``]`` (a dropped download, a worker dying mid-answer) raises a ``LookerError`` naming
    ``what`` after the rows that did arrive.
    """
    pieces = iter(chunks)
    head = b""
    try:
        for chunk in pieces:
            head += chunk
            if head.strip():
                break
        if not head.lstrip().startswith(b"["):
            head += b"".join(pieces)
            yield from decode_rows(head, what)
            return
        rows = ijson.sendable_list()
        parser = ijson.items_coro(rows, "item")
        first = True
        for chunk in _chain(head, pieces):
            parser.send(chunk)
            if first and rows:
                first = False
                if isinstance(rows[0], dict) and "looker_error" in rows[0]:
                    raise LookerError(f"{what} failed: {rows[0]['looker_error']}")
            yield from rows
            del rows[:]
        parser.close()
        yield from rows
    except ijson.JSONError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise LookerError(
            f"{what}: the answer is not complete JSON ({reason}); the rows before the break were "
            "emitted, the stream fails. Run the tap again."
        ) from None
    except BROKEN_OFF as exc:
        raise broken_off(what, exc) from None


class LookerClient:
    """One logged-in API session for the whole run."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        settings: ConnectionSettings | None = None,
        logger: logging.Logger | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        root = base_url.rstrip("/")
        if root.endswith(API_PATH):
            root = root[: -len(API_PATH)]
        self.api_url = root + API_PATH
        self._client_id = client_id
        self._client_secret = client_secret
        settings = settings or ConnectionSettings()
        self.timeout = settings.request_timeout_seconds
        self.logger = logger or logging.getLogger("tap-looker")
        self.sleep = sleep
        self.policy = RetryPolicy.from_settings(settings, logger=self.logger, sleep=sleep)
        self.max_retries = self.policy.max_retries
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "tap-looker"
        self._token: str | None = None
        self._token_expires = 0.0
        self.logins = 0

    # ---- authentication ------------------------------------------------------------------
    def login(self) -> None:
        """``POST /login`` with the API3 key as a form body; Looker answers 404 to bad credentials."""
        response = self._send(
            "POST", "/login", data={"client_id": self._client_id, "client_secret": self._client_secret}
        )
        if response.status_code == 404:
            raise LookerAuthError(
                f"{describe(response)}. Looker answers 404 to an unknown API3 key: check the "
                "client_id and client_secret settings."
            )
        if response.status_code != 200:
            raise LookerAuthError(describe(response))
        body = response.json()
        self._token = body["access_token"]
        lifetime = float(body.get("expires_in") or 3600)
        # Renew a little early so a long query does not start on a token about to lapse.
        self._token_expires = time.monotonic() + max(0.0, lifetime - min(60.0, lifetime / 10))
        self.logins += 1
        self.logger.info("Logged in to Looker at %s (token valid %d s).", self.api_url, int(lifetime))

    def logout(self) -> None:
        if self._token is None:
            return
        with contextlib.suppress(requests.RequestException):  # the token lapses by itself within the hour
            self.session.delete(
                self.api_url + "/logout", headers=self._auth_header(), timeout=min(self.timeout, 30)
            )
        self._token = None

    def _auth_header(self) -> dict[str, str]:
        return {"Authorization": f"token {self._token}"}

    # ---- requests ------------------------------------------------------------------------
    def _send(self, method: str, path: str, **kw: Any) -> requests.Response:
        """One request under the retry policy: 429, 5xx and dropped connections are retried (not
        401, which ``request`` answers with a new login)."""
        url = self.api_url + path

        def send() -> requests.Response:
            response = self.session.request(method, url, timeout=self.timeout, **kw)
            if response.status_code in RETRIABLE_STATUSES:
                raise Retry(
                    describe(response),
                    status=response.status_code,
                    retry_after=self.policy.retry_after(response),
                    response=response,
                )
            return response

        try:
            return self.policy.run(send, method=method, url=url)
        except RetriesExhausted as exc:
            raise LookerError(str(exc)) from None

    def request(
        self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kw: Any
    ) -> requests.Response:
        """An authenticated request; logs in first when needed and once more on 401."""
        if self._token is None or time.monotonic() >= self._token_expires:
            self.login()
        response = self._send(method, path, headers=self._auth_header(), **kw)
        if response.status_code == 401:
            self.logger.info("Looker answered 401 to %s %s: logging in again.", method, path)
            self.login()
            response = self._send(method, path, headers=self._auth_header(), **kw)
            if response.status_code == 401:
                raise LookerAuthError(f"{describe(response)} right after a fresh login")
        if response.status_code not in ok:
            raise LookerError(describe(response))
        return response

    # ---- API 4.0 operations --------------------------------------------------------------
    def lookml_model_explore(self, model: str, explore: str) -> dict[str, Any]:
        explore_body: dict[str, Any] = self.request(
            "GET", f"/lookml_models/{model}/explores/{explore}"
        ).json()
        return explore_body

    def run_inline_query(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        response = self.request("POST", "/queries/run/json", json=query)
        return decode_rows(response.content, f"run_inline_query {query['model']}::{query['view']}")

    def create_query(self, query: dict[str, Any]) -> str:
        return str(self.request("POST", "/queries", json=query).json()["id"])

    def create_query_task(self, query_id: str) -> str:
        body = {"query_id": query_id, "result_format": "json", "source": "tap-looker"}
        return str(self.request("POST", "/query_tasks", json=body).json()["id"])

    def query_task_results(
        self, task_id: str, *, timeout: float, poll_interval: float, what: str
    ) -> Iterator[dict[str, Any]]:
        """Poll ``GET /query_tasks/{id}/results`` (202 or 204 while running) until the rows come,
        for at most ``timeout`` seconds; the rows are then parsed as they download (``stream_rows``)."""
        deadline = time.monotonic() + timeout
        interval, polls = poll_interval, 0
        while True:
            response = self.request(
                "GET", f"/query_tasks/{task_id}/results", ok=(200, 202, 204, 404), stream=True
            )
            polls += 1
            if response.status_code == 200:
                name = f"query task {task_id} ({what})"
                chunks = response.iter_content(CHUNK_BYTES)
                try:
                    first = next((chunk for chunk in chunks if chunk.strip()), None)
                except BROKEN_OFF as exc:
                    response.close()
                    raise broken_off(name, exc) from None
                if first is not None:
                    return self._rows(response, _chain(first, chunks), name)
                response.close()  # an empty 200: still running, as 202/204
            if response.status_code == 404:
                raise LookerError(
                    f"{describe(response)}: query task {task_id} ({what}) is unknown or its results expired"
                )
            if time.monotonic() >= deadline:
                raise LookerError(
                    f"query task {task_id} ({what}) still running after {timeout:.0f} s and {polls} polls; "
                    "raise query_timeout_seconds or narrow the query"
                )
            if polls % 10 == 0:
                self.logger.info("Query task %s (%s) still running after %d polls.", task_id, what, polls)
            self.sleep(min(interval, max(0.0, deadline - time.monotonic())))
            interval = min(interval * 1.5, 10.0)

    @staticmethod
    def _rows(response: requests.Response, chunks: Iterator[bytes], what: str) -> Iterator[dict[str, Any]]:
        with response:  # back to the pool (or closed) however the reading ends
            yield from stream_rows(chunks, what)
