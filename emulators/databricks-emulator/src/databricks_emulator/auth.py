"""OAuth M2M (client credentials) token issuance and Bearer token checks."""

from __future__ import annotations

import base64
import secrets
import threading
import time
from urllib.parse import parse_qsl, unquote

from .config import EmulatorConfig, Knobs


class AuthError(Exception):
    pass


class Authenticator:
    """Issues OAuth access tokens and accepts them (until they expire or are revoked) and PATs."""

    def __init__(self, config: EmulatorConfig, knobs: Knobs, stats) -> None:
        self.config, self.knobs, self.stats = config, knobs, stats
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}  # access token -> expiry (time.time())

    def issue(self, authorization: str | None, body: bytes) -> dict:
        """``POST /oidc/v1/token``: the token response, or AuthError(invalid_client/unsupported...)."""
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:].strip()).decode()
            except ValueError:
                decoded = ":"
            user, _, password = decoded.partition(":")
            client_id, client_secret = unquote(user), unquote(password)
        if form.get("grant_type") != "client_credentials":
            raise AuthError("unsupported_grant_type")
        known = {sp.client_id: sp.client_secret for sp in self.config.service_principals}
        if client_id not in known or known[client_id] != client_secret:
            raise AuthError("invalid_client")
        token = "eyJemu." + secrets.token_urlsafe(32)
        lifetime = float(self.knobs.token_lifetime_s)
        with self._lock:
            self._tokens[token] = time.time() + lifetime
        self.stats.count("tokens_issued")
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": max(1, int(lifetime)),
            "scope": form.get("scope") or "all-apis",
        }

    def check(self, authorization: str | None) -> None:
        """Raise AuthError with a message unless the Bearer token is a live OAuth token or a PAT."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise AuthError("Missing or malformed Authorization header.")
        token = authorization[7:].strip()
        if token in self.config.personal_access_tokens:
            return
        with self._lock:
            expiry = self._tokens.get(token)
        if expiry is None:
            raise AuthError("Invalid access token.")
        if time.time() >= expiry:
            raise AuthError("Token expired.")

    def revoke_tokens(self) -> int:
        with self._lock:
            n = len(self._tokens)
            self._tokens.clear()
        return n
