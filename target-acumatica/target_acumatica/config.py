"""Settings of target-acumatica (they feed ``--about``, the README and the Meltano plugin file)."""

from __future__ import annotations

from typing import Any

from acumatica_client.settings import CONNECTION_PROPERTIES
from mlc_run_audit import settings as shared
from singer_sdk import typing as th

DEFAULT_AUDIT_DIR = "output/target-acumatica"
DEFAULT_RELEASE_TIMEOUT_SECONDS: float = 600
DEFAULT_POLL_INTERVAL_SECONDS: float = 1

_FIELD_SPEC = (
    'a column name, or {"column": name}, {"value": constant} or {"template": '
    '"text with {column} placeholders"}'
)

_SPEC_TYPE = {"type": ["string", "object"]}

#: Journal mapping keys whose value is a field spec, and what each maps to.
JOURNAL_FIELDS = {
    "account": "Line Account (required).",
    "subaccount": "Line Subaccount.",
    "branch": "Line BranchID.",
    "debit": "Line DebitAmount.",
    "credit": "Line CreditAmount.",
    "amount": "One signed amount instead of debit/credit: positive debits, negative credits.",
    "line_description": "Line TransactionDescription.",
    "project": "Line Project.",
    "project_task": "Line ProjectTask.",
    "cost_code": "Line CostCode.",
    "description": "Journal Description text after the natural key (from the group's first row).",
    "transaction_date": "Journal TransactionDate (default: the last day of the post period).",
    "post_period": "Journal PostPeriod; YYYY-MM, YYYY-MM-DD, MM-YYYY, MMYYYY and YYYYMM are read.",
    "ledger": "Journal LedgerID.",
    "header_branch": "Journal BranchID.",
}

JOURNAL_MAPPING = th.ObjectType(
    th.Property(
        "group_by",
        th.ArrayType(th.StringType),
        required=True,
        description='Columns whose values make one journal (e.g. ["period", "allocation_id"]).',
    ),
    th.Property(
        "key_prefix",
        th.StringType,
        description="Start of each journal's natural key (default: the stream name).",
    ),
    *(
        th.Property(name, th.CustomType(_SPEC_TYPE), required=name == "account", description=text)
        for name, text in JOURNAL_FIELDS.items()
    ),
)

REFERENCE_MAPPING = th.ObjectType(
    th.Property("entity", th.StringType, required=True, description="Acumatica entity, e.g. Vendor."),
    th.Property(
        "key",
        th.ArrayType(th.StringType),
        required=True,
        description='The entity\'s key fields (natural key), e.g. ["VendorID"].',
    ),
    th.Property(
        "fields",
        th.ObjectType(additional_properties=True),
        required=True,
        description="Entity field -> " + _FIELD_SPEC + ".",
    ),
    th.Property(
        "mode",
        th.StringType,
        allowed_values=["upsert", "insert", "update"],
        description="upsert (default): create or update; insert: create only (existing records "
        "are left alone); update: change existing records only (missing ones fail).",
    ),
)

TARGET_PROPERTIES = th.PropertiesList(
    th.Property(
        "journals",
        th.ObjectType(additional_properties=JOURNAL_MAPPING),
        title="Journal streams",
        description="Per stream name, how its rows become JournalTransaction lines: group_by, "
        "key_prefix, account, subaccount, branch, debit/credit or amount, line_description, project, "
        "project_task, cost_code, description, transaction_date, post_period, ledger, header_branch. "
        "Each value is " + _FIELD_SPEC + ".",
    ),
    th.Property(
        "reference_records",
        th.ObjectType(additional_properties=REFERENCE_MAPPING),
        title="Reference record streams",
        description="Per stream name, the entity its records are written to by natural key: "
        '{"entity": "Vendor", "key": ["VendorID"], "fields": {"VendorID": "vendor_id", '
        '"VendorName": "vendor_name"}, "mode": "upsert"}.',
    ),
    th.Property(
        "unmapped_streams",
        th.StringType,
        default="fail",
        allowed_values=["fail", "ignore"],
        title="Unmapped streams",
        description="fail: a stream named in neither journals nor reference_records stops the run; "
        "ignore: its records are counted and logged, and nothing is written.",
    ),
    th.Property(
        "release",
        th.BooleanType,
        default=False,
        title="Release journals",
        description="Release each posted journal with the ReleaseJournalTransaction action.",
    ),
    th.Property(
        "dry_run",
        th.BooleanType,
        default=False,
        title="Dry run",
        description="Validate everything against Acumatica and print what would be posted; write "
        "nothing and emit no STATE.",
    ),
    th.Property(
        "lines_per_request",
        th.IntegerType(minimum=1),
        default=500,
        title="Lines per request",
        description="Most journal lines in one PUT; a longer journal is created on hold, its lines "
        "added in further PUTs, then taken off hold.",
    ),
    th.Property(
        "validate_branches",
        th.BooleanType,
        default=True,
        title="Validate branches",
        description="Check branches against the Branches of the instance's ledgers (GET Ledger with "
        "$expand=Branches); the Default endpoint has no Branch entity.",
    ),
    th.Property(
        "amount_rounding",
        th.StringType,
        default="reject",
        allowed_values=["reject", "half_up", "half_even"],
        title="Amount rounding",
        description="Amounts with more than two decimals: reject fails the journal; half_up/half_even "
        "round to the cent (the journal must still balance).",
    ),
    th.Property(
        "audit_dir",
        th.StringType,
        default=DEFAULT_AUDIT_DIR,
        title="Audit directory",
        description="Where journals.jsonl (one line per journal or record written, skipped or failed: "
        "key, BatchNbr, status, run ids, source rows' SHA-256), runs.jsonl (the taps' _audit_runs "
        "records) and failed/<stream>-<time>.singer files go. "
        "Replay a failed file with: target-acumatica --config <config.json> < <file>.",
    ),
    th.Property(
        "keep_failed_records",
        th.BooleanType,
        default=True,
        title="Keep failed rows",
        description="Write the rows of a journal or record that fails to <audit_dir>/failed/ (record "
        "contents on local disk) for replay. False keeps none; the audit lines still name every failure, "
        "and a failed journal is replayed by rerunning the input.",
    ),
    shared.seconds_property(
        "release_timeout_seconds",
        "Release timeout",
        "Longest wait for one release to complete (202 answers polled at its Location; formerly "
        "release_timeout_s).",
        default=DEFAULT_RELEASE_TIMEOUT_SECONDS,
    ),
    shared.seconds_property(
        "poll_interval_seconds",
        "Poll interval",
        "Wait between polls of a running action (formerly poll_interval_s).",
        default=DEFAULT_POLL_INTERVAL_SECONDS,
    ),
)

#: Settings renamed in 0.1.0 (durations end in _seconds): the old names still work, with a warning.
RENAMED_SETTINGS = {
    **shared.RENAMED_SETTINGS,
    "release_timeout_s": "release_timeout_seconds",
    "poll_interval_s": "poll_interval_seconds",
}

# The connection settings (with their bounds and defaults) are acumatica_client's, shared by the tap.
CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {**CONNECTION_PROPERTIES, **TARGET_PROPERTIES.to_dict()["properties"]},
    "required": ["base_url"],
}
