"""Sinks: one batch of a stream becomes a few statements, applied once and audited."""

from __future__ import annotations

import shlex
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from singer_sdk.exceptions import InvalidRecord
from singer_sdk.helpers._compat import date_fromisoformat, datetime_fromisoformat, time_fromisoformat
from singer_sdk.helpers._typing import get_datelike_property_type, handle_invalid_timestamp_in_record
from singer_sdk.helpers.conform import DatetimeErrorTreatmentEnum
from singer_sdk.sinks import BatchSink
from singer_sdk.sinks.core import BaseJSONSchemaValidator

from target_databricks import audit, sql, staging, values
from target_databricks.batch import InputSpool, ParquetBatch, StagedBatch
from target_databricks.cli_errors import ConnectorError
from target_databricks.client import DatabricksRequestError, StatementError
from target_databricks.config import DEFAULT_FAILED_BATCH_DIR
from target_databricks.sql import Budget, Column, Parameter, Statement
from target_databricks.typed_records import TypedRecordDecoder
from target_databricks.validation import FastValidator

if TYPE_CHECKING:
    from target_databricks.client import DatabricksClient
    from target_databricks.target import TargetDatabricks

#: Longest part of a validation message quoted in an error (it may quote the value).
QUOTED_CHARS = 300
_sequence_lock = threading.Lock()
_last_sequence = 0


def next_sequence() -> int:
    """Strictly increasing ``_sdc_sequence`` (microseconds since the epoch, bumped on ties)."""
    global _last_sequence
    with _sequence_lock:
        _last_sequence = max(_last_sequence + 1, time.time_ns() // 1000)
        return _last_sequence


def _named(singular: str, plural: str, names: list[str]) -> str:
    """``field 'a' is`` or ``fields 'a', 'b' are``."""
    quoted = ", ".join(repr(n) for n in names)
    return f"{singular} {quoted} is" if len(names) == 1 else f"{plural} {quoted} are"


class RecordRefusedError(ConnectorError):
    """A record that would not land as sent (an undeclared field, a null key when upserting)."""


class DatabricksSink(BatchSink):
    """Loads a stream into ``<catalog>.<schema>.<prefix><stream>`` with MERGE, INSERT or a swap."""

    def __init__(
        self, target: TargetDatabricks, stream_name: str, schema: dict[str, Any], key_properties: Any
    ) -> None:
        self.target = target
        super().__init__(target, stream_name, schema, key_properties)
        self.catalog: str = self.config["catalog"]
        self.schema_name: str = self.config["schema"]
        self.table: str = sql.table_name(stream_name, self.config.get("table_prefix") or "")
        self.table_fqn = sql.qualified_name(self.catalog, self.schema_name, self.table)
        target.claim_table(self.table, stream_name)
        self.budget = Budget(
            max_bytes=int(self.config.get("max_statement_bytes") or sql.DEFAULT_MAX_STATEMENT_BYTES),
            max_parameters=int(self.config.get("max_parameters_per_statement") or sql.DEFAULT_MAX_PARAMETERS),
        )
        method = self.config.get("load_method") or "upsert"
        if method == "upsert" and not self.key_properties:
            self.logger.warning("Stream %s has no key properties; loading append-only", stream_name)
            method = "append-only"
        self.load_method: str = method
        self.bulk_threshold_rows = int(self.config.get("bulk_threshold_rows") or 0)
        self.bulk_file_max_bytes = min(
            int(self.config.get("bulk_file_max_bytes") or 32 * 1024 * 1024), 48 * 1024 * 1024
        )
        self.columns: list[Column] = []
        self.overwrite_stage: str | None = None
        self.failed_batch_dir = Path(self.config.get("failed_batch_dir") or DEFAULT_FAILED_BATCH_DIR)
        self._ignored_fields: set[str] = set()
        self._datelike: dict[str, str] | None = None

    @cached_property
    def record_decoder(self) -> TypedRecordDecoder | None:
        """The typed decoder of this stream's records (None when its SCHEMA is more than plain types);
        made once per sink, however often the tap repeats the SCHEMA."""
        return TypedRecordDecoder.for_schema(self.schema)

    @property
    def client(self) -> DatabricksClient:
        return self.target.client

    @property
    def include_sdc_metadata_properties(self) -> bool:
        return True  # audit columns are always written, whatever ``add_record_metadata`` says

    def _add_sdc_metadata_to_schema(self) -> None:
        """Declare the audit columns in the stream schema (the SDK's metadata-column hook).

        The SDK calls this from ``Sink.__init__`` before building the record validator, so the
        ``_sdc_*`` fields set per record validate, parse (``date-time`` strings become datetimes)
        and raise no "No schema for record field" warning. Their table types come from
        ``sql.AUDIT_COLUMN_TYPES`` (TIMESTAMP, BIGINT, STRING), whatever a tap declared.
        """
        properties = self.schema.setdefault("properties", {})
        for name, prop in sql.AUDIT_PROPERTIES.items():
            properties[name] = dict(prop)

    def _add_sdc_metadata_to_record(
        self, record: dict[str, Any], message: dict[str, Any], context: dict[str, Any]
    ) -> None:
        record["_sdc_extracted_at"] = message.get("time_extracted")
        received = datetime.now(tz=UTC)
        # A record decoded checked is not validated again, so it may hold the time itself (parsed
        # already); the SDK's validator of any other record wants the text.
        record["_sdc_received_at"] = received if self.target.record_prevalidated else received.isoformat()
        record["_sdc_sequence"] = next_sequence()

    def activate_version(self, new_version: int) -> None:
        """Refuse ACTIVATE_VERSION: this target does not delete the rows a full-table version no longer
        holds, and ignoring the message (the SDK's default) would leave them in the table, exit 0.
        With overwrite the table is replaced by the run's records anyway, which honours it."""
        if self.load_method == "overwrite":
            self.logger.info(
                "ACTIVATE_VERSION %s of %s: the overwrite replaces the table", new_version, self.stream_name
            )
            return
        raise ConnectorError(
            f"Stream {self.stream_name!r} sent ACTIVATE_VERSION {new_version}: target-databricks does not "
            "delete rows missing from a full-table version, so they would stay in the table. Turn the "
            "tap's emit_activate_version_messages off (rows deleted in the source then stay, knowingly), "
            "or use load_method overwrite to replace the table each run."
        )

    def run(self, statement: Statement) -> str:
        return self.client.execute(statement, catalog=self.catalog, schema=self.schema_name).statement_id

    def setup(self) -> None:
        """Create the schema, audit table and table; add columns the table lacks (never drop).

        An existing column keeps its type. One that cannot hold what the stream now declares exactly
        (an exact decimal for a DOUBLE column, more decimal places than its scale) fails the stream
        before any of its data is written. A batch still loading (another stream's, or this stream's
        before its SCHEMA changed) finishes first, so no DDL runs beside a load."""
        self.target.loads.wait()
        self.target.prepare_schema()
        wanted = sql.columns_for_schema(self.schema, self.target.number_type)
        self.run(Statement(sql.create_table(self.table_fqn, wanted), kind="create table"))
        existing = self.target.add_missing_columns(self.table_fqn, wanted)
        conflicts = sql.type_conflicts(existing, wanted)
        if conflicts:
            raise sql.SqlBuildError(
                f"Stream {self.stream_name!r}, table {self.table_fqn}: {'; '.join(conflicts)}. Values would "
                "be rounded, so nothing was loaded: change the column's type in Databricks (or load into "
                "another table with table_prefix), then run again."
            )
        self.columns = sql.resolve_columns(existing, wanted)
        kept = [
            c.name
            for c, w in zip(self.columns, wanted, strict=True)
            if sql.decimal_parts(c.sql_type) and w.sql_type == "DOUBLE"
        ]
        if kept:
            self.logger.info(
                "Table %s keeps its DECIMAL column(s) %s for the plain numbers of stream %s: values are "
                "stored exactly, and one with more decimal places than the column's scale fails its batch.",
                self.table_fqn,
                kept,
                self.stream_name,
            )
        if self.load_method == "overwrite":
            stage = sql.staging_table_name(self.table, self.target.run_hex, "overwrite")
            self.overwrite_stage = sql.qualified_name(self.catalog, self.schema_name, stage)
            self.target.register_overwrite(self)

    # --- records ---------------------------------------------------------------------------

    def start_batch(self, context: dict[str, Any]) -> None:
        """Each batch spools to local temporary files: its converted rows, and its input messages."""
        keys = self.key_properties if self.load_method == "upsert" else None
        if self.bulk_threshold_rows > 0:
            # Bulk path on: Arrow columns spooled as Parquet; records held while the batch may go inline.
            context["batch"] = ParquetBatch(
                self.stream_name,
                self.columns,
                keys,
                self.replication_key_name,
                inline_rows=min(self.bulk_threshold_rows, self.budget.max_parameters),
            )
        else:
            context["batch"] = StagedBatch(self.stream_name, self.columns, keys, self.replication_key_name)
        context["input"] = InputSpool() if self.keeps_failed_batches else None

    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        self._check_record(record)
        spool: InputSpool | None = context["input"]
        if spool is not None:
            spool.add(*self.target.current_input)
        context["batch"].add(record, self.target.current_line if self.target.record_prevalidated else None)

    def _validate_and_parse(self, record: dict[str, Any]) -> dict[str, Any]:
        """The SDK's validation against the stream's SCHEMA and its parsing of date-time strings; a
        record that fails validation is refused in one line naming the stream, record and property
        (the SDK would log a traceback of the validator at ERROR level). A record the reader decoded
        checked (``typed_records``) does not come here: ``TargetDatabricks._process_checked_record``
        only parses its date-like strings."""
        if self._validator is not None:
            try:
                self._validator.validate(record)
            except InvalidRecord as exc:
                cause = exc.__cause__
                where = ".".join(str(p) for p in getattr(cause, "absolute_path", ()))
                problem = (f"property {where!r}: " if where else "") + exc.error_message[:QUOTED_CHARS]
                if self.fail_on_record_validation_exception:
                    self._refuse(
                        f"it does not match the stream's SCHEMA ({problem}). Fix the tap's schema or the "
                        "data it sends."
                    )
                self.logger.warning(
                    "Stream %s: a record does not match its SCHEMA: %s", self.stream_name, problem
                )
        self._parse_timestamps_in_record(
            record=record, schema=self.schema, treatment=self.datetime_error_treatment
        )
        return record

    def get_validator(self) -> BaseJSONSchemaValidator | None:
        """The SDK's validator behind a compiled check that passes the records it accepts for sure
        (``validation.FastValidator``): the same records are accepted and refused, at a fraction of
        the cost."""
        full = super().get_validator()
        return None if full is None else FastValidator(self.schema, full)

    def _parse_timestamps_in_record(
        self, record: dict[str, Any], schema: dict[str, Any], treatment: DatetimeErrorTreatmentEnum
    ) -> None:
        """The SDK's parsing of date, time and date-time strings, with the date-like properties of the
        stream's schema found once rather than for every field of every record."""
        if schema is not self.schema:
            super()._parse_timestamps_in_record(record, schema, treatment)
            return
        properties = schema["properties"]
        for key, value in record.items():
            if (
                key not in properties
                and value is not None
                and not schema.get("additionalProperties", False)
                and key not in self._warned_missing_fields
            ):
                self.logger.warning("No schema for record field '%s'", key)
                self._warned_missing_fields.add(key)
        self._parse_datelike(record, treatment)

    def _parse_datelike(self, record: dict[str, Any], treatment: DatetimeErrorTreatmentEnum) -> None:
        """Parse the record's values of the date, time and date-time properties of the stream's schema."""
        if self._datelike is None:
            self._datelike = {
                key: kind
                for key, prop in self.schema["properties"].items()
                if (kind := get_datelike_property_type(prop))
            }
        for key, kind in self._datelike.items():
            value = record.get(key)
            if value is None or isinstance(value, datetime):  # absent, or parsed already
                continue
            try:
                if kind == "time":
                    record[key] = time_fromisoformat(value)
                elif kind == "date":
                    record[key] = date_fromisoformat(value)
                else:
                    record[key] = datetime_fromisoformat(value)
            except ValueError as ex:
                record[key] = handle_invalid_timestamp_in_record(
                    record, [key], value, kind, ex, treatment, self.logger
                )

    def _check_record(self, record: dict[str, Any]) -> None:
        """Refuse a record whose values would not all land as sent: a non-null field the SCHEMA does not
        declare (no column holds it) unless ``undeclared_fields`` is ignore, and, when upserting, a null
        key property (MERGE matches no null, and within a batch rows with null keys would be one key).
        Raised while reading the input, so no later STATE is emitted and the batch is not loaded."""
        properties = self.schema.get("properties", {})
        undeclared = (
            []
            if record.keys() <= properties.keys()
            else sorted(k for k, v in record.items() if v is not None and k not in properties)
        )
        if undeclared:
            if self.target.undeclared_fields_fail:
                self._refuse(
                    f"{_named('field', 'fields', undeclared)} not declared in the stream's SCHEMA, so "
                    "no column would hold it. Declare it in the tap's schema (its catalog or schema "
                    "files), or set undeclared_fields to ignore to load the stream without it."
                )
            for name in undeclared:
                if name not in self._ignored_fields:
                    self._ignored_fields.add(name)
                    self.logger.warning(
                        "Stream %s: field %r is not declared in the SCHEMA and is not loaded "
                        "(undeclared_fields: ignore)",
                        self.stream_name,
                        name,
                    )
        if self.load_method == "upsert":
            nulls = [k for k in self.key_properties if record.get(k) is None]
            if nulls:
                self._refuse(
                    f"{_named('key property', 'key properties', nulls)} null, and upsert cannot merge a "
                    "row whose key is null (rows with null keys would be taken for one row). Make the "
                    "tap send every key property, or use load_method append-only."
                )

    def _refuse(self, problem: str) -> None:
        stream, number = self.target.current_record
        self.target.mark_failed()
        raise RecordRefusedError(
            f"Stream {self.stream_name!r}, record {number}"
            + (f" of input stream {stream!r}" if stream and stream != self.stream_name else "")
            + f": {problem} The run stopped; STATE stays at the last batch that landed."
        )

    @property
    def keeps_failed_batches(self) -> bool:
        """Overwrite batches are not kept: replaying one would replace the table with that batch alone.
        ``keep_failed_records: false`` keeps none (no record contents on local disk)."""
        return self.load_method != "overwrite" and self.config.get("keep_failed_records", True)

    # --- batches ---------------------------------------------------------------------------

    def process_batch(self, context: dict[str, Any]) -> None:
        """Load the drained batch on a thread of its own (``loads.BackgroundLoads``), once the previous
        batch has loaded, while the target reads on."""
        batch: StagedBatch | None = context.get("batch")
        spool: InputSpool | None = context.get("input")
        if batch is None:
            return
        self.target.loads.submit(lambda: self._load_batch(batch, spool), f"load {self.stream_name}")

    def _load_batch(self, batch: StagedBatch, spool: InputSpool | None) -> None:
        try:
            self._load(batch)
        except Exception as exc:
            self.target.mark_failed()
            if spool is not None:
                self._keep_failed_batch(spool, batch, exc)
            elif self.load_method != "overwrite":
                self.logger.error(
                    "Batch of %d record(s) of stream %s failed: %s. It was not kept (keep_failed_records is "
                    "false): rerun the input from the last STATE that landed.",
                    batch.received,
                    self.stream_name,
                    exc,
                )
            else:
                self.logger.error(
                    "Batch of %d record(s) of stream %s failed; the overwrite of %s is abandoned. "
                    "An overwrite replaces the whole table, so replay it by running the whole input again.",
                    batch.received,
                    self.stream_name,
                    self.table_fqn,
                )
            if isinstance(exc, values.ValueConversionError):
                # The run's last line names the stream too, not only the column and value.
                raise sql.SqlBuildError(f"Stream {self.stream_name!r}: {exc}") from exc
            raise
        finally:
            batch.close()
            if spool is not None:
                spool.close()

    def _keep_failed_batch(self, spool: InputSpool, batch: StagedBatch, error: Exception) -> None:
        stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"{self.table}-{stamp}-{batch.token[:12]}.singer"
        try:
            path = spool.keep(self.failed_batch_dir, name)
        except OSError as exc:
            self.logger.error(
                "Batch of stream %s failed (%s) and could not be kept in %s: %s",
                self.stream_name,
                error,
                self.failed_batch_dir,
                exc,
            )
            return
        self.logger.error(
            "Batch of %d record(s) of stream %s failed: %s. Its SCHEMA and RECORD messages are kept in %s. "
            "Replay it (committed batches are skipped, nothing is applied twice) with: "
            "target-databricks --config <config.json> < %s",
            spool.records,
            self.stream_name,
            error,
            path,
            shlex.quote(str(path)),
        )

    def _load(self, batch: StagedBatch) -> None:
        batch.finish()
        if batch.error is not None:
            raise batch.error
        if not batch.received:
            return
        token = batch.token
        started = datetime.now(tz=UTC)
        if self.load_method != "overwrite" and self._is_latest_load(token):
            self.logger.info(
                "Batch %s of %s already committed; skipped (nothing was loaded into %s after it)",
                token[:16],
                self.stream_name,
                self.table,
            )
            return
        constants = batch.constants(datetime.now(tz=UTC), token)
        cleanups: list[Callable[[], None]] = []
        try:
            statement_ids = self._apply(batch, token, constants, cleanups)
            low, high = batch.bounds.texts()
            self.run(
                audit.audit_insert(
                    self.catalog,
                    self.schema_name,
                    {
                        "run_id": self.target.run_id,
                        "stream": self.stream_name,
                        "table_name": self.table,
                        "load_token": token,
                        "load_method": self.load_method,
                        "rows": batch.rows,
                        "min_replication_value": low,
                        "max_replication_value": high,
                        "statement_ids": values.to_json_text(statement_ids),
                        "status": "staged" if self.load_method == "overwrite" else "committed",
                        "started_at": started,
                        "finished_at": datetime.now(tz=UTC),
                    },
                )
            )
        finally:
            for cleanup in cleanups:
                cleanup()

    def _apply(
        self,
        batch: StagedBatch,
        token: str,
        constants: dict[int, str | None],
        cleanups: list[Callable[[], None]],
    ) -> list[str]:
        """Change the target (or the overwrite stage) with ONE statement; return the statement ids.

        A batch whose rows fit one statement of parameters goes inline. Anything larger goes through
        the volume (unless the bulk path is off): staging files cost uploads, but only one statement.
        Every record carries its own ``_sdc_sequence``, so a batch of more rows than the parameter
        budget can never fit one statement and is not even tried.
        """
        bulk = self.bulk_threshold_rows > 0
        if not bulk or (
            batch.rows < self.bulk_threshold_rows
            and batch.rows <= self.budget.max_parameters
            and batch.inline_ready
        ):
            rows = batch.row_values(constants)
            try:
                direct = self._direct_statements(rows, token)
            except sql.RowTooLargeError:
                if not bulk:
                    raise
                direct = []  # a row over the statement budget (a value of megabytes): through the volume
            if len(direct) == 1:
                return [self.run(direct[0])]
            if not bulk:
                return self._apply_chunked(direct, rows, token, cleanups)
        return self._apply_bulk(batch, token, constants, cleanups)

    def _direct_statements(self, rows: list[list[str | None]], token: str) -> list[Statement]:
        cols = self.columns
        if self.load_method == "overwrite":
            assert self.overwrite_stage
            return sql.chunk_statements(
                sql.insert_template(self.overwrite_stage, cols), cols, rows, self.budget, "stage insert"
            )
        if self.load_method == "upsert":
            return sql.chunk_statements(
                sql.merge_template(self.table_fqn, cols, self.key_properties),
                cols,
                rows,
                self.budget,
                "merge",
            )
        return sql.chunk_statements(
            sql.insert_new_token_template(self.table_fqn, cols),
            cols,
            rows,
            self.budget,
            "insert",
            [Parameter("load_token", token)],
        )

    def _apply_chunked(
        self,
        direct: list[Statement],
        rows: list[list[str | None]],
        token: str,
        cleanups: list[Callable[[], None]],
    ) -> list[str]:
        """Bulk path off and too big for one statement: chunks go to a staging table, then the target
        changes once. (Overwrite chunks go to the run's overwrite stage, which is one already.)"""
        if self.load_method == "overwrite":
            return [self.run(s) for s in direct]
        cols = self.columns
        stage = sql.qualified_name(self.catalog, self.schema_name, sql.staging_table_name(self.table, token))
        cleanups.append(lambda: self._drop_quietly(stage))
        ids = [self.run(Statement(sql.create_table(stage, cols, or_replace=True), kind="create stage"))]
        for s in sql.chunk_statements(
            sql.insert_template(stage, cols), cols, rows, self.budget, "stage insert"
        ):
            ids.append(self.run(s))
        ids.append(self.run(self._change_from(sql.select_from_table(cols, stage), token, "")))
        return ids

    def _change_from(self, source: str, token: str, kind: str) -> Statement:
        """The one statement that applies ``source`` rows to the table: MERGE on the keys (upsert), or
        INSERT guarded by the load token (append-only)."""
        if self.load_method == "upsert":
            return Statement(
                sql.merge_template(self.table_fqn, self.columns, self.key_properties, source),
                kind=f"{kind}merge",
            )
        return Statement(
            sql.insert_new_token_template(self.table_fqn, self.columns, source),
            [Parameter("load_token", token)],
            kind=f"{kind}insert",
        )

    def _apply_bulk(
        self,
        batch: StagedBatch,
        token: str,
        constants: dict[int, str | None],
        cleanups: list[Callable[[], None]],
    ) -> list[str]:
        """Stage the batch as Parquet files in the volume; change the table with ONE statement.

        Files are written from the batch's local Parquet spool, one file in memory at a time. The
        folder is named after the load token and the run, so files a killed run left behind are never
        read by another run. Re-applying a batch is as safe as inline: MERGE on the keys, INSERT guarded
        by the load token, or (overwrite) rows in the stage that the swap reads with SELECT DISTINCT.
        The files and the folder are deleted afterwards, also when the batch failed.
        """
        volume = self.target.prepare_volume()
        folder = staging.volume_dir(
            self.catalog, self.schema_name, volume, f"{self.table}-{token[:32]}-{self.target.run_hex[:8]}"
        )
        paths: list[str] = []
        cleanups.append(lambda: self._delete_staged_files(folder, paths))
        assert isinstance(batch, ParquetBatch)
        spooled = batch.spooled_file(self.bulk_file_max_bytes)
        if spooled is not None:  # staged as it is; the statement gives the batch constants
            bodies: Iterable[bytes] = [spooled]
            in_statement: Mapping[int, str | None] | None = constants
        else:  # rewritten: one row per key, cut to size, the constants as columns
            bodies, in_statement = batch.parquet_files(constants, self.bulk_file_max_bytes), None
        for index, body in enumerate(bodies):
            path = f"{folder}/part-{index:05d}.parquet"
            self.client.upload(path, body)
            paths.append(path)
        self.logger.info(
            "Staged %d rows of %s in %d file(s) under %s", batch.rows, self.stream_name, len(paths), folder
        )
        cols = self.columns
        source = staging.bulk_parquet_source(cols, folder, in_statement)
        if self.load_method == "overwrite":
            assert self.overwrite_stage
            statement = Statement(
                sql.insert_template(self.overwrite_stage, cols, source), kind="bulk stage insert"
            )
        else:
            statement = self._change_from(source, token, "bulk ")
        return [self.run(statement)]

    def _delete_staged_files(self, folder: str, paths: list[str]) -> None:
        """Delete a batch's staged files and their folder; a file left behind is only logged (it is
        never read again: its folder name holds the run)."""
        try:
            for path in paths:
                self.client.delete_file(path)
            self.client.delete_directory(folder)
        except (DatabricksRequestError, OSError) as exc:
            self.logger.warning("Could not delete staged files under %s: %s", folder, exc)

    def _drop_quietly(self, table: str) -> None:
        """Drop a staging table; a failure is logged, not raised (it must not hide the batch's outcome)."""
        try:
            self.run(Statement(sql.drop_table(table), kind="drop stage"))
        except (StatementError, DatabricksRequestError, OSError) as exc:
            self.logger.warning("Could not drop staging table %s: %s", table, exc)

    def _is_latest_load(self, token: str) -> bool:
        """Whether ``token`` is the table's most recent committed load (then applying it again changes
        nothing). A table whose loads came from another stream is refused: two streams would be merged."""
        result = self.client.execute(audit.audit_latest_query(self.catalog, self.schema_name, self.table))
        if not result.rows:
            return False
        stream, latest = result.rows[0][0], result.rows[0][1]
        if stream is not None and stream != self.stream_name:
            raise sql.SqlBuildError(
                f"Streams {stream!r} and {self.stream_name!r} both map to table {self.table_fqn} (the audit "
                f"table shows {stream!r} loaded it); nothing of {self.stream_name!r} was written. Give one "
                "of them another name (stream_maps alias) or another table_prefix."
            )
        return latest == token

    @property
    def replication_key_name(self) -> str | None:
        """The stream's replication key, when the tap declared one in the SCHEMA message."""
        return self.target.replication_keys.get(self.stream_name)

    def swap_overwrite(self) -> None:
        """Replace the table with everything staged in this run, in one INSERT OVERWRITE.

        The stage is dropped afterwards, also when the swap failed (the run failed with it, so its
        STATE was never emitted and the next run stages everything again)."""
        assert self.overwrite_stage
        started = datetime.now(tz=UTC)
        try:
            ids = [
                self.run(
                    Statement(
                        sql.insert_overwrite(self.table_fqn, self.columns, self.overwrite_stage),
                        kind="insert overwrite",
                    )
                )
            ]
            self.run(
                audit.audit_insert(
                    self.catalog,
                    self.schema_name,
                    {
                        "run_id": self.target.run_id,
                        "stream": self.stream_name,
                        "table_name": self.table,
                        "load_token": f"overwrite:{self.target.run_id}",
                        "load_method": "overwrite",
                        "statement_ids": values.to_json_text(ids),
                        "status": "committed",
                        "started_at": started,
                        "finished_at": datetime.now(tz=UTC),
                    },
                )
            )
        except Exception:
            self.target.mark_failed()
            raise
        finally:
            self.drop_overwrite_stage()

    def drop_overwrite_stage(self) -> None:
        """Drop this run's overwrite stage of the table (after the swap, or once the run has failed)."""
        if self.overwrite_stage:
            self._drop_quietly(self.overwrite_stage)

    def clean_up(self) -> None:
        self.target.loads.wait()
        self.target.finish_overwrite(self)
        super().clean_up()
