"""Sign-in: OAuth 2.0 (password and refresh_token grants) and cookie sessions (/entity/auth/login).

Each cookie session and each OAuth token chain with a live access token is one API user; the
license's API-user limit applies to both.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

from .config import EmulatorConfig, Knobs


class AuthError(Exception):
    """A failed sign-in: HTTP status plus the JSON body to send."""

    def __init__(self, status: int, body: dict) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


API_LOGIN_LIMIT = {
    "message": "API Login Limit. You have exceeded the maximum number of API users allowed by your license.",
    "exceptionMessage": "API Login Limit",
    "exceptionType": "PX.Data.PXException",
}


@dataclass
class Chain:
    """One OAuth sign-in and the tokens refreshed from it."""

    user: str
    tenant: str
    client_id: str
    scope: str
    started: float
    refresh_token: str | None = None
    access_token: str | None = None
    access_expires: float = 0.0


@dataclass
class Session:
    """A cookie session created by /entity/auth/login."""

    user: str
    tenant: str
    branch: str
    last_seen: float


class Authenticator:
    """Issues and checks access tokens and session cookies."""

    def __init__(self, config: EmulatorConfig, knobs: Knobs, stats) -> None:
        self.config, self.knobs, self.stats = config, knobs, stats
        self._lock = threading.Lock()
        self._chains: dict[str, Chain] = {}  # access token -> chain
        self._refresh: dict[str, Chain] = {}  # current refresh token -> chain
        self._sessions: dict[str, Session] = {}

    # ---- bookkeeping ------------------------------------------------------------------------
    def _prune(self, now: float) -> None:
        idle = self.knobs.session_idle_timeout_s
        for cookie, session in list(self._sessions.items()):
            if now - session.last_seen > idle:
                del self._sessions[cookie]
        for token, chain in list(self._chains.items()):
            if chain.access_expires <= now or chain.access_token != token:
                del self._chains[token]
        for token, chain in list(self._refresh.items()):
            if now - chain.started > self.knobs.refresh_chain_lifetime_s:
                del self._refresh[token]

    def api_users(self) -> int:
        with self._lock:
            self._prune(time.monotonic())
            return len(self._sessions) + len({id(c) for c in self._chains.values()})

    def _check_user_limit(self, now: float, chain: Chain | None = None) -> None:
        limit = self.knobs.max_api_users
        if limit is None:
            return
        self._prune(now)
        active = {id(c) for c in self._chains.values()}
        if chain is not None and id(chain) in active:
            return
        if len(self._sessions) + len(active) >= limit:
            raise AuthError(429, API_LOGIN_LIMIT)

    def _user(self, name: str, password: str, tenant: str):
        for user in self.config.users:
            if user.name == name and user.password == password and user.tenant == tenant:
                return user
        return None

    # ---- OAuth --------------------------------------------------------------------------------
    def token(self, form: dict[str, str]) -> dict:
        """POST /identity/connect/token."""
        grant = form.get("grant_type", "")
        if grant not in ("password", "refresh_token"):
            raise AuthError(400, {"error": "unsupported_grant_type"})
        client_id = form.get("client_id", "")
        client = next((c for c in self.config.clients if c.client_id.lower() == client_id.lower()), None)
        tenant = client_id.partition("@")[2]
        if (
            client is None
            or client.client_secret != form.get("client_secret")
            or tenant not in self.config.tenants
        ):
            raise AuthError(400, {"error": "invalid_client"})
        now = time.monotonic()
        with self._lock:
            if grant == "password":
                user = self._user(form.get("username", ""), form.get("password", ""), tenant)
                if user is None:
                    raise AuthError(
                        400, {"error": "invalid_grant", "error_description": "invalid_username_or_password"}
                    )
                scope = (
                    " ".join(
                        s
                        for s in form.get("scope", "api").split()
                        if s in ("api", "offline_access", "api:concurrent_access")
                    )
                    or "api"
                )
                self._check_user_limit(now)
                chain = Chain(user.name, tenant, client_id, scope, now)
                self.stats.count("tokens_issued")
            else:
                chain = self._refresh.pop(form.get("refresh_token", ""), None)
                if (
                    chain is None
                    or chain.client_id.lower() != client_id.lower()
                    or (now - chain.started > self.knobs.refresh_chain_lifetime_s)
                ):
                    raise AuthError(400, {"error": "invalid_grant"})
                try:
                    self._check_user_limit(now, chain)
                except AuthError:
                    self._refresh[form.get("refresh_token", "")] = chain
                    raise
                self.stats.count("refreshes")
            chain.access_token = secrets.token_urlsafe(24)
            chain.access_expires = now + self.knobs.token_lifetime_s
            self._chains[chain.access_token] = chain
            body = {
                "access_token": chain.access_token,
                "expires_in": int(self.knobs.token_lifetime_s),
                "token_type": "Bearer",
                "scope": chain.scope,
            }
            if "offline_access" in chain.scope.split():
                chain.refresh_token = secrets.token_urlsafe(32)
                self._refresh[chain.refresh_token] = chain
                body["refresh_token"] = chain.refresh_token
            return body

    def expire_tokens(self) -> int:
        """Invalidate every access token at once (refresh tokens stay usable)."""
        with self._lock:
            count = len(self._chains)
            self._chains.clear()
            return count

    # ---- cookie sessions ---------------------------------------------------------------------
    def login(self, body: dict) -> tuple[str, Session]:
        """POST /entity/auth/login -> (cookie value, session)."""
        tenant = body.get("tenant") or (self.config.tenants[0] if len(self.config.tenants) == 1 else "")
        now = time.monotonic()
        with self._lock:
            user = self._user(str(body.get("name", "")), str(body.get("password", "")), tenant)
            if user is None:
                message = "Invalid credentials. Please try again."
                raise AuthError(
                    self.knobs.login_failure_status,
                    {
                        "message": message,
                        "exceptionMessage": message,
                        "exceptionType": "PX.Data.PXException",
                        "stackTrace": "",
                    },
                )
            self._check_user_limit(now)
            cookie = secrets.token_hex(32).upper()
            session = Session(user.name, tenant, body.get("branch") or user.branch, now)
            self._sessions[cookie] = session
            self.stats.count("logins")
            return cookie, session

    def logout(self, cookie: str | None, bearer: str | None) -> None:
        with self._lock:
            if cookie:
                self._sessions.pop(cookie, None)
            if bearer and bearer in self._chains:
                del self._chains[bearer]
            self.stats.count("logouts")

    def active_sessions(self) -> int:
        return self.api_users()

    # ---- request check -----------------------------------------------------------------------
    def bearer_tenant(self, bearer: str) -> str | None:
        """The tenant a live access token was issued for, or None."""
        now = time.monotonic()
        with self._lock:
            chain = self._chains.get(bearer)
            if chain is None or chain.access_expires <= now:
                return None
            return chain.tenant

    def authorize(self, bearer: str | None, cookie: str | None) -> bool:
        """Whether a data request carries a valid access token or a live session cookie."""
        now = time.monotonic()
        with self._lock:
            if bearer is not None:
                chain = self._chains.get(bearer)
                return chain is not None and chain.access_expires > now
            if cookie is not None:
                session = self._sessions.get(cookie)
                if session is None:
                    return False
                if now - session.last_seen > self.knobs.session_idle_timeout_s:
                    del self._sessions[cookie]
                    return False
                session.last_seen = now
                return True
            return False
