"""License limits (request queue, per-minute rate, concurrency) and injected faults.

Queue semantics follow Acumatica's "License Restrictions for API Users": once the past window's
count reaches half the per-minute limit, each request is delayed by the remaining time in the
window divided by the remaining allowed requests; a request is declined (429) only when more than
``max_queue`` requests are queued or it would wait longer than ``max_queue_wait_s``.
"""

from __future__ import annotations

import collections
import random
import threading
import time
from dataclasses import dataclass

from .config import Knobs

LICENSE_LIMIT_MESSAGE = "The number of requests has exceeded the limit imposed by the license."


class Declined(Exception):
    """The request is refused with 429 by the license limits."""


@dataclass
class Fault:
    """What to do instead of answering: a status to send, or closing the connection."""

    status: int | None = None
    reset: bool = False


class LicenseLimits:
    """Per-minute rate queue and concurrent-request limit, shared by all connections."""

    def __init__(self, knobs: Knobs) -> None:
        self.knobs = knobs
        self._lock = threading.Condition()
        self._admitted: collections.deque[float] = collections.deque()
        self._next_free = 0.0
        self._queued = 0
        self._running = 0
        #: Most requests served at once, and how many requests had to queue (rate or concurrency),
        #: since the last ``reset_counters``: what a client's own limits are checked against.
        self.peak_running = 0
        self.queued_total = 0

    def acquire(self) -> None:
        """Wait for a turn, or raise Declined. Pair with release()."""
        knobs = self.knobs
        with self._lock:
            wait = self.reserve(time.monotonic())
            if wait > 0:
                self._queued += 1
                self.queued_total += 1
        if wait > 0:
            time.sleep(wait)
        with self._lock:
            if wait > 0:
                self._queued -= 1
            if self._concurrency_full():
                deadline = time.monotonic() + knobs.max_queue_wait_s
                if self._queued + 1 > knobs.max_queue:
                    raise Declined
                self._queued += 1
                self.queued_total += 1
                try:
                    while self._concurrency_full():
                        left = deadline - time.monotonic()
                        if left <= 0:
                            raise Declined
                        self._lock.wait(left)
                finally:
                    self._queued -= 1
            self._running += 1
            self.peak_running = max(self.peak_running, self._running)

    def reset_counters(self) -> None:
        with self._lock:
            self.peak_running = self._running
            self.queued_total = 0

    def release(self) -> None:
        with self._lock:
            self._running -= 1
            self._lock.notify()

    def queued(self) -> int:
        return self._queued

    def _concurrency_full(self) -> bool:
        limit = self.knobs.max_concurrent_requests
        return limit is not None and self._running >= limit

    def reserve(self, now: float) -> float:
        """Reserve this request's turn in the rate window and return how long it must wait from
        ``now``; raise Declined when the queue is full or the wait too long. Call under the lock.

        Queued requests leave one by one, in order: each waits for the one ahead of it, then for
        (time left in the window) / (requests left) as counted when it reaches the front."""
        knobs = self.knobs
        limit = knobs.requests_per_minute
        if not limit:
            return 0.0
        window = knobs.rate_window_s
        front = max(now, self._next_free)
        admitted = self._admitted
        while admitted and admitted[0] <= front - window:
            admitted.popleft()
        count = len(admitted)
        delay = 0.0
        if count >= limit / 2:
            remaining_time = max(0.0, admitted[0] + window - front) if admitted else window
            remaining = limit - count
            delay = remaining_time if remaining <= 0 else remaining_time / remaining
        start = front + delay
        wait = start - now
        if wait > 0 and (self._queued + 1 > knobs.max_queue or wait > knobs.max_queue_wait_s):
            raise Declined
        admitted.append(start)
        if wait > 0:
            self._next_free = start
        return wait


class FaultInjector:
    """Faults armed by tests or the control API: fail_next, reset_next, 5xx rate, latency."""

    def __init__(self, knobs: Knobs, seed: int) -> None:
        self.knobs = knobs
        self._lock = threading.Lock()
        self._fail: collections.deque[int] = collections.deque()
        self._reset = 0
        self._random = random.Random(seed)

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        with self._lock:
            self._fail.extend([status] * n)

    def reset_next(self, n: int = 1) -> None:
        with self._lock:
            self._reset += n

    def clear(self) -> None:
        with self._lock:
            self._fail.clear()
            self._reset = 0

    def delay(self) -> None:
        """The latency knob: called while the request holds its concurrency slot, so requests
        beyond the license's concurrency wait for it too."""
        if self.knobs.latency_ms:
            time.sleep(self.knobs.latency_ms / 1000)

    def next_fault(self) -> Fault | None:
        with self._lock:
            if self._reset:
                self._reset -= 1
                return Fault(reset=True)
            if self._fail:
                return Fault(status=self._fail.popleft())
            rate = self.knobs.error_rate_5xx
            if rate and self._random.random() < rate:
                return Fault(status=500)
        return None
