"""How every Acumatica stream is read: keyset paging, unwrapping, retries and bookmarks.

Paging. Acumatica has no count and no continuation token, only ``$top``/``$skip``. Offset
paging loses or repeats rows when records change mid-run, so streams page with a keyset
cursor instead. Two orders are used:

- timestamp order (``$orderby=<replication key>,<keys>``): the cursor is the last row's
  (timestamp, keys), so any number of rows sharing one timestamp page correctly, and the
  bookmark can advance while the stream runs;
- key order (the server's default order, for full-table streams and for instances that
  ignore ``$orderby``): the cursor is the last row's keys inside a fixed timestamp window,
  and the bookmark moves only when the stream has finished.

Every incremental read is bounded above by the instance's clock at the start of the run
(``le`` the server ``Date``), so a record changed during the run is read on the next run
rather than twice or out of order.

Bookmarks. The SDK is told about a timestamp only once every row carrying it has been
emitted (the previous group's value), so a run cut off inside a group of equal timestamps
resumes with ``gt bookmark`` and loses nothing.
"""

from __future__ import annotations

import mmap
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import requests
from acumatica_client import odata
from acumatica_client.errors import RETRIABLE_STATUSES, AcumaticaAuthError, describe_error
from mlc_run_audit.retry import RetriesExhausted, Retry
from mlc_run_audit.tap import AuditedStream, with_audit_columns
from singer_sdk import RESTStream
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.helpers.types import Context
from singer_sdk.pagination import BaseAPIPaginator
from singer_sdk.streams.rest import HTTPRequest

from tap_acumatica import deletes
from tap_acumatica.parallel import SlicedRead, SpooledPage, keep_body, read_body_mapped
from tap_acumatica.schema import Shape

if TYPE_CHECKING:
    from collections.abc import Mapping

    from acumatica_client import AcumaticaAuth

    from tap_acumatica.entities import EntityStream
    from tap_acumatica.tap import TapAcumatica

#: Exact decimals: amounts must not pass through binary floating point.
_decode = msgspec.json.Decoder(float_hook=Decimal).decode
#: A page split into its records, undecoded: each is decoded and unwrapped only when its turn comes,
#: so the page's wrapped values (``{"value": x}`` dicts, about 8x the page's bytes) never all live at once.
_split = msgspec.json.Decoder(list[msgspec.Raw]).decode


class _Wrapped(msgspec.Struct):
    """A ``{"value": x}`` field, for reading one field of every record of a page cheaply."""

    value: Any = None


#: An answer that broke off mid-body: as transient as no answer at all.
_CUT_OFF = (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)

TIMESTAMP_ORDER = "timestamp"
KEY_ORDER = "key"


class PageCursor(BaseAPIPaginator[tuple[Any, ...] | None]):
    """Keyset paginator: the next page starts after the last row of this one.

    ``parse_response`` records the cursor of each page (it has the decoded rows); the
    paginator only hands it on. A page shorter than ``$top`` is the last one.
    """

    def __init__(self) -> None:
        super().__init__(None)
        self.next_cursor: tuple[Any, ...] | None = None
        self.page_full = False

    def get_next(self, response: requests.Response) -> tuple[Any, ...] | None:
        return self.next_cursor

    def has_more(self, response: requests.Response) -> bool:
        return self.page_full


class RequestRules:
    """How every stream of the tap sends a request: Acumatica's statuses read the same way, and the
    run's retry policy (``mlc_run_audit.retry``) instead of the SDK's own, so there is one rule and
    one log line per retry for every request of the run. A 401 is repeated at once, after
    ``validate_response`` made the authenticator sign in again; a second 401 is an error."""

    name: str
    _tap_ref: TapAcumatica

    if TYPE_CHECKING:

        @property
        def url_base(self) -> str: ...

        @property
        def config(self) -> Mapping[str, Any]: ...

    @property
    def requests_session(self) -> requests.Session:
        # One session (and so one sign-in, one API-user slot) for the whole run.
        return self._tap_ref.http_session

    @property
    def timeout(self) -> int:
        # The SDK types this int; requests takes the setting's float as it is.
        return self._tap_ref.connection.request_timeout_seconds  # type: ignore[return-value]

    @property
    def page_size(self) -> int:
        return int(self.config.get("page_size", 1000))

    def _sign_in_again(self) -> None:
        """Drop the authenticator's token or session, so the next request signs in again."""
        raise NotImplementedError

    def _refused(self, response: requests.Response) -> str:
        """The error of a request refused again after signing in again."""
        raise NotImplementedError

    def _failed(self, response: requests.Response) -> str:
        """The error of a request that failed for good."""
        return f"Stream {self.name}: {describe_error(response)}"

    def validate_response(self, response: requests.Response) -> None:
        status = response.status_code
        if status == 401:
            self._sign_in_again()
            raise RetriableAPIError(describe_error(response), response)
        if status in RETRIABLE_STATUSES:
            raise RetriableAPIError(describe_error(response), response)
        if status >= 400:
            raise FatalAPIError(self._failed(response))

    def request_decorator(self, func: Callable[..., requests.Response]) -> Callable[..., requests.Response]:
        policy = self._tap_ref.retry_policy

        def send_once(
            prepared_request: requests.PreparedRequest, context: Context | None
        ) -> requests.Response:
            # Counted per request: with several requests in flight, one revoked token answers
            # each of them 401 once.
            for attempt in range(2):
                try:
                    return func(prepared_request, context)
                except _CUT_OFF as exc:
                    raise Retry(f"answer cut off ({type(exc).__name__})") from None
                except RetriableAPIError as exc:
                    response = exc.response
                    if response is not None and response.status_code == 401:
                        if attempt == 0:
                            continue  # validate_response made the authenticator sign in again
                        raise AcumaticaAuthError(self._refused(response)) from None
                    raise Retry(
                        str(exc),
                        status=response.status_code if response is not None else None,
                        retry_after=policy.retry_after(response) if response is not None else None,
                        response=response,
                    ) from None
            raise AssertionError("unreachable")

        def send(prepared_request: requests.PreparedRequest, context: Context | None) -> requests.Response:
            try:
                return policy.run(
                    lambda: send_once(prepared_request, context),
                    method=prepared_request.method or "GET",
                    url=prepared_request.url or self.url_base,
                    what=f"stream {self.name}",
                )
            except RetriesExhausted as exc:
                raise FatalAPIError(str(exc)) from None

        return send


class GroupBookmarks(RESTStream if TYPE_CHECKING else object):  # type: ignore[misc]
    """Bookmarks a replication value only once every record carrying it has been emitted: records
    sharing a timestamp may span pages, and a run cut off inside such a group must read all of it
    again. A value is bookmarked when the next one begins (``_increment_stream_state``), and the last
    one when the read ends (``_bookmark``)."""

    _group_value: Any = None

    def _increment_stream_state(
        self, latest_record: dict[str, Any], *, context: Context | None = None
    ) -> None:
        rk = self.replication_key
        value = latest_record.get(rk) if rk else None
        if value is None:
            return
        if self._group_value is not None and value != self._group_value:
            self._bookmark(self._group_value, context)
        self._group_value = value

    def _bookmark(self, value: Any, context: Context | None) -> None:
        """Make ``value`` the stream's bookmark, by the SDK's own rules."""
        if self.replication_key:
            super()._increment_stream_state({self.replication_key: value}, context=context)


class AcumaticaStream(GroupBookmarks, RequestRules, AuditedStream, RESTStream):
    """A top-level entity of the contract-based REST API, read incrementally when it can be."""

    # Records are unwrapped against the same catalog the schema comes from, so they
    # already conform; the SDK's per-record conformance pass would only cost time.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    is_sorted = True
    records_jsonpath = "$[*]"

    def __init__(self, tap: TapAcumatica, spec: EntityStream, shape: Shape) -> None:
        self.spec = spec
        self.shape = shape
        self._tap_ref = tap
        schema = with_audit_columns(shape.json_schema(), dict(tap.config), spec.name)
        if spec.name in tap.deletes_streams:
            schema = deletes.with_deleted_at(schema)
        super().__init__(tap, name=spec.name, schema=schema, path=f"/{spec.entity}")
        self.primary_keys = list(spec.key_properties)
        self.replication_key = shape.utc_field
        self._order = KEY_ORDER
        self._paginator: PageCursor | None = None
        self._lower: tuple[str, str] | None = None
        self._upper: str | None = None
        self._max_value: str | None = None
        self._order_probe: tuple[str | None, msgspec.json.Decoder[list[Any]]] | None = None
        self._progress = _Progress(self)
        # A checkpoint per page: a run cut off loses at most one page of progress.
        self.STATE_MSG_FREQUENCY = self.page_size

    # Where and how to ask ----------------------------------------------------------

    @property
    def url_base(self) -> str:
        return self._tap_ref.instance.endpoint_url

    @property
    def authenticator(self) -> AcumaticaAuth:
        return self._tap_ref.auth

    @property
    def cursor_columns(self) -> list[str]:
        keys = list(self.spec.key_properties)
        rk = self.replication_key
        return [rk, *keys] if self._order == TIMESTAMP_ORDER and rk else keys

    def get_new_paginator(self) -> PageCursor:
        self._paginator = PageCursor()
        return self._paginator

    def get_url_params(
        self, context: Context | None, next_page_token: tuple[Any, ...] | None
    ) -> dict[str, Any]:
        terms = self._window_terms()
        if next_page_token is not None:
            terms.append(odata.after(self.cursor_columns, next_page_token))
        return self._page_params(terms)

    def _page_params(self, terms: list[str]) -> dict[str, Any]:
        params: dict[str, Any] = {"$top": self.page_size}
        if terms:
            params["$filter"] = " and ".join(terms)
        if self._order == TIMESTAMP_ORDER:
            params["$orderby"] = ",".join(self.cursor_columns)
        if self.shape.expand:
            params["$expand"] = ",".join(self.shape.expand)
        if self.shape.custom:
            params["$custom"] = ",".join(c.query for c in self.shape.custom)
        return params

    def _window_terms(self) -> list[str]:
        rk = self.replication_key
        if not rk:
            return []
        terms = []
        if self._lower is not None:
            op, value = self._lower
            terms.append(f"{rk} {op} {odata.datetimeoffset_literal(datetime.fromisoformat(value))}")
        if self._upper is not None:
            terms.append(f"{rk} le {odata.datetimeoffset_literal(datetime.fromisoformat(self._upper))}")
        return terms

    # Reading -----------------------------------------------------------------------

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        reconciler = self._key_reconciler(context)
        if reconciler is not None:
            # Before the records: see ``deletes`` for why the order matters.
            yield from reconciler.tombstones()
            self.stream_state[deletes.STATE_KEY] = reconciler.new_state
            self.logger.info(
                "Stream %s: %d keys read in %d requests, %d deleted since the previous run.",
                self.name,
                (reconciler.new_state or {}).get("keys", 0),
                reconciler.requests,
                reconciler.deleted,
            )
        self._begin(context)
        sliced = self._sliced_read(context)
        if sliced is None:
            yield from self.request_records(context)
        else:
            unwrap = self.shape.unwrap
            for row in sliced.records():
                yield unwrap(_decode(row))
        # Every row of the last timestamp group has been emitted: it may be bookmarked.
        final = self._max_value if self._order == KEY_ORDER else self._group_value
        if final is not None:
            self._bookmark(final, context)
        self._progress.done()

    def _begin(self, context: Context | None) -> None:
        self._group_value = self._max_value = None
        self._progress.start()
        rk = self.replication_key
        if not rk:
            self._order = KEY_ORDER
            return
        bookmark = self.stream_state.get("replication_key_value")
        if bookmark:
            self._lower = ("gt", bookmark)
        elif self.config.get("start_date"):
            start = self.get_starting_timestamp(context)
            self._lower = ("ge", start.isoformat()) if start else None
        else:
            self._lower = None
        server_now = self._tap_ref.server_time
        self._upper = server_now.isoformat() if server_now else None
        self._order = self._tap_ref.paging_order(self)
        self.logger.info(
            "Reading %s (%s) %s, %s order.",
            self.name,
            self.spec.entity,
            f"with {rk} {self._lower[0]} {self._lower[1]}" if self._lower else "from the beginning",
            self._order,
        )

    def _getter(self, context: Context | None) -> Callable[[dict[str, Any]], requests.Response]:
        """A GET of the entity with given query parameters, under the stream's retry and sign-in
        rules, for requests outside the SDK's paging loop (several may run at once)."""
        send = self.request_decorator(self._request)
        url = self.get_url(context)

        def get(params: dict[str, Any]) -> requests.Response:
            query = HTTPRequest(url=url, params=params)
            prepared = self.build_prepared_request(
                method="GET", url=url, params=query.encode_params(), headers=self.http_headers
            )
            return send(prepared, context)

        return get

    def _page_getter(
        self, context: Context | None, spooler: ThreadPoolExecutor
    ) -> Callable[[dict[str, Any]], SpooledPage]:
        """A GET of one page of a concurrent read, under the stream's retry and sign-in rules,
        returning the page's records spooled (``SpooledPage``) for the wait until their turn.

        Each answer's body is read, checked and spooled by ``spooler``'s one thread: one answer at a
        time is whole in memory however many requests are in flight (four answers of 1,000 Bills
        with their lines are 14 MB), and the blocks this allocates and frees come and go in one
        malloc arena rather than in each reader thread's own, where glibc keeps them."""
        url = self.get_url(context)

        def get(params: dict[str, Any]) -> SpooledPage:
            spooled: list[SpooledPage] = []

            def send_once(prepared: requests.PreparedRequest, context: Context | None) -> requests.Response:
                # RESTStream._request, with the body left in the socket until the spooler reads it.
                authenticated = self.authenticator(prepared)
                response = self.requests_session.send(
                    authenticated, stream=True, timeout=self.timeout, allow_redirects=self.allow_redirects
                )
                self._write_request_duration_log(
                    endpoint=self.path,
                    response=response,
                    context=context,
                    extra_tags={"url": authenticated.path_url} if self._LOG_REQUEST_METRIC_URLS else None,
                )
                self.validate_response(response)  # reads the (small) body of an error
                spooled.append(spooler.submit(self._spooled_page, response).result())
                return response

            query = HTTPRequest(url=url, params=params)
            prepared = self.build_prepared_request(
                method="GET", url=url, params=query.encode_params(), headers=self.http_headers
            )
            self.request_decorator(send_once)(prepared, context)
            return spooled[-1]

        return get

    def _spooled_page(self, response: requests.Response) -> SpooledPage:
        """Read, check and spool a page's body; nothing of the whole body outlives the call."""
        return SpooledPage(self._raw_page(response, read_body_mapped(response)))

    def _key_reconciler(self, context: Context | None) -> deletes.KeyReconciler | None:
        if self.name not in self._tap_ref.deletes_streams:
            return None
        get = self._getter(context)

        def fetch(params: dict[str, Any]) -> list[dict[str, Any]]:
            response = get(params)
            rows = _decode(response.content)
            if not isinstance(rows, list):
                msg = f"Expected a JSON array of {self.spec.entity} keys from {describe_error(response)}"
                raise FatalAPIError(msg)
            return rows

        return deletes.KeyReconciler(
            stream=self.name,
            keys=self.spec.key_properties,
            fetch=fetch,
            page_size=int(self.config.get("detect_deletes_page_size") or deletes.DEFAULT_KEY_PAGE_SIZE),
            directory=Path(self.config.get("detect_deletes_dir") or deletes.DEFAULT_DIR),
            state=self.stream_state.get(deletes.STATE_KEY),
        )

    def _sliced_read(self, context: Context | None) -> SlicedRead | None:
        """Several pages at once (``parallel``) when the window is read in timestamp order and
        bounded by the instance's clock; otherwise None: one page after the other."""
        workers = self._tap_ref.gate.concurrent
        if workers < 2 or self._order != TIMESTAMP_ORDER or not self.replication_key or not self._upper:
            return None
        self._paginator = None
        get = self._getter(context)
        spooler = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{self.name}-spooler")
        fetch_page = self._page_getter(context, spooler)

        def fetch(terms: list[str]) -> SpooledPage:
            return fetch_page(self._page_params(terms))

        def cursor_of(row: msgspec.Raw) -> tuple[Any, ...]:
            return self._record_cursor(self.shape.unwrap(_decode(row)))

        rk = self.replication_key

        def newest() -> datetime | None:
            params: dict[str, Any] = {"$top": 1, "$select": rk, "$orderby": f"{rk} desc"}
            terms = self._window_terms()
            if terms:
                params["$filter"] = " and ".join(terms)
            rows = _decode(get(params).content)
            value = (rows[0].get(rk) or {}).get("value") if isinstance(rows, list) and rows else None
            return _aware(value) if value else None

        start = None
        if self._lower is not None:
            start = (self._lower[0], _aware(self._lower[1]))
        return SlicedRead(
            columns=self.cursor_columns,
            start=start,
            end=_aware(self._upper),
            page_size=self.page_size,
            workers=workers,
            fetch=fetch,
            cursor_of=cursor_of,
            newest=newest,
            probe_at_once=not self.stream_state.get("replication_key_value"),
            close=spooler.shutdown,
            name=self.name,
        )

    def _record_cursor(self, record: dict[str, Any]) -> tuple[Any, ...]:
        """An emitted record's place in timestamp order: (replication key instant, *keys)."""
        rk = self.replication_key
        value = record.get(rk) if rk else None
        if value is None:
            msg = (
                f"{self.spec.entity} record {record.get('id')} has no {rk}; "
                f"it cannot be paged past. Check key_properties of stream {self.name}."
            )
            raise FatalAPIError(msg)
        return (_aware(value), *(record.get(k) for k in self.spec.key_properties))

    def parse_response(self, response: requests.Response) -> Iterator[dict[str, Any]]:
        unwrap = self.shape.unwrap
        for row in self._raw_page(response):
            yield unwrap(_decode(row))

    def _raw_page(
        self, response: requests.Response, body: bytes | mmap.mmap | None = None
    ) -> list[msgspec.Raw]:
        """A page's records, each still its undecoded JSON, once the page is checked and counted.
        ``body``: the response's body when it was read apart from ``response.content``."""
        content = response.content if body is None else body
        try:
            rows = _split(content)
        except msgspec.ValidationError:
            if body is not None:
                keep_body(response, bytes(body))  # for the message
            msg = f"Expected a JSON array of {self.spec.entity} records from {describe_error(response)}"
            raise FatalAPIError(msg) from None
        paginator = self._paginator
        if paginator is not None:
            paginator.page_full = len(rows) >= self.page_size
            paginator.next_cursor = self._cursor_of(_decode(rows[-1])) if rows else None
        self._check_order(content, len(rows))
        self._progress.page(len(rows))
        return rows

    def _cursor_of(self, row: dict[str, Any]) -> tuple[Any, ...]:
        values = []
        for column in self.cursor_columns:
            wrapped = row.get(column)
            value = wrapped.get("value") if isinstance(wrapped, dict) else None
            if value is None:
                msg = (
                    f"{self.spec.entity} record {row.get('id')} has no {column}; "
                    f"it cannot be paged past. Check key_properties of stream {self.name}."
                )
                raise FatalAPIError(msg)
            # Timestamps go back as typed literals, keeping the server's own precision.
            values.append(datetime.fromisoformat(value) if column == self.replication_key else value)
        return tuple(values)

    def _check_order(self, page: bytes | mmap.mmap, count: int) -> None:
        rk = self.replication_key
        if self._order != TIMESTAMP_ORDER or count < 2 or rk is None:
            return
        # A missing value is skipped: _cursor_of names the record if it ends a page.
        values = self._replication_values(page)
        if out_of_order(datetime.fromisoformat(v) for v in values if v is not None):
            msg = (
                f"Stream {self.name}: the instance returned {self.spec.entity} records out of {rk} "
                "order although $orderby asked for it. Set paging_order to 'key' for this instance."
            )
            raise FatalAPIError(msg)

    def _replication_values(self, page: bytes | mmap.mmap) -> list[Any]:
        """The replication key's value of every record of ``page``, without decoding the rest."""
        rk = self.replication_key
        if self._order_probe is None or self._order_probe[0] != rk:
            probe = msgspec.defstruct(
                "OrderProbe", [("wrapped", _Wrapped | None, msgspec.field(name=rk, default=None))]
            )
            # A struct made at run time (its field is the stream's replication key): typed as Any.
            self._order_probe = (rk, msgspec.json.Decoder(list[probe], float_hook=Decimal))  # type: ignore[valid-type]
        try:
            return [p.wrapped.value if p.wrapped else None for p in self._order_probe[1].decode(page)]
        except msgspec.ValidationError as exc:
            msg = f"Stream {self.name}: {self.spec.entity} records with an unexpected {rk}: {exc}"
            raise FatalAPIError(msg) from None

    # Bookmarks ---------------------------------------------------------------------

    def _increment_stream_state(
        self, latest_record: dict[str, Any], *, context: Context | None = None
    ) -> None:
        if self._order != KEY_ORDER:
            super()._increment_stream_state(latest_record, context=context)
            return
        # Rows arrive in key order: only the window's end is safe, at the end.
        value = latest_record.get(self.replication_key) if self.replication_key else None
        if value is not None and (self._max_value is None or value > self._max_value):
            self._max_value = value

    # Audit -------------------------------------------------------------------------

    def audit_source(self, record: dict[str, Any]) -> tuple[Any, Any]:
        """The entity's ``id`` (its NoteID) and its last-modified time."""
        return record.get("id"), record.get(self.replication_key) if self.replication_key else None

    # Errors and retries ------------------------------------------------------------

    def _sign_in_again(self) -> None:
        self._tap_ref.auth.invalidate()

    def _refused(self, response: requests.Response) -> str:
        return (
            "Acumatica refused the request after signing in again: "
            f"{describe_error(response)}. Check that the user has rights to this entity."
        )


def out_of_order(values: Iterable[Any]) -> bool:
    """Whether a value is lower than the one before it: a page the server did not sort as asked."""
    previous = None
    for value in values:
        if previous is not None and value < previous:
            return True
        previous = value
    return False


def _aware(text: str) -> datetime:
    """An ISO instant; a naive one is UTC, as ``odata.datetimeoffset_literal`` reads it."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class _Progress:
    """Logs records, rate and bookmark of the current stream every few seconds."""

    INTERVAL_S = 15.0

    def __init__(self, stream: AcumaticaStream) -> None:
        self._stream = stream
        self._start = self._last = 0.0
        self.records = 0
        self.pages = 0

    def start(self) -> None:
        self._start = self._last = time.monotonic()
        self.records = self.pages = 0

    def page(self, rows: int) -> None:
        self.records += rows
        self.pages += 1
        now = time.monotonic()
        if now - self._last >= self.INTERVAL_S:
            self._last = now
            self._log("so far")

    def done(self) -> None:
        self._log("done")

    def _log(self, phase: str) -> None:
        elapsed = max(time.monotonic() - self._start, 1e-9)
        self._stream.logger.info(
            "Stream %s %s: %d records in %d requests, %.0f records/s.",
            self._stream.name,
            phase,
            self.records,
            self.pages,
            self.records / elapsed,
        )
