"""Time in the user's zone: ``MM/DD/YYYY HH:MM:SS`` for timestamps, ``MM/DD/YYYY`` for dates.

Intacct writes WHENCREATED/WHENMODIFIED in the requesting user's time zone and reads filter values in
it too; instants are kept as epoch seconds and converted at the edge.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

#: Generated history lies between these instants (UTC), so it is in the past.
HISTORY_START = int(datetime(2024, 1, 1, 8, 0, tzinfo=UTC).timestamp())
HISTORY_END = int(datetime(2025, 6, 1, 0, 0, tzinfo=UTC).timestamp())


class BadDate(ValueError):
    """A filter value that is not ``MM/DD/YYYY`` or ``MM/DD/YYYY HH:MM:SS``."""


class UserClock:
    """Formats and parses instants in the user's time zone; hands out 'now' for changes."""

    def __init__(self, timezone: str) -> None:
        self.zone = ZoneInfo(timezone)
        self.name = timezone
        self._lock = threading.Lock()
        self._last = 0
        self._fmt: dict[int, str] = {}
        self._parsed: dict[str, int] = {}

    def now(self, strictly_increasing: bool = True) -> int:
        """Epoch seconds of a change: never before history's end, after the last one if asked."""
        with self._lock:
            now = max(int(time.time()), HISTORY_END)
            if strictly_increasing:
                now = max(now, self._last + 1)
            self._last = max(self._last, now)
            return now

    def timestamp(self, seconds: int) -> str:
        text = self._fmt.get(seconds)
        if text is None:
            if len(self._fmt) > 50_000:
                self._fmt.clear()
            text = datetime.fromtimestamp(seconds, self.zone).strftime("%m/%d/%Y %H:%M:%S")
            self._fmt[seconds] = text
        return text

    def date(self, seconds: int) -> str:
        return self.timestamp(seconds)[:10]

    def parse(self, text: str) -> int:
        """'MM/DD/YYYY HH:MM:SS' or 'MM/DD/YYYY' (midnight), user-local -> epoch seconds."""
        value = self._parsed.get(text)
        if value is None:
            stripped = text.strip()
            try:
                fmt = "%m/%d/%Y %H:%M:%S" if " " in stripped else "%m/%d/%Y"
                local = datetime.strptime(stripped, fmt).replace(tzinfo=self.zone)
            except ValueError:
                raise BadDate(text) from None
            value = int(local.timestamp())
            if len(self._parsed) > 100_000:
                self._parsed.clear()
            self._parsed[text] = value
        return value

    def parse_day(self, text: str) -> int:
        """'MM/DD/YYYY' (a time part is ignored) -> proleptic ordinal of the day."""
        try:
            return datetime.strptime(text.strip()[:10], "%m/%d/%Y").toordinal()
        except ValueError:
            raise BadDate(text) from None

    def iso(self, seconds: float) -> str:
        """ISO-8601 with offset, as ``sessiontimestamp``/``sessiontimeout`` are written."""
        return datetime.fromtimestamp(int(seconds), self.zone).isoformat()

    def gmt_offset(self, seconds: float | None = None) -> str:
        """'+hh:mm' of the zone at ``seconds`` (now by default), as readUserFormatting reports."""
        moment = datetime.fromtimestamp(seconds if seconds is not None else time.time(), self.zone)
        offset = moment.strftime("%z")
        return f"{offset[:3]}:{offset[3:]}"
