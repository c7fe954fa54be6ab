"""Gateway faults and limits: GW-0010 rate limiting, 5xx answers, truncated bodies, latency, and
control characters or invalid bytes injected into served values."""

from __future__ import annotations

import collections
import random
import threading
import time

from .config import Knobs
from .schema import TEXT, ObjectDef
from .xmlout import INVALID_BYTE_MARK


class Faults:
    def __init__(self, knobs: Knobs, seed: int) -> None:
        self.knobs = knobs
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._arrivals: collections.deque[float] = collections.deque()
        self._in_flight = 0
        self._records = 0

    def delay(self) -> None:
        if self.knobs.latency_ms:
            time.sleep(self.knobs.latency_ms / 1000)

    def http_failure(self) -> int | None:
        """A 5xx status to answer instead of serving, if one is due."""
        with self._lock:
            if self.knobs.fail_next > 0:
                self.knobs.fail_next -= 1
                return self.knobs.fail_status
            rate = self.knobs.error_rate_5xx
            if rate and self._random.random() < rate:
                return 500
        return None

    def admit(self) -> bool:
        """Whether a request may run now; False means GW-0010. Pair a True with release()."""
        knobs = self.knobs
        now = time.monotonic()
        with self._lock:
            if knobs.rate_limit_next > 0:
                knobs.rate_limit_next -= 1
                return False
            limit = knobs.max_concurrent_requests
            if limit is not None and self._in_flight >= limit:
                return False
            per_window = knobs.requests_per_window
            if per_window is not None:
                while self._arrivals and self._arrivals[0] <= now - knobs.rate_window_s:
                    self._arrivals.popleft()
                if len(self._arrivals) >= per_window:
                    return False
                self._arrivals.append(now)
            self._in_flight += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def truncate(self, body: bytes) -> bytes:
        with self._lock:
            if self.knobs.truncate_next <= 0:
                return body
            self.knobs.truncate_next -= 1
        return body[: max(1, int(len(body) * self.knobs.truncate_fraction))]

    def corrupt(self, obj: ObjectDef, rec: dict, fields: list[str]) -> dict:
        """Every Nth served record gets control characters / an invalid byte inside a text value."""
        every_cc, every_bad = self.knobs.control_chars_every, self.knobs.invalid_bytes_every
        if not every_cc and not every_bad:
            return rec
        with self._lock:
            self._records += 1
            n = self._records
        marks = ""
        if every_cc and n % every_cc == 0:
            marks += "\x0b\x1f"
        if every_bad and n % every_bad == 0:
            marks += INVALID_BYTE_MARK
        if not marks:
            return rec
        target = next((f for f in fields if obj.by_name[f].datatype == TEXT and rec.get(f)), None)
        if target is None:
            return rec
        value = rec[target]
        cut = len(value) // 2
        return {**rec, target: value[:cut] + marks + value[cut:]}
