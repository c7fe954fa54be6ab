"""Settings of target-databricks (they feed ``--about`` and the README)."""

from __future__ import annotations

from singer_sdk import typing as th

from target_databricks import sql

LOAD_METHODS = ["upsert", "append-only", "overwrite"]
DEFAULT_FAILED_BATCH_DIR = "output/failed_batches"

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
    th.Property(
        "statement_wait_timeout",
        th.IntegerType,
        default=30,
        title="Statement wait timeout (s)",
        description="Seconds each execute call waits synchronously (5-50) before polling.",
    ),
    th.Property(
        "max_statement_wait_s",
        th.NumberType,
        default=3600,
        title="Maximum statement wait (s)",
        description="Seconds to wait for one statement in total; then it is cancelled and the batch fails.",
    ),
    th.Property(
        "max_parameters_per_statement",
        th.IntegerType,
        default=sql.DEFAULT_MAX_PARAMETERS,
        title="Parameters per statement",
        description="Most named parameters in one statement (the API's own limit is not "
        "documented; 256 is a known driver limit).",
    ),
    th.Property(
        "max_statement_bytes",
        th.IntegerType,
        default=sql.DEFAULT_MAX_STATEMENT_BYTES,
        title="Bytes per statement",
        description="Most bytes of SQL text plus parameters in one statement (API limit 16 MiB).",
    ),
    th.Property(
        "bulk_threshold_rows",
        th.IntegerType,
        default=5000,
        title="Bulk path threshold (rows)",
        description="Batches with at least this many rows are staged as gzip-compressed "
        "newline-delimited JSON files in the staging volume and loaded with one statement from "
        "read_files. Smaller batches load with one MERGE / INSERT of parameters when they fit one "
        "statement, and through the volume otherwise. 0 turns the bulk path off (every batch goes "
        "through statements, with a staging table when it needs several).",
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
        th.IntegerType,
        default=32 * 1024 * 1024,
        title="Bulk file size (bytes)",
        description="Most bytes per staged (compressed) file; at most 48 MiB, as databricks-sdk "
        "switches to multipart uploads at 50 MiB.",
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
        "max_retries",
        th.IntegerType,
        default=6,
        title="Attempts per statement",
        description="Attempts for a statement that fails transiently (HTTP 429/503 after the SDK's "
        "own retries, or FAILED with TEMPORARILY_UNAVAILABLE and similar codes).",
    ),
    th.Property(
        "retry_backoff_s",
        th.NumberType,
        default=1.0,
        title="Retry backoff (s)",
        description="First backoff between attempts; doubles each attempt (max 60 s), with jitter.",
    ),
).to_dict()
