"""Posting one journal: look it up by its natural key, create it, complete it, release it.

Every step is safe to interrupt and run again:

- the journal is looked up first (``startswith(Description, '<key>')``, lines expanded); a batch
  with the same lines is "already posted" and nothing is written;
- a batch created on hold whose lines are a prefix of the planned ones (a long journal whose run
  stopped between its PUTs) is completed, never duplicated;
- a create whose answer was lost (5xx, dropped connection) is looked up again before it is retried;
- a posted but unreleased batch is released when ``release`` is on.

A batch with the key but other lines is never touched: the journal fails and says so.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from acumatica_client.api import decode
from acumatica_client.errors import AcumaticaTransientError, describe_error, field_errors
from acumatica_client.odata import string_literal

from target_acumatica.config import DEFAULT_POLL_INTERVAL_SECONDS, DEFAULT_RELEASE_TIMEOUT_SECONDS
from target_acumatica.journals import Journal, is_key_of, posted_signatures, unwrap

if TYPE_CHECKING:
    import requests
    from acumatica_client.api import AcumaticaApi

ENTITY = "JournalTransaction"
RELEASE = "ReleaseJournalTransaction"
RELEASED = frozenset({"Posted", "Unposted", "Released", "Completed"})
_CREATE_ATTEMPTS = 3
#: A PUT is answered with only the fields sent or asked for (API-FACTS 1.5): every PUT asks for the
#: header fields read from its answer, and the lines when their count matters.
_HEADER = "BatchNbr,Status,Hold,Description"
WITH_LINES = {"$select": f"{_HEADER},Details", "$expand": "Details"}
HEADER_ONLY = {"$select": _HEADER}


class PostError(Exception):
    """This journal cannot be posted (the message says why, naming rows and values)."""


@dataclass
class Outcome:
    """What happened to one journal."""

    status: str
    batch_nbr: str | None = None
    record_id: str | None = None


class JournalPoster:
    """Posts journals through one API connection."""

    def __init__(
        self,
        api: AcumaticaApi,
        *,
        lines_per_request: int = 500,
        release: bool = False,
        release_timeout_seconds: float = DEFAULT_RELEASE_TIMEOUT_SECONDS,
        poll_interval_seconds: float = DEFAULT_POLL_INTERVAL_SECONDS,
        dry_run: bool = False,
    ) -> None:
        self.api = api
        self.lines_per_request = max(1, lines_per_request)
        self.release = release
        self.release_timeout_seconds = release_timeout_seconds
        self.poll_interval_seconds = poll_interval_seconds
        self.dry_run = dry_run

    def find(self, key: str) -> dict[str, Any] | None:
        rows = self.api.get_list(
            ENTITY, **{"$filter": f"startswith(Description,{string_literal(key)})", "$expand": "Details"}
        )
        matches = [r for r in rows if is_key_of(r, key)]
        if len(matches) > 1:
            numbers = ", ".join(str(unwrap(r.get("BatchNbr"))) for r in matches)
            msg = f"journal {key}: {len(matches)} batches in Acumatica carry this key ({numbers})"
            raise PostError(msg)
        return matches[0] if matches else None

    def post(self, journal: Journal) -> Outcome:
        record = self.find(journal.key)
        status = "posted"
        if record is not None:
            status = self._existing(journal, record)
            if status == "already-posted" and not (self.release and _status(record) not in RELEASED):
                return _outcome(status, record)
        if self.dry_run:
            return _outcome("would-post" if record is None else "would-complete", record)
        if record is None:
            record = self._create(journal)
        record = self._add_missing_lines(journal, record)
        if unwrap(record.get("Hold")):
            record = self._take_off_hold(journal, record)
        if self.release and _status(record) not in RELEASED:
            self._release(journal, record)
            status = "released" if status == "posted" else "released-existing"
        return _outcome(status, record)

    def _existing(self, journal: Journal, record: dict[str, Any]) -> str:
        posted = posted_signatures(record)
        planned = journal.signatures()
        if Counter(posted) == Counter(planned) and not unwrap(record.get("Hold")):
            return "already-posted"
        if (
            unwrap(record.get("Hold"))
            and _status(record) not in RELEASED
            and planned[: len(posted)] == posted
        ):
            return "completed"  # created on hold by a run that stopped between its PUTs
        msg = (
            f"journal {journal.key} already exists in Acumatica as batch {unwrap(record.get('BatchNbr'))} "
            f"(status {_status(record)}) with other lines ({len(posted)} posted, {len(planned)} planned, "
            f"debit {journal.debit}); it is left alone: reverse or delete it, or change key_prefix"
        )
        raise PostError(msg)

    def _create(self, journal: Journal) -> dict[str, Any]:
        first = journal.lines[: self.lines_per_request]
        body = journal.header_body(hold=len(journal.lines) > len(first))
        body["Details"] = [line.body() for line in first]
        for attempt in range(1, _CREATE_ATTEMPTS + 1):
            try:
                response = self.api.put(ENTITY, body, create_only=True, accept=(412, 422), params=WITH_LINES)
            except AcumaticaTransientError as exc:
                # The batch may exist now although the answer was lost: look before trying again.
                found = self.find(journal.key)
                if found is not None:
                    return found
                if attempt == _CREATE_ATTEMPTS:
                    raise PostError(f"journal {journal.key}: could not be created: {exc}") from exc
                continue
            if response.status_code == 422:
                raise PostError(self._rejected(journal, response, 0))
            if response.status_code == 412:
                found = self.find(journal.key)
                if found is not None:
                    return found
                raise PostError(f"journal {journal.key}: {describe_error(response)}")
            posted: dict[str, Any] = decode(response.content)
            return posted
        raise AssertionError("unreachable")

    def _add_missing_lines(self, journal: Journal, record: dict[str, Any]) -> dict[str, Any]:
        while True:
            posted = len(record.get("Details") or [])
            missing = journal.lines[posted:]
            if not missing:
                return record
            chunk = missing[: self.lines_per_request]
            body = {"id": record["id"], "Details": [line.body() for line in chunk]}
            try:
                response = self.api.put(
                    ENTITY,
                    body,
                    update_only=True,
                    repeatable=False,
                    accept=(422,),
                    params=WITH_LINES,
                )
            except AcumaticaTransientError:
                found = self.find(journal.key)  # which lines landed is only known by reading them back
                if found is None:
                    raise PostError(
                        f"journal {journal.key}: its batch disappeared while lines were added"
                    ) from None
                record = found
                continue
            if response.status_code == 422:
                raise PostError(self._rejected(journal, response, posted))
            record = decode(response.content)

    def _take_off_hold(self, journal: Journal, record: dict[str, Any]) -> dict[str, Any]:
        response = self.api.put(
            ENTITY,
            {"id": record["id"], "Hold": {"value": False}},
            update_only=True,
            accept=(422,),
            params=HEADER_ONLY,
        )
        if response.status_code == 422:
            raise PostError(self._rejected(journal, response, 0))
        updated: dict[str, Any] = decode(response.content)
        if unwrap(updated.get("Hold")) or _status(updated) == "On Hold":
            raise PostError(
                f"journal {journal.key}: batch {unwrap(updated.get('BatchNbr'))} stays on hold in "
                f"Acumatica (status {_status(updated)})"
            )
        return updated

    def _release(self, journal: Journal, record: dict[str, Any]) -> None:
        response = self.api.invoke_action(
            ENTITY,
            RELEASE,
            {"id": record["id"]},
            accept=(422, 500),
            max_wait_seconds=self.release_timeout_seconds,
            poll_interval_seconds=self.poll_interval_seconds,
        )
        if response.status_code in (422, 500):
            raise PostError(
                f"journal {journal.key} was posted as batch {unwrap(record.get('BatchNbr'))} but not "
                f"released: {describe_error(response)}"
            )

    def _rejected(self, journal: Journal, response: requests.Response, offset: int) -> str:
        """A 422 in the journal's terms: each failing field with the source row it came from."""
        try:
            errors = field_errors(decode(response.content))
        except ValueError:
            errors = []
        parts = []
        for e in errors:
            if e.line is not None and offset + e.line < len(journal.lines):
                row = journal.lines[offset + e.line].row
                parts.append(f"{journal.where(row)}: {e.field} '{e.value}': {e.error}")
            else:
                parts.append(f"journal {journal.key}: {e.field} '{e.value}': {e.error}")
        return "; ".join(parts) or f"journal {journal.key}: {describe_error(response)}"


def _status(record: dict[str, Any]) -> str | None:
    status = unwrap(record.get("Status"))
    return None if status is None else str(status)


def _outcome(status: str, record: dict[str, Any] | None) -> Outcome:
    if record is None:
        return Outcome(status)
    return Outcome(status, unwrap(record.get("BatchNbr")), record.get("id"))
