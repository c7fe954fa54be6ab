"""Signing in to Acumatica: OAuth 2.0 password grant or cookie login.

One authenticator serves a whole run, shared by every request, because each sign-in
occupies one of the license's API-user slots. Both kinds are ``requests`` auth objects,
so a Singer SDK stream or a plain ``requests`` caller can use them the same way:

- ``OAuthPasswordAuth`` asks ``/identity/connect/token`` for a token, renews it shortly
  before it expires (with the refresh token, which Acumatica rotates on every use) and,
  when the server still answers 401, renews it once on ``invalidate()``.
- ``CookieLoginAuth`` posts ``/entity/auth/login``, sends the session cookies, signs in
  again after ``invalidate()`` and signs out once on ``close()``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any, Protocol

import requests
from mlc_run_audit.retry import RetriesExhausted, RetryPolicy
from requests.cookies import get_cookie_header

from acumatica_client.errors import (
    AcumaticaAuthError,
    AcumaticaRequestError,
    AcumaticaTransientError,
    describe_error,
    error_detail,
    raise_if_retriable,
)
from acumatica_client.instance import Instance

logger = logging.getLogger("acumatica_client")

#: Renew an access token this many seconds before the server would reject it.
DEFAULT_REFRESH_MARGIN_S = 60.0


class AcumaticaAuth(Protocol):
    """What the tap and target need from an authenticator."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest: ...

    def invalidate(self) -> None:
        """The server answered 401: sign in again before the next request."""

    def close(self) -> None:
        """Release the API-user slot (sign out) at the end of a run."""


def _unauthenticated(request: requests.PreparedRequest) -> requests.PreparedRequest:
    # Sign-in calls share the run's session, whose own ``auth`` is this authenticator.
    return request


def _post(
    policy: RetryPolicy, session: requests.Session, url: str, what: str, timeout: float, **body: Any
) -> requests.Response:
    """POST a sign-in request under the retry policy: 429/5xx and dropped connections are retried,
    any other answer is returned."""

    def send() -> requests.Response:
        response = session.post(url, timeout=timeout, auth=_unauthenticated, **body)
        raise_if_retriable(response, policy)
        return response

    try:
        return policy.run(send, method="POST", url=url, what=what)
    except RetriesExhausted as exc:
        # An AcumaticaError, not a requests error: the request that needed the sign-in must not
        # retry it again on top of these retries.
        if exc.response is not None:
            raise AcumaticaRequestError(exc.response, message=str(exc)) from None
        raise AcumaticaTransientError(str(exc)) from None


class OAuthPasswordAuth:
    """OAuth 2.0 resource-owner password grant, the flow Acumatica offers integrations.

    ``client_id`` is the connected application's id with the tenant, ``GUID@Tenant``.
    Scope ``api offline_access`` returns a refresh token; each refresh returns a new
    one and the previous one stops working, so the newest is always kept.
    """

    def __init__(
        self,
        instance: Instance,
        *,
        client_id: str,
        client_secret: str,
        username: str,
        password: str,
        session: requests.Session,
        scope: str = "api offline_access",
        refresh_margin_s: float = DEFAULT_REFRESH_MARGIN_S,
        policy: RetryPolicy,
        timeout: float = 60.0,
    ) -> None:
        self._instance = instance
        self._client_id = client_id
        self._client_secret = client_secret
        self._username = username
        self._password = password
        self._session = session
        self._scope = scope
        self._margin = refresh_margin_s
        self._timeout = timeout
        self._access_token: str | None = None
        self._refresh_token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()
        self._policy = policy
        #: Tokens obtained this run, by grant type (for logs and tests).
        self.grants: dict[str, int] = {"password": 0, "refresh_token": 0}

    def __repr__(self) -> str:
        return f"OAuthPasswordAuth(client_id={self._client_id!r}, username={self._username!r})"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.access_token()}"
        return request

    def access_token(self) -> str:
        """A token valid for at least the refresh margin, renewed if needed."""
        with self._lock:
            if self._access_token is None or time.monotonic() >= self._expires_at:
                self._renew()
            assert self._access_token is not None
            return self._access_token

    def invalidate(self) -> None:
        """Forget the access token (the server rejected it); keep the refresh token."""
        with self._lock:
            self._access_token = None

    def close(self) -> None:
        """Tokens expire by themselves; nothing to sign out from."""

    def _renew(self) -> None:
        if self._refresh_token:
            body = self._grant(
                {"grant_type": "refresh_token", "refresh_token": self._refresh_token},
                fallback_ok=True,
            )
            if body is not None:
                self._store(body, "refresh_token")
                return
            logger.info("Refresh token no longer accepted; signing in again with the password grant.")
        body = self._grant(
            {
                "grant_type": "password",
                "username": self._username,
                "password": self._password,
                "scope": self._scope,
            },
            fallback_ok=False,
        )
        assert body is not None
        self._store(body, "password")

    def _store(self, body: dict[str, Any], grant: str) -> None:
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            msg = "Acumatica token endpoint answered without an access_token."
            raise AcumaticaAuthError(msg)
        lifetime = float(body.get("expires_in") or 3600)
        self._access_token = token
        self._refresh_token = body.get("refresh_token") or None
        # Renew before expiry; for very short lifetimes keep at least half of it usable.
        self._expires_at = time.monotonic() + max(lifetime - self._margin, lifetime / 2)
        self.grants[grant] += 1
        logger.debug("Obtained an Acumatica access token by %s grant (expires in %ss).", grant, lifetime)

    def _grant(self, fields: dict[str, str], *, fallback_ok: bool) -> dict[str, Any] | None:
        form = {"client_id": self._client_id, "client_secret": self._client_secret, **fields}
        response = _post(
            self._policy,
            self._session,
            self._instance.token_url,
            "OAuth token request",
            self._timeout,
            data=form,
        )
        if response.ok:
            grant: dict[str, Any] = response.json()
            return grant
        if fallback_ok and response.status_code in (400, 401):
            return None
        raise AcumaticaAuthError(
            f"Acumatica rejected the OAuth {fields['grant_type']} grant at "
            f"{self._instance.token_url}: {error_detail(response)}. Check the settings "
            "client_id (GUID@Tenant), client_secret, username and password."
        )


class CookieLoginAuth:
    """Cookie sign-in with ``/entity/auth/login``; one session for the whole run.

    Signs in lazily on the first request, again after ``invalidate()`` (session timed
    out), and out once on ``close()``: an open session holds an API-user slot for ten
    minutes after its last request.
    """

    def __init__(
        self,
        instance: Instance,
        *,
        username: str,
        password: str,
        tenant: str | None,
        branch: str | None,
        session: requests.Session,
        locale: str | None = None,
        policy: RetryPolicy,
        timeout: float = 60.0,
    ) -> None:
        self._instance = instance
        self._username = username
        self._password = password
        self._tenant = tenant
        self._branch = branch
        self._locale = locale
        self._session = session
        self._timeout = timeout
        self._signed_in = False
        self._lock = threading.Lock()
        self._policy = policy
        #: Sign-ins and sign-outs this run (for logs and tests).
        self.logins = 0
        self.logouts = 0

    def __repr__(self) -> str:
        return f"CookieLoginAuth(username={self._username!r}, tenant={self._tenant!r})"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        with self._lock:
            if not self._signed_in:
                self._login()
        # The request was prepared before sign-in may have set the cookies.
        request.headers.pop("Cookie", None)
        cookie = get_cookie_header(self._session.cookies, request)  # type: ignore[no-untyped-call]  # untyped in requests
        if cookie:
            request.headers["Cookie"] = cookie
        return request

    def invalidate(self) -> None:
        """The session is gone on the server (timed out); sign in before the next call."""
        with self._lock:
            self._signed_in = False
            self._session.cookies.clear()

    def close(self) -> None:
        """Sign out once, freeing the API-user slot; failures are logged, not raised."""
        with self._lock:
            if not self._signed_in:
                return
            self._signed_in = False
            try:
                response = self._session.post(
                    self._instance.logout_url, timeout=self._timeout, auth=_unauthenticated
                )
                self.logouts += 1
                if not response.ok:
                    logger.warning("Acumatica sign-out failed: %s", describe_error(response))
            except requests.RequestException as exc:
                logger.warning("Acumatica sign-out failed: %s", type(exc).__name__)
            self._session.cookies.clear()

    def _login(self) -> None:
        body = {"name": self._username, "password": self._password}
        for key, value in (("tenant", self._tenant), ("branch", self._branch), ("locale", self._locale)):
            if value:
                body[key] = value
        response = _post(
            self._policy, self._session, self._instance.login_url, "sign-in", self._timeout, json=body
        )
        if not response.ok:
            raise AcumaticaAuthError(
                f"Acumatica sign-in at {self._instance.login_url} failed: {describe_error(response)}. "
                "Check the settings username, password, tenant and branch."
            )
        self._signed_in = True
        self.logins += 1


def make_auth(
    config: Mapping[str, Any],
    instance: Instance,
    session: requests.Session,
    policy: RetryPolicy,
) -> AcumaticaAuth:
    """The authenticator a tap or target config asks for (``auth_method``: oauth or cookie). Its
    sign-in requests follow ``policy``, the one every other request of the run follows."""
    method = config.get("auth_method", "oauth")
    missing = [k for k in ("username", "password") if not config.get(k)]
    if method == "oauth":
        missing += [k for k in ("client_id", "client_secret") if not config.get(k)]
    elif method != "cookie":
        msg = f"Setting auth_method must be 'oauth' or 'cookie', not {method!r}."
        raise AcumaticaAuthError(msg)
    if missing:
        msg = f"auth_method {method!r} needs the settings: {', '.join(missing)}."
        raise AcumaticaAuthError(msg)
    if method == "oauth":
        client_id = config["client_id"]
        if "@" not in client_id and config.get("tenant"):
            client_id = f"{client_id}@{config['tenant']}"
        return OAuthPasswordAuth(
            instance,
            client_id=client_id,
            client_secret=config["client_secret"],
            username=config["username"],
            password=config["password"],
            session=session,
            policy=policy,
        )
    return CookieLoginAuth(
        instance,
        username=config["username"],
        password=config["password"],
        tenant=config.get("tenant"),
        branch=config.get("branch"),
        session=session,
        policy=policy,
    )
