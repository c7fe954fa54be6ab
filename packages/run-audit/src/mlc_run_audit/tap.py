"""Audit columns on every record a tap emits, and the run's own record as the tap's last stream.

A tap built on the Meltano Singer SDK mixes in :class:`AuditedTap`, its streams
:class:`AuditedStream`, passes each stream schema through :func:`with_audit_columns`, and adds a
:class:`RunsStream` to its discovered streams. Then every record carries

- ``_audit_run_id``: the run that extracted it (``MELTANO_RUN_ID`` when set, so it equals Meltano's
  run id and the loader's; otherwise one id per tap process, logged at start);
- ``_audit_source_id``: the record's id in the source system;
- ``_audit_source_version``: the record's version there (its last-modified time, when it has one);

and the stream ``_audit_runs`` gets one record per run, written after every other stream: run id,
tap and version, source, start and end, status, records per stream, bookmarks reached, final state.
If a stream fails, the run record is still written, with status ``failed`` and the error.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit, urlunsplit

from singer_sdk import Stream
from singer_sdk import typing as th

if TYPE_CHECKING:
    from singer_sdk import Tap

from mlc_run_audit import (
    AUDIT_COLUMNS,
    RUN_ID_COLUMN,
    RUN_ID_ENV,
    RUNS_STREAM,
    SOURCE_ID_COLUMN,
    SOURCE_VERSION_COLUMN,
)
from mlc_run_audit.run_id import current_run_id, shared_run_id

logger = logging.getLogger(__name__)

#: The tap setting that switches the three columns off (the run record stays a selectable stream).
AUDIT_SETTING = th.Property(
    "audit_columns",
    th.BooleanType,
    default=True,
    description=(
        f"Add {RUN_ID_COLUMN}, {SOURCE_ID_COLUMN} and {SOURCE_VERSION_COLUMN} to every record: the run that "
        "extracted it (MELTANO_RUN_ID when set) and the record's id and version in the source. "
        f"The run's own record is the stream {RUNS_STREAM}, selected like any other."
    ),
)

AUDIT_PROPERTIES: dict[str, dict[str, Any]] = {
    RUN_ID_COLUMN: {
        "type": ["string"],
        "description": "The run that extracted the record (Meltano's run id when MELTANO_RUN_ID is set).",
    },
    SOURCE_ID_COLUMN: {
        "type": ["null", "string"],
        "description": "The record's id in the source system.",
    },
    SOURCE_VERSION_COLUMN: {
        "type": ["null", "string"],
        "description": "The record's version in the source system: its last-modified time when it has one.",
    },
}

RUNS_SCHEMA = th.PropertiesList(
    th.Property("run_id", th.StringType, required=True, description="The run's id."),
    th.Property("tap", th.StringType, description="The extractor that made the run."),
    th.Property("tap_version", th.StringType),
    th.Property("source", th.StringType, description="The source read: address, company, API version."),
    th.Property("started_at", th.DateTimeType),
    th.Property("finished_at", th.DateTimeType),
    th.Property("status", th.StringType, description="extracted, or failed (see error)."),
    th.Property("error", th.StringType),
    th.Property("records", th.IntegerType, description="Records extracted by the run, all streams."),
    th.Property(
        "streams",
        th.ArrayType(
            th.ObjectType(
                th.Property("stream", th.StringType),
                th.Property("records", th.IntegerType),
                th.Property("bookmark", th.StringType),
            )
        ),
        description="Per stream: records extracted and the bookmark reached.",
    ),
    th.Property("state", th.StringType, description="The tap's state at the end of the run, as JSON text."),
).to_dict()


def audit_enabled(config: Mapping[str, Any]) -> bool:
    return config.get("audit_columns", True) is not False


def with_audit_columns(schema: dict[str, Any], config: Mapping[str, Any], stream: str) -> dict[str, Any]:
    """``schema`` with the three audit properties, unless the tap's ``audit_columns`` is false."""
    if not audit_enabled(config):
        return schema
    properties = schema.get("properties", {})
    clash = sorted(set(properties) & set(AUDIT_COLUMNS))
    if clash:
        msg = (
            f"Stream {stream} has fields {clash} that the audit columns would overwrite; rename them "
            "or set audit_columns to false."
        )
        raise ValueError(msg)
    return {**schema, "properties": {**properties, **AUDIT_PROPERTIES}}


def public_url(url: str) -> str:
    """``url`` without user info, query or fragment: fit for a record, a log or an error."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


class RunAudit:
    """One tap run: its id, when it started, and how many records each stream extracted."""

    def __init__(self, tap: str, tap_version: str, *, columns: bool) -> None:
        self.run_id = current_run_id()
        self.tap = tap
        self.tap_version = tap_version
        self.columns = columns
        self.started_at = datetime.now(tz=UTC)
        self.counts: dict[str, int] = {}
        self.error: str | None = None
        self.written = False

    def stamp(self, stream: str, record: dict[str, Any], source_id: Any, source_version: Any) -> None:
        self.counts[stream] = self.counts.get(stream, 0) + 1
        if self.columns:
            record[RUN_ID_COLUMN] = self.run_id
            record[SOURCE_ID_COLUMN] = _text(source_id)
            record[SOURCE_VERSION_COLUMN] = _text(source_version)

    def run_record(self, source: str, state: Mapping[str, object]) -> dict[str, Any]:
        found = state.get("bookmarks") if isinstance(state, Mapping) else None
        bookmarks: dict[str, Any] = found if isinstance(found, dict) else {}
        kept = {name: entry for name, entry in bookmarks.items() if name != RUNS_STREAM}
        streams = [
            {
                "stream": name,
                "records": count,
                "bookmark": _text((kept.get(name) or {}).get("replication_key_value")),
            }
            for name, count in sorted(self.counts.items())
        ]
        return {
            "run_id": self.run_id,
            "tap": self.tap,
            "tap_version": self.tap_version,
            "source": source,
            "started_at": self.started_at.isoformat(),
            "finished_at": datetime.now(tz=UTC).isoformat(),
            "status": "failed" if self.error else "extracted",
            "error": self.error,
            "records": sum(self.counts.values()),
            "streams": streams,
            "state": json.dumps({**state, "bookmarks": kept}, sort_keys=True, default=str),
        }


class AuditedStream:
    """Mixin for SDK streams: stamps the audit columns on each record and counts it for the run."""

    def audit_source(self, record: dict[str, Any]) -> tuple[Any, Any]:
        """The record's (id, version) in the source system."""
        raise NotImplementedError

    def post_process(
        self, row: dict[str, Any], context: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        row = super().post_process(row, context)  # type: ignore[misc]
        if row is not None and self.selected:  # type: ignore[attr-defined]
            self._tap.run_audit.stamp(self.name, row, *self.audit_source(row))  # type: ignore[attr-defined]
        return row


class RunsStream(Stream):
    """``_audit_runs``: one record describing the run, emitted after every other stream."""

    def __init__(self, tap: Tap) -> None:
        super().__init__(tap, schema=RUNS_SCHEMA, name=RUNS_STREAM)
        self.primary_keys = ["run_id"]

    @property
    def emit_activate_version_messages(self) -> bool:
        return False  # a run's record never retires the records of earlier runs

    def get_records(self, context: Mapping[str, Any] | None) -> Iterable[dict[str, Any]]:
        tap = cast("AuditedTap", self._tap)  # a Tap that mixes in AuditedTap (see __init__)
        tap.run_audit.written = True
        yield tap.run_audit.run_record(tap.audit_source_description(), self._tap.state)


class AuditedTap:
    """Mixin for SDK taps: the run's audit, its record synced last, and written even on failure."""

    def audit_source_description(self) -> str:
        """The source system this tap reads, without credentials (e.g. address, company, version)."""
        raise NotImplementedError

    @cached_property
    def run_audit(self) -> RunAudit:
        audit = RunAudit(
            self.name,  # type: ignore[attr-defined]
            self.plugin_version,  # type: ignore[attr-defined]
            columns=audit_enabled(self.config),  # type: ignore[attr-defined]
        )
        self.logger.info(  # type: ignore[attr-defined]
            "Run id %s (%s).",
            audit.run_id,
            f"from {RUN_ID_ENV}" if shared_run_id() else f"set {RUN_ID_ENV} to share Meltano's",
        )
        return audit

    def load_streams(self) -> list[Stream]:
        streams = super().load_streams()  # type: ignore[misc]
        return [s for s in streams if s.name != RUNS_STREAM] + [s for s in streams if s.name == RUNS_STREAM]

    def sync_all(self) -> None:
        self.run_audit  # noqa: B018 - the run starts (and its id is logged) before the first stream
        try:
            super().sync_all()  # type: ignore[misc]
        except Exception as exc:
            self._write_failed_run(exc)
            raise

    def _write_failed_run(self, exc: Exception) -> None:
        stream = self.streams.get(RUNS_STREAM)  # type: ignore[attr-defined]
        if stream is None or not stream.selected or self.run_audit.written:
            return
        self.run_audit.error = f"{type(exc).__name__}: {exc}"[:2000]
        try:
            stream.sync()
        except Exception:
            self.logger.exception("The failed run's record could not be written.")  # type: ignore[attr-defined]
