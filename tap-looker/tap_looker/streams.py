"""One stream per configured Looker query.

A query runs inline first (``POST /queries/run/json`` with ``limit = inline_row_limit``). An answer
that reaches that limit, or has exactly as many rows as a cap Looker is known to apply silently, may
be cut, so the query is run again as an async query task (``POST /queries``, ``POST /query_tasks``,
polling ``/results`` within ``query_timeout_seconds``) asking for ``max_rows + 1`` rows (``-1``:
unlimited). A task answer with more than ``max_rows`` rows, or one that did not grow past the capped
inline answer and differs between the query sorted ascending and descending (a cut answer is a
different window of rows), fails the stream with a ``TruncatedResultError``: rows are never dropped silently.

A task's answer is parsed and emitted as it downloads, so memory does not grow with its size. The
capped-answer check holds at most the inline answer's number of rows before emitting; an answer with
more than ``max_rows`` rows, or one whose download breaks off, fails the stream after the rows before
that point were emitted (the bookmark does not move, and the run exits non-zero).

Incremental queries filter their ``replication_field`` (a date dimension) with ``after <bookmark>``;
the bookmark is the largest value emitted and is written only when the stream has finished.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

from mlc_run_audit.checks import SettingError
from mlc_run_audit.tap import AuditedStream, with_audit_columns
from singer_sdk import Stream
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_looker.client import KNOWN_ROW_CAPS, LookerClient, TruncatedResultError
from tap_looker.schema import DATE_TYPES, DATETIME_TYPES, Column

if TYPE_CHECKING:
    from tap_looker.tap import TapLooker

REPLICATION_TYPES = (*DATE_TYPES, *DATETIME_TYPES, "date_month", "date_year")

# Setting defaults, declared once (the config schema in tap.py uses them too).
DEFAULT_INLINE_ROW_LIMIT = 5000  # the instance's own inline cap
DEFAULT_MAX_ROWS = 0  # unlimited
DEFAULT_QUERY_TIMEOUT_SECONDS: float = 1800
DEFAULT_POLL_INTERVAL_SECONDS: float = 1


@dataclass(frozen=True)
class QuerySpec:
    """One entry of the ``queries`` setting."""

    name: str
    model: str
    explore: str
    fields: tuple[str, ...]
    filters: dict[str, str] = field(default_factory=dict)
    sorts: tuple[str, ...] = ()
    key_properties: tuple[str, ...] = ()
    replication_field: str | None = None
    column_names: dict[str, str] = field(default_factory=dict)
    query_timezone: str | None = None

    @classmethod
    def from_config(cls, entry: dict[str, Any], index: int) -> QuerySpec:
        where = f"queries[{index}]" + (f" ({entry.get('name')})" if isinstance(entry, dict) else "")
        if not isinstance(entry, dict):
            raise SettingError(f"{where} must be an object with name, model, explore and fields")
        missing = [k for k in ("name", "model", "explore", "fields") if not entry.get(k)]
        if missing:
            raise SettingError(f"{where} lacks {', '.join(missing)}")
        fields = entry["fields"]
        if not isinstance(fields, list) or not all(isinstance(f, str) and "." in f for f in fields):
            raise SettingError(f"{where}.fields must be a list of Looker field names like 'view.field'")
        filters = entry.get("filters") or {}
        if not isinstance(filters, dict):
            raise SettingError(f"{where}.filters must be an object of field name to Looker filter expression")
        replication_field = entry.get("replication_field") or None
        fields = list(fields)
        if replication_field and replication_field not in fields:
            fields.append(replication_field)
        return cls(
            name=str(entry["name"]),
            model=str(entry["model"]),
            explore=str(entry["explore"]),
            fields=tuple(dict.fromkeys(fields)),
            filters={str(k): str(v) for k, v in filters.items()},
            sorts=tuple(entry.get("sorts") or ()),
            key_properties=tuple(entry.get("key_properties") or ()),
            replication_field=replication_field,
            column_names=dict(entry.get("column_names") or {}),
            query_timezone=entry.get("query_timezone"),
        )


def looker_date(value: str) -> str:
    """A bookmark (``2026-01-31``, ``2026-01-31T10:00:00``, ``2026-01``) as a Looker date literal."""
    return str(value)[:10].replace("-", "/")


class QueryStream(AuditedStream, Stream):
    """The rows of one Looker query, typed from the explore's field metadata."""

    # Values are converted column by column from the explore's metadata, so they already match
    # the schema; the SDK's per-record conformance pass would only cost time.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    is_sorted = False

    def __init__(self, tap: TapLooker, spec: QuerySpec, columns: list[Column]) -> None:
        self.spec = spec
        self.columns = columns
        self._tap_ref = tap
        schema = {"type": "object", "properties": {c.name: c.schema for c in columns}}
        super().__init__(tap, schema=with_audit_columns(schema, tap.config, spec.name), name=spec.name)
        by_field = {c.field: c.name for c in columns}
        by_name = {c.name for c in columns}
        keys = []
        for key in spec.key_properties:
            if key in by_field:
                keys.append(by_field[key])
            elif key in by_name:
                keys.append(key)
            else:
                raise SettingError(
                    f"queries ({spec.name}).key_properties: {key!r} is neither a field of the query nor "
                    f"one of its columns ({', '.join(sorted(by_name))})"
                )
        self.primary_keys = keys
        if spec.replication_field:
            column = next(c for c in columns if c.field == spec.replication_field)
            if column.looker_type not in REPLICATION_TYPES:
                raise SettingError(
                    f"queries ({spec.name}).replication_field: {spec.replication_field} is a "
                    f"{column.looker_type} field; it must be a date dimension "
                    f"({', '.join(REPLICATION_TYPES)})"
                )
            self.replication_key = column.name

    def audit_source(self, record: dict[str, Any]) -> tuple[Any, Any]:
        """The row's key values joined by ``|`` (none without key_properties) and its replication value."""
        key = "|".join(str(record.get(k)) for k in self.primary_keys) if self.primary_keys else None
        return key, record.get(self.replication_key) if self.replication_key else None

    @property
    def client(self) -> LookerClient:
        return self._tap_ref.client

    def _setting(self, name: str, default: Any) -> Any:
        value = self.config.get(name)
        return default if value is None else value

    def looker_query(
        self, limit: str, sorts: tuple[str, ...] | None = None, filters: dict[str, str] | None = None
    ) -> dict[str, Any]:
        query: dict[str, Any] = {
            "model": self.spec.model,
            "view": self.spec.explore,
            "fields": list(self.spec.fields),
            "filters": filters if filters is not None else dict(self.spec.filters),
            "sorts": list(self.spec.sorts if sorts is None else sorts),
            "limit": limit,
        }
        if self.spec.query_timezone:
            query["query_timezone"] = self.spec.query_timezone
        return query

    def _filters(self, context: Mapping[str, Any] | None) -> dict[str, str]:
        filters = dict(self.spec.filters)
        if self.spec.replication_field:
            start = self.get_starting_replication_key_value(context)
            if start:
                bound = f"after {looker_date(start)}"
                own = filters.get(self.spec.replication_field)
                if own:
                    raise SettingError(
                        f"queries ({self.spec.name}).filters filters {self.spec.replication_field}, its "
                        "replication_field; the tap filters it from the bookmark or start_date"
                    )
                filters[self.spec.replication_field] = bound
                self.logger.info("Query %s: %s %s.", self.name, self.spec.replication_field, bound)
        return filters

    def get_records(self, context: Mapping[str, Any] | None) -> Iterable[dict[str, Any]]:
        filters = self._filters(context)
        converters = [(c.field, c.name, c.convert) for c in self.columns]
        emitted = 0
        for row in self.fetch(filters):
            yield {name: convert(row.get(looker_field)) for looker_field, name, convert in converters}
            emitted += 1
        self.logger.info("Query %s: %d rows emitted.", self.name, emitted)

    # ---- running the query without losing rows -------------------------------------------
    def fetch(self, filters: dict[str, str]) -> Iterator[dict[str, Any]]:
        """The query's rows, streamed from a query task's answer as it downloads."""
        inline_limit = int(self._setting("inline_row_limit", DEFAULT_INLINE_ROW_LIMIT))
        what = f"{self.name} ({self.spec.model}::{self.spec.explore})"
        inline_count = 0
        if inline_limit > 0:
            inline = self.client.run_inline_query(self.looker_query(str(inline_limit), filters=filters))
            inline_count = len(inline)
            if inline_count < inline_limit and inline_count not in KNOWN_ROW_CAPS:
                yield from inline
                return
            self.logger.info(
                "Query %s: the inline answer has %d rows, as many as a row cap; running it as a query task.",
                what,
                inline_count,
            )
            del inline
        rows = self._task(filters, self.spec.sorts or None, what)
        if inline_count > 0:
            # Whether the task answered more rows than the capped inline run must be known before
            # any row leaves: hold at most that many (already held once, for the inline answer).
            head = list(islice(rows, inline_count + 1))
            if len(head) <= inline_count and not self._same_both_ways(filters, what):
                raise TruncatedResultError(
                    f"Query {what}: the query task answered {len(head)} rows, no more than the capped "
                    "inline answer, and the same query sorted the other way answers different rows: the "
                    "Looker instance caps this result. Narrow the query with filters (e.g. by period) or "
                    "lift the cap."
                )
            yield from head
            del head
        yield from rows

    def _task(
        self, filters: dict[str, str], sorts: tuple[str, ...] | None, what: str
    ) -> Iterator[dict[str, Any]]:
        max_rows = int(self._setting("max_rows", DEFAULT_MAX_ROWS))
        limit = str(max_rows + 1) if max_rows > 0 else "-1"
        query_id = self.client.create_query(self.looker_query(limit, sorts=sorts, filters=filters))
        task_id = self.client.create_query_task(query_id)
        self.logger.info("Query %s: query %s running as query task %s.", what, query_id, task_id)
        rows = self.client.query_task_results(
            task_id,
            timeout=float(self._setting("query_timeout_seconds", DEFAULT_QUERY_TIMEOUT_SECONDS)),
            poll_interval=float(self._setting("poll_interval_seconds", DEFAULT_POLL_INTERVAL_SECONDS)),
            what=what,
        )
        return rows if max_rows <= 0 else self._at_most(rows, max_rows, what)

    @staticmethod
    def _at_most(rows: Iterator[dict[str, Any]], max_rows: int, what: str) -> Iterator[dict[str, Any]]:
        """The rows, failing at row ``max_rows + 1`` (the task asks for one more than allowed)."""
        for count, row in enumerate(rows, 1):
            if count > max_rows:
                raise TruncatedResultError(
                    f"Query {what} answers more than max_rows={max_rows} rows; raise max_rows (0: "
                    "unlimited) or narrow the query with filters. The stream fails after its first "
                    f"{max_rows} rows and its bookmark does not move."
                )
            yield row

    def _same_both_ways(self, filters: dict[str, str], what: str) -> bool:
        """Whether the query sorted ascending and descending on all its dimensions answers the same
        rows: a complete answer does, a capped one is a different window at each end."""
        dims = [c.field for c in self.columns if c.category == "dimension"] or list(self.spec.fields)
        up = sorted(map(_row_key, self._task(filters, tuple(dims), what + ", ascending")))
        down = sorted(
            map(_row_key, self._task(filters, tuple(f"{f} desc" for f in dims), what + ", descending"))
        )
        return up == down


def _row_key(row: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, str(v)) for k, v in row.items()))
