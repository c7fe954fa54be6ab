"""Run ids, per-record audit columns and run records for ml-connector's taps and targets."""

from mlc_run_audit.run_id import RUN_ID_ENV, RunIdError, current_run_id

#: Column names every audited record carries (see README).
RUN_ID_COLUMN = "_audit_run_id"
SOURCE_ID_COLUMN = "_audit_source_id"
SOURCE_VERSION_COLUMN = "_audit_source_version"
AUDIT_COLUMNS = (RUN_ID_COLUMN, SOURCE_ID_COLUMN, SOURCE_VERSION_COLUMN)
#: The stream a tap emits last: one record describing the run.
RUNS_STREAM = "_audit_runs"

__all__ = [
    "AUDIT_COLUMNS",
    "RUNS_STREAM",
    "RUN_ID_COLUMN",
    "RUN_ID_ENV",
    "SOURCE_ID_COLUMN",
    "SOURCE_VERSION_COLUMN",
    "RunIdError",
    "current_run_id",
]
