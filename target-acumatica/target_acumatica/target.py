"""target-acumatica: Singer rows posted into Acumatica as journal transactions or reference records."""

from __future__ import annotations

import copy
import threading
from collections import Counter
from functools import cached_property
from typing import TYPE_CHECKING

import requests
from acumatica_client import AcumaticaError, Instance, make_auth
from acumatica_client.api import AcumaticaApi
from mlc_run_audit import RUNS_STREAM, current_run_id
from singer_sdk import Target
from singer_sdk.contrib.msgspec import MsgSpecReader

from target_acumatica.audit import AuditLog, replay_command
from target_acumatica.config import CONFIG_SCHEMA, DEFAULT_AUDIT_DIR
from target_acumatica.journals import Journal, JournalMapping
from target_acumatica.mapping import ConfigError
from target_acumatica.poster import JournalPoster
from target_acumatica.records import ReferenceMapping, ReferenceWriter
from target_acumatica.reference_data import ReferenceData
from target_acumatica.sinks import IgnoredSink, JournalSink, ReferenceSink, RunsSink, post_journals

if TYPE_CHECKING:
    from singer_sdk.sinks import Sink


class TargetAcumatica(Target):
    """Singer target for Acumatica ERP: groups rows into balanced JournalTransactions (validated
    against the instance's accounts, subaccounts and branches, looked up by a natural key so nothing
    posts twice, optionally released) and writes reference records such as vendors by natural key."""

    name = "target-acumatica"
    #: The distribution that carries this plugin (for --version and --about).
    package_name = "ml-connector-target-acumatica"
    config_jsonschema = CONFIG_SCHEMA
    default_sink_class = JournalSink
    message_reader_class = MsgSpecReader

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Meltano's run id when it shares one (MELTANO_RUN_ID), so audit lines name the Meltano run.
        self.run_id = current_run_id()
        self.logger.info("Run id %s", self.run_id)
        cfg = self.config
        rounding = cfg.get("amount_rounding") or "reject"
        version = cfg.get("endpoint_version") or "24.200.001"
        self.journal_mappings = {
            stream: JournalMapping.parse(stream, raw, rounding)
            for stream, raw in (cfg.get("journals") or {}).items()
        }
        self.reference_mappings = {
            stream: ReferenceMapping.parse(stream, raw, version)
            for stream, raw in (cfg.get("reference_records") or {}).items()
        }
        both = sorted(set(self.journal_mappings) & set(self.reference_mappings))
        if both:
            raise ConfigError(f"Streams {both} are named in both journals and reference_records.")
        self.dry_run = bool(cfg.get("dry_run"))
        self.audit = AuditLog(cfg.get("audit_dir") or DEFAULT_AUDIT_DIR, self.run_id)
        self.journal_rows: dict[str, list[tuple[int, dict]]] = {}
        self.failures: list[str] = []
        self._row_numbers: Counter[str] = Counter()
        self._schema_messages: dict[str, dict] = {}
        self._writers: dict[str, ReferenceWriter] = {}
        self._lock = threading.Lock()
        self.current_input: dict = {}

    # Connection ---------------------------------------------------------------------------

    @cached_property
    def api(self) -> AcumaticaApi:
        cfg = self.config
        instance = Instance(
            cfg["base_url"],
            cfg.get("endpoint_name") or "Default",
            cfg.get("endpoint_version") or "24.200.001",
        )
        session = requests.Session()
        session.headers["User-Agent"] = f"{self.name}/{self.plugin_version}"
        return AcumaticaApi(
            instance,
            make_auth(cfg, instance, session),
            session,
            max_retries=int(cfg.get("max_retries", 8)),
            max_backoff_s=float(cfg.get("max_backoff_seconds", 60)),
            timeout=float(cfg.get("request_timeout", 300)),
        )

    @cached_property
    def reference_data(self) -> ReferenceData:
        return ReferenceData(self.api, validate_branches=self.config.get("validate_branches", True))

    @cached_property
    def poster(self) -> JournalPoster:
        cfg = self.config
        return JournalPoster(
            self.api,
            lines_per_request=int(cfg.get("lines_per_request") or 500),
            release=bool(cfg.get("release")),
            dry_run=self.dry_run,
            release_timeout_s=float(cfg.get("release_timeout_s") or 600),
            poll_interval_s=float(cfg.get("poll_interval_s", 1.0)),
        )

    def reference_writer(self, stream: str) -> ReferenceWriter:
        with self._lock:
            if stream not in self._writers:
                self._writers[stream] = ReferenceWriter(
                    self.api, self.reference_mappings[stream], dry_run=self.dry_run
                )
            return self._writers[stream]

    # Messages -----------------------------------------------------------------------------

    def get_sink_class(self, stream_name: str) -> type[Sink]:
        if stream_name == RUNS_STREAM:
            return RunsSink
        if stream_name in self.journal_mappings:
            return JournalSink
        if stream_name in self.reference_mappings:
            return ReferenceSink
        if self.config.get("unmapped_streams") == "ignore":
            return IgnoredSink
        msg = (
            f"Stream {stream_name} is named in neither journals nor reference_records; map it, or set "
            "unmapped_streams to 'ignore'."
        )
        raise ConfigError(msg)

    def _process_schema_message(self, message_dict: dict) -> None:
        self._schema_messages[message_dict.get("stream")] = copy.deepcopy(message_dict)
        super()._process_schema_message(message_dict)

    def _process_record_message(self, message_dict: dict) -> None:
        # The SDK parses date-times in place; failed files and hashes use the record as received.
        self.current_input = copy.deepcopy(message_dict.get("record") or {})
        super()._process_record_message(message_dict)

    def next_row_number(self, stream: str) -> int:
        with self._lock:
            self._row_numbers[stream] += 1
            return self._row_numbers[stream]

    # Outcomes -----------------------------------------------------------------------------

    def fail_journal(self, journal: Journal, error: str) -> None:
        self.fail_rows(
            journal.stream,
            list(zip(journal.numbers, journal.records, strict=True)),
            error,
            key=journal.key,
            kind="journal",
            source_hash=journal.source_hash(),
        )

    def fail_rows(
        self,
        stream: str,
        rows: list[tuple[int, dict]],
        error: str,
        *,
        key: str | None = None,
        kind: str = "journal",
        source_hash: str | None = None,
    ) -> None:
        """Record a failure: audit line, error log, and the rows kept in this run's failed file."""
        path = None
        if rows and not self.dry_run:
            schema = self._schema_messages.get(stream) or {
                "type": "SCHEMA",
                "stream": stream,
                "schema": {},
                "key_properties": [],
            }
            path = self.audit.keep_failed(stream, schema, [r for _, r in rows])
        self.audit.record(
            kind=kind,
            stream=stream,
            key=key,
            status="failed",
            rows=len(rows),
            error=error,
            source_hash=source_hash,
            failed_file=str(path) if path else None,
            sources=[r for _, r in rows],
        )
        with self._lock:
            self.failures.append(f"{key or stream}: {error}")
        self.logger.error("%s %s failed: %s", "Journal" if kind == "journal" else kind, key or stream, error)

    # End of input -------------------------------------------------------------------------

    def process_endofpipe(self) -> None:
        """Post the journals (every row is in now), then let the SDK drain, clean up and emit STATE."""
        try:
            for stream in list(self.journal_rows):
                post_journals(self, stream, self.journal_rows.pop(stream))
        finally:
            try:
                super().process_endofpipe()
            finally:
                if "api" in self.__dict__:
                    self.api.auth.close()
                    self.logger.info(
                        "Acumatica requests: %s; retries: %d.", dict(self.api.calls), self.api.retries
                    )
        if self.failures:
            files = self.audit.failed_files()
            replay = "; replay with: " + " and ".join(replay_command(p) for p in files) if files else ""
            msg = (
                f"{len(self.failures)} journal(s) or record(s) failed, nothing of them was posted "
                f"(audit: {self.audit.path}){replay}. First: {self.failures[0]}"
            )
            raise AcumaticaError(msg)

    def _write_state_message(self, state: dict) -> None:
        """STATE only once the rows it covers have landed: never while journal rows wait for the end
        of the input, never after a failure, never in a dry run."""
        if self.journal_rows or self.failures or self.dry_run:
            return
        super()._write_state_message(state)


if __name__ == "__main__":
    TargetAcumatica.cli()
