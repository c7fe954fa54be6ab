"""Errors raised by the Acumatica client, and how an error response is described.

Acumatica answers failures with a JSON body (``message``, ``exceptionMessage``,
``exceptionType``, ``stackTrace``, ``innerException``), a per-field ``error`` next to
``value`` on 422, an OAuth error (``error``, ``error_description``) from the identity
server, or sometimes an HTML page. ``describe_error`` turns any of them into one line
that names the request and what the server said, without headers or query secrets.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from mlc_run_audit.retry import Retry, RetryPolicy

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
_MAX_DETAIL = 500

#: Statuses worth retrying: license limit (429) and transient server trouble.
RETRIABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


def raise_if_retriable(response: requests.Response, policy: RetryPolicy) -> None:
    """Hand a 429/5xx answer to the retry policy (``Retry``, with its Retry-After)."""
    if response.status_code in RETRIABLE_STATUSES:
        raise Retry(
            describe_error(response),
            status=response.status_code,
            retry_after=policy.retry_after(response),
            response=response,
        )


class AcumaticaError(Exception):
    """An Acumatica request failed in a way retrying will not fix."""


class AcumaticaAuthError(AcumaticaError):
    """Signing in to Acumatica failed; the message names the settings to check."""


class AcumaticaRequestError(AcumaticaError):
    """The instance refused a request (a 4xx other than 401/429, or retries ran out)."""

    def __init__(self, response: requests.Response, context: str = "", *, message: str | None = None) -> None:
        super().__init__(message or f"{context}{describe_error(response)}")
        self.response = response
        self.status = response.status_code


class AcumaticaTransientError(AcumaticaError):
    """A request met a 5xx or a dropped connection and was not retried, because it may have been
    applied (a create): the caller looks before it tries again."""


@dataclass(frozen=True)
class FieldError:
    """A failing field of a 422 answer; ``line`` indexes the detail array it sits in (else None)."""

    field: str
    value: object
    error: str
    detail: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.detail}[{self.line}]." if self.detail is not None else ""
        return f"{where}{self.field}: {self.error}"


def field_errors(body: object) -> list[FieldError]:
    """Every field carrying an ``error`` next to its ``value``, header and detail lines."""
    out: list[FieldError] = []
    if not isinstance(body, dict):
        return out
    for name, field in body.items():
        if isinstance(field, dict) and isinstance(field.get("error"), str):
            out.append(FieldError(name, field.get("value"), field["error"]))
        elif isinstance(field, list):
            for n, line in enumerate(field):
                if not isinstance(line, dict):
                    continue
                for sub, cell in line.items():
                    if isinstance(cell, dict) and isinstance(cell.get("error"), str):
                        out.append(FieldError(sub, cell.get("value"), cell["error"], name, n))
    return out


def describe_error(response: requests.Response) -> str:
    """One line naming the request (method and path, no query) and the server's message."""
    request = response.request
    method = request.method if request is not None else "GET"
    # requests keeps the URL as text; the stubs admit bytes.
    url = response.url or (request.url if request is not None and isinstance(request.url, str) else "")
    path = urlsplit(url).path
    status = f"{response.status_code} {response.reason}" if response.reason else str(response.status_code)
    return f"{status} for {method} {path}: {error_detail(response)}"


def error_detail(response: requests.Response) -> str:
    """What the server said, from whichever error body shape it used."""
    text = response.text or ""
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        parts = _messages(body)
        if parts:
            return _clip("; ".join(parts))
    if "<" in text:
        text = html.unescape(_TAG.sub(" ", text))
    return _clip(_SPACE.sub(" ", text).strip()) or "(empty body)"


def _messages(body: dict[str, Any]) -> list[str]:
    parts: list[str] = []
    for key in ("message", "exceptionMessage", "error", "error_description"):
        value = body.get(key)
        if isinstance(value, str) and value and value not in parts:
            parts.append(value)
    inner = body.get("innerException")
    if isinstance(inner, dict):
        parts.extend(p for p in _messages(inner) if p not in parts)
    # 422: the failing fields carry {"value": ..., "error": "..."}, detail lines included.
    parts.extend(str(e) for e in field_errors(body))
    return parts


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."
