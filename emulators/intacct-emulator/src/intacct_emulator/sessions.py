"""API sessions from ``getAPISession``: id, entity, endpoint, and a sliding timeout."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

from .config import Knobs


@dataclass
class Session:
    sessionid: str
    userid: str
    companyid: str
    #: Entity (LOCATION id) the session is scoped to; '' is the top level.
    locationid: str
    #: Gateway path the session must be used on.
    endpoint_path: str
    expires_at: float


class SessionRegistry:
    """Sessions issued by this gateway; each use slides the expiry by ``knobs.session_timeout_s``."""

    def __init__(self, knobs: Knobs) -> None:
        self.knobs = knobs
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def open(self, userid: str, companyid: str, locationid: str, endpoint_path: str) -> Session:
        session = Session(
            secrets.token_urlsafe(24) + "..",
            userid,
            companyid,
            locationid,
            endpoint_path,
            time.time() + self.knobs.session_timeout_s,
        )
        with self._lock:
            self._sessions[session.sessionid] = session
        return session

    def use(self, sessionid: str) -> Session | None:
        """The live session with this id, its expiry slid forward; None if unknown or expired."""
        now = time.time()
        with self._lock:
            session = self._sessions.get(sessionid)
            if session is None:
                return None
            if session.expires_at <= now:
                del self._sessions[sessionid]
                return None
            session.expires_at = now + self.knobs.session_timeout_s
            return session

    def expire_all(self) -> int:
        with self._lock:
            n = len(self._sessions)
            self._sessions.clear()
            return n

    def active(self) -> int:
        now = time.time()
        with self._lock:
            return sum(1 for s in self._sessions.values() if s.expires_at > now)
