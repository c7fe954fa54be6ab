"""target-acumatica: Singer rows posted into Acumatica as journal transactions or reference records."""

from __future__ import annotations

import copy
import sys
import threading
from collections import Counter
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec
import requests
from acumatica_client import AcumaticaError, Instance, make_auth
from acumatica_client.api import AcumaticaApi
from acumatica_client.api import logger as api_logger
from mlc_run_audit import RUNS_STREAM, RunIdError, current_run_id
from mlc_run_audit.retry import RetryPolicy
from mlc_run_audit.settings import ConnectionSettings, RenamedSettings
from singer_sdk import Target
from singer_sdk.contrib.msgspec import MsgSpecReader, decoder
from singer_sdk.exceptions import ConfigValidationError, SingerSDKError
from singer_sdk.helpers.capabilities import CapabilitiesEnum, PluginCapabilities
from singer_sdk.singerlib.exceptions import InvalidInputLine, SingerError

from target_acumatica.audit import AuditLog, replay_command
from target_acumatica.batch_files import read_records
from target_acumatica.config import (
    CONFIG_SCHEMA,
    DEFAULT_AUDIT_DIR,
    DEFAULT_POLL_INTERVAL_SECONDS,
    DEFAULT_RELEASE_TIMEOUT_SECONDS,
    RENAMED_SETTINGS,
)
from target_acumatica.journals import Journal, JournalMapping
from target_acumatica.mapping import ConfigError, MessageError
from target_acumatica.poster import JournalPoster
from target_acumatica.records import ReferenceMapping, ReferenceWriter
from target_acumatica.reference_data import ReferenceData
from target_acumatica.sinks import IgnoredSink, JournalSink, ReferenceSink, RunsSink, post_journals
from target_acumatica.spool import JournalSpool

if TYPE_CHECKING:
    from singer_sdk.sinks import Sink

#: Errors whose message says what is wrong and what to do: the run ends with the message alone (the
#: traceback is logged at debug level, LOGLEVEL=DEBUG).
EXPLAINED_ERRORS = (ConfigError, MessageError, AcumaticaError, RunIdError, SingerSDKError, SingerError)
#: Longest part of a bad input line quoted in an error.
QUOTED_CHARS = 200


class SingerInput(MsgSpecReader):
    """The SDK's msgspec reader (numbers as exact decimals), whose errors name the problem in one line:
    a line that is not JSON, a message type no target reads."""

    def deserialize_json(self, line: str | bytes) -> dict[str, Any]:
        try:
            message: dict[str, Any] = decoder.decode(line)
        except msgspec.DecodeError as exc:
            msg = f"An input line is not JSON ({exc}): {line[:QUOTED_CHARS]!r}"
            raise InvalidInputLine(msg) from None
        return message

    def _process_unknown_message(self, message_dict: dict[str, Any]) -> None:
        msg = (
            f"Unknown Singer message type {message_dict['type']!r}; target-acumatica reads SCHEMA, RECORD, "
            "BATCH, STATE and ACTIVATE_VERSION messages"
        )
        raise MessageError(msg)


class TargetAcumatica(RenamedSettings, Target):
    """Singer target for Acumatica ERP: groups rows into balanced JournalTransactions (validated
    against the instance's accounts, subaccounts and branches, looked up by a natural key so nothing
    posts twice, optionally released) and writes reference records such as vendors by natural key."""

    name = "target-acumatica"
    #: The distribution that carries this plugin (for --version and --about).
    package_name = "ml-connector-target-acumatica"
    config_jsonschema = CONFIG_SCHEMA
    renamed_settings = RENAMED_SETTINGS
    default_sink_class = JournalSink
    message_reader_class = SingerInput
    capabilities: ClassVar[list[CapabilitiesEnum]] = [*Target.capabilities, PluginCapabilities.BATCH]

    @classmethod
    def invoke(cls, *args: Any, **kwargs: Any) -> None:  # ty: ignore[invalid-method-override]
        """Run the target; an error it can explain ends the run with its message and exit status 1."""
        try:
            super().invoke(*args, **kwargs)
        except ConfigValidationError:
            raise  # the SDK lists each invalid setting itself
        except EXPLAINED_ERRORS as exc:
            cls.logger.debug("Traceback of the error below:", exc_info=exc)
            cls.logger.error("%s: %s", type(exc).__name__, exc)
            sys.exit(1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
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
        prefixes: dict[str, str] = {}
        for stream in sorted(self.journal_mappings):
            prefix = self.journal_mappings[stream].key_prefix
            if prefix in prefixes:
                # Journals of two streams with equal group values would share a natural key.
                msg = (
                    f"Settings journals.{prefixes[prefix]} and journals.{stream} share key_prefix "
                    f"{prefix!r}; give each journal stream its own key_prefix."
                )
                raise ConfigError(msg)
            prefixes[prefix] = stream
        self.dry_run = bool(cfg.get("dry_run"))
        self.audit = AuditLog(cfg.get("audit_dir") or DEFAULT_AUDIT_DIR, self.run_id)
        # Per journal stream, its rows on disk by key properties (see JournalSink.process_record).
        self.journal_spools: dict[str, JournalSpool] = {}
        self.failures: list[str] = []
        #: Set when posting stopped on an unexpected error: no STATE may follow.
        self.aborted = False
        self._row_numbers: Counter[str] = Counter()
        self._schema_messages: dict[str, dict[str, Any]] = {}
        self._writers: dict[str, ReferenceWriter] = {}
        self._lock = threading.Lock()
        self.current_input: dict[str, Any] = {}

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
        # One policy for the run: sign-ins and API requests follow the same settings and count.
        policy = RetryPolicy.from_config(cfg, logger=api_logger)
        return AcumaticaApi(
            instance,
            make_auth(cfg, instance, session, policy),
            session,
            policy=policy,
            timeout=ConnectionSettings.from_config(cfg).request_timeout_seconds,
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
            release_timeout_seconds=float(
                cfg.get("release_timeout_seconds", DEFAULT_RELEASE_TIMEOUT_SECONDS)
            ),
            poll_interval_seconds=float(cfg.get("poll_interval_seconds", DEFAULT_POLL_INTERVAL_SECONDS)),
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

    def _process_schema_message(self, message_dict: dict[str, Any]) -> None:
        self._schema_messages[str(message_dict.get("stream"))] = copy.deepcopy(message_dict)
        super()._process_schema_message(message_dict)

    def _process_record_message(self, message_dict: dict[str, Any]) -> None:
        # The SDK parses date-times in place; failed files and hashes use the record as received.
        self.current_input = copy.deepcopy(message_dict.get("record") or {})
        super()._process_record_message(message_dict)

    def keep_journal_row(self, stream: str, key: bytes, number: int, record: dict[str, Any]) -> None:
        """Keep a journal row until the end of the input; a later row with its key replaces it."""
        with self._lock:
            spool = self.journal_spools.get(stream)
            if spool is None:
                spool = self.journal_spools[stream] = JournalSpool(self.journal_mappings[stream])
            spool.add(key, number, record)

    def _process_batch_message(self, message_dict: dict[str, Any]) -> None:
        """A BATCH message's records go the way of RECORD messages (stream maps, validation,
        de-duplication, audit lines, failed files); STATE waits for them as it waits for records. The
        SDK's own handling passes them to ``process_batch`` unvalidated, where nothing would post them."""
        self._assert_line_requires(message_dict, requires={"stream", "encoding", "manifest"})
        stream = message_dict["stream"]
        if stream not in self.mapper.stream_maps:
            self._assert_sink_exists(stream)
        storage = (self.config.get("batch_config") or {}).get("storage") or {}
        count = 0
        for record in read_records(
            stream,
            message_dict["encoding"],
            message_dict["manifest"],
            self.message_reader.deserialize_json,
            storage.get("params"),
        ):
            self._process_record_message({"type": "RECORD", "stream": stream, "record": record})
            count += 1
        self.logger.info(
            "BATCH of stream %s: %d record(s) from %d file(s).", stream, count, len(message_dict["manifest"])
        )

    def _process_activate_version_message(self, message_dict: dict[str, Any]) -> None:
        self._assert_line_requires(message_dict, requires={"stream", "version"})
        if message_dict["stream"] not in self.mapper.stream_maps:
            self._assert_sink_exists(message_dict["stream"])
        super()._process_activate_version_message(message_dict)

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
        rows: list[tuple[int, dict[str, Any]]],
        error: str,
        *,
        key: str | None = None,
        kind: str = "journal",
        source_hash: str | None = None,
    ) -> None:
        """Record a failure: audit line, error log, and the rows kept in this run's failed file."""
        path = None
        if rows and not self.dry_run and self.config.get("keep_failed_records", True):
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
            for stream in list(self.journal_spools):
                spool = self.journal_spools[stream]
                if spool.repeated:
                    self.logger.info(
                        "Stream %s: %d row(s) repeated the key properties of an earlier row; the last of "
                        "each was kept, in the place of the first.",
                        stream,
                        spool.repeated,
                    )
                try:
                    post_journals(self, stream, spool)
                except BaseException:
                    # Whatever stopped the posting, the rows of this spool may not have landed.
                    self.aborted = True
                    raise
                finally:
                    del self.journal_spools[stream]
                    spool.close()
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

    def _write_state_message(self, state: dict[str, Any]) -> None:
        """STATE only once the rows it covers have landed: never while journal rows wait for the end
        of the input, never after a failure, never in a dry run."""
        if self.journal_spools or self.failures or self.aborted or self.dry_run:
            return
        super()._write_state_message(state)


if __name__ == "__main__":
    TargetAcumatica.cli()
