"""The retry policy every HTTP client of these plugins follows.

- ``max_retries`` counts retries after the first attempt: a request is sent at most
  ``max_retries + 1`` times.
- The wait before retry *n* (1-based) is ``backoff_base_seconds * 2**(n-1)`` (setting
  ``retry_backoff_seconds``), at most
  ``max_backoff_seconds``, times a random factor in [0.5, 1): the jitter spreads clients that
  failed together apart, and keeps at least half the wait.
- A ``Retry-After`` header (seconds or an HTTP date) replaces that wait, without jitter, capped at
  ``max_backoff_seconds``: a long Retry-After must not stall a run for hours.
- Each retry logs one warning: ``METHOD url (what): problem; retry n of m in w s``. The URL is
  shown without its query and user info, which may carry tokens.
- When the retries are used up, ``RetriesExhausted`` says which host and request failed, how,
  after how many attempts, and what to do. Clients turn it into their own error type.

A client's ``send`` function returns the answer it wants, raises ``Retry`` for an answer worth
another attempt, or raises ``requests.ConnectionError`` / ``requests.Timeout`` (no answer, always
retried). Anything else it raises goes to the caller at once. ``sleep`` and ``clock`` are
injectable, so tests never wait.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests

from mlc_run_audit.settings import (
    DEFAULT_MAX_BACKOFF_SECONDS,
    DEFAULT_MAX_RETRIES,
    DEFAULT_RETRY_BACKOFF_SECONDS,
    ConnectionSettings,
)

T = TypeVar("T")

__all__ = [
    "DEFAULT_MAX_BACKOFF_SECONDS",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_RETRY_BACKOFF_SECONDS",
    "RetriesExhausted",
    "Retry",
    "RetryPolicy",
    "retry_after_seconds",
    "shown_url",
]

logger = logging.getLogger("mlc_run_audit.retry")


class Retry(Exception):
    """Raised by a send function: this answer is worth another attempt.

    ``problem`` names what came back (``HTTP 503 Service Unavailable``); ``retry_after`` is the
    answer's Retry-After in seconds (``retry_after_seconds``), if it sent one.
    """

    def __init__(
        self,
        problem: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        response: requests.Response | None = None,
    ) -> None:
        super().__init__(problem)
        self.problem = problem
        self.status = status
        self.retry_after = retry_after
        self.response = response


class RetriesExhausted(Exception):
    """A request still failed after ``max_retries`` retries; the message names the host, the
    request, the last problem and what to do."""

    def __init__(
        self,
        message: str,
        *,
        problem: str,
        attempts: int,
        status: int | None = None,
        response: requests.Response | None = None,
    ) -> None:
        super().__init__(message)
        self.problem = problem
        self.attempts = attempts
        #: HTTP status of the last answer (None: no answer).
        self.status = status
        self.response = response


def retry_after_seconds(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """A ``Retry-After`` header value in seconds: delta-seconds or an HTTP date; None if absent or
    unreadable, 0 for a date in the past."""
    value = (value or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now())


def shown_url(url: str) -> str:
    """``scheme://host/path`` of a URL: no query (tokens, filters) and no user info."""
    parts = urlsplit(url)
    if not parts.netloc:
        return url.split("?", 1)[0]
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def host_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, for messages."""
    parts = urlsplit(url)
    if not parts.netloc:
        return url
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}:{parts.port}" if parts.port else f"{parts.scheme}://{host}"


def no_answer_reason(exc: BaseException) -> str:
    """The innermost cause of a failed connection, e.g. ``ConnectionRefusedError: [Errno 111]
    Connection refused``."""
    inner: BaseException = exc
    while True:
        nxt = getattr(inner, "reason", None) or inner.__cause__ or inner.__context__
        if nxt is None or nxt is inner or not isinstance(nxt, BaseException):
            break
        inner = nxt
    # urllib3 prefixes "<HTTPConnection object at 0x...>: "; keep what the system said.
    text = re.sub(r"^<[^>]*>:\s*", "", str(inner))
    if len(text) > 160:
        text = text[:159] + "…"
    return f"{type(inner).__name__}: {text}" if text else type(inner).__name__


@dataclass
class RetryPolicy:
    """Bounded retries with exponential backoff and jitter, ``Retry-After`` honoured up to
    ``max_backoff_seconds``, one warning per retry and a final error naming host and request."""

    max_retries: int = DEFAULT_MAX_RETRIES
    max_backoff_seconds: float = DEFAULT_MAX_BACKOFF_SECONDS
    backoff_base_seconds: float = DEFAULT_RETRY_BACKOFF_SECONDS
    #: The setting that holds the host, named in the advice when nothing answers.
    host_setting: str = "base_url"
    logger: logging.Logger = field(default=logger, repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.time, repr=False)
    #: Retries made under this policy (all requests), for progress logs and tests.
    retries: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        self.max_retries = max(0, int(self.max_retries))
        self.max_backoff_seconds = max(0.0, float(self.max_backoff_seconds))

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **kwargs: Any) -> RetryPolicy:
        """The policy for a plugin's settings (``max_retries``, ``retry_backoff_seconds``,
        ``max_backoff_seconds``; see :mod:`mlc_run_audit.settings`)."""
        return cls.from_settings(ConnectionSettings.from_config(config), **kwargs)

    @classmethod
    def from_settings(cls, settings: ConnectionSettings, **kwargs: Any) -> RetryPolicy:
        """The policy for connection settings already read."""
        return cls(
            max_retries=settings.max_retries,
            max_backoff_seconds=settings.max_backoff_seconds,
            backoff_base_seconds=settings.retry_backoff_seconds,
            **kwargs,
        )

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry ``retry`` (1-based)."""
        if retry_after is not None:
            return min(self.max_backoff_seconds, retry_after)
        wait = min(self.max_backoff_seconds, self.backoff_base_seconds * 2.0 ** (retry - 1))
        return wait * random.uniform(0.5, 1.0)

    def retry_after(self, response: requests.Response) -> float | None:
        """The answer's ``Retry-After`` in seconds, if any (by this policy's clock)."""
        return retry_after_seconds(response.headers.get("Retry-After"), self.clock)

    def run(
        self,
        send: Callable[[], T],
        *,
        method: str,
        url: str,
        what: str | None = None,
        on_retry: Callable[[], None] | None = None,
    ) -> T:
        """Call ``send`` until it returns, at most ``max_retries + 1`` times (see the module doc)."""
        shown = f"{method} {shown_url(url)}" + (f" ({what})" if what else "")
        retry = 0
        while True:
            response: requests.Response | None = None
            status: int | None = None
            retry_after: float | None = None
            try:
                return send()
            except (requests.ConnectionError, requests.Timeout) as exc:
                problem = f"no answer ({no_answer_reason(exc)})"
            except Retry as exc:
                problem, status, response = exc.problem, exc.status, exc.response
                retry_after = exc.retry_after
            if retry >= self.max_retries:
                raise RetriesExhausted(
                    f"{what + ': ' if what else ''}{method} {shown_url(url)} failed after {retry + 1} "
                    f"attempt(s) (max_retries {self.max_retries}): {_sentence(problem)} "
                    f"{self.advice(url, status)}",
                    problem=problem,
                    attempts=retry + 1,
                    status=status,
                    response=response,
                )
            retry += 1
            wait = self.delay(retry, retry_after)
            self.logger.warning(
                "%s: %s; retry %d of %d in %.1f s", shown, problem, retry, self.max_retries, wait
            )
            self.retries += 1
            if on_retry is not None:
                on_retry()
            self.sleep(wait)

    def advice(self, url: str, status: int | None) -> str:
        """What to do when the retries are used up."""
        host = host_of(url)
        if status is None:
            return (
                f"Check {self.host_setting} ({host}), the network and any proxy; raise max_retries to "
                "wait longer."
            )
        return (
            f"The server at {host} is overloaded or unavailable; try again later, or raise max_retries / "
            "max_backoff_seconds."
        )


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."
