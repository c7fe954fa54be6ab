"""Counters of what an emulator served, for tests and benchmarks."""

from __future__ import annotations

import threading
from collections import Counter


class Stats:
    """Thread-safe counters; ``reset()`` clears them.

    Attribute access reads a named counter (``stats.tokens_issued``, ``stats.logins`` ...), 0 when it
    was never counted. ``statuses`` counts HTTP status codes; ``requests`` counts (method, route kind).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.counters: Counter = Counter()
            self.statuses: Counter = Counter()
            self.requests: Counter = Counter()

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counters[name] += n

    def status(self, code: int) -> None:
        with self._lock:
            self.statuses[code] += 1

    def request(self, method: str, kind: str, status: int) -> None:
        with self._lock:
            self.requests[(method, kind)] += 1
            self.statuses[status] += 1

    def __getattr__(self, name: str) -> int:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.__dict__["counters"][name]

    def snapshot(self) -> dict:
        """A JSON-ready copy: ``statuses``, ``requests`` (when counted) and every named counter."""
        with self._lock:
            snap: dict = {"statuses": {str(s): n for s, n in sorted(self.statuses.items())}}
            if self.requests:
                snap["requests"] = {f"{m} {k}": n for (m, k), n in sorted(self.requests.items())}
            snap.update(self.counters)
            return snap
