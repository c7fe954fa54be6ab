"""target-databricks: Singer records into Delta tables through the Databricks SQL Statement Execution API."""

from __future__ import annotations

import decimal
import threading
import uuid
from collections import Counter
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

import click
from mlc_run_audit import RunIdError, current_run_id
from mlc_run_audit.settings import RenamedSettings
from singer_sdk import Target
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.mapper import SameRecordTransform

from target_databricks import audit, sql
from target_databricks.batch import BatchFileError, batch_file_records, check_batch_encoding, encode_message
from target_databricks.cli_errors import ConnectorError, concise_errors
from target_databricks.client import DatabricksClient, StatementError
from target_databricks.config import CONFIG_SCHEMA, RENAMED_SETTINGS, config_problems
from target_databricks.loads import BackgroundLoads
from target_databricks.reader import LineKeepingReader
from target_databricks.sinks import DatabricksSink
from target_databricks.sql import Column, Statement

if TYPE_CHECKING:
    from target_databricks.sinks import DatabricksSink as _Sink

#: Settings of the load itself, declared beside the connection settings of ``config.py``.
LOAD_SETTINGS = th.PropertiesList(
    th.Property(
        "number_type",
        th.StringType,
        default=sql.DEFAULT_NUMBER_TYPE,
        allowed_values=list(sql.NUMBER_TYPES),
        title="Type of plain numbers",
        description="Column type of a JSON schema number that declares no scale: double (DOUBLE, a float "
        "is a float) or decimal (DECIMAL(38,9): exact, and a value with more than 9 decimal places or 29 "
        "integer digits fails its batch). Numbers with multipleOf, an x-sql-datatype decimal hint or "
        "format x-singer.decimal are exact DECIMALs either way; existing columns keep their type.",
    ),
    th.Property(
        "undeclared_fields",
        th.StringType,
        default="fail",
        allowed_values=["fail", "ignore"],
        title="Record fields the SCHEMA does not declare",
        description="What to do with a non-null record field that the stream's SCHEMA message does not "
        "declare (a table has a column only for a declared property): fail (the run stops before any "
        "STATE that follows, naming the stream, field and record) or ignore (the field is not loaded, "
        "with one warning per stream and field).",
    ),
).to_dict()


def _with_load_settings(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "properties": {**schema["properties"], **LOAD_SETTINGS["properties"]}}


class TargetDatabricks(RenamedSettings, Target):
    """Singer target for Databricks: loads each stream into a Delta table under a Unity Catalog
    schema with the SQL Statement Execution API (upsert with MERGE, append-only, or overwrite),
    exact DECIMAL(38,9) numbers, audit columns and a load-audit table that makes batches
    apply once."""

    name = "target-databricks"
    #: The distribution that carries this plugin (for --version and --about).
    package_name = "ml-connector-target-databricks"
    config_jsonschema = _with_load_settings(CONFIG_SCHEMA)
    renamed_settings = RENAMED_SETTINGS
    default_sink_class = DatabricksSink
    message_reader_class = LineKeepingReader

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Meltano's run id when it shares one (MELTANO_RUN_ID), so the audit rows name the Meltano run.
        self.run_id = current_run_id()
        #: The run id as 32 hex digits, for the names of the run's staging tables and folders.
        self.run_hex = uuid.UUID(self.run_id).hex
        self.logger.info("Run id %s", self.run_id)
        self._lock = threading.Lock()
        #: Drained batches loading on their own thread, one at a time, while the input is read on.
        self.loads = BackgroundLoads()
        self._schema_ready = False
        self._volume_ready = False
        self._overwrite_pending: dict[str, _Sink] = {}
        self._held_state: dict[str, Any] | None = None
        self._failed = False
        self.replication_keys: dict[str, str | None] = {}
        # Input messages as received, for the failed-batch files (not needed when overwriting).
        self._keep_input = (self.config.get("load_method") or "upsert") != "overwrite"
        self._schema_lines: dict[str, bytes] = {}
        self.current_input: tuple[bytes, bytes] = (b"", b"")
        self._table_streams: dict[str, str] = {}
        #: Column type of plain JSON numbers (the ``number_type`` setting).
        self.number_type = sql.NUMBER_TYPES[self.config.get("number_type") or sql.DEFAULT_NUMBER_TYPE]
        #: Whether a record field its SCHEMA does not declare fails the run (``undeclared_fields``).
        self.undeclared_fields_fail = (self.config.get("undeclared_fields") or "fail") == "fail"
        self._records_read: Counter[str] = Counter()
        #: The input stream of the record being processed, and its number in that stream (from 1).
        self.current_record: tuple[str, int] = ("", 0)
        #: Whether that record was decoded checked against its SCHEMA (``TypedRecordDecoder``).
        self.record_prevalidated = False
        #: Its line, when it was (what its load token is fed: ``audit.LoadToken``).
        self.current_line = b""

    def claim_table(self, table: str, stream: str) -> None:
        """Refuse a second stream whose name gives the same table (``AP Bills``, ``ap-bills`` and
        ``ap_bills`` are all ``ap_bills``), and tables this target keeps for itself; called when a sink
        is made, so at the stream's SCHEMA message, before any of its records."""
        if table == audit.AUDIT_TABLE or table.startswith("__tdbx_"):
            raise sql.SqlBuildError(
                f"Stream {stream!r} maps to table {table!r}, a name target-databricks keeps for itself; "
                "give the stream another name (stream_maps alias) or set a table_prefix."
            )
        with self._lock:
            other = self._table_streams.setdefault(table, stream)
        if other != stream:
            raise sql.SqlBuildError(
                f"Streams {other!r} and {stream!r} both map to table {table!r}; nothing of {stream!r} "
                "was written. Give one of them another name (stream_maps alias) or drop one from the "
                "tap's selection."
            )

    def _process_schema_message(self, message_dict: dict[str, Any]) -> None:
        """Remember the stream's replication key (``bookmark_properties``) for the audit rows, and the
        SCHEMA message as received (its line), to head failed-batch files."""
        stream = str(message_dict.get("stream"))
        bookmarks = message_dict.get("bookmark_properties") or []
        self.replication_keys[stream] = bookmarks[0] if bookmarks else None
        if self._keep_input:
            self._schema_lines[stream] = self._line_of(message_dict)
        super()._process_schema_message(message_dict)
        self._register_record_decoder(stream)

    def _register_record_decoder(self, stream: str) -> None:
        """Let the reader decode the stream's records checked (``TypedRecordDecoder``) when they reach
        one sink unchanged (no stream map or flattening) and its SCHEMA is plain types; otherwise (or
        after a SCHEMA that is not) they are decoded and validated the general way."""
        reader = self.message_reader
        if not isinstance(reader, LineKeepingReader):
            return
        maps = self.mapper.stream_maps.get(stream) or []
        unchanged = (
            len(maps) == 1
            and type(maps[0]) is SameRecordTransform
            and maps[0].stream_alias == stream
            and not maps[0].flattening_enabled
        )
        sink = self._sinks_active.get(stream) if unchanged else None
        decoder = sink.record_decoder if isinstance(sink, DatabricksSink) else None
        if decoder is None:
            reader.record_decoders.pop(stream, None)
        else:
            reader.record_decoders[stream] = decoder

    def _line_of(self, message: dict[str, Any]) -> bytes:
        """The line ``message`` was read from, or (a record of a BATCH message's file) the message encoded."""
        reader = self.message_reader
        line = reader.line_of(message) if isinstance(reader, LineKeepingReader) else None
        return encode_message(message) if line is None else line

    def _process_record_message(self, message_dict: dict[str, Any]) -> None:
        """Hold the RECORD message as received (the line it was read from, or the message encoded again
        when it came from a BATCH message's file) while the SDK hands it to the sinks (they spool it),
        and its number in its stream, which the sinks' errors name; and whether the reader decoded it
        checked against its SCHEMA (then the sink does not validate it again)."""
        self.loads.raise_failure()  # a batch failed to load: the run stops here
        stream = str(message_dict.get("stream"))
        self._records_read[stream] += 1
        self.current_record = (stream, self._records_read[stream])
        reader = self.message_reader
        self.record_prevalidated = isinstance(reader, LineKeepingReader) and reader.prevalidated(message_dict)
        if self._keep_input or self.record_prevalidated:
            self.current_line = self._line_of(message_dict)
        if self._keep_input:
            self.current_input = (self._schema_lines.get(stream, b""), self.current_line)
        if self.record_prevalidated:
            self._process_checked_record(stream, message_dict)
            return
        # The SDK's validation checks multipleOf with Decimal arithmetic: give it every digit of a
        # DECIMAL(38,s) value (the default 28 would raise DivisionImpossible on a valid record).
        with decimal.localcontext(sql.EXACT):
            super()._process_record_message(message_dict)

    def _process_checked_record(self, stream: str, message: dict[str, Any]) -> None:
        """The SDK's record flow (``Target._process_record_message``) for a record decoded checked.

        Its decoder is registered only for a stream whose records reach its sink unchanged (one
        identity map, no flattening), and the record is already valid, so the map's copy, the
        validation and the Decimal context it needs are skipped, and so are the hooks this sink does not
        override (``preprocess_record``, ``_after_process_record``); the rest is the SDK's, in its order:
        audit fields, date-time parsing, key properties present, tallies, the sink's record, the
        counter metric, draining a full sink, and the record-age drain."""
        sink = cast("DatabricksSink", self._sinks_active[stream])  # the sink the decoder came from
        record = message["record"]
        context = sink._get_context(record)
        sink._add_sdc_metadata_to_record(record, message, context)
        sink._parse_datelike(record, sink.datetime_error_treatment)
        sink._singer_validate_message(record)
        sink.tally_record_read()
        sink.process_record(record, context)
        sink.record_counter_metric.increment()
        if sink.is_full:
            self.logger.info(
                "Target sink for '%s' is full. Current size is '%s'. Draining...", stream, sink.current_size
            )
            self.drain_one(sink)
        self._handle_max_record_age()

    def _process_batch_message(self, message_dict: dict[str, Any]) -> None:
        """Load a BATCH message's files as the RECORD messages they stand for.

        Each record of each file of the manifest goes through the same path as a RECORD message
        (stream maps, validation, spooling, de-duplication, load token, audit row, failed-batch file),
        so STATE still moves only after the rows committed. A BATCH message that cannot be honoured
        (stream without SCHEMA, unknown encoding, unreadable file) fails the run, before any STATE
        that follows it.
        """
        stream = message_dict.get("stream")
        if stream not in self.mapper.stream_maps:
            raise BatchFileError(f"BATCH message of stream {stream!r} arrived before its SCHEMA message")
        fmt, compression = check_batch_encoding(stream, message_dict.get("encoding"))
        manifest = message_dict.get("manifest")
        if not isinstance(manifest, list) or not all(isinstance(u, str) for u in manifest):
            raise BatchFileError(f"BATCH message of stream {stream!r} has no manifest list of file URLs")
        for url in manifest:
            count = 0
            for record in batch_file_records(url, fmt, compression):
                self._process_record_message({"type": "RECORD", "stream": stream, "record": record})
                count += 1
            self.logger.info("Read %d record(s) of stream %s from batch file %s", count, stream, url)

    @classmethod
    def get_singer_command(cls) -> click.Command:
        """The SDK's command, with errors that say what to do logged as one line (traceback at DEBUG)."""
        return concise_errors(
            super().get_singer_command(), cls.logger, (ConnectorError, RunIdError, sql.SqlBuildError)
        )

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """The schema's checks, then what it cannot express (credentials, host, wait timeout)."""
        errors = super()._validate_config(raise_errors=raise_errors)
        problems = config_problems(self.config)
        if problems and raise_errors:
            raise ConfigValidationError(
                "Config validation failed", errors=problems, schema=self.config_jsonschema
            )
        return errors + problems

    @cached_property
    def client(self) -> DatabricksClient:
        return DatabricksClient.from_config(self.config)

    def prepare_schema(self) -> None:
        """Create the target schema and the load-audit table once per run; an audit table made by an
        earlier version gets the columns it lacks."""
        with self._lock:
            if self._schema_ready:
                return
            catalog, schema = self.config["catalog"], self.config["schema"]
            self.client.execute(Statement(sql.create_schema(catalog, schema), kind="create schema"))
            self.client.execute(
                Statement(audit.create_audit_table(catalog, schema), kind="create audit table")
            )
            self.add_missing_columns(
                sql.qualified_name(catalog, schema, audit.AUDIT_TABLE), audit.AUDIT_COLUMNS
            )
            self._schema_ready = True

    def add_missing_columns(self, table: str, wanted: Sequence[Column]) -> dict[str, Column]:
        """Add the columns of ``wanted`` that ``table`` lacks (never drop); returns the columns the
        table had (``sql.parse_describe``)."""
        described = self.client.execute(Statement(sql.describe_table(table), kind="describe table"))
        existing = sql.parse_describe(described.rows)
        missing = sql.missing_columns(existing, wanted)
        if missing:
            self.logger.info("Adding columns %s to %s", [c.name for c in missing], table)
            try:
                self.client.execute(Statement(sql.add_columns(table, missing), kind="alter table"))
            except StatementError:
                # A retried ALTER whose first answer was lost fails on the columns it added; anything
                # else still missing is a real failure.
                described = self.client.execute(Statement(sql.describe_table(table), kind="describe table"))
                existing = sql.parse_describe(described.rows)
                if sql.missing_columns(existing, wanted):
                    raise
        return existing

    def prepare_volume(self) -> str:
        """Create the staging volume once per run; returns its name."""
        volume = self.config.get("staging_volume") or "_sdc_staging"
        with self._lock:
            if not self._volume_ready:
                catalog, schema = self.config["catalog"], self.config["schema"]
                self.client.execute(
                    Statement(sql.create_volume(catalog, schema, volume), kind="create volume")
                )
                self._volume_ready = True
        return volume

    def register_overwrite(self, sink: _Sink) -> None:
        """Create (first sink of a table in this run) or widen the run's overwrite staging table."""
        assert sink.overwrite_stage
        with self._lock:
            if sink.table_fqn not in self._overwrite_pending:
                self.client.execute(
                    Statement(
                        sql.create_table(sink.overwrite_stage, sink.columns, or_replace=True),
                        kind="create stage",
                    )
                )
            else:
                described = self.client.execute(
                    Statement(sql.describe_table(sink.overwrite_stage), kind="describe")
                )
                missing = sql.missing_columns(sql.parse_describe(described.rows), sink.columns)
                if missing:
                    self.client.execute(
                        Statement(sql.add_columns(sink.overwrite_stage, missing), kind="alter stage")
                    )
            self._overwrite_pending[sink.table_fqn] = sink

    def finish_overwrite(self, sink: _Sink) -> None:
        """At the end of the run, the newest sink of an overwritten table swaps the staged rows in."""
        with self._lock:
            if self._failed or self._overwrite_pending.get(sink.table_fqn) is not sink:
                return
        sink.swap_overwrite()
        with self._lock:
            del self._overwrite_pending[sink.table_fqn]

    def mark_failed(self) -> None:
        """A batch or swap failed, so the run fails: no STATE is emitted from here on, no overwrite is
        swapped in, and the run's overwrite stages are dropped (the next run stages afresh)."""
        with self._lock:
            first = not self._failed
            self._failed = True
            pending = list(self._overwrite_pending.values())
        if first:
            for sink in pending:
                sink.drop_overwrite_stage()

    def _write_state_message(self, state: dict[str, Any]) -> None:
        """Emit STATE only when no overwrite is staged but not yet swapped in, and nothing failed.

        The SDK calls this after draining every sink; the loads of the drained batches run on their
        own thread, so this waits for them to commit (and raises the error of one that failed), so
        STATE never runs ahead of the data. With overwrite, staged rows are only in the table after the
        final swap, so the state is held back until then.
        """
        self.loads.wait()
        if self._overwrite_pending or self._failed:
            self._held_state = state
            return
        self._held_state = None
        super()._write_state_message(state)


if __name__ == "__main__":
    TargetDatabricks.cli()
