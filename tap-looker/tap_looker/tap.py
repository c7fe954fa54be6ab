"""tap-looker: the rows of Looker queries (API 4.0), one stream per configured query."""

from __future__ import annotations

import re
from functools import cached_property
from typing import Any

from mlc_run_audit.checks import CheckedTap, SettingError, check_name
from mlc_run_audit.settings import (
    ConnectionSettings,
    RenamedSettings,
    connection_properties,
    seconds_property,
)
from mlc_run_audit.tap import AUDIT_SETTING, AuditedTap, RunsStream, public_url
from mlc_run_audit.writer import BufferedRecordWriter
from singer_sdk import Stream, Tap
from singer_sdk import typing as th

from tap_looker.client import LookerClient
from tap_looker.schema import columns_for
from tap_looker.streams import (
    DEFAULT_INLINE_ROW_LIMIT,
    DEFAULT_MAX_ROWS,
    DEFAULT_POLL_INTERVAL_SECONDS,
    DEFAULT_QUERY_TIMEOUT_SECONDS,
    QuerySpec,
    QueryStream,
)

QUERY = th.ObjectType(
    th.Property(
        "name",
        th.StringType,
        required=True,
        description="Stream name: letters, digits and _, starting with a letter or _, at most 63 characters.",
    ),
    th.Property("model", th.StringType, required=True, description="LookML model."),
    th.Property(
        "explore", th.StringType, required=True, description="Explore of that model (the query's view)."
    ),
    th.Property(
        "fields",
        th.ArrayType(th.StringType),
        required=True,
        description="Looker field names, e.g. overhead_allocation.account.",
    ),
    th.Property(
        "filters",
        th.ObjectType(additional_properties=th.StringType),
        description='Field name to Looker filter expression, e.g. {"gl_lines.account": "-22000"}.',
    ),
    th.Property(
        "sorts", th.ArrayType(th.StringType), description="Looker sorts, e.g. 'gl_lines.period desc'."
    ),
    th.Property(
        "key_properties",
        th.ArrayType(th.StringType),
        description="Primary key: Looker field names or column names.",
    ),
    th.Property(
        "replication_field",
        th.StringType,
        description="A date dimension read incrementally: filtered 'after <bookmark>' (inclusive).",
    ),
    th.Property(
        "column_names",
        th.ObjectType(additional_properties=th.StringType),
        description="Looker field name to column name, overriding the default naming (letters, "
        "digits and _, starting with a letter or _, at most 63 characters).",
    ),
    th.Property("query_timezone", th.StringType, description="Looker query_timezone."),
)


class TapLooker(RenamedSettings, CheckedTap, AuditedTap, Tap):  # type: ignore[misc]  # run-audit mixins override final SDK methods
    """Singer tap for Looker: each configured query (model, explore, fields, filters, sorts) is a stream,
    typed from the explore's field metadata, run inline or as an async query task and never silently
    truncated."""

    name = "tap-looker"
    #: The distribution that carries this plugin (for --version and --about).
    package_name = "ml-connector-tap-looker"
    message_writer_class = BufferedRecordWriter

    config_jsonschema = th.PropertiesList(
        th.Property(
            "base_url",
            th.StringType,
            required=True,
            title="Looker URL",
            description="URL of the Looker instance's API host, e.g. https://example.cloud.looker.com "
            "(without /api/4.0; a trailing /api/4.0 is accepted).",
        ),
        th.Property(
            "client_id", th.StringType, required=True, title="Client ID", description="API3 client ID."
        ),
        th.Property(
            "client_secret",
            th.StringType,
            required=True,
            secret=True,
            title="Client secret",
            description="API3 client secret.",
        ),
        th.Property(
            "queries",
            th.ArrayType(QUERY),
            required=True,
            title="Queries",
            description="The queries to run, one stream each: name, model, explore, fields, and optional "
            "filters, sorts, key_properties, replication_field (a date dimension), column_names.",
        ),
        th.Property(
            "start_date",
            th.DateType,
            title="Start date",
            description="First date read by queries with a replication_field, on their first run.",
        ),
        th.Property(
            "inline_row_limit",
            th.IntegerType(minimum=0),
            default=DEFAULT_INLINE_ROW_LIMIT,
            title="Inline row limit",
            description="Rows asked of an inline run; an answer that reaches it is run again as an "
            "async query task. Keep it at or below the instance's inline cap (5000). 0: always query tasks.",
        ),
        th.Property(
            "max_rows",
            th.IntegerType(minimum=0),
            default=DEFAULT_MAX_ROWS,
            title="Max rows",
            description="Most rows a query may return; more fails the stream. 0: unlimited.",
        ),
        seconds_property(
            "query_timeout_seconds",
            "Query timeout",
            "Longest wait for an async query task, in seconds.",
            default=DEFAULT_QUERY_TIMEOUT_SECONDS,
            minimum=None,
            exclusive_minimum=0,
        ),
        seconds_property(
            "poll_interval_seconds",
            "Poll interval",
            "First wait between query task polls, in seconds (grows to 10).",
            default=DEFAULT_POLL_INTERVAL_SECONDS,
            minimum=None,
            exclusive_minimum=0,
        ),
        *connection_properties(),
        AUDIT_SETTING,
    ).to_dict()

    @cached_property
    def client(self) -> LookerClient:
        return LookerClient(
            self.config["base_url"],
            self.config["client_id"],
            self.config["client_secret"],
            settings=ConnectionSettings.from_config(self.config),
            logger=self.logger,
        )

    def query_specs(self) -> list[QuerySpec]:
        specs = [QuerySpec.from_config(entry, i) for i, entry in enumerate(self.config.get("queries") or [])]
        seen: dict[str, str] = {}
        for i, spec in enumerate(specs):
            check_name(spec.name, f"Setting queries[{i}]: stream name")
            other = seen.get(spec.name.casefold())
            if other is not None:
                msg = (
                    f"Setting queries: stream names {other!r} and {spec.name!r} would land in one table "
                    "(loaders ignore case); rename one of them."
                )
                raise SettingError(msg)
            seen[spec.name.casefold()] = spec.name
        return specs

    def bookmark_problem(self, stream: Stream, value: object) -> str | None:
        """A Looker bookmark is a date, a date-time, a month (2026-01) or a year (2026)."""
        if isinstance(value, str) and re.fullmatch(r"\d{4}(-\d{2})?", value.strip()):
            return None
        return super().bookmark_problem(stream, value)

    def discover_streams(self) -> list[QueryStream | RunsStream]:
        streams: list[QueryStream | RunsStream] = []
        explores: dict[tuple[str, str], dict[str, Any]] = {}
        for spec in self.query_specs():
            key = (spec.model, spec.explore)
            if key not in explores:
                explores[key] = self.client.lookml_model_explore(*key)
            columns = columns_for(
                explores[key], list(spec.fields), spec.column_names, f"queries ({spec.name})"
            )
            streams.append(QueryStream(self, spec, columns))
        streams.append(RunsStream(self))
        return streams

    def audit_source_description(self) -> str:
        return f"{public_url(self.config['base_url'])} API 4.0"

    def sync_all(self) -> None:  # type: ignore[misc]  # final in the SDK; the session logs out however the run ends
        try:
            super().sync_all()
        finally:
            self.client.logout()


if __name__ == "__main__":
    TapLooker.cli()
