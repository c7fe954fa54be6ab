"""Sinks: journal streams (posted at the end of the input), reference record streams, a tap's run records,
ignored streams."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import msgspec
from acumatica_client.api import encode
from acumatica_client.errors import AcumaticaAuthError, AcumaticaError
from singer_sdk.sinks import BatchSink

from target_acumatica.journals import Journal, check_columns, group_rows, plan
from target_acumatica.mapping import ConfigError, MessageError, RowError, text
from target_acumatica.poster import PostError

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

    def __init__(self, target: TargetAcumatica, stream_name: str, schema: dict, key_properties) -> None:
        self.target = target
        super().__init__(target, stream_name, schema, key_properties)
        self.rows: list[tuple[int, dict]] = []

    def process_record(self, record: dict, context: dict) -> None:
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

    def __init__(self, target: TargetAcumatica, stream_name: str, schema: dict, key_properties) -> None:
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

    def process_record(self, record: dict, context: dict) -> None:
        number = self.target.next_row_number(self.stream_name)
        # Delivery is at least once: a row with the key properties of an earlier one replaces it, in its
        # place (a keyless stream keeps every row).
        key = row_key(self.key_properties, record) if self.key_properties else ("#row", number)
        self.target.keep_journal_row(self.stream_name, key, number, self.target.current_input)

    def process_batch(self, context: dict) -> None:
        """Rows wait in ``target.journal_rows`` until the end of the input; STATE is held until then."""


def post_journals(target: TargetAcumatica, stream: str, rows: list[tuple[int, dict]]) -> None:
    """Group a stream's rows into journals, check them, and post each one that is valid."""
    mapping = target.journal_mappings[stream]
    log = target.logger
    groups, errors, collisions = group_rows(mapping, rows)
    if errors:
        ungrouped = [r for r in rows if not _has_group(mapping.group_by, r[1])]
        target.fail_rows(stream, ungrouped, summarise(errors))
    journals = []
    for key, items in groups.items():
        journal = plan(mapping, key, [r for _, r in items], [n for n, _ in items])
        if key in collisions:
            journal.errors.insert(0, collisions[key])
        if not journal.errors:
            target.reference_data.check(journal)
        journals.append(journal)
    log.info("Stream %s: %d rows in %d journal(s).", stream, len(rows), len(journals))
    for n, journal in enumerate(journals):
        try:
            _post(target, journal)
        except AcumaticaAuthError:
            for rest in journals[n:]:
                target.fail_journal(rest, "not attempted: signing in to Acumatica failed")
            raise


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


def _has_group(columns: list[str], record: dict) -> bool:
    return all(text(record.get(c)) is not None for c in columns)


_key_encoder = msgspec.json.Encoder(decimal_format="number", order="sorted")


def row_key(key_properties: list[str], record: dict) -> bytes:
    """The row's key property names and values, canonically encoded (exact numbers, any type)."""
    return _key_encoder.encode([[name, record.get(name)] for name in key_properties])


class ReferenceSink(_AcumaticaSink):
    """Writes each batch of records by natural key; a record that fails is kept for replay."""

    def process_batch(self, context: dict) -> None:
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

    def process_record(self, record: dict, context: dict) -> None:
        self.target.next_row_number(self.stream_name)

    def process_batch(self, context: dict) -> None:
        """Nothing is written for an unmapped stream."""

    def activate_version(self, new_version: int) -> None:
        """Nothing was written for the stream, so there is nothing to remove."""


class RunsSink(_AcumaticaSink):
    """A tap's ``_audit_runs`` stream: each run record, as received, is appended to ``runs.jsonl``.
    Nothing is written to Acumatica, and no mapping is needed."""

    def process_record(self, record: dict, context: dict) -> None:
        self.target.audit.record_run(self.target.current_input)

    def process_batch(self, context: dict) -> None:
        """Run records are written as they arrive."""

    def activate_version(self, new_version: int) -> None:
        """runs.jsonl is append-only: every run a tap reports stays."""
