"""Checks every tap makes before any data moves, and short errors when one fails.

A tap mixes in :class:`CheckedTap` (before :class:`~mlc_run_audit.tap.AuditedTap`). Then, when the
tap is built with a catalog and state:

- every stream name and every top-level property name is a safe identifier (:data:`NAME_RULE`)
  and no two collide case-insensitively, or the tap stops naming them;
- a catalog that selects a stream the tap does not have is an error naming it;
- a bookmark kept on another replication key than the stream's (say another tap's state), or
  whose value does not read as a timestamp, is an error naming stream, key found and key expected;
- a state file that is not JSON is an error naming the file;
- a stream that cannot go on safely (:class:`StreamHalted`) stops where its bookmark is while the
  other streams are read, and the run then fails naming it: one stream never wedges the others.

Errors of configuration (:class:`SettingError`) end in one or two log lines naming the setting and
what to do; every other error ends in its message, and the traceback is logged at debug level.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sys
from collections.abc import Callable, Iterable
from datetime import datetime
from types import TracebackType
from typing import Any

from singer_sdk.exceptions import ConfigValidationError

logger = logging.getLogger(__name__)

#: Longest stream or property name a tap emits. Every loader here takes more (DuckDB, Databricks,
#: Snowflake, BigQuery); 63 also fits PostgreSQL-style loaders, and leaves room for a table prefix.
MAX_NAME_LENGTH = 63
_SAFE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NAME_RULE = f"letters, digits and _ only, starting with a letter or _, at most {MAX_NAME_LENGTH} characters"


class SettingError(ConfigValidationError, ValueError):
    """A setting (or the state or catalog given to the tap) that cannot work; the message names it
    and says what to do. The SDK's command line logs it without a traceback and exits 1."""

    def __init__(self, message: str) -> None:
        super().__init__(message, errors=[message])


class StreamHalted(Exception):
    """A stream cannot go on safely (e.g. the source answered out of the order asked for). The
    stream stops at its last bookmark, the other streams are read, and the run then fails."""


def is_safe_name(name: str) -> bool:
    """Whether ``name`` is safe as a table or column name in every loader here."""
    return isinstance(name, str) and len(name) <= MAX_NAME_LENGTH and _SAFE.fullmatch(name) is not None


def check_name(name: Any, where: str) -> str:
    """``name`` if it is safe (see :data:`NAME_RULE`), else a :class:`SettingError` naming ``where``
    (e.g. "Setting extra_entities: stream name")."""
    if not is_safe_name(name):
        shown = repr(name) if len(str(name)) <= 80 else repr(str(name)[:80]) + "..."
        msg = f"{where} {shown} is not a safe table or column name; use {NAME_RULE}."
        raise SettingError(msg)
    return str(name)


def safe_name(source: str) -> str:
    """A safe name for a source field whose own name is not: every character outside
    ``A-Za-z0-9_`` becomes ``_``, a leading digit gets a ``_`` in front, and a name too long is cut
    and ends in ``_`` and 8 hex digits of its SHA-1. Deterministic, and safe names map to themselves."""
    if is_safe_name(source):
        return source
    text = re.sub(r"[^A-Za-z0-9_]", "_", source)
    if not text or text[0].isdigit():
        text = "_" + text
    if len(text) > MAX_NAME_LENGTH:
        digest = hashlib.sha1(source.encode()).hexdigest()[:8]
        text = f"{text[: MAX_NAME_LENGTH - 9]}_{digest}"
    return text


def check_unique(names: Iterable[tuple[str, str]], what: str) -> None:
    """Refuse names that are equal ignoring case: loaders fold case (Databricks, Snowflake,
    BigQuery, DuckDB), so such names would land in one table or column. ``names`` holds
    (name, where it comes from)."""
    seen: dict[str, tuple[str, str]] = {}
    for name, origin in names:
        folded = name.casefold()
        if folded in seen:
            first, first_origin = seen[folded]
            msg = (
                f"{what} {first!r} ({first_origin}) and {name!r} ({origin}) would land in one "
                "table or column (loaders ignore case); rename one of them."
            )
            raise SettingError(msg)
        seen[folded] = (name, origin)


def parse_bookmark(value: Any) -> datetime | None:
    """A bookmark value as a time (ISO 8601 date-time or date), None if it is not one."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None


class CheckedTap:
    """Mixin for SDK taps (before ``AuditedTap``): the checks above, at construction, before any
    request for data; one stream's halt does not stop the others."""

    #: Replication keys that name the same time and may follow each other in state (e.g. an
    #: Acumatica field renamed between endpoint versions).
    compatible_replication_keys: tuple[frozenset[str], ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.halted: dict[str, str] = {}
        super().__init__(*args, **kwargs)
        self.check_names()
        self.check_catalog()
        self.check_bookmarks()

    # Settings --------------------------------------------------------------------------

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """The SDK's schema validation, and dates and date-times that must read as such (the
        SDK's validator does not check ``format``)."""
        try:
            errors: list[str] = list(super()._validate_config(raise_errors=True))  # type: ignore[misc]
        except ConfigValidationError as exc:
            errors = list(exc.errors)
        properties = (self.config_jsonschema or {}).get("properties") or {}  # type: ignore[attr-defined]
        for name, spec in properties.items():
            value = self.config.get(name)  # type: ignore[attr-defined]
            kind = spec.get("format") if isinstance(spec, dict) else None
            if value in (None, "") or kind not in ("date", "date-time"):
                continue
            if parse_bookmark(value) is None:
                errors.append(
                    f"Setting {name} {str(value)[:60]!r} is not an ISO 8601 {kind} "
                    f"(e.g. {'2024-01-31' if kind == 'date' else '2024-01-31T00:00:00Z'})."
                )
        if errors and raise_errors:
            schema = self.config_jsonschema  # type: ignore[attr-defined]
            raise ConfigValidationError("Config validation failed", errors=errors, schema=schema)
        return errors

    # Names -----------------------------------------------------------------------------

    def check_names(self) -> None:
        streams = self.streams  # type: ignore[attr-defined]
        for name in streams:
            check_name(name, "Stream name")
        check_unique(((name, "stream") for name in streams), "Streams")
        for name, stream in streams.items():
            properties = stream.schema.get("properties") or {}
            for prop in properties:
                check_name(prop, f"Stream {name}: property")
            check_unique(((p, f"stream {name}") for p in properties), f"Stream {name}: properties")

    # Catalog ---------------------------------------------------------------------------

    def check_catalog(self) -> None:
        catalog = self.input_catalog  # type: ignore[attr-defined]
        if catalog is None:
            return
        known = set(self.streams)  # type: ignore[attr-defined]
        unknown = sorted(
            entry.tap_stream_id
            for entry in catalog.values()
            if entry.tap_stream_id not in known and _selected(entry)
        )
        if unknown:
            msg = (
                f"The catalog selects stream(s) {', '.join(unknown)}, which this tap does not have "
                f"(it has {', '.join(sorted(known))}); rediscover the catalog (meltano select) or fix "
                "the settings that define streams."
            )
            raise SettingError(msg)

    # State -----------------------------------------------------------------------------

    def bookmark_problem(self, stream: Any, value: Any) -> str | None:
        """Why a stream's bookmark value cannot be used (None if it can): by default it must read
        as an ISO 8601 time."""
        if parse_bookmark(value) is None:
            return "is not an ISO 8601 timestamp"
        return None

    def check_bookmarks(self) -> None:
        bookmarks = (self.state or {}).get("bookmarks") or {}  # type: ignore[attr-defined]
        streams = self.streams  # type: ignore[attr-defined]
        for name, entry in bookmarks.items():
            stream = streams.get(name)
            if stream is None or not isinstance(entry, dict):
                continue
            expected = stream.replication_key
            found = entry.get("replication_key")
            value = entry.get("replication_key_value")
            if value is None:
                continue
            if not expected:
                logger.warning(
                    "State has a bookmark for stream %s on %s, but the stream is read in full; "
                    "the bookmark is not used.",
                    name,
                    found,
                )
                continue
            if found and found != expected and not self._compatible(found, expected):
                msg = (
                    f"State for stream {name} has a bookmark on {found} ({value!r}), but this tap "
                    f"reads {name} incrementally on {expected}: the state belongs to another tap or "
                    "job. Clear it (meltano state clear <state id>) or run with --full-refresh."
                )
                raise SettingError(msg)
            problem = self.bookmark_problem(stream, value)
            if problem:
                msg = (
                    f"State for stream {name}: bookmark {expected} value {value!r} {problem}. Fix it "
                    "(meltano state set/edit) or clear it to read again from start_date."
                )
                raise SettingError(msg)

    def _compatible(self, found: str, expected: str) -> bool:
        return any({found, expected} <= group for group in self.compatible_replication_keys)

    # Halted streams --------------------------------------------------------------------

    def halt_stream(self, stream: str, error: Exception) -> None:
        """Record that ``stream`` stopped at its last bookmark; the run fails after the others."""
        self.halted[stream] = str(error)
        self.logger.error("%s", error if stream in str(error) else f"Stream {stream}: {error}")  # type: ignore[attr-defined]
        audit = getattr(self, "run_audit", None)
        if audit is not None:
            audit.error = "; ".join(f"{s}: {e}" for s, e in self.halted.items())[:2000]

    def sync_all(self) -> None:
        super().sync_all()  # type: ignore[misc]
        if self.halted:
            msg = (
                f"Stream(s) {', '.join(self.halted)} stopped at their last bookmark (see the errors "
                "above); every other selected stream was read."
            )
            raise StreamHalted(msg)

    # Command line ------------------------------------------------------------------------

    @classmethod
    def invoke(cls, *, state: Any = None, **kwargs: Any) -> None:
        """The SDK's command line, with a state file that is not JSON named, and errors in one line
        (the traceback at debug level)."""
        sys.excepthook = _short_excepthook(cls.logger)  # type: ignore[attr-defined]
        if state is not None:
            text = state.read()
            try:
                parsed = json.loads(text) if text.strip() else {}
            except json.JSONDecodeError as exc:
                msg = f"State file {getattr(state, 'name', '?')} is not JSON ({exc}); fix or remove it."
                raise SettingError(msg) from None
            if not isinstance(parsed, dict):
                msg = f"State file {getattr(state, 'name', '?')} holds no JSON object; fix or remove it."
                raise SettingError(msg)
            state = _Text(json.dumps(parsed))
        super().invoke(state=state, **kwargs)  # type: ignore[misc]


class _Text:
    """The state file's text, read again by the SDK."""

    def __init__(self, text: str) -> None:
        self._text = text

    def read(self) -> str:
        return self._text


def _selected(entry: Any) -> bool:
    root = entry.metadata.root
    return bool(root.selected) or bool(root.selected_by_default and root.selected is None)


def _short_excepthook(
    log: logging.Logger,
) -> Callable[[type[BaseException], BaseException, TracebackType | None], None]:
    def hook(
        exc_type: type[BaseException], exc_value: BaseException, exc_traceback: TracebackType | None
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc_value, exc_traceback)
            return
        text = str(exc_value)
        if not text or exc_type.__module__ == "builtins":
            text = f"{exc_type.__name__}: {text}" if text else exc_type.__name__
        log.error("%s", text)
        log.debug("Traceback", exc_info=(exc_type, exc_value, exc_traceback))

    return hook
