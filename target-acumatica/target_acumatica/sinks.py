"""Sinks: journal streams (posted at the end of the input), reference record streams, a tap's run records,
ignored streams."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec
from acumatica_client.api import encode
from acumatica_client.errors import AcumaticaAuthError, AcumaticaError
from singer_sdk.sinks import BatchSink

from target_acumatica.journals import Journal, check_columns, collision, plan
from target_acumatica.mapping import ConfigError, MessageError, RowError
from target_acumatica.poster import PostError

if TYPE_CHECKING:
    from target_acumatica.spool import JournalSpool

if TYPE_CHECKING:
    from target_acumatica.target import TargetAcumatica

#: Errors listed per failed journal in logs and the audit file; the rest are counted.
MAX_LISTED_ERRORS = 20


def summarise(errors: list[str]) -> str:
    listed = "; ".join(errors[:MAX_LISTED_ERRORS])
    more = len(errors) - MAX_LISTED_ERRORS
    return listed + (f"; and {more} more" if more > 0 else "")


class _AcumaticaSink(BatchSink):
    """Numbers each record in its stream (across sinks of one stream) and keeps it as received."""

    def __init__(
        self,
        target: TargetAcumatica,
        stream_name: str,
        schema: dict[str, Any],
        key_properties: Sequence[str] | None,
    ) -> None:
        self.target = target
        super().__init__(target, stream_name, schema, key_properties)
        self.rows: list[tuple[int, dict[str, Any]]] = []

    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        self.rows.append((self.target.next_row_number(self.stream_name), self.target.current_input))

    def activate_version(self, new_version: int) -> None:
        """ACTIVATE_VERSION asks for every row not in this version to be removed; journals and records
        posted to Acumatica are never deleted, so the run stops instead of ignoring it."""
        msg = (
            f"ACTIVATE_VERSION message of stream {self.stream_name}: target-acumatica never deletes what it "
            "posted, so it cannot drop the rows missing from version "
            f"{new_version}; set emit_activate_version_messages to false on the tap"
        )
        raise MessageError(msg)


class JournalSink(_AcumaticaSink):
    """Hands a stream's rows to the target, which posts them once the input has ended (a journal's
    rows may arrive in any order, across SDK batches and SCHEMA changes), so nothing is posted from
    ``process_batch``."""

    def __init__(
        self,
        target: TargetAcumatica,
        stream_name: str,
        schema: dict[str, Any],
        key_properties: Sequence[str] | None,
    ) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        mapping = target.journal_mappings[stream_name]
        missing = check_columns(mapping, schema.get("properties") or {})
        if missing:
            msg = (
                f"Setting journals.{stream_name} names columns the stream's SCHEMA does not have: "
                f"{', '.join(missing)}. Columns are: {', '.join(sorted(schema.get('properties') or {}))}."
            )
            raise ConfigError(msg)

        if not self.key_properties:
            target.logger.warning(
                "Stream %s has no key properties: its rows cannot be de-duplicated, a row sent twice "
                "becomes two journal lines.",
                stream_name,
            )

    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        number = self.target.next_row_number(self.stream_name)
        # Delivery is at least once: a row with the key properties of an earlier one replaces it, in its
        # place (a keyless stream keeps every row).
        key = row_key(self.key_properties, record) if self.key_properties else b"#%d" % number
        self.target.keep_journal_row(self.stream_name, key, number, self.target.current_input)

    def process_batch(self, context: dict[str, Any]) -> None:
        """Rows wait in ``target.journal_spools`` until the end of the input; STATE is held until then."""


def post_journals(target: TargetAcumatica, stream: str, spool: JournalSpool) -> None:
    """Build a stream's journals from its spooled rows one at a time, check each, and post each one that
    is valid; memory holds one journal at a time."""
    mapping = target.journal_mappings[stream]
    ungrouped = spool.ungrouped()
    if ungrouped:
        errors = []
        for number, record in ungrouped:
            try:
                mapping.group_of(record, number)
            except RowError as exc:
                errors.append(str(exc))
        target.fail_rows(stream, ungrouped, summarise(errors))
    target.logger.info("Stream %s: %d rows in %d journal(s).", stream, spool.rows, spool.journals())
    signed_out: AcumaticaAuthError | None = None
    for key, items in spool.groups():
        journal = plan(mapping, key, [r for _, r in items], [n for n, _ in items])
        if (message := collision(mapping, key, items)) is not None:
            journal.errors.insert(0, message)
        if signed_out is not None:
            target.fail_journal(journal, "not attempted: signing in to Acumatica failed")
            continue
        if not journal.errors:
            target.reference_data.check(journal)
        try:
            _post(target, journal)
        except AcumaticaAuthError as exc:
            target.fail_journal(journal, "not attempted: signing in to Acumatica failed")
            signed_out = exc
    if signed_out is not None:
        raise signed_out


def _post(target: TargetAcumatica, journal: Journal) -> None:
    if journal.errors:
        target.fail_journal(journal, summarise(journal.errors))
        return
    try:
        outcome = target.poster.post(journal)
    except AcumaticaAuthError:
        raise
    except (PostError, AcumaticaError) as exc:
        target.fail_journal(journal, str(exc))
        return
    target.audit.record(
        kind="journal",
        stream=journal.stream,
        key=journal.key,
        batch_nbr=outcome.batch_nbr,
        status=outcome.status,
        rows=len(journal.lines),
        debit=str(journal.debit),
        credit=str(journal.credit),
        source_hash=journal.source_hash(),
        sources=journal.records,
    )
    target.logger.info(
        "Journal %s: %s (batch %s, %d lines, debit %s, credit %s).",
        journal.key,
        outcome.status,
        outcome.batch_nbr or "-",
        len(journal.lines),
        journal.debit,
        journal.credit,
    )
    if target.dry_run and outcome.status.startswith("would"):
        body = journal.header_body(hold=False)
        body["Details"] = [line.body() for line in journal.lines]
        sys.stderr.write(f"DRY RUN {outcome.status} JournalTransaction: {encode(body).decode()}\n")


_key_encoder = msgspec.json.Encoder(decimal_format="number", order="sorted")


def row_key(key_properties: Sequence[str], record: dict[str, Any]) -> bytes:
    """The row's key property names and values, canonically encoded (exact numbers, any type)."""
    return _key_encoder.encode([[name, record.get(name)] for name in key_properties])


class ReferenceSink(_AcumaticaSink):
    """Writes each batch of records by natural key; a record that fails is kept for replay."""

    def process_batch(self, context: dict[str, Any]) -> None:
        rows, self.rows = self.rows, []
        writer = self.target.reference_writer(self.stream_name)
        mapping = writer.mapping
        for number, record in rows:
            try:
                outcome = writer.write(mapping.values(record, number))
            except AcumaticaAuthError:
                raise
            except (RowError, PostError, AcumaticaError) as exc:
                self.target.fail_rows(
                    self.stream_name, [(number, record)], f"row {number}: {exc}", kind=mapping.entity
                )
                continue
            self.target.audit.record(
                kind=mapping.entity,
                stream=self.stream_name,
                key=outcome.batch_nbr,
                status=outcome.status,
                record_id=outcome.record_id,
                sources=[record],
            )
            if self.target.dry_run and outcome.status.startswith("would"):
                sys.stderr.write(f"DRY RUN {outcome.status} {mapping.entity} {outcome.batch_nbr}\n")


class IgnoredSink(_AcumaticaSink):
    """A stream no mapping names, with ``unmapped_streams: ignore``: counted and logged only."""

    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        self.target.next_row_number(self.stream_name)

    def process_batch(self, context: dict[str, Any]) -> None:
        """Nothing is written for an unmapped stream."""

    def activate_version(self, new_version: int) -> None:
        """Nothing was written for the stream, so there is nothing to remove."""


class RunsSink(_AcumaticaSink):
    """A tap's ``_audit_runs`` stream: each run record, as received, is appended to ``runs.jsonl``.
    Nothing is written to Acumatica, and no mapping is needed."""

    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        self.target.audit.record_run(self.target.current_input)

    def process_batch(self, context: dict[str, Any]) -> None:
        """Run records are written as they arrive."""

    def activate_version(self, new_version: int) -> None:
        """runs.jsonl is append-only: every run a tap reports stays."""
