"""Time in the instance's zone: base timestamps of generated records and 'now' for changes."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta, timezone

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)

#: Generated history starts here (instance-local) and stays before this end, so it is in the past.
HISTORY_START = (2024, 1, 1, 8, 0)
HISTORY_END = (2025, 6, 1, 0, 0)


def parse_offset(text: str) -> timezone:
    """'-05:00' -> a fixed-offset tzinfo."""
    sign = -1 if text.startswith("-") else 1
    hours, minutes = text.lstrip("+-").split(":")
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))


class InstanceClock:
    """Formats instants in the instance's UTC offset and hands out strictly increasing 'now' values.

    Every change made through the store gets a LastModifiedDateTime from :meth:`now_ms`, which is
    strictly greater than any timestamp issued before, so a keyset sync never misses a change that
    happens within the same millisecond as the previous one.
    """

    def __init__(self, offset: str) -> None:
        self.tz = parse_offset(offset)
        self._lock = threading.Lock()
        self._last_ms = 0
        self._cache: dict[int, str] = {}
        self._day_cache: dict[int, str] = {}
        self.history_start_ms = self.local_ms(*HISTORY_START)
        self.history_end_ms = self.local_ms(*HISTORY_END)

    def local_ms(self, *parts: int) -> int:
        return int(datetime(*parts, tzinfo=self.tz).timestamp() * 1000)

    def now_ms(self) -> int:
        with self._lock:
            ms = max(int(time.time() * 1000), self._last_ms + 1, self.history_end_ms)
            self._last_ms = ms
            return ms

    def format_ms(self, ms: int) -> str:
        """Epoch milliseconds -> '2024-03-01T09:15:00.123-05:00' (cached; groups share values)."""
        text = self._cache.get(ms)
        if text is None:
            if len(self._cache) > 50_000:
                self._cache.clear()
            text = datetime.fromtimestamp(ms / 1000, self.tz).isoformat(timespec="milliseconds")
            self._cache[ms] = text
        return text

    def format_day(self, ms: int) -> str:
        """Midnight of the local day containing ``ms``: '2024-03-01T00:00:00-05:00'."""
        day = (ms + int(self.tz.utcoffset(None).total_seconds() * 1000)) // 86_400_000
        text = self._day_cache.get(day)
        if text is None:
            local = datetime.fromtimestamp(day * 86_400, UTC).replace(tzinfo=self.tz)
            text = local.isoformat(timespec="seconds")
            self._day_cache[day] = text
        return text

    def parse_ms(self, text: str) -> int:
        """ISO string (with or without offset; naive means instance-local) -> epoch ms."""
        value = datetime.fromisoformat(text)
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.tz)
        return (value - _EPOCH) // _MS
