"""Sinks: one batch of a stream becomes a few statements, applied once and audited."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from singer_sdk.sinks import BatchSink

from target_databricks import sql
from target_databricks.client import StatementError
from target_databricks.sql import Budget, Column, Parameter, Statement

if TYPE_CHECKING:
    from target_databricks.client import DatabricksClient
    from target_databricks.target import TargetDatabricks

_sequence_lock = threading.Lock()
_last_sequence = 0


def next_sequence() -> int:
    """Strictly increasing ``_sdc_sequence`` (microseconds since the epoch, bumped on ties)."""
    global _last_sequence
    with _sequence_lock:
        _last_sequence = max(_last_sequence + 1, time.time_ns() // 1000)
        return _last_sequence


class DatabricksSink(BatchSink):
    """Loads a stream into ``<catalog>.<schema>.<prefix><stream>`` with MERGE, INSERT or a swap."""

    def __init__(self, target: TargetDatabricks, stream_name: str, schema: dict, key_properties: Any) -> None:
        self.target = target
        super().__init__(target, stream_name, schema, key_properties)
        self.catalog: str = self.config["catalog"]
        self.schema_name: str = self.config["schema"]
        self.table: str = sql.table_name(stream_name, self.config.get("table_prefix") or "")
        self.table_fqn = sql.qualified_name(self.catalog, self.schema_name, self.table)
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

    def _add_sdc_metadata_to_record(self, record: dict, message: dict, context: dict) -> None:
        record["_sdc_extracted_at"] = message.get("time_extracted")
        record["_sdc_received_at"] = datetime.now(tz=UTC).isoformat()
        record["_sdc_sequence"] = next_sequence()

    def run(self, statement: Statement) -> str:
        return self.client.execute(statement, catalog=self.catalog, schema=self.schema_name).statement_id

    def setup(self) -> None:
        """Create the schema, audit table and table; add columns the table lacks (never drop)."""
        self.target.prepare_schema()
        wanted = sql.columns_for_schema(self.schema)
        self.run(Statement(sql.create_table(self.table_fqn, wanted), kind="create table"))
        described = self.client.execute(Statement(sql.describe_table(self.table_fqn), kind="describe table"))
        existing = sql.parse_describe(described.rows)
        missing = sql.missing_columns(existing, wanted)
        if missing:
            self.logger.info("Adding columns %s to %s", [c.name for c in missing], self.table_fqn)
            try:
                self.run(Statement(sql.add_columns(self.table_fqn, missing), kind="alter table"))
            except StatementError:
                # A retried ALTER whose first answer was lost fails on the columns it added; anything
                # else still missing is a real failure.
                described = self.client.execute(Statement(sql.describe_table(self.table_fqn), kind="describe table"))
                existing = sql.parse_describe(described.rows)
                if sql.missing_columns(existing, wanted):
                    raise
        self.columns = sql.resolve_columns(existing, wanted)
        if self.load_method == "overwrite":
            stage = sql.staging_table_name(self.table, self.target.run_id, "overwrite")
            self.overwrite_stage = sql.qualified_name(self.catalog, self.schema_name, stage)
            self.target.register_overwrite(self)

    def process_batch(self, context: dict) -> None:
        records: list[dict] = context.get("records", [])
        if not records:
            return
        token = sql.load_token(self.stream_name, records)
        started = datetime.now(tz=UTC)
        if self.load_method != "overwrite" and self._committed(token):
            self.logger.info("Batch %s of %s already committed; skipped", token[:16], self.stream_name)
            return
        if self.load_method == "upsert":
            records = sql.dedupe_last(records, self.key_properties)
        batched_at = datetime.now(tz=UTC)
        for record in records:
            record["_sdc_batched_at"] = batched_at
            record[sql.LOAD_TOKEN_COLUMN] = token
        bounds = self._replication_bounds(records)
        rows = [sql.convert_row(r, self.columns) for r in records]
        del records
        if self.load_method != "overwrite" and self.bulk_threshold_rows and len(rows) >= self.bulk_threshold_rows:
            statement_ids, cleanup = self._apply_bulk(rows, token)
        else:
            statement_ids, cleanup = self._apply(rows, token), None
        self.run(
            sql.audit_insert(
                self.catalog,
                self.schema_name,
                {
                    "stream": self.stream_name,
                    "table_name": self.table,
                    "load_token": token,
                    "load_method": self.load_method,
                    "rows": len(rows),
                    "min_replication_value": bounds[0],
                    "max_replication_value": bounds[1],
                    "statement_ids": sql.to_json_text(statement_ids),
                    "status": "staged" if self.load_method == "overwrite" else "committed",
                    "started_at": started,
                    "finished_at": datetime.now(tz=UTC),
                },
            )
        )
        if cleanup:
            cleanup()

    def _replication_bounds(self, records: list[dict]) -> tuple[str | None, str | None]:
        """Min and max replication key value of the batch (as text), for the audit row."""
        key = self.replication_key_name
        values = [r.get(key) for r in records] if key else []
        values = [v for v in values if v is not None]
        if not values:
            return None, None
        try:
            low, high = min(values), max(values)
        except TypeError:
            texts = [str(v) for v in values]
            low, high = min(texts), max(texts)
        return _bound_text(low), _bound_text(high)

    @property
    def replication_key_name(self) -> str | None:
        """The stream's replication key, when the tap declared one in the SCHEMA message."""
        return self.target.replication_keys.get(self.stream_name)

    def _apply_bulk(self, rows: list[list[str | None]], token: str):
        """Stage the batch as NDJSON files in the volume; change the table with ONE statement.

        Returns the statement ids and a callable that deletes the staged files (run after the audit
        row is written). Re-running a batch re-uploads the same files (same token, same split) and
        the statement is as idempotent as the inline one: MERGE on the keys, or INSERT guarded by
        the load token.
        """
        volume = self.target.prepare_volume()
        folder = sql.volume_dir(self.catalog, self.schema_name, volume, self.table, token[:32])
        paths: list[str] = []
        for index, body in enumerate(sql.split_files(sql.ndjson_lines(rows), self.bulk_file_max_bytes)):
            path = f"{folder}/part-{index:05d}.json"
            self.client.upload(path, body)
            paths.append(path)
        self.logger.info("Staged %d rows of %s in %d file(s) under %s", len(rows), self.stream_name,
                         len(paths), folder)
        source = sql.bulk_source(self.columns, folder)
        if self.load_method == "upsert":
            statement = Statement(sql.merge_template(self.table_fqn, self.columns, self.key_properties, source),
                                  kind="bulk merge")
        else:
            statement = Statement(sql.insert_new_token_template(self.table_fqn, self.columns, source),
                                  [Parameter("load_token", token)], kind="bulk insert")
        ids = [self.run(statement)]

        def cleanup() -> None:
            for path in paths:
                try:
                    self.client.delete_file(path)
                except Exception as exc:  # noqa: BLE001 - a leftover file does not undo a committed batch
                    self.logger.warning("Could not delete staged file %s: %s", path, exc)

        return ids, cleanup

    def _committed(self, token: str) -> bool:
        result = self.client.execute(
            sql.audit_committed_query(self.catalog, self.schema_name, self.stream_name, token)
        )
        return bool(result.rows) and int(result.rows[0][0] or 0) > 0

    def _apply(self, rows: list[list[str | None]], token: str) -> list[str]:
        """Apply rows so that the target table changes in ONE statement (one Delta commit)."""
        cols = self.columns
        if self.load_method == "overwrite":
            assert self.overwrite_stage
            statements = sql.chunk_statements(
                sql.insert_template(self.overwrite_stage, cols), cols, rows, self.budget, "stage insert"
            )
            return [self.run(s) for s in statements]
        token_param = [Parameter("load_token", token)]
        if self.load_method == "upsert":
            direct = sql.chunk_statements(
                sql.merge_template(self.table_fqn, cols, self.key_properties), cols, rows, self.budget, "merge"
            )
        else:
            direct = sql.chunk_statements(
                sql.insert_new_token_template(self.table_fqn, cols),
                cols, rows, self.budget, "insert", token_param,
            )
        if len(direct) == 1:
            return [self.run(direct[0])]
        # Too big for one statement: stage the chunks, then change the target once.
        stage = sql.qualified_name(self.catalog, self.schema_name, sql.staging_table_name(self.table, token))
        ids = [self.run(Statement(sql.create_table(stage, cols, or_replace=True), kind="create stage"))]
        for s in sql.chunk_statements(sql.insert_template(stage, cols), cols, rows, self.budget, "stage insert"):
            ids.append(self.run(s))
        source = sql.select_from_table(cols, stage)
        if self.load_method == "upsert":
            final = Statement(sql.merge_template(self.table_fqn, cols, self.key_properties, source), kind="merge")
        else:
            final = Statement(
                sql.insert_new_token_template(self.table_fqn, cols, source), token_param, kind="insert"
            )
        ids.append(self.run(final))
        ids.append(self.run(Statement(sql.drop_table(stage), kind="drop stage")))
        return ids

    def swap_overwrite(self) -> None:
        """Replace the table with everything staged in this run, in one INSERT OVERWRITE."""
        assert self.overwrite_stage
        started = datetime.now(tz=UTC)
        ids = [self.run(Statement(sql.insert_overwrite(self.table_fqn, self.columns, self.overwrite_stage),
                                  kind="insert overwrite"))]
        self.run(
            sql.audit_insert(
                self.catalog,
                self.schema_name,
                {
                    "stream": self.stream_name, "table_name": self.table,
                    "load_token": f"overwrite:{self.target.run_id}", "load_method": "overwrite",
                    "statement_ids": sql.to_json_text(ids), "status": "committed",
                    "started_at": started, "finished_at": datetime.now(tz=UTC),
                },
            )
        )
        self.run(Statement(sql.drop_table(self.overwrite_stage), kind="drop stage"))

    def clean_up(self) -> None:
        self.target.finish_overwrite(self)
        super().clean_up()


def _bound_text(value: Any) -> str:
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
