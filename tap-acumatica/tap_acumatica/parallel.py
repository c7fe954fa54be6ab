"""Concurrent reads within the license's limits.

Acumatica licenses limit concurrent API requests and requests per minute (form SM604000). A
real instance answers a page in hundreds of milliseconds or more, so a run that sends one
request at a time spends most of its time waiting. Two pieces:

- :class:`LicenseGate`, mounted on the run's HTTP session, keeps every request of the run
  (sign-ins included) within ``max_concurrent_requests`` in flight and
  ``max_requests_per_minute`` started in any minute.
- :class:`SlicedRead` reads one stream's timestamp window with several requests at once. The
  window is cut into time slices, each read with its own keyset cursor; a worker that finds no
  slice to read halves the widest slice still being read. Pages are emitted slice after slice,
  so records leave the tap in exactly the (timestamp, keys) order of a sequential read and
  bookmarks stay as safe as before: nothing is emitted before every record ahead of it.

A slice boundary is a timestamp: rows up to and including it belong to the lower slice, so a
group of rows sharing one timestamp is never split across slices.
"""

from __future__ import annotations

import collections
import mmap
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO, Any, overload

import msgspec
import requests
from acumatica_client import odata
from requests.adapters import HTTPAdapter
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError

#: Each worker may read this many pages ahead of the one being emitted: enough to keep every
#: request slot busy (4 workers at 300 ms: 0.30 of one worker's time with 2 or 4, 0.33 with 1),
#: few enough that memory stays a few undecoded pages per worker.
PAGES_AHEAD_PER_WORKER = 2
#: Pages per slice when a window is cut up. Every slice ends with a page that is not full, so
#: a slice of n pages costs about n + 1/2 requests; and the workers read the first slices ahead
#: of the one being emitted, so slices must be small next to the pages they may read ahead.
PAGES_PER_SLICE = 3
#: Records per block of a :class:`SpooledPage`: what is read back at once (about 350 KB for Bills
#: with their lines), small next to a page of 1,000.
RECORDS_PER_BLOCK = 100
#: Slices a window is cut into at most: the density of one page is only an estimate.
MAX_SLICES = 400
#: Extra halvings per stream at most, per worker (for windows whose rows are unevenly spread):
#: each can cost one request that finds nothing.
SPLITS_PER_WORKER = 8
_MS = timedelta(milliseconds=1)


class LicenseGate:
    """At most ``concurrent`` requests in flight and ``per_minute`` started in any
    ``window_s`` seconds, for every request sent through it (see :class:`GatedAdapter`).

    Requests beyond either limit wait here, in the tap, instead of in the instance's license
    queue, which declines requests when more than 20 are queued."""

    def __init__(
        self,
        concurrent: int,
        per_minute: int | None = None,
        *,
        window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.concurrent = concurrent
        self.per_minute = per_minute
        self.window_s = window_s
        self._clock = clock
        self._sleep = sleep
        self._slots = threading.BoundedSemaphore(concurrent)
        self._lock = threading.Lock()
        self._starts: collections.deque[float] = collections.deque()
        self.in_flight = 0
        self.peak_in_flight = 0

    def acquire(self) -> None:
        self._slots.acquire()
        try:
            self._wait_for_rate()
        except BaseException:
            self._slots.release()
            raise
        with self._lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def release(self) -> None:
        with self._lock:
            self.in_flight -= 1
        self._slots.release()

    def _wait_for_rate(self) -> None:
        limit = self.per_minute
        if not limit:
            return
        while True:
            with self._lock:
                now = self._clock()
                starts = self._starts
                while starts and starts[0] <= now - self.window_s:
                    starts.popleft()
                if len(starts) < limit:
                    starts.append(now)
                    return
                wait = starts[0] + self.window_s - now
            self._sleep(wait)


class GatedAdapter(HTTPAdapter):
    """The session's transport, sending each request only when the gate lets it."""

    def __init__(self, gate: LicenseGate) -> None:
        # One pooled connection per request slot, so none is opened and dropped per request.
        super().__init__(pool_connections=1, pool_maxsize=max(gate.concurrent, 10))
        self.gate = gate

    def send(  # type: ignore[override]  # requests' own signature is untyped keyword soup
        self, request: requests.PreparedRequest, stream: bool = False, **kwargs: Any
    ) -> requests.Response:
        self.gate.acquire()
        try:
            response = super().send(request, stream=stream, **kwargs)
        finally:
            self.gate.release()
        if not stream:
            keep_body(response, read_body(response))
        return response


def read_body(response: requests.Response) -> bytes:
    """An answer's whole body, read in one piece (from a response sent with ``stream=True``).

    requests reads a body as a list of 10 KiB chunks joined at the end: twice the body at once,
    and hundreds of small blocks scattered in the reading thread's malloc arena, which glibc
    keeps after they are freed (each thread has an arena of its own). One read of the whole
    body is one block the size of the body."""
    with _as_requests_errors():
        body: bytes = response.raw.read(decode_content=True)
    return body


@contextmanager
def _as_requests_errors() -> Iterator[None]:
    """urllib3's errors of reading a body, raised as requests' own reading names them."""
    try:
        yield
    except ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(exc) from exc
    except DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc) from exc
    except ReadTimeoutError as exc:
        raise requests.exceptions.ConnectionError(exc) from exc


def read_body_mapped(response: requests.Response) -> bytes | mmap.mmap:
    """An answer's whole body in memory mapped for it alone, returned to the system as soon as
    the last reference to it goes (from a response sent with ``stream=True``).

    A body of a few MB read into a ``bytes`` is a malloc of that size. glibc serves the first
    from a mapping of its own, and on freeing it raises its mapping threshold above that size
    (``M_MMAP_THRESHOLD`` is dynamic), so every later body comes from the reading thread's arena
    and stays there once freed: with four reader threads, four arenas each kept a few bodies'
    worth of freed memory (about 22 MiB at 1,000 Bills a page). Read in small pieces into a
    mapping of the announced length, the body never passes through malloc; the pieces are one
    small block reused. An answer without a plain length is read with :func:`read_body`."""
    length = response.headers.get("Content-Length")
    if (
        not length
        or not length.isdigit()
        or response.headers.get("Content-Encoding", "identity") != "identity"
    ):
        return read_body(response)
    size = int(length)
    if size == 0:
        return b""
    body = mmap.mmap(-1, size)
    try:
        with _as_requests_errors():
            while body.tell() < size:
                piece = response.raw.read(min(_PIECE, size - body.tell()), decode_content=True)
                if not piece:
                    raise ProtocolError(f"answer cut off after {body.tell()} of {size} bytes")
                body.write(piece)
    except BaseException:
        body.close()
        raise
    return body


#: Bytes read from the socket at a time into a mapped body: few reads (each lets go of the GIL),
#: and a block the reading thread's arena reuses from one piece to the next.
_PIECE = 512 * 1024


def keep_body(response: requests.Response, body: bytes) -> None:
    """Make ``body`` the response's ``content``, as requests' own reading would have."""
    # requests has no public setter; these are what its ``content`` property stores.
    response._content = body
    response._content_consumed = True  # type: ignore[attr-defined]  # absent from the stubs


class SpooledPage(Sequence[msgspec.Raw]):
    """A page of undecoded JSON records waiting for its turn in a temporary file of its own, read
    back a block of records at a time when it is emitted.

    Pages read ahead wait for the slices before them. Held in memory as the answer's bytes, each
    waited as large as the answer (3.5 MB for 1,000 Bills with their lines) and a few per worker
    made most of a concurrent read's memory. Spooled, a waiting page costs a file, and emitting
    it holds one block of records (about 350 KB) at a time; the file is gone once the page was
    emitted (or dropped). Compressing the pages instead kept them in memory at a twelfth of
    their size but cost a third of the tap's speed."""

    __slots__ = ("_blocks", "_count", "_file", "_first", "_last")
    _file: IO[bytes]

    def __init__(self, rows: Sequence[msgspec.Raw]) -> None:
        self._count = len(rows)
        # The slice's cursor is read from these: kept apart, not read back for it.
        self._first = msgspec.Raw(bytes(rows[0])) if rows else None
        self._last = msgspec.Raw(bytes(rows[-1])) if rows else None
        try:
            self._file = tempfile.TemporaryFile(prefix="tap-acumatica-page-")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            raise OSError(_spool_failed(exc)) from exc
        #: (offset, length) in the file of each block's JSON array.
        self._blocks: list[tuple[int, int]] = []
        offset = 0
        try:
            for start in range(0, len(rows), RECORDS_PER_BLOCK):
                parts: list[bytes | msgspec.Raw] = [b"["]
                for n, row in enumerate(rows[start : start + RECORDS_PER_BLOCK]):
                    if n:
                        parts.append(b",")
                    parts.append(row)
                parts.append(b"]")
                block = b"".join(parts)
                self._file.write(block)
                self._blocks.append((offset, len(block)))
                offset += len(block)
            self._file.flush()
        except OSError as exc:
            self._file.close()
            raise OSError(_spool_failed(exc)) from exc
        except BaseException:
            self._file.close()
            raise

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[msgspec.Raw]:
        left = self._count
        for block in range(len(self._blocks)):
            rows = self._block(block)
            yield from rows[:left] if left < len(rows) else rows
            left -= len(rows)

    @overload
    def __getitem__(self, index: int) -> msgspec.Raw: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[msgspec.Raw]: ...
    def __getitem__(self, index: int | slice) -> msgspec.Raw | Sequence[msgspec.Raw]:
        if isinstance(index, slice):
            start, stop, step = index.indices(self._count)
            if start == 0 and step == 1 and stop > 0:
                return self._prefix(stop)
            return list(self)[index]  # not asked for by the reads: in memory
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError(index)
        if index == 0 and self._first is not None:
            return self._first
        if index == self._count - 1 and self._last is not None:
            return self._last
        block, offset = divmod(index, RECORDS_PER_BLOCK)
        return self._block(block)[offset]

    def _prefix(self, count: int) -> SpooledPage:
        """The first ``count`` records, spooled still: a page cut where a halved slice ends."""
        last = msgspec.Raw(bytes(self[count - 1]))
        page = SpooledPage.__new__(SpooledPage)
        # Its own descriptor of the same (unnamed) file: the file goes when both are closed.
        page._file = os.fdopen(os.dup(self._file.fileno()), "rb")
        page._count = count
        page._first = self._first
        page._last = last
        page._blocks = self._blocks[: -(-count // RECORDS_PER_BLOCK)]
        return page

    def _block(self, block: int) -> list[msgspec.Raw]:
        offset, length = self._blocks[block]
        data = os.pread(self._file.fileno(), length, offset)
        if len(data) != length:
            msg = (
                f"A page read ahead came back short from its file in {tempfile.gettempdir()} "
                f"({len(data)} of {length} bytes): something truncated the tap's temporary files."
            )
            raise OSError(msg)
        return _split(data)

    def close(self) -> None:
        """Delete the page's file (once it was emitted, or when the read stops)."""
        self._file.close()

    def __del__(self) -> None:
        file = getattr(self, "_file", None)  # absent if the constructor failed before it
        if file is not None:
            file.close()


_split = msgspec.json.Decoder(list[msgspec.Raw]).decode


def _spool_failed(exc: OSError) -> str:
    return (
        f"Could not spool a page read ahead to the temporary directory {tempfile.gettempdir()}: "
        f"{exc.strerror or exc}. Free space there, set TMPDIR to a directory with room, or set "
        "max_concurrent_requests to 1 (pages are then read one at a time, none ahead)."
    )


# Sliced reads of one stream ------------------------------------------------------------------

Cursor = tuple[Any, ...]
#: A record of a page as ``fetch`` returns it (the stream decodes it when it is emitted).
Record = Any


@dataclass
class Slice:
    """Rows with replication key in (``start``, ``end``] (or after ``cursor`` once a page was read)."""

    #: ("gt" or "ge", instant) lower bound before the first page; None: from the beginning.
    start: tuple[str, datetime] | None
    end: datetime
    cursor: Cursor | None = None
    pages: collections.deque[Sequence[Record]] = field(default_factory=collections.deque)
    active: bool = False
    done: bool = False
    #: Rows per second of the last full page, to estimate what is left.
    density: float | None = None

    def low(self) -> datetime | None:
        if self.cursor is not None:
            low: datetime = self.cursor[0]
            return low
        return self.start[1] if self.start else None


@dataclass(frozen=True)
class SliceQuery:
    """What one page request asks for: filter terms and the slice end it was sent with."""

    terms: list[str]
    end: datetime


class SlicedRead:
    """One stream's window read with up to ``workers`` requests at once, emitted in order.

    ``fetch(terms)`` sends one page request with those ``$filter`` terms (plus the stream's
    ``$orderby`` on replication key and keys, ``$top`` = ``page_size``) and returns the unwrapped
    records. ``cursor_of(record)`` is the record's (replication key instant, *keys)."""

    def __init__(
        self,
        *,
        columns: Sequence[str],
        start: tuple[str, datetime] | None,
        end: datetime,
        page_size: int,
        workers: int,
        fetch: Callable[[list[str]], Sequence[Record]],
        cursor_of: Callable[[Record], Cursor],
        newest: Callable[[], datetime | None] | None = None,
        probe_at_once: bool = False,
        close: Callable[[], None] | None = None,
        name: str = "",
    ) -> None:
        self.columns = list(columns)
        self.page_size = page_size
        self.workers = workers
        self.fetch = fetch
        self.cursor_of = cursor_of
        #: Called once the read ends, its workers gone (e.g. to stop a thread that ``fetch`` uses).
        self.close = close
        self.name = name
        self.newest = newest
        #: The newest replication key in the window, asked for once the first page is full: the
        #: window usually ends at the instance's clock, long after its newest record, and cutting
        #: slices where there are no rows would cost requests that find nothing.
        self.data_end: datetime | None = None
        self._probe = "wanted" if newest is not None else "none"
        #: Ask for the newest key alongside the first page instead of after it: for reads from
        #: the beginning, which are rarely a single page.
        self._probe_at_once = probe_at_once
        self._cut_done = False
        self.slices: list[Slice] = [Slice(start, end)]
        self.requests = 0
        self.splits = 0
        self._front = 0
        self._buffered = 0
        self._error: BaseException | None = None
        self._closed = False
        self._cond = threading.Condition()

    # The consumer ---------------------------------------------------------------------------

    def records(self) -> Iterator[Record]:
        """Every record of the window, in (replication key, keys) order."""
        threads = [
            threading.Thread(target=self._work, name=f"{self.name}-reader-{n}", daemon=True)
            for n in range(self.workers)
        ]
        for thread in threads:
            thread.start()
        try:
            while (page := self._next_page()) is not None:
                yield from page
                _discard(page)
                del page  # the emitted page goes before the next one is taken
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()
            for thread in threads:
                thread.join()
            for piece in self.slices:
                while piece.pages:
                    _discard(piece.pages.popleft())
            if self.close is not None:
                self.close()

    def _next_page(self) -> Sequence[Record] | None:
        with self._cond:
            while True:
                if self._error is not None:
                    raise self._error
                if self._front >= len(self.slices):
                    return None
                front = self.slices[self._front]
                if front.pages:
                    self._buffered -= 1
                    self._cond.notify_all()
                    return front.pages.popleft()
                if front.done and not front.active:
                    self._front += 1
                    self._cond.notify_all()
                    continue
                self._cond.wait()

    # The workers ----------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._closed or self._error is not None:
                        return
                    if all(s.done and not s.active for s in self.slices[self._front :]):
                        return
                    chosen = self._pick()
                    if chosen is not None:
                        break
                    self._cond.wait()
                self.requests += 1
                if chosen is _PROBE:
                    self._probe = "running"
                else:
                    chosen.active = True
                    query = self._query(chosen)
            if chosen is _PROBE:
                self._run_probe()
                continue
            try:
                rows = self.fetch(query.terms)
            except BaseException as exc:  # handed to the consumer, which raises it
                with self._cond:
                    chosen.active = False
                    if self._error is None:
                        self._error = exc
                    self._cond.notify_all()
                return
            with self._cond:
                chosen.active = False
                self._file(chosen, rows, query)
                self._cond.notify_all()

    def _run_probe(self) -> None:
        assert self.newest is not None
        try:
            newest = self.newest()
        except BaseException as exc:  # handed to the consumer, which raises it
            with self._cond:
                if self._error is None:
                    self._error = exc
                self._cond.notify_all()
            return
        with self._cond:
            self.data_end = newest
            self._probe = "done"
            self._cut()
            self._cond.notify_all()

    def _cut(self) -> None:
        """Cut the rest of the first slice into slices of about ``PAGES_PER_SLICE`` pages, by the
        density of its first page; call under the lock."""
        first = self.slices[0]
        low = first.low()
        if self._cut_done or first.done or first.density is None or low is None or self.data_end is None:
            return
        self._cut_done = True
        data_end = min(self.data_end, first.end)
        if data_end <= low:
            return
        width = max(
            timedelta(seconds=PAGES_PER_SLICE * self.page_size / first.density), (data_end - low) / MAX_SLICES
        )
        bounds = []
        bound = _whole_ms(low + width)
        while bound < data_end and width > _MS:
            bounds.append(bound)
            bound = _whole_ms(bound + width)
        pieces = [Slice(("gt", b), first.end, density=first.density) for b in bounds]
        for lower, upper in zip([first, *pieces], pieces, strict=False):
            lower.end = upper.start[1] if upper.start else lower.end
        self.slices[1:1] = pieces

    def _pick(self) -> Slice | None:
        """The next slice to ask for a page of (or the probe); call under the lock."""
        room = self._buffered < self.workers * PAGES_AHEAD_PER_WORKER
        for offset, candidate in enumerate(self.slices[self._front :]):
            if candidate.done or candidate.active:
                continue
            if offset == 0 or room:  # the slice being emitted always proceeds
                return candidate
            return None
        if self._probe == "wanted" and (self._probe_at_once or self.slices[0].density is not None):
            return _PROBE
        if self._probe == "running" or not room or self.splits >= self.workers * SPLITS_PER_WORKER:
            return None
        return self._split()

    def _split(self) -> Slice | None:
        """Halve the slice with the most rows left, if any is worth it; the upper half is new."""
        best: tuple[float, int] | None = None
        for index in range(self._front, len(self.slices)):
            piece = self.slices[index]
            low = piece.low()
            if piece.done or piece.density is None or low is None:
                continue
            left = (self._data_end(piece) - low).total_seconds() * piece.density
            if left >= 2 * PAGES_PER_SLICE * self.page_size and (best is None or left > best[0]):
                best = (left, index)
        if best is None:
            return None
        index = best[1]
        piece = self.slices[index]
        low = piece.low()
        assert low is not None  # checked above
        middle = _whole_ms(low + (self._data_end(piece) - low) / 2)
        if not low < middle < piece.end:
            return None
        upper = Slice(("gt", middle), piece.end, density=piece.density)
        piece.end = middle
        self.slices.insert(index + 1, upper)
        self.splits += 1
        return upper

    def _data_end(self, piece: Slice) -> datetime:
        """Where the slice's rows end, as far as is known."""
        if self.data_end is not None and self.data_end < piece.end:
            return self.data_end
        return piece.end

    def _query(self, piece: Slice) -> SliceQuery:
        rk = self.columns[0]
        terms = []
        if piece.cursor is not None:
            terms.append(odata.after(self.columns, piece.cursor))
        elif piece.start is not None:
            op, instant = piece.start
            terms.append(f"{rk} {op} {odata.datetimeoffset_literal(instant)}")
        terms.append(f"{rk} le {odata.datetimeoffset_literal(piece.end)}")
        return SliceQuery(terms, piece.end)

    def _file(self, piece: Slice, rows: Sequence[Record], query: SliceQuery) -> None:
        """Keep a page's rows that are still the slice's (it may have been halved meanwhile)."""
        full = len(rows) >= self.page_size
        if piece.end < query.end:
            # Rows come in timestamp order: those still the slice's are the first ones.
            kept = 0
            for row in rows:
                if self.cursor_of(row)[0] > piece.end:
                    break
                kept += 1
            if kept < len(rows):
                full = False  # the rest belongs to the upper half
                cut = rows[:kept] if kept else []
                _discard(rows)
                rows = cut
        if rows:
            first, last = self.cursor_of(rows[0]), self.cursor_of(rows[-1])
            piece.cursor = last
            seconds = (last[0] - first[0]).total_seconds()
            if full:
                piece.density = len(rows) / max(seconds, 0.001)
            piece.pages.append(rows)
            self._buffered += 1
        if not full:
            piece.done = True
        if piece is self.slices[0] and self._probe == "done":
            self._cut()


def _discard(page: Sequence[Record]) -> None:
    """Release what a page holds besides memory (a :class:`SpooledPage`'s file)."""
    close = getattr(page, "close", None)
    if close is not None:
        close()


#: The work item "ask for the window's newest replication key".
_PROBE = Slice(None, datetime.max)


def _whole_ms(instant: datetime) -> datetime:
    """Acumatica keeps milliseconds: a boundary finer than that could fall between equal rows."""
    return instant - timedelta(microseconds=instant.microsecond % 1000)


def gate_settings(config: Mapping[str, Any]) -> tuple[int, int | None]:
    """``max_concurrent_requests`` and ``max_requests_per_minute`` of a tap config."""
    concurrent = int(config.get("max_concurrent_requests") or DEFAULT_MAX_CONCURRENT_REQUESTS)
    per_minute = config.get("max_requests_per_minute")
    return concurrent, int(per_minute) if per_minute else None


#: Within a trial license (2 API users, no request limits) and well under the 20 requests the
#: license queue holds before it declines one.
DEFAULT_MAX_CONCURRENT_REQUESTS = 4
