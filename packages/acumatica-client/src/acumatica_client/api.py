"""Requests to the contract-based REST API under the shared retry policy (``mlc_run_audit.retry``).

- 429 (license limits) is retried always: the instance declined the request before doing anything.
  A ``Retry-After`` header is honoured (capped by ``max_backoff_seconds``); otherwise the wait grows
  exponentially with jitter. ``max_retries`` counts retries after the first attempt.
- 500/502/503/504 and dropped connections are retried for reads and for writes that are safe to
  repeat. A write that is not (a create without a key) raises ``AcumaticaTransientError`` instead,
  so the caller can look for the record before it tries again.
- 401 makes the authenticator sign in again (a refreshed token or a new session), once per
  request.
- Any other 4xx raises ``AcumaticaRequestError`` naming the request and what the server said,
  unless the caller expects that status (``accept``).

Bodies are encoded and decoded with exact decimals: amounts never pass through binary floats.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import msgspec
import requests
from mlc_run_audit.retry import RetriesExhausted, RetryPolicy
from mlc_run_audit.settings import DEFAULT_REQUEST_TIMEOUT_SECONDS

from acumatica_client.auth import AcumaticaAuth
from acumatica_client.errors import (
    RETRIABLE_STATUSES,
    AcumaticaAuthError,
    AcumaticaError,
    AcumaticaRequestError,
    AcumaticaTransientError,
    describe_error,
    raise_if_retriable,
)
from acumatica_client.instance import Instance

logger = logging.getLogger("acumatica_client")

_encoder = msgspec.json.Encoder(decimal_format="number")
_decode = msgspec.json.Decoder(float_hook=Decimal).decode


def encode(body: object) -> bytes:
    """JSON with Decimals as numbers (``{"value": 12.50}``), never through float."""
    return _encoder.encode(body)


def decode(content: bytes) -> Any:
    """JSON with numbers that have a fraction as Decimals."""
    return _decode(content) if content else None


class AcumaticaApi:
    """One instance and one sign-in for a whole run; counts its requests per method and entity."""

    def __init__(
        self,
        instance: Instance,
        auth: AcumaticaAuth,
        session: requests.Session,
        *,
        policy: RetryPolicy,
        timeout: float = DEFAULT_REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        self.instance = instance
        self.auth = auth
        self.session = session
        #: The run's retry policy: the authenticator's too, so sign-ins count against the same rule.
        self.policy = policy
        self.timeout = timeout
        self._sleep = self.policy.sleep
        #: Requests sent, by "METHOD Entity" (retries included), for logs and tests.
        self.calls: Counter[str] = Counter()

    @property
    def max_retries(self) -> int:
        return self.policy.max_retries

    @property
    def retries(self) -> int:
        """Retries made under this client's policy (sign-in requests too, when the authenticator
        shares it)."""
        return self.policy.retries

    def __repr__(self) -> str:
        return f"AcumaticaApi({self.instance.endpoint_url!r})"

    def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        body: object = None,
        headers: dict[str, str] | None = None,
        accept: Iterable[int] = (),
        repeatable: bool = True,
    ) -> requests.Response:
        """Send a request under the retry policy; returns a 2xx answer or one of ``accept``."""
        accepted = set(accept)
        sent_headers = {"Accept": "application/json", **(headers or {})}
        data = None
        if body is not None:
            data = encode(body)
            sent_headers["Content-Type"] = "application/json"
        label = f"{method} {_entity_of(url, self.instance)}"

        def send() -> requests.Response:
            self.calls[label] += 1
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    headers=sent_headers,
                    timeout=self.timeout,
                    auth=self.auth,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                if not repeatable:
                    msg = (
                        f"{method} {urlsplit(url).path} at {urlsplit(url).netloc} got no answer "
                        f"({type(exc).__name__}); not retried because it may have been applied"
                    )
                    raise AcumaticaTransientError(msg) from exc
                raise
            if response.status_code in RETRIABLE_STATUSES - {429} and not repeatable:
                raise AcumaticaTransientError(describe_error(response))
            raise_if_retriable(response, self.policy)
            return response

        for signed_in_again in (False, True):
            try:
                response = self.policy.run(send, method=method, url=url)
            except RetriesExhausted as exc:
                if exc.response is not None:
                    raise AcumaticaRequestError(exc.response, message=str(exc)) from None
                raise AcumaticaTransientError(str(exc)) from None
            status = response.status_code
            if status in accepted or response.ok:
                return response
            if status == 401 and not signed_in_again:
                self.auth.invalidate()
                continue
            if status == 401:
                msg = (
                    f"Acumatica refused the request after signing in again: {describe_error(response)}. "
                    "Check that the user has rights to this entity."
                )
                raise AcumaticaAuthError(msg)
            raise AcumaticaRequestError(response)
        raise AssertionError("unreachable")

    # Entities ---------------------------------------------------------------------------

    def get_list(self, entity: str, **params: Any) -> list[dict[str, Any]]:
        """``GET <entity>`` with OData parameters ($filter, $select, $expand, $top ...)."""
        rows = decode(self.request("GET", self.instance.entity_url(entity), params=params or None).content)
        if not isinstance(rows, list):
            msg = f"Expected a JSON array of {entity} records from GET {self.instance.entity_url(entity)}"
            raise AcumaticaError(msg)
        return rows

    def put(
        self,
        entity: str,
        record: dict[str, Any],
        *,
        create_only: bool = False,
        update_only: bool = False,
        params: dict[str, Any] | None = None,
        accept: Iterable[int] = (),
        repeatable: bool | None = None,
    ) -> requests.Response:
        """``PUT <entity>``: ``If-None-Match: *`` creates only, ``If-Match: *`` updates only (412
        otherwise). ``repeatable`` (default: not ``create_only``) says whether a 5xx or dropped
        answer may be retried blindly: a create without key fields or an added detail line may not."""
        headers = {}
        if create_only:
            headers["If-None-Match"] = "*"
        if update_only:
            headers["If-Match"] = "*"
        return self.request(
            "PUT",
            self.instance.entity_url(entity),
            params=params,
            body=record,
            headers=headers,
            accept=accept,
            repeatable=not create_only if repeatable is None else repeatable,
        )

    def invoke_action(
        self,
        entity: str,
        action: str,
        record: dict[str, Any],
        *,
        parameters: dict[str, Any] | None = None,
        max_wait_seconds: float = 600.0,
        poll_interval_seconds: float = 1.0,
        accept: Iterable[int] = (),
    ) -> requests.Response:
        """``POST <entity>/<action>``; a 202 is followed to its ``Location`` until it answers 204."""
        url = f"{self.instance.entity_url(entity)}/{action}"
        response = self.request(
            "POST", url, body={"entity": record, "parameters": parameters or {}}, accept=accept
        )
        waited = 0.0
        while response.status_code == 202:
            location = response.headers.get("Location")
            if not location:
                msg = f"{action} answered 202 without a Location header to poll."
                raise AcumaticaError(msg)
            if waited >= max_wait_seconds:
                msg = f"{action} did not complete within {max_wait_seconds:.0f}s (last polled {location})."
                raise AcumaticaTransientError(msg)
            self._sleep(poll_interval_seconds)
            waited += poll_interval_seconds
            response = self.request("GET", self._absolute(location), accept=accept)
        return response

    def _absolute(self, location: str) -> str:
        if location.startswith(("http://", "https://")):
            return location
        parts = urlsplit(self.instance.base_url)
        if location.startswith("/"):
            return f"{parts.scheme}://{parts.netloc}{location}"
        return f"{self.instance.endpoint_url}/{location}"


def _entity_of(url: str, instance: Instance) -> str:
    path = url[len(instance.endpoint_url) :] if url.startswith(instance.endpoint_url) else urlsplit(url).path
    return path.strip("/").split("/")[0] or "/"
