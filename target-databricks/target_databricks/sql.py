"""Databricks SQL text for the loads: names, column types, DDL, statements and their parameters.

Nothing in this module performs I/O: every function takes Python values and returns SQL text or
parameter lists, so all of it is unit tested without a warehouse.

Values never enter SQL text. Each non-NULL value becomes a typed named parameter (``:p0``) of
the Statement Execution API; NULLs are the keyword ``NULL``. Identical (type, value) pairs inside one
statement share one parameter, which keeps repeated values (currency, status, timestamps of one
extract) from eating the per-statement parameter budget.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal, InvalidOperation
from typing import Any

import msgspec

# The API rejects statements over 16 MiB; stay well below it by default.
STATEMENT_LIMIT_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_STATEMENT_BYTES = 4 * 1024 * 1024
# The Statement Execution API's parameter limit is not documented; 256 is a driver limit.
DEFAULT_MAX_PARAMETERS = 256

DECIMAL_PRECISION = 38
DECIMAL_SCALE = 9
DEFAULT_DECIMAL = f"DECIMAL({DECIMAL_PRECISION},{DECIMAL_SCALE})"

LOAD_TOKEN_COLUMN = "_sdc_load_token"
# Audit columns on every row, in this order after the record's own columns.
AUDIT_COLUMN_TYPES: dict[str, str] = {
    "_sdc_extracted_at": "TIMESTAMP",
    "_sdc_received_at": "TIMESTAMP",
    "_sdc_batched_at": "TIMESTAMP",
    "_sdc_sequence": "BIGINT",
    LOAD_TOKEN_COLUMN: "STRING",
}

# The same audit columns as JSON schema properties, added to each sink's schema through the SDK's
# record-metadata mechanism (``Sink._add_sdc_metadata_to_schema``) so records validate and parse them.
AUDIT_PROPERTIES: dict[str, dict[str, Any]] = {
    "_sdc_extracted_at": {"type": ["null", "string"], "format": "date-time"},
    "_sdc_received_at": {"type": ["null", "string"], "format": "date-time"},
    "_sdc_batched_at": {"type": ["null", "string"], "format": "date-time"},
    "_sdc_sequence": {"type": ["null", "integer"]},
    LOAD_TOKEN_COLUMN: {"type": ["null", "string"]},
}

_INT_RANGES = {
    "TINYINT": (-(2**7), 2**7 - 1),
    "SMALLINT": (-(2**15), 2**15 - 1),
    "INT": (-(2**31), 2**31 - 1),
    "INTEGER": (-(2**31), 2**31 - 1),
    "BIGINT": (-(2**63), 2**63 - 1),
    "LONG": (-(2**63), 2**63 - 1),
}
_DECIMAL_RE = re.compile(r"^DECIMAL\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)$")

#: Arithmetic on record values never rounds: the default context's 28 digits are fewer than a
#: DECIMAL(38,s) holds (normalize and quantize would round, or raise, on 29 digits and more).
EXACT = Context(prec=1000, Emax=MAX_EMAX, Emin=MIN_EMIN)


class SqlBuildError(ValueError):
    """A stream, schema or record that cannot be expressed as Databricks SQL."""


class RowTooLargeError(SqlBuildError):
    """One row that does not fit a statement of parameters (it can still go through the volume)."""


# --- names -------------------------------------------------------------------------------------


def quote_identifier(name: str) -> str:
    """Backtick-quote one identifier part, doubling any backtick inside it."""
    if not isinstance(name, str) or name == "":
        raise SqlBuildError("identifiers must be non-empty strings")
    if "\x00" in name:
        raise SqlBuildError("identifiers must not contain NUL characters")
    return "`" + name.replace("`", "``") + "`"


def qualified_name(*parts: str) -> str:
    """``catalog.schema.table`` with every part quoted."""
    return ".".join(quote_identifier(p) for p in parts)


_UNSAFE_TABLE_CHARS = re.compile(r"[^a-z0-9_]+")
_UNSAFE_TABLE_ENDS = re.compile(r"^[^a-z0-9_]+|[^a-z0-9_]+$")


def table_name(stream_name: str, prefix: str = "") -> str:
    """The Unity Catalog table name for a stream: ``<prefix><stream>``, made safe.

    Accents are dropped (NFKD), letters lower-cased (Unity Catalog stores
    names lower-case), and every run of characters other than ``a-z0-9_`` becomes one ``_``, so
    ``public-AP Bills`` becomes ``public_ap_bills``; such characters at either end are dropped, while
    the name's own underscores stay (``_audit_runs``). Names are cut to 255 characters.
    """
    folded = unicodedata.normalize("NFKD", f"{prefix}{stream_name}")
    unaccented = "".join(ch for ch in folded if not unicodedata.combining(ch)).lower()
    safe = _UNSAFE_TABLE_CHARS.sub("_", _UNSAFE_TABLE_ENDS.sub("", unaccented))
    if not safe:
        raise SqlBuildError(f"stream {stream_name!r} gives an empty table name")
    return safe[:255]


# --- types -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A table column: its name as in the record and its Databricks SQL type text."""

    name: str
    sql_type: str


def _json_types(prop: Mapping[str, Any]) -> tuple[set[str], str | None]:
    """JSON types (without "null") and string format of a property, looking into anyOf/oneOf."""
    types: set[str] = set()
    fmt = prop.get("format")
    declared = prop.get("type")
    if isinstance(declared, str):
        types.add(declared)
    elif isinstance(declared, list):
        types.update(t for t in declared if isinstance(t, str))
    for combinator in ("anyOf", "oneOf"):
        for sub in prop.get(combinator) or []:
            sub_types, sub_fmt = _json_types(sub)
            types |= sub_types
            fmt = fmt or sub_fmt
    types.discard("null")
    return types, fmt


#: Types a plain JSON ``number`` may map to (the ``number_type`` setting).
NUMBER_TYPES = {"double": "DOUBLE", "decimal": DEFAULT_DECIMAL}
DEFAULT_NUMBER_TYPE = "double"
_BIGINT_RANGE = (-(2**63), 2**63 - 1)
#: ``x-sql-datatype`` hints (the SDK's SQL-type annotation) this target honours, by their base name.
_HINT_TYPES = {
    "bigint": "BIGINT",
    "int": "INT",
    "integer": "INT",
    "smallint": "SMALLINT",
    "tinyint": "TINYINT",
    "double": "DOUBLE",
    "float": "DOUBLE",
    "double precision": "DOUBLE",
}
_HINT_DECIMAL_RE = re.compile(r"^(?:decimal|numeric|number)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?$")


def _subschemas(prop: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The property and the members of its anyOf/oneOf (where taps put a type next to ``null``)."""
    subs = [prop]
    for combinator in ("anyOf", "oneOf"):
        subs.extend(sub for sub in prop.get(combinator) or [] if isinstance(sub, Mapping))
    return subs


def _first(prop: Mapping[str, Any], key: str) -> Any:
    return next((sub[key] for sub in _subschemas(prop) if sub.get(key) is not None), None)


def decimal_type(precision: Any, scale: Any) -> str | None:
    """``DECIMAL(p,s)`` for a declared precision and scale Databricks can hold, else None."""
    try:
        p = DECIMAL_PRECISION if precision is None else int(precision)
        s = 0 if scale is None else int(scale)
    except (TypeError, ValueError):
        return None
    if not (1 <= p <= DECIMAL_PRECISION and 0 <= s <= p):
        return None
    return f"DECIMAL({p},{s})"


def _hinted_type(prop: Mapping[str, Any]) -> str | None:
    """The type an ``x-sql-datatype`` hint names, when it is a numeric type Databricks has."""
    hint = _first(prop, "x-sql-datatype")
    if not isinstance(hint, str):
        return None
    text = " ".join(hint.strip().lower().split())
    if text in _HINT_TYPES:
        return _HINT_TYPES[text]
    match = _HINT_DECIMAL_RE.match(text)
    if match:
        return decimal_type(match.group(1), match.group(2) or 0)
    return None


def _multiple_of_scale(prop: Mapping[str, Any]) -> int | None:
    """Decimal places a ``multipleOf`` allows (``0.01`` -> 2, ``0.25`` -> 2, ``5`` -> 0), or None."""
    step = _first(prop, "multipleOf")
    if step is None or isinstance(step, bool):
        return None
    try:
        number = Decimal(str(step))
    except InvalidOperation:
        return None
    if not number.is_finite() or number <= 0:
        return None
    exponent = number.normalize(EXACT).as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def _beyond_bigint(prop: Mapping[str, Any]) -> bool:
    """Whether the declared bounds of an integer property pass BIGINT's range."""
    low, high = _BIGINT_RANGE
    limits = {"minimum": low, "exclusiveMinimum": low - 1, "maximum": high, "exclusiveMaximum": high + 1}
    for key, limit in limits.items():
        value = _first(prop, key)
        if not isinstance(value, int | float | Decimal) or isinstance(value, bool):
            continue
        if (value < limit) if key.endswith("inimum") else (value > limit):
            return True
    return False


def sql_type_for(prop: Mapping[str, Any], number_type: str = NUMBER_TYPES[DEFAULT_NUMBER_TYPE]) -> str:
    """Databricks type for one JSON schema property.

    Numbers: an ``x-sql-datatype`` hint naming a numeric type wins (``decimal(19,4)`` -> DECIMAL(19,4));
    ``number`` with ``multipleOf`` -> DECIMAL(38,s) with s the decimal places of the step (exact);
    a string with ``format: x-singer.decimal`` (the SDK's decimal-as-text) -> DECIMAL(precision,scale),
    DECIMAL(38,9) when it gives none; any other ``number`` -> ``number_type`` (DOUBLE by default: a
    float is a float); ``integer`` -> BIGINT, DECIMAL(38,0) when its declared bounds pass 64 bits.
    String with format date-time -> TIMESTAMP, date -> DATE; boolean -> BOOLEAN; object and array
    -> STRING holding JSON; anything else, including mixed types, -> STRING.
    """
    types, fmt = _json_types(prop)
    if types and types <= {"integer", "number"}:
        hinted = _hinted_type(prop)
        if hinted:
            return hinted
    if types == {"integer"}:
        return f"DECIMAL({DECIMAL_PRECISION},0)" if _beyond_bigint(prop) else "BIGINT"
    if types and types <= {"integer", "number"}:
        scale = _multiple_of_scale(prop)
        if scale is not None:
            return decimal_type(DECIMAL_PRECISION, scale) or number_type
        return number_type
    if types == {"boolean"}:
        return "BOOLEAN"
    if types == {"string"} and fmt == "date-time":
        return "TIMESTAMP"
    if types == {"string"} and fmt == "date":
        return "DATE"
    if types == {"string"} and fmt == "x-singer.decimal":
        precision, scale = _first(prop, "precision"), _first(prop, "scale")
        if precision is None and scale is None:
            return DEFAULT_DECIMAL
        # Wider than Databricks decimals: the text is kept exactly rather than rounded.
        return decimal_type(precision, scale) or "STRING"
    return "STRING"


def columns_for_schema(
    schema: Mapping[str, Any], number_type: str = NUMBER_TYPES[DEFAULT_NUMBER_TYPE]
) -> list[Column]:
    """Columns for a stream's schema: its properties in order, then the audit columns.

    Databricks column names are case-insensitive, so two properties differing only in case are
    rejected rather than silently merged. Properties named like audit columns are replaced by them.
    """
    columns: list[Column] = []
    seen: dict[str, str] = {}
    for name, prop in (schema.get("properties") or {}).items():
        if name in AUDIT_COLUMN_TYPES:
            continue
        quote_identifier(name)  # rejects empty names
        folded = name.lower()
        if folded in seen or folded in AUDIT_COLUMN_TYPES:
            raise SqlBuildError(
                f"properties {seen.get(folded, folded)!r} and {name!r} map to the same column "
                "(Databricks column names are case-insensitive)"
            )
        seen[folded] = name
        columns.append(Column(name, sql_type_for(prop or {}, number_type)))
    columns.extend(Column(name, sql_type) for name, sql_type in AUDIT_COLUMN_TYPES.items())
    return columns


def normalize_type(type_text: str) -> str:
    """Upper-case type text without spaces after commas, e.g. ``decimal(38, 9)`` -> ``DECIMAL(38,9)``."""
    return re.sub(r"\s*,\s*", ",", type_text.strip().upper())


# --- DDL ---------------------------------------------------------------------------------------


def create_schema(catalog: str, schema: str) -> str:
    return f"CREATE SCHEMA IF NOT EXISTS {qualified_name(catalog, schema)}"


def column_definitions(columns: Sequence[Column]) -> str:
    return ", ".join(f"{quote_identifier(c.name)} {c.sql_type}" for c in columns)


def create_table(table: str, columns: Sequence[Column], *, or_replace: bool = False) -> str:
    """``CREATE TABLE IF NOT EXISTS`` (or ``CREATE OR REPLACE TABLE``) for a Delta table.

    Column mapping by name lets Delta keep record property names that contain spaces,
    commas, semicolons, braces or ``=``, which plain Delta column names do not allow.
    """
    head = "CREATE OR REPLACE TABLE" if or_replace else "CREATE TABLE IF NOT EXISTS"
    return (
        f"{head} {table} ({column_definitions(columns)}) USING DELTA "
        "TBLPROPERTIES ('delta.columnMapping.mode' = 'name', "
        "'delta.minReaderVersion' = '2', 'delta.minWriterVersion' = '5')"
    )


def describe_table(table: str) -> str:
    return f"DESCRIBE TABLE {table}"


def parse_describe(rows: Iterable[Sequence[str | None]]) -> dict[str, Column]:
    """Existing columns from ``DESCRIBE TABLE`` rows (col_name, data_type, comment), keyed lower-case.

    The column list ends at the first blank or ``#`` row (partitioning and detail sections follow).
    """
    existing: dict[str, Column] = {}
    for row in rows:
        name = row[0] if row else None
        if not name or name.startswith("#"):
            break
        existing[name.lower()] = Column(name, normalize_type(row[1] or "STRING"))
    return existing


def missing_columns(existing: Mapping[str, Column], wanted: Sequence[Column]) -> list[Column]:
    """Columns of ``wanted`` that the table lacks (matched case-insensitively). Nothing is dropped."""
    return [c for c in wanted if c.name.lower() not in existing]


def add_columns(table: str, columns: Sequence[Column]) -> str:
    if not columns:
        raise SqlBuildError("no columns to add")
    return f"ALTER TABLE {table} ADD COLUMNS ({column_definitions(columns)})"


def resolve_columns(existing: Mapping[str, Column], wanted: Sequence[Column]) -> list[Column]:
    """Columns to load: the wanted order, but with the table's own name spelling and type.

    A column that exists keeps its type (a DECIMAL(38,9) column stays one even if the schema now
    says a plain number); values are converted and checked against that type. ``type_conflicts``
    finds the changes that would lose what the stream now declares.
    """
    return [existing.get(c.name.lower(), c) for c in wanted]


def decimal_parts(sql_type: str) -> tuple[int, int] | None:
    """(precision, scale) of a DECIMAL type text, else None."""
    match = _DECIMAL_RE.match(normalize_type(sql_type))
    if not match:
        return None
    return int(match.group(1)), int(match.group(2) or 0)


def type_conflicts(existing: Mapping[str, Column], wanted: Sequence[Column]) -> list[str]:
    """Existing columns that cannot hold what the stream now declares exactly, described for an error.

    An exact decimal declared for a DOUBLE or integer column, or with more decimal places than the
    column's DECIMAL scale, would be rounded: that is a conflict. A column that stays exact or wider
    (a DECIMAL(38,9) column for a plain number, a DECIMAL column for an integer) is not; its values
    are still checked one by one.
    """
    problems = []
    for column in wanted:
        have = existing.get(column.name.lower())
        if have is None or normalize_type(have.sql_type) == normalize_type(column.sql_type):
            continue
        want = decimal_parts(column.sql_type)
        if want is None or (want[1] == 0 and normalize_type(have.sql_type) in _INT_RANGES):
            continue
        held = decimal_parts(have.sql_type)
        if held is None and normalize_type(have.sql_type) in ("STRING", "VARCHAR"):
            continue  # text keeps every decimal exactly
        if held is None or held[1] < want[1]:
            problems.append(
                f"column {have.name!r} is {normalize_type(have.sql_type)} but the stream now declares "
                f"{normalize_type(column.sql_type)}"
            )
    return problems


def parameter_type(sql_type: str) -> str:
    """The parameter ``type`` sent with a value of this column type."""
    base = normalize_type(sql_type)
    if (
        base in _INT_RANGES
        or _DECIMAL_RE.match(base)
        or base
        in (
            "BOOLEAN",
            "TIMESTAMP",
            "TIMESTAMP_NTZ",
            "DATE",
            "STRING",
            "DOUBLE",
        )
    ):
        return {"INTEGER": "INT", "LONG": "BIGINT", "TIMESTAMP_LTZ": "TIMESTAMP"}.get(base, base)
    return "STRING"


# --- statements --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parameter:
    """A named statement parameter; ``value`` None means SQL NULL."""

    name: str
    value: str | None
    type: str = "STRING"

    def as_json(self) -> dict[str, str]:
        body = {"name": self.name, "type": self.type}
        if self.value is not None:
            body["value"] = self.value
        return body


@dataclass
class Statement:
    """SQL text plus its named parameters; ``kind`` names it in logs and errors."""

    sql: str
    parameters: list[Parameter] = field(default_factory=list)
    kind: str = "statement"
    rows: int = 0

    def size_bytes(self) -> int:
        """Bytes of the statement text plus the parameters as sent in the request body."""
        return len(self.sql.encode("utf-8")) + sum(parameter_size(p) for p in self.parameters)


def parameter_size(p: Parameter) -> int:
    return len(msgspec.json.encode(p.as_json()))


@dataclass(frozen=True)
class Budget:
    """Limits per statement: total bytes (text + parameters) and parameter count."""

    max_bytes: int = DEFAULT_MAX_STATEMENT_BYTES
    max_parameters: int = DEFAULT_MAX_PARAMETERS

    def __post_init__(self) -> None:
        if not 0 < self.max_bytes <= STATEMENT_LIMIT_BYTES:
            raise SqlBuildError(f"max_bytes must be between 1 and {STATEMENT_LIMIT_BYTES}")
        if self.max_parameters < 1:
            raise SqlBuildError("max_parameters must be at least 1")


def values_source(columns: Sequence[Column], tuples_sql: str) -> str:
    """``SELECT CAST(c0 AS type) AS `name`, ... FROM VALUES (...), ... AS v(c0, ...)``.

    Positional aliases keep hostile column names out of the VALUES alias list; the CASTs fix the
    column types even when a chunk holds only NULLs in a column.
    """
    projections = ", ".join(
        f"CAST(c{i} AS {c.sql_type}) AS {quote_identifier(c.name)}" for i, c in enumerate(columns)
    )
    aliases = ", ".join(f"c{i}" for i in range(len(columns)))
    return f"SELECT {projections} FROM VALUES {tuples_sql} AS v({aliases})"


VALUES_PLACEHOLDER = "\x00VALUES\x00"


def chunk_statements(
    template: str,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str | None]],
    budget: Budget,
    kind: str,
    extra_parameters: Sequence[Parameter] = (),
) -> list[Statement]:
    """Split rows into statements that each stay within ``budget``; a row is never split.

    ``template`` holds ``VALUES_PLACEHOLDER`` where the VALUES source subquery goes. Identical
    (type, value) pairs share one parameter inside a statement. A single row that cannot fit an
    otherwise empty statement raises SqlBuildError.
    """
    if not rows:
        return []
    types = [parameter_type(c.sql_type) for c in columns]
    before, after = template.split(VALUES_PLACEHOLDER)
    head = before + values_source(columns, "")
    head, tail = head.rsplit(" AS v(", 1)
    tail = " AS v(" + tail + after
    fixed_bytes = len((head + tail).encode()) + sum(parameter_size(p) for p in extra_parameters)
    fixed_params = len(extra_parameters)

    statements: list[Statement] = []
    tuples: list[str] = []
    params: list[Parameter] = []
    by_value: dict[tuple[str, str], str] = {}
    used_bytes = fixed_bytes

    def flush() -> None:
        nonlocal tuples, params, by_value, used_bytes
        sql = head + ", ".join(tuples) + tail
        statements.append(Statement(sql, [*extra_parameters, *params], kind, len(tuples)))
        tuples, params, by_value, used_bytes = [], [], {}, fixed_bytes

    def render(row: Sequence[str | None]) -> tuple[str, list[Parameter], int]:
        tokens: list[str] = []
        new: list[Parameter] = []
        local: dict[tuple[str, str], str] = {}
        for value, ptype in zip(row, types, strict=True):
            if value is None:
                tokens.append("NULL")
                continue
            key = (ptype, value)
            name = by_value.get(key) or local.get(key)
            if name is None:
                name = f"p{len(params) + len(new)}"
                local[key] = name
                new.append(Parameter(name, value, ptype))
            tokens.append(":" + name)
        text = "(" + ", ".join(tokens) + ")"
        cost = len(text.encode()) + (2 if tuples else 0) + sum(parameter_size(p) for p in new)
        return text, new, cost

    for row in rows:
        text, new, cost = render(row)
        fits = used_bytes + cost <= budget.max_bytes and (
            fixed_params + len(params) + len(new) <= budget.max_parameters
        )
        if not fits and tuples:
            flush()
            text, new, cost = render(row)
            fits = used_bytes + cost <= budget.max_bytes and (
                fixed_params + len(new) <= budget.max_parameters
            )
        if not fits:
            raise RowTooLargeError(
                f"one row needs {len(new)} parameters and {cost} bytes, over the statement budget "
                f"({budget.max_parameters} parameters, {budget.max_bytes} bytes)"
            )
        tuples.append(text)
        params.extend(new)
        for p in new:
            by_value[(p.type, p.value)] = p.name  # type: ignore[index]
        used_bytes += cost
    flush()
    return statements


def column_list(columns: Sequence[Column], prefix: str = "") -> str:
    return ", ".join(prefix + quote_identifier(c.name) for c in columns)


def merge_template(
    table: str, columns: Sequence[Column], key_properties: Sequence[str], source: str = VALUES_PLACEHOLDER
) -> str:
    """MERGE of a source (VALUES subquery or staging table select) into the target on the keys.

    Keys compare with ``<=>`` so a NULL key matches itself and a re-run does not duplicate it.
    """
    if not key_properties:
        raise SqlBuildError("upsert needs key properties")
    names = {c.name.lower(): c.name for c in columns}
    missing = [k for k in key_properties if k.lower() not in names]
    if missing:
        raise SqlBuildError(f"key properties {missing} are not columns")
    keys = [names[k.lower()] for k in key_properties]
    on = " AND ".join(f"t.{quote_identifier(k)} <=> s.{quote_identifier(k)}" for k in keys)
    key_set = {k.lower() for k in keys}
    updates = ", ".join(
        f"t.{quote_identifier(c.name)} = s.{quote_identifier(c.name)}"
        for c in columns
        if c.name.lower() not in key_set
    )
    matched = f" WHEN MATCHED THEN UPDATE SET {updates}" if updates else ""
    deleted_matched, insert_condition = soft_delete_clauses(columns)
    return (
        f"MERGE INTO {table} AS t USING ({source}) AS s ON {on}{deleted_matched}{matched} "
        f"WHEN NOT MATCHED{insert_condition} THEN INSERT ({column_list(columns)}) "
        f"VALUES ({column_list(columns, 's.')})"
    )


#: Set by a tap on a tombstone: a record holding only the keys of a row deleted in the source.
DELETED_AT_COLUMN = "_sdc_deleted_at"


def soft_delete_clauses(columns: Sequence[Column]) -> tuple[str, str]:
    """Soft deletes in an upsert MERGE, for tables with a ``_sdc_deleted_at`` column.

    A source row with ``_sdc_deleted_at`` set is a tombstone: it marks the row with its keys (sets
    ``_sdc_deleted_at`` and the load's audit columns) and keeps the row's other values, which the
    tombstone does not carry; a tombstone for keys the table does not hold inserts nothing.
    Returns the ``WHEN MATCHED`` clause that goes before the plain one and the condition of the
    ``WHEN NOT MATCHED`` clause; both empty when the table has no such column."""
    names = {c.name.lower(): c.name for c in columns}
    deleted = names.get(DELETED_AT_COLUMN)
    if deleted is None:
        return "", ""
    marked = [deleted, *(names[a.lower()] for a in AUDIT_COLUMN_TYPES if a.lower() in names)]
    sets = ", ".join(f"t.{quote_identifier(c)} = s.{quote_identifier(c)}" for c in marked)
    condition = f"s.{quote_identifier(deleted)} IS NOT NULL"
    return (
        f" WHEN MATCHED AND {condition} THEN UPDATE SET {sets}",
        f" AND s.{quote_identifier(deleted)} IS NULL",
    )


def insert_template(table: str, columns: Sequence[Column], source: str = VALUES_PLACEHOLDER) -> str:
    return f"INSERT INTO {table} ({column_list(columns)}) {source}"


def insert_new_token_template(table: str, columns: Sequence[Column], source: str = VALUES_PLACEHOLDER) -> str:
    """Append-only load that is safe to repeat: inserts only if no row of this load token exists.

    Uses the parameter ``:load_token``. One statement is one Delta commit, so a batch's rows are all
    there or none are; re-applying a batch whose audit row was never written (crash after the data
    commit, or a retried request whose answer was lost) inserts nothing the second time.
    """
    token = quote_identifier(LOAD_TOKEN_COLUMN)
    return (
        f"INSERT INTO {table} ({column_list(columns)}) "
        f"SELECT {column_list(columns, 's.')} FROM ({source}) AS s "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} AS t WHERE t.{token} = :load_token)"
    )


def insert_overwrite(table: str, columns: Sequence[Column], source_table: str) -> str:
    """Replace the whole table with a staging table's rows in one Delta commit."""
    return (
        f"INSERT OVERWRITE {table} ({column_list(columns)}) "
        f"SELECT DISTINCT {column_list(columns)} FROM {source_table}"
    )


def select_from_table(columns: Sequence[Column], table: str) -> str:
    """Rows of a staging table. DISTINCT drops a chunk inserted twice (a retried request whose answer
    was lost); distinct records never collide, as each carries its own ``_sdc_sequence``."""
    return f"SELECT DISTINCT {column_list(columns)} FROM {table}"


def drop_table(table: str) -> str:
    return f"DROP TABLE IF EXISTS {table}"


def string_literal(text: str) -> str:
    """A single-quoted SQL string literal: backslashes and quotes escaped (Databricks reads ``\\``)."""
    if "\x00" in text:
        raise SqlBuildError("string literals must not contain NUL characters")
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def create_volume(catalog: str, schema: str, volume: str) -> str:
    return f"CREATE VOLUME IF NOT EXISTS {qualified_name(catalog, schema, volume)}"


def staging_table_name(table: str, token: str, purpose: str = "stage") -> str:
    """Name of a staging table beside ``table``: ``__tdbx_<purpose>_<table>_<token prefix>``."""
    return f"__tdbx_{purpose}_{table}_{token[:16]}"[:255]
