"""How every Intacct object is read: keyset paging on (WHENMODIFIED, RECORDNO), bookmarks, deletes.

Paging. ``query`` pages by offset, and each offset call is a new query, so rows are lost or
repeated when data changes mid-run. Streams page with a keyset instead, in two phases:

1. ``WHENMODIFIED > t`` ordered by WHENMODIFIED, RECORDNO. A full page may end inside a
   group of rows sharing one timestamp; that last group is not emitted from this page, and
   the next query starts after the last complete group, so it comes whole with the next
   page (one query per page, no ``or`` filter).
2. Only when one timestamp group fills a whole page: ``WHENMODIFIED = t AND RECORDNO > k``
   ordered by RECORDNO until the group is exhausted, then phase 1 again with ``> t``.

Every incremental read is bounded above by the gateway's clock at the stream's start
(``WHENMODIFIED < now``, from ``sessiontimestamp``), so a record changed during the run is
read once, by the next run, in its new version. Filter values are written in the user's
time zone (``readUserFormatting`` or the ``timezone`` setting), bookmarks are kept in UTC.

Bookmarks. STATE is written after each page and names a timestamp only once every row
carrying it has been emitted, so a run cut off anywhere resumes with ``> bookmark`` and
loses nothing (at most one timestamp group is read again).

Order. Keyset paging holds only if the gateway returns rows in the order asked for, so every
page is checked, each field compared as the gateway compares its type: integers and decimals
as numbers, dates and timestamps as times, text as text (``9`` after ``10``). How the gateway
collates text is not documented, so a text key may be in code-point, case-insensitive or numeric
order. A page in none of these orders stops the stream at its last bookmark
(:class:`OutOfOrder`); the other streams are read and the run fails naming it.
"""

from __future__ import annotations

import calendar
import itertools
import re
import time
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from mlc_run_audit import RUNS_STREAM
from mlc_run_audit.checks import StreamHalted
from mlc_run_audit.tap import RUNS_SCHEMA, AuditedStream, RunsStream, with_audit_columns
from singer_sdk import Stream
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_sage_intacct import xmlgw
from tap_sage_intacct.schema import DELETED_AT, Shape, parse_date, parse_local
from tap_sage_intacct.xmlgw import IntacctError, all_of, compare

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping

    from lxml import etree
    from singer_sdk.helpers.types import Context, Record

    from tap_sage_intacct.objects import Balances, ObjectStream

    #: One row of Intacct text values to a typed record.
    Converter = Callable[[Mapping[str, str | None]], dict[str, Any]]
    from tap_sage_intacct.tap import TapSageIntacct

#: Where AUDITHISTORY keeps deletions; the stream's own state carries this bookmark too.
DELETES_BOOKMARK = "deleted_after"
PROGRESS_EVERY_S = 15.0
#: The AUDITHISTORY fields deletions are paged on, typed as ``lookup`` gives them.
AUDIT_TYPES = {"OBJECTKEY": "text", "ACCESSTIME": "timestamp"}


class OutOfOrder(StreamHalted, IntacctError):
    """The gateway answered rows out of the order ``orderby`` asked for."""

    def __init__(self, message: str) -> None:
        IntacctError.__init__(self, message, level="response")


class StreamUnavailable(IntacctError):
    """The company does not have the stream's object (unknown object, module not subscribed, or
    no permission): the stream is skipped and the others go on."""


#: Function errors that mean the object is not there for this company or user.
_UNAVAILABLE = re.compile(
    r"object definition \S+ not found|not subscribed|do(?:es)? not have permission|permission denied", re.I
)
#: ``XL03000006 The following fields cannot be queried: [ apbill: [F1, F2] ]`` (public SDK issues) and
#: ``Invalid field F``: fields lookup lists that query will not read.
_CANNOT_QUERY = re.compile(r"cannot be queried:\s*\[\s*[\w.]+:\s*\[([^\]]*)\]", re.I)
_INVALID_FIELD = re.compile(r"invalid field\s+([\w.]+)", re.I)


def unavailable(error: IntacctError) -> bool:
    return error.level == "function" and bool(_UNAVAILABLE.search(_text(error)))


def unqueryable(error: IntacctError) -> list[str]:
    """The fields a function error says ``query`` cannot read."""
    text = _text(error)
    names = [n.strip() for m in _CANNOT_QUERY.finditer(text) for n in m.group(1).split(",")]
    return [n for n in names if n] or _INVALID_FIELD.findall(text)


def _text(error: IntacctError) -> str:
    return " ".join(f"{e.description} {e.description2}" for e in error.errors) or str(error)


class IntacctStream(AuditedStream, Stream):
    """One Intacct object, read incrementally on WHENMODIFIED when it has it."""

    # Records are built field by field from the same definitions the schema comes from,
    # so they already conform; the SDK's per-record pass would only cost time.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    is_sorted = True
    # STATE is written by get_records at safe points (after whole timestamp groups).
    STATE_MSG_FREQUENCY = 1 << 62

    def __init__(self, tap: TapSageIntacct, spec: ObjectStream, shape: Shape) -> None:
        self.spec = spec
        self.shape = shape
        self.selected_by_default = spec.selected_by_default
        self._tap_ref = tap
        schema = with_audit_columns(shape.json_schema(), dict(tap.config), spec.name)
        super().__init__(tap, schema=schema, name=spec.name)
        self.primary_keys = [shape.column(spec.key)]
        self.replication_key = shape.column(spec.replication_key) if spec.replication_key else None
        self._fields: list[str] = []
        self._line_fields: list[str] = []
        # Progress of the current stream, logged every PROGRESS_EVERY_S and at its end.
        self._counted = [0, 0]
        self._started = self._logged = 0.0

    @property
    def page_size(self) -> int:
        return int(self.config.get("page_size", 2000))

    # Reading -------------------------------------------------------------------------

    def get_records(self, context: Context | None) -> Iterable[Record]:
        try:
            yield from self._read(context)
        except OutOfOrder as exc:
            # The bookmarks name only what was emitted before; the other streams go on.
            self._tap_ref.halt_stream(self.name, exc)
        except StreamUnavailable as exc:
            self._tap_ref.skip_stream(self, exc)

    def _read(self, context: Context | None) -> Iterator[Record]:
        tap = self._tap_ref
        client = tap.client
        _ = client.session  # opens the session now, and with it learns the gateway's clock
        clock = tap.clock
        self._fields = self._selected_fields()
        if self.spec.line_items is not None:
            self._line_fields = list(self.shape.arrays[self.spec.line_items.array].field_types)
        convert = self.shape.converter(self._fields, self.spec.object, clock)
        self._started = self._logged = time.monotonic()
        self._counted = [0, 0]
        rk = self.spec.replication_key
        upper = None
        if rk and client.server_time is not None:
            upper = compare("lessthan", rk, xmlgw.datetime_literal(clock.to_local(client.server_time)))
        if rk:
            bookmark = self.stream_state.get("replication_key_value")
            start = self.config.get("start_date")
            if bookmark:
                lower = ("greaterthan", xmlgw.datetime_literal(clock.to_local(bookmark)))
            elif start:
                lower = ("greaterthanorequalto", xmlgw.datetime_literal(clock.to_local(start)))
            else:
                lower = None
            self.logger.info(
                "Reading %s (%s) %s.",
                self.name,
                self.spec.object,
                f"with {rk} {lower[0]} {lower[1]} ({clock.zone} time)" if lower else "from the beginning",
            )
            keyset = self._keyset(self.spec.object, rk, self.spec.key, upper, lower, self.shape.field_types)
            for rows, complete in keyset:
                yield from self._emit(rows, convert)
                if complete is not None:
                    self._bookmark(clock.to_utc(complete), context)
        else:
            self.logger.info("Reading %s (%s) in full.", self.name, self.spec.object)
            yield from self._full_table(convert)
        if self.config.get("include_deleted") and rk:
            yield from self._deletes(context, upper)
        self._report("done")

    def _emit(self, rows: list[dict[str, str]], convert: Converter) -> Iterator[Record]:
        self._counted[0] += len(rows)
        self._counted[1] += 1
        if time.monotonic() - self._logged >= PROGRESS_EVERY_S:
            self._report("so far")
        if self.spec.line_items is None and not self.shape.deletes:
            # Converted one by one as the SDK writes them, so a page is not held twice.
            return map(convert, rows)
        records = [convert(row) for row in rows]
        if self.spec.line_items is not None and records:
            self._attach_lines(records)
        if self.shape.deletes:
            for record in records:
                record[DELETED_AT] = None
        return iter(records)

    def _keyset(
        self,
        obj: str,
        ts_field: str,
        key_field: str,
        window: etree._Element | None,
        lower: tuple[str, str] | None,
        types: Mapping[str, str],
        fields: list[str] | None = None,
    ) -> Iterator[tuple[list[dict[str, str]], str | None]]:
        """Pages as (rows to emit, the latest timestamp all of whose rows are now emitted)."""
        fields = fields or self._fields
        order = [ts_field, key_field]
        clock = self._tap_ref.clock
        while True:
            bound = compare(lower[0], ts_field, lower[1]) if lower else None
            rows, more = self._query(obj, fields, all_of(window, bound), order)
            fold = next((i for i, row in enumerate(rows) if clock.ambiguous(row[ts_field])), None)
            if fold is not None:
                # The autumn daylight-saving fold: its local times name two instants each, so
                # they cannot bound a keyset. The whole fold is read as one window by key.
                head = rows[:fold]
                self._check_order(head, obj, [ts_field, key_field], types)
                if head:
                    yield head, head[-1][ts_field]
                start, end = clock.fold_bounds(rows[fold][ts_field])
                yield from self._fold(obj, fields, window, ts_field, key_field, start, end, types)
                lower = ("greaterthanorequalto", xmlgw.datetime_literal(end))
                continue
            self._check_order(rows, obj, [ts_field, key_field], types)
            if not more:
                yield rows, (rows[-1][ts_field] if rows else None)
                return
            last = rows[-1][ts_field]
            cut = len(rows)
            while cut > 0 and rows[cut - 1][ts_field] == last:
                cut -= 1
            if cut > 0:
                # The last group may continue on the next page: it is read whole from there.
                head = rows[:cut]
                yield head, head[-1][ts_field]
                lower = ("greaterthan", _literal(head[-1][ts_field]))
                continue
            # One timestamp fills the page: page through that group by key, then go on.
            yield rows, None
            group = compare("equalto", ts_field, _literal(last))
            key = rows[-1][key_field]
            while True:
                rows, more = self._query(
                    obj, fields, all_of(group, compare("greaterthan", key_field, key)), [key_field]
                )
                self._check_order(rows, obj, [key_field], types, after=key)
                yield rows, (None if more else last)
                if not more:
                    break
                key = rows[-1][key_field]
            lower = ("greaterthan", _literal(last))

    def _fold(
        self,
        obj: str,
        fields: list[str],
        window: etree._Element | None,
        ts_field: str,
        key_field: str,
        start: datetime,
        end: datetime,
        types: Mapping[str, str],
    ) -> Iterator[tuple[list[dict[str, str]], str | None]]:
        """Every row of a daylight-saving fold ``[start, end)`` (local), paged by key. The rows
        are complete up to ``end`` afterwards; the bookmark names the fold's last local second,
        which reads as its earlier instant, so a resumed run reads the fold again, never skips it."""
        bounds = all_of(
            window,
            compare("greaterthanorequalto", ts_field, xmlgw.datetime_literal(start)),
            compare("lessthan", ts_field, xmlgw.datetime_literal(end)),
        )
        after: str | None = None
        while True:
            condition = all_of(bounds, compare("greaterthan", key_field, after) if after else None)
            rows, more = self._query(obj, fields, condition, [key_field])
            self._check_order(rows, obj, [key_field], types, after=after)
            if not more:
                yield rows, xmlgw.datetime_literal(end - timedelta(seconds=1))
                return
            yield rows, None
            after = rows[-1][key_field]

    def _full_table(self, convert: Converter) -> Iterator[Record]:
        key = self.spec.key
        after: str | None = None
        while True:
            condition = compare("greaterthan", key, after) if after is not None else None
            rows, more = self._query(self.spec.object, self._fields, condition, [key])
            self._check_order(rows, self.spec.object, [key], self.shape.field_types, after=after)
            yield from self._emit(rows, convert)
            if not more or not rows:
                return
            after = rows[-1][key]

    def _query(
        self, obj: str, fields: list[str], condition: etree._Element | None, order: list[str]
    ) -> tuple[list[dict[str, str]], bool]:
        """One page: its rows and whether more follow. Fields query will not read are dropped
        from ``fields`` (for the rest of the run) and the page asked again."""
        what = f"query {obj} (stream {self.name})"
        while True:
            body = xmlgw.query(obj, fields, condition, order, self.page_size)
            try:
                result = self._tap_ref.client.call(body, what=what)
                break
            except IntacctError as exc:
                if exc.level != "function":
                    raise
                # Deletions (AUDITHISTORY of another stream) that cannot be read still fail the run.
                if unavailable(exc) and (obj != "AUDITHISTORY" or self.spec.object == obj):
                    raise StreamUnavailable(f"{obj} cannot be read", exc.errors) from None
                if not self._drop_unqueryable(obj, fields, order, exc) and not self._drop_unknown_fields(
                    obj, fields, exc
                ):
                    raise
        rows = list(result.rows())
        remaining = result.numremaining
        more = remaining > 0 if remaining is not None else len(rows) >= self.page_size
        return rows, more and bool(rows)

    def _drop_unqueryable(self, obj: str, fields: list[str], order: list[str], error: IntacctError) -> bool:
        """Fields ``lookup`` lists but ``query`` refuses (real Intacct: XL03000006 "The following
        fields cannot be queried"): read without them, emitted as null, with one warning and a note
        in the run's record. False if the error names none of ``fields``, or a key the paging needs."""
        names = [n for n in unqueryable(error) if n in fields]
        if not names or any(n in order or n in (self.spec.key, self.spec.replication_key) for n in names):
            return False
        self.logger.warning(
            "Stream %s: Intacct lists %s field(s) %s but query will not read them (%s); reading on "
            "without them, emitted as null.",
            self.name,
            obj,
            ", ".join(names),
            error.errors[0].errorno if error.errors else error,
        )
        self._tap_ref.dropped_fields.setdefault(self.name, []).extend(f"{obj}.{n}" for n in names)
        fields[:] = [f for f in fields if f not in names]
        return True

    def _drop_unknown_fields(self, obj: str, fields: list[str], error: IntacctError) -> bool:
        """After a failed query, ask ``lookup`` which selected fields the object lacks; drop
        them (they are emitted as null) and say so. False if none were unknown."""
        known = self._tap_ref.object_fields(obj)
        if not known:
            return False
        unknown = [
            f for f in fields if f not in known and f not in (self.spec.key, self.spec.replication_key)
        ]
        if not unknown:
            return False
        self.logger.warning(
            "Stream %s: %s has no field(s) %s in this company (%s); reading without them.",
            self.name,
            obj,
            ", ".join(unknown),
            error,
        )
        fields[:] = [f for f in fields if f not in unknown]
        return True

    def _check_order(
        self,
        rows: list[dict[str, str]],
        obj: str,
        fields: list[str],
        types: Mapping[str, str],
        after: str | None = None,
    ) -> None:
        """Raise :class:`OutOfOrder` unless ``rows`` (after the cursor value ``after`` of a key
        page) come in ``fields`` order, each field compared as the gateway may compare its type."""
        if after is not None and rows:
            rows = [{fields[0]: after}, *rows]
        if len(rows) < 2:
            return
        orders = [self._orders(types.get(name, "text")) for name in fields]
        first: int | None = None
        for order in itertools.product(*orders):
            keys = [tuple(key(row[name]) for key, name in zip(order, fields, strict=True)) for row in rows]
            wrong = next((i for i in range(1, len(keys)) if keys[i] < keys[i - 1]), None)
            if wrong is None:
                return
            first = wrong if first is None else first
        assert first is not None
        before, behind = rows[first - 1], rows[first]

        def shown(row: dict[str, str]) -> str:
            return ", ".join(f"{name} {row.get(name)!r}" for name in fields)

        what = "deletions" if obj == "AUDITHISTORY" else obj
        remedy = "set include_deleted to false" if obj == "AUDITHISTORY" else f"deselect stream {self.name}"
        msg = (
            f"Stream {self.name}: the gateway returned {obj} rows out of the ({', '.join(fields)}) order "
            f"asked for: {shown(behind)} came after {shown(before)}. Keyset paging cannot trust such "
            f"answers, so the stream's {what} stopped at the last bookmark and the other streams go on. "
            f"If it repeats, {remedy} and report the answer to Sage Intacct support."
        )
        raise OutOfOrder(msg)

    def _orders(self, field_type: str) -> list[Callable[[str], Any]]:
        """The orders the gateway may sort a field of this type in, likeliest first."""
        if field_type == "integer":
            return [int]
        if field_type == "decimal":
            return [Decimal]
        if field_type == "timestamp":
            return [self._tap_ref.clock.to_utc]
        if field_type == "date":
            return [parse_date]
        return [str, str.casefold, _numeric_text]

    def _selected_fields(self) -> list[str]:
        mask = self.mask
        required = {self.spec.key, self.spec.replication_key}
        column = self.shape.column
        return [
            name
            for name in self.shape.field_types
            if name in required or mask.get(("properties", column(name)), True)
        ]

    # Detail lines --------------------------------------------------------------------

    def _attach_lines(self, records: list[Record]) -> None:
        """Read the lines of this page's headers (RECORDKEY in (...)) and put them on each."""
        spec = self.spec.line_items
        assert spec is not None
        lines_shape = self.shape.arrays[spec.array]
        convert = lines_shape.converter(lines_shape.field_types, spec.object, self._tap_ref.clock)
        key = self.shape.column(self.spec.key)
        parent = lines_shape.column(spec.parent_field)
        by_parent: dict[Any, list[Record]] = {r[key]: [] for r in records}
        parents = xmlgw.one_of(spec.parent_field, list(by_parent))
        fields = self._line_fields
        after: str | None = None
        while True:
            condition = all_of(parents, compare("greaterthan", "RECORDNO", after) if after else None)
            rows, more = self._query(spec.object, fields, condition, ["RECORDNO"])
            self._check_order(rows, spec.object, ["RECORDNO"], lines_shape.field_types, after=after)
            for row in rows:
                line = convert(row)
                bucket = by_parent.get(line.get(parent))
                if bucket is not None:
                    bucket.append(line)
            if not more:
                break
            after = rows[-1]["RECORDNO"]
        for record in records:
            record[spec.array] = by_parent[record[key]]

    # Deletions -----------------------------------------------------------------------

    def _deletes(self, context: Context | None, upper: etree._Element | None) -> Iterator[Record]:
        """Records deleted since the last run, from AUDITHISTORY (ACCESSMODE D), as the key
        and ``_sdc_deleted_at`` with every other field null."""
        clock = self._tap_ref.clock
        state = self.stream_state
        after = state.get(DELETES_BOOKMARK) or self.config.get("start_date")
        lower = ("greaterthan", xmlgw.datetime_literal(clock.to_local(after))) if after else None
        window = all_of(
            compare("equalto", "OBJECTTYPE", self.spec.object.lower()),
            compare("equalto", "ACCESSMODE", "D"),
            _retarget(upper, "ACCESSTIME"),
        )
        fields = ["OBJECTKEY", "ACCESSTIME"]
        empty = dict.fromkeys(self.shape.json_schema()["properties"])
        count = 0
        key = self.shape.column(self.spec.key)
        deletions = self._keyset(
            "AUDITHISTORY", "ACCESSTIME", "OBJECTKEY", window, lower, AUDIT_TYPES, fields
        )
        for rows, complete in deletions:
            for row in rows:
                record: dict[str, Any] = dict(empty)
                record[key] = _recordno(row["OBJECTKEY"])
                record[DELETED_AT] = clock.to_utc(row["ACCESSTIME"])
                count += 1
                yield record
            if complete is not None:
                state[DELETES_BOOKMARK] = clock.to_utc(complete)
                self._write_state_message()
        self.logger.info("Stream %s: %d deletions from AUDITHISTORY.", self.name, count)

    def _report(self, phase: str) -> None:
        now = time.monotonic()
        self._logged = now
        records, pages = self._counted
        self.logger.info(
            "Stream %s %s: %d records in %d pages, %.0f records/s; %d API calls in the run so far.",
            self.name,
            phase,
            records,
            pages,
            records / max(now - self._started, 1e-9),
            self._tap_ref.client.counts.functions,
        )

    # Bookmarks -----------------------------------------------------------------------

    def audit_source(self, record: Record) -> tuple[Any, Any]:
        """The object's key (RECORDNO) and WHENMODIFIED; a deletion's version is when it was deleted."""
        version = record.get(self.replication_key) if self.replication_key else None
        return record.get(self.primary_keys[0]), version if version is not None else record.get(DELETED_AT)

    def _increment_stream_state(
        self, latest_record: Mapping[str, Any], *, context: Context | None = None
    ) -> None:
        """Bookmarks move in ``_bookmark`` only, after whole timestamp groups."""

    def _bookmark(self, value: str, context: Context | None) -> None:
        assert self.replication_key is not None
        super()._increment_stream_state({self.replication_key: value}, context=context)
        self.state_manager.is_flushed = False
        self._write_state_message()


def _literal(local_text: str) -> str:
    """A timestamp as the gateway wrote it, as a filter value (``MM/DD/YYYY HH:MM:SS``)."""
    return xmlgw.datetime_literal(parse_local(local_text))


def _retarget(condition: etree._Element | None, field_name: str) -> etree._Element | None:
    if condition is None:
        return None
    return compare(condition.tag, field_name, condition.findtext("value") or "")


def _recordno(object_key: str) -> int | str:
    """AUDITHISTORY OBJECTKEY is the RECORDNO, sometimes with a suffix (``123--REC``)."""
    head = object_key.split("--", 1)[0].strip()
    return int(head) if head.isdigit() else object_key


def _numeric_text(text: str) -> tuple[int, Decimal | int, str]:
    """Text ordered as numbers where it reads as one (a number column typed text), else as text."""
    try:
        return (0, Decimal(text), "")
    except InvalidOperation:
        return (1, 0, text)


class BalanceStream(AuditedStream, Stream):
    """Trial or account balances: one legacy report call per month, read in full every run (a
    month's balances change with late postings), keyed by month, account, dimensions and book."""

    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, tap: TapSageIntacct, spec: Balances) -> None:
        self.spec = spec
        self._tap_ref = tap
        self.shape = Shape(spec.fields, what=f"Stream {spec.name}")
        schema = with_audit_columns(self.shape.json_schema(), dict(tap.config), spec.name)
        super().__init__(tap, schema=schema, name=spec.name)
        self.primary_keys = spec.key

    def get_records(self, context: Context | None) -> Iterable[Record]:
        try:
            yield from self._read()
        except StreamUnavailable as exc:
            self._tap_ref.skip_stream(self, exc)

    def _read(self) -> Iterator[Record]:
        tap = self._tap_ref
        client = tap.client
        _ = client.session
        convert = self.shape.converter(self.shape.field_types, self.spec.function, tap.clock)
        accounts = self._account_range() if self.spec.function == "get_accountbalances" else None
        if accounts is None and self.spec.function == "get_accountbalances":
            return
        for first, last in self._months():
            body = xmlgw.element(
                self.spec.function,
                xmlgw.date_element("startdate", first),
                xmlgw.date_element("enddate", last),
                *(
                    [
                        xmlgw.element("startaccountno", text=accounts[0]),
                        xmlgw.element("endaccountno", text=accounts[1]),
                    ]
                    if accounts
                    else [
                        xmlgw.element("showdeptdetail", text="true"),
                        xmlgw.element("showlocdetail", text="true"),
                    ]
                ),
                xmlgw.element("showzerobalances", text="false"),
            )
            result = self._call(body, f"{self.spec.function} {first:%Y-%m} (stream {self.name})")
            for row in result.rows():
                row = {**dict.fromkeys(self.spec.dimensions, ""), **row}
                row["startdate"], row["enddate"] = first.isoformat(), last.isoformat()
                yield convert(row)

    def _call(self, body: etree._Element, what: str) -> xmlgw.Result:
        try:
            return self._tap_ref.client.call(body, what=what)
        except IntacctError as exc:
            if unavailable(exc):
                raise StreamUnavailable(f"{self.spec.function} cannot be read", exc.errors) from None
            raise

    def _account_range(self) -> tuple[str, str] | None:
        """The lowest and highest GLACCOUNT ACCOUNTNO (get_accountbalances needs an account range)."""
        body = xmlgw.element(
            "query",
            xmlgw.element("object", text="GLACCOUNT"),
            xmlgw.element(
                "select", xmlgw.element("min", text="ACCOUNTNO"), xmlgw.element("max", text="ACCOUNTNO")
            ),
        )
        (row,) = list(self._call(body, f"query GLACCOUNT account range (stream {self.name})").rows()) or [{}]
        low, high = row.get("MIN.ACCOUNTNO"), row.get("MAX.ACCOUNTNO")
        return (low, high) if low and high else None

    def _months(self) -> list[tuple[date, date]]:
        """Calendar months from ``balance_start_date`` (else the last ``balance_months``) to the
        gateway's current month, in the user's time zone."""
        tap = self._tap_ref
        now = tap.client.server_time
        today = tap.clock.to_local(now).date() if now is not None else date.today()
        start = self.config.get("balance_start_date")
        if start:
            first = date.fromisoformat(str(start)[:10]).replace(day=1)
        else:
            back = int(self.config.get("balance_months", 3)) - 1
            index = today.year * 12 + today.month - 1 - back
            first = date(index // 12, index % 12 + 1, 1)
        months = []
        while first <= today:
            last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
            months.append((first, last))
            first = last + timedelta(days=1)
        return months

    def audit_source(self, record: Record) -> tuple[Any, Any]:
        return "/".join(str(record.get(k) or "") for k in self.primary_keys), None


#: The run record, with what this tap could not read: streams skipped and fields dropped.
RUNS_SCHEMA_WITH_SKIPS = {
    **RUNS_SCHEMA,
    "properties": {
        **RUNS_SCHEMA["properties"],
        "skipped": {
            "type": ["array", "null"],
            "items": {
                "type": "object",
                "properties": {"stream": {"type": ["string"]}, "reason": {"type": ["string", "null"]}},
            },
            "description": "Streams not read: the company lacks their object, module or permission.",
        },
        "dropped_fields": {
            "type": ["array", "null"],
            "items": {"type": "string"},
            "description": "stream:OBJECT.FIELD that lookup lists but query would not read (emitted null).",
        },
    },
}


class IntacctRunsStream(RunsStream):
    """``_audit_runs`` with the streams skipped and the fields dropped."""

    def __init__(self, tap: TapSageIntacct) -> None:
        Stream.__init__(self, tap, schema=RUNS_SCHEMA_WITH_SKIPS, name=RUNS_STREAM)
        self.primary_keys = ["run_id"]
        self._tap_ref = tap

    def get_records(self, context: Context | None) -> Iterable[Record]:
        tap = self._tap_ref
        for record in super().get_records(dict(context) if context is not None else None):
            record["skipped"] = [{"stream": s, "reason": r} for s, r in sorted(tap.skipped.items())]
            record["dropped_fields"] = [
                f"{stream}:{field}" for stream, names in sorted(tap.dropped_fields.items()) for field in names
            ]
            yield record
