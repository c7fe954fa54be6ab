"""Settings of target-databricks (they feed ``--about`` and the README)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from mlc_run_audit.settings import connection_properties, seconds_property
from singer_sdk import typing as th

from target_databricks import sql
from target_databricks.client import (
    DEFAULT_MAX_STATEMENT_WAIT_SECONDS,
    DEFAULT_STATEMENT_WAIT_TIMEOUT_SECONDS,
    HOST_EXAMPLE,
    workspace_url,
)

LOAD_METHODS = ["upsert", "append-only", "overwrite"]
DEFAULT_FAILED_BATCH_DIR = "output/failed_batches"
#: Staged files are held in memory while compressed and uploaded.
MAX_BULK_FILE_BYTES = 48 * 1024 * 1024

#: Settings renamed in 0.1.0 (durations end in _seconds): the old names still work, with a warning.
RENAMED_SETTINGS = {
    "statement_wait_timeout": "statement_wait_timeout_seconds",
    "max_statement_wait_s": "max_statement_wait_seconds",
    "retry_backoff_s": "retry_backoff_seconds",
}

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "host",
        th.StringType,
        required=True,
        title="Workspace URL",
        description="Databricks workspace URL, e.g. https://adb-123.4.azuredatabricks.net.",
    ),
    th.Property(
        "warehouse_id",
        th.StringType,
        required=True,
        title="SQL warehouse ID",
        description="ID of the SQL warehouse that runs the statements.",
    ),
    th.Property(
        "catalog",
        th.StringType,
        required=True,
        title="Catalog",
        description="Unity Catalog catalog that holds the target schema.",
    ),
    th.Property(
        "schema",
        th.StringType,
        required=True,
        title="Schema",
        description="Target schema; created if missing. Tables are <table_prefix><stream>.",
    ),
    th.Property(
        "client_id",
        th.StringType,
        title="OAuth client ID",
        description="Service principal application ID for OAuth M2M.",
    ),
    th.Property(
        "client_secret",
        th.StringType,
        secret=True,
        title="OAuth client secret",
        description="Service principal OAuth secret for OAuth M2M.",
    ),
    th.Property(
        "token",
        th.StringType,
        secret=True,
        title="Personal access token",
        description="Personal access token; used instead of client_id/client_secret when set.",
    ),
    th.Property(
        "load_method",
        th.StringType,
        default="upsert",
        allowed_values=LOAD_METHODS,
        title="Load method",
        description="upsert: MERGE on the stream's key properties (append-only when a stream has "
        "none); append-only: INSERT every record; overwrite: replace the table with this "
        "run's records in one INSERT OVERWRITE at the end of the run.",
    ),
    th.Property(
        "table_prefix",
        th.StringType,
        default="",
        title="Table prefix",
        description="Prefix for table names, e.g. acumatica_.",
    ),
    seconds_property(
        "statement_wait_timeout_seconds",
        "Statement wait timeout",
        "Seconds each execute call waits for the statement before the target polls it: 0 (answer at "
        "once) or 5 to 50, as the API's wait_timeout allows (formerly statement_wait_timeout).",
        default=DEFAULT_STATEMENT_WAIT_TIMEOUT_SECONDS,
        maximum=50,
        whole=True,
    ),
    seconds_property(
        "max_statement_wait_seconds",
        "Maximum statement wait",
        "Seconds to wait for one statement in total; then it is cancelled and the batch fails "
        "(formerly max_statement_wait_s).",
        default=DEFAULT_MAX_STATEMENT_WAIT_SECONDS,
        minimum=1,
    ),
    th.Property(
        "max_parameters_per_statement",
        th.IntegerType(minimum=1),
        default=sql.DEFAULT_MAX_PARAMETERS,
        title="Parameters per statement",
        description="Most named parameters in one statement (the API's own limit is not "
        "documented; 256 is a known driver limit).",
    ),
    th.Property(
        "max_statement_bytes",
        th.IntegerType(minimum=1, maximum=sql.STATEMENT_LIMIT_BYTES),
        default=sql.DEFAULT_MAX_STATEMENT_BYTES,
        title="Bytes per statement",
        description="Most bytes of SQL text plus parameters in one statement (API limit 16 MiB).",
    ),
    th.Property(
        "bulk_threshold_rows",
        th.IntegerType(minimum=0),
        default=5000,
        title="Bulk path threshold (rows)",
        description="Batches with at least this many rows are staged as Parquet files in the staging "
        "volume and loaded with one statement from read_files. Smaller batches load with one MERGE / "
        "INSERT of parameters when they fit one statement, and through the volume otherwise. 0 turns the "
        "bulk path off (every batch goes through statements, with a staging table when it needs several).",
    ),
    th.Property(
        "staging_volume",
        th.StringType,
        default="_sdc_staging",
        title="Staging volume",
        description="Unity Catalog volume in the target schema for bulk files; created with "
        "CREATE VOLUME IF NOT EXISTS. A batch's files are deleted once it is loaded or has failed.",
    ),
    th.Property(
        "bulk_file_max_bytes",
        th.IntegerType(minimum=1, maximum=MAX_BULK_FILE_BYTES),
        default=32 * 1024 * 1024,
        title="Bulk file size (bytes)",
        description="Most bytes per staged (compressed) file, at most 48 MiB; each file is held in "
        "memory while it is compressed and uploaded with one Files API PUT.",
    ),
    th.Property(
        "failed_batch_dir",
        th.StringType,
        default=DEFAULT_FAILED_BATCH_DIR,
        title="Failed batch directory",
        description="Local directory where a batch that fails (after retries) is written as a Singer "
        "file of its SCHEMA and RECORD messages as received; replay it with: target-databricks --config "
        "<config.json> < <file>. Not for overwrite, which is replayed by running the whole input again. "
        "Relative paths are relative to the working directory (the project directory under Meltano).",
    ),
    th.Property(
        "keep_failed_records",
        th.BooleanType,
        default=True,
        title="Keep failed batches",
        description="Write a batch that fails to failed_batch_dir (its records as received, on local disk) "
        "for replay. False keeps no record contents on disk; a failed batch is then replayed by rerunning "
        "the input.",
    ),
    # The statement's own wait bounds each request, so there is no request_timeout_seconds here.
    *connection_properties(
        retried="HTTP 429/502/503/504 answers, requests that got no answer (refused, dropped, timed "
        "out), and statements that ended FAILED with TEMPORARILY_UNAVAILABLE and similar codes",
        request_timeout=False,
    ),
).to_dict()


def config_problems(config: Mapping[str, Any]) -> list[str]:
    """What the JSON schema cannot say about a config: one message per problem, naming the setting."""
    problems = []
    host = config.get("host")
    if isinstance(host, str):
        parts = urlsplit(workspace_url(host)) if host.strip() else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or " " in host:
            problems.append(f"host {host!r} is not a workspace URL; set it like {HOST_EXAMPLE}")
    wait = config.get("statement_wait_timeout_seconds")
    if isinstance(wait, int) and 0 < wait < 5:
        problems.append(
            f"statement_wait_timeout_seconds {wait} is not accepted by the Statement Execution API; use 0 "
            "(answer at once, then poll) or 5 to 50 seconds"
        )
    if not config.get("token"):
        has_id, has_secret = bool(config.get("client_id")), bool(config.get("client_secret"))
        if has_id and not has_secret:
            problems.append("client_id is set but client_secret is not; set both (OAuth M2M), or token")
        elif has_secret and not has_id:
            problems.append("client_secret is set but client_id is not; set both (OAuth M2M), or token")
        elif not has_id:
            problems.append(
                "no credentials: set token (a personal access token), or client_id and client_secret "
                "(OAuth M2M service principal)"
            )
    return problems
