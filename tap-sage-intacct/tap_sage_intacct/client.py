"""One connection to the Intacct XML gateway for a whole run: session, transport, retries.

- The session comes from ``getAPISession`` the first time a call needs it (never while
  streams are being built), is reused for every call, and is replaced when its sliding
  ``sessiontimeout`` is about to pass or when the gateway rejects it. Calls go to the
  endpoint ``getAPISession`` returned.
- Transient failures (``GW-0010`` rate limiting, "try again later", HTTP 429/5xx, cut-off
  or unreadable answers, dropped connections) are retried under the shared retry policy
  (``mlc_run_audit.retry``: ``max_retries`` after the first attempt, backoff with jitter,
  ``Retry-After`` up to ``max_backoff_seconds``). A retry sends the same document, so the
  control and function ``controlid`` stay the same; reads go with ``uniqueid`` false, writes
  would go with true, so the gateway never applies a write twice.
- Nothing here logs a request body: it carries the sender and user passwords.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import requests
from mlc_run_audit.retry import RetriesExhausted, Retry, RetryPolicy
from mlc_run_audit.settings import ConnectionSettings

from tap_sage_intacct import xmlgw
from tap_sage_intacct.xmlgw import (
    Control,
    Function,
    IntacctAuthError,
    IntacctError,
    IntacctTransientError,
    Login,
    SessionRejected,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from lxml import etree

DEFAULT_ENDPOINT = "https://api.intacct.com/ia/xml/xmlgw.phtml"
#: HTTP statuses retried. The official SDK leaves out 524 (the server may have acted);
#: reads are safe to repeat, so it is retried too.
RETRIABLE_STATUSES = frozenset({429, 500, 502, 503, 504, 520, 521, 522, 523, 524})
#: Replace the session this long before the gateway's ``sessiontimeout``.
SESSION_MARGIN_S = 60.0


@dataclass(frozen=True)
class Credentials:
    """What signing in needs; ``repr`` never shows the passwords."""

    sender_id: str
    sender_password: str
    company_id: str
    user_id: str
    user_password: str
    entity: str | None = None

    def __repr__(self) -> str:
        return (
            f"Credentials(sender_id={self.sender_id!r}, company_id={self.company_id!r}, "
            f"user_id={self.user_id!r}, entity={self.entity!r})"
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.sender_password, self.user_password) if s)


@dataclass
class Session:
    """A gateway session: its id, the endpoint to call, and when it stops being valid
    (on this machine's monotonic clock, so clock skew with the gateway does not matter)."""

    session_id: str
    endpoint: str
    location_id: str
    expires_at: float | None = None

    def __repr__(self) -> str:
        return f"Session(endpoint={self.endpoint!r}, location_id={self.location_id!r})"


@dataclass
class CallCounts:
    """What this client sent, for progress logs and tests."""

    requests: int = 0
    functions: int = 0
    retries: int = 0
    sessions: int = 0


class IntacctClient:
    """Calls gateway functions with one cached session and the retry policy above."""

    def __init__(
        self,
        credentials: Credentials,
        endpoint_url: str = DEFAULT_ENDPOINT,
        *,
        settings: ConnectionSettings | None = None,
        logger: logging.Logger | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.credentials = credentials
        self.endpoint_url = endpoint_url
        settings = settings or ConnectionSettings()
        self.timeout = settings.request_timeout_seconds
        self.logger = logger or logging.getLogger("tap-sage-intacct")
        self.policy = RetryPolicy.from_settings(
            settings, host_setting="endpoint_url", logger=self.logger, sleep=sleep
        )
        self.max_retries = self.policy.max_retries
        self._http = requests.Session()
        self._http.headers["Content-Type"] = "application/xml"
        self._session: Session | None = None
        self.counts = CallCounts()
        #: The gateway's clock at its latest answer (``sessiontimestamp``), with offset.
        self.server_time: datetime | None = None

    # Session -------------------------------------------------------------------------

    @property
    def session(self) -> Session:
        """The current session, opened or replaced on demand."""
        session = self._session
        if session is None or (
            session.expires_at is not None and time.monotonic() >= session.expires_at - SESSION_MARGIN_S
        ):
            if session is not None:
                self.logger.info("Intacct session is about to time out; opening a new one.")
            self._session = session = self._open_session()
        return session

    def _open_session(self) -> Session:
        creds = self.credentials
        login = Login(creds.user_id, creds.company_id, creds.user_password, creds.entity)
        function = Function(_new_id(), xmlgw.get_api_session(creds.entity))
        response = self._post(self.endpoint_url, login, [function], what="getAPISession")
        self.counts.sessions += 1
        data = response.results[0].data if response.results else None
        api = data.find("api") if data is not None else None
        session_id = api.findtext("sessionid") if api is not None else None
        if api is None or not session_id:
            raise IntacctError("getAPISession answered without a <sessionid>", level="response")
        endpoint = (api.findtext("endpoint") or "").strip() or self.endpoint_url
        location = (api.findtext("locationid") or "").strip()
        if creds.entity and location and location != creds.entity:
            msg = (
                f"getAPISession opened a session for entity {location!r}, not {creds.entity!r} "
                "(setting entity); check that the user has access to that entity."
            )
            raise IntacctAuthError(msg)
        session = Session(session_id, endpoint, location)
        self._slide(session, response)
        self.logger.info(
            "Opened an Intacct session for company %s%s at %s.",
            creds.company_id,
            f", entity {location}" if location else "",
            endpoint,
        )
        return session

    def _slide(self, session: Session, response: xmlgw.Response) -> None:
        """Every answer moves the session's timeout; keep the latest on the local clock."""
        if response.session_timestamp is not None:
            self.server_time = response.session_timestamp
        if response.session_timeout is not None and response.session_timestamp is not None:
            remaining = (response.session_timeout - response.session_timestamp).total_seconds()
            session.expires_at = time.monotonic() + remaining

    def expire_session(self) -> None:
        """Forget the session (the next call opens a new one)."""
        self._session = None

    # Calls ---------------------------------------------------------------------------

    def call(self, body: etree._Element, *, what: str) -> xmlgw.Result:
        """One function in the current session; its result. A rejected session is replaced
        once and the call repeated."""
        function = Function(_new_id(), body)
        for attempt in (1, 2):
            session = self.session
            try:
                response = self._post(
                    session.endpoint,
                    session.session_id,
                    [function],
                    what=what,
                    records=xmlgw.record_tag(body),
                )
            except SessionRejected as exc:
                if self._session is session:
                    self._session = None
                if attempt == 2:
                    msg = f"{what}: the gateway rejected a session it had just issued"
                    raise IntacctAuthError(msg, exc.errors) from None
                self.logger.info("Intacct rejected the session (%s); signing in again.", exc)
                continue
            self._slide(session, response)
            return response.results[0]
        raise AssertionError("unreachable")

    def _post(
        self, url: str, auth: Login | str, functions: list[Function], *, what: str, records: str | None = None
    ) -> xmlgw.Response:
        """Send one request, retrying transient failures with the very same document."""
        creds = self.credentials
        document = xmlgw.build_request(
            Control(creds.sender_id, creds.sender_password, _new_id()), auth, functions
        )
        with_session = isinstance(auth, str)
        level = "transport"

        def send() -> xmlgw.Response:
            nonlocal level
            try:
                return self._send(url, document, what=what, with_session=with_session, records=records)
            except IntacctTransientError as exc:
                level = exc.level
                raise Retry(str(exc), status=exc.status, retry_after=exc.retry_after) from None

        try:
            response: xmlgw.Response = self.policy.run(
                send, method="POST", url=url, what=what, on_retry=self._count_retry
            )
            return response
        except RetriesExhausted as exc:
            raise IntacctError(str(exc), level=level) from None

    def _count_retry(self) -> None:
        self.counts.retries += 1

    def _send(
        self, url: str, document: bytes, *, what: str, with_session: bool, records: str | None = None
    ) -> xmlgw.Response:
        self.counts.requests += 1
        # No answer at all (refused, reset, timeout) goes to the retry policy as it is.
        http = self._http.post(url, data=document, timeout=self.timeout)
        if http.status_code in RETRIABLE_STATUSES:
            raise IntacctTransientError(
                f"HTTP {http.status_code} from {_host(url)}",
                level="transport",
                retry_after=self.policy.retry_after(http),
                status=http.status_code,
            )
        if http.status_code >= 400 and b"<response" not in http.content[:512]:
            msg = f"{what}: HTTP {http.status_code} from {_host(url)}: {_snippet(http.content)}"
            raise IntacctError(msg, level="transport")
        self.counts.functions += 1
        try:
            return xmlgw.parse_response(http.content, what=what, with_session=with_session, records=records)
        except IntacctTransientError as exc:
            exc.status = http.status_code
            raise

    def close(self) -> None:
        self._http.close()


def _new_id() -> str:
    return uuid.uuid4().hex


def _host(url: str) -> str:
    return url.split("/")[2] if "//" in url else url


def _snippet(content: bytes) -> str:
    return content[:200].decode("utf-8", errors="replace").replace("\n", " ")
