"""The LookML model of the emulated instance (model ``finance``) and the query engine over it.

An explore is a base view (plus joined views) over one generated table. Dimensions read a row;
measures aggregate the rows of a group (``sum``, ``count``, ``count_distinct``). A query groups by its
selected dimensions, filters dimensions before and measures after aggregation (Looker's WHERE and
HAVING), sorts and limits. Values come out as Looker's ``json`` format writes them: dates as
``YYYY-MM-DD``, months as ``YYYY-MM``, yesno as ``Yes``/``No``, numbers as JSON numbers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from . import filters as fx
from .data import FinanceData

MODEL = "finance"
DATE_TYPES = ("date_date", "date_month", "date_time")
NUMERIC_TYPES = ("number", "sum", "count", "count_distinct", "average", "min", "max")


class QueryError(ValueError):
    """A query the explore cannot answer; ``field`` names the offending query property."""

    def __init__(self, message: str, field: str = "query") -> None:
        super().__init__(message)
        self.field = field


@dataclass
class Field:
    name: str  # view.field
    category: str  # dimension | measure
    type: str
    label: str
    sql: str
    get: Callable[[dict], object]
    description: str = ""
    primary_key: bool = False
    value_format_name: str | None = None
    dimension_group: str | None = None

    @property
    def view(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def is_numeric(self) -> bool:
        return self.type in NUMERIC_TYPES

    def metadata(self, view_labels: dict[str, str]) -> dict:
        short = self.label
        view_label = view_labels.get(self.view, self.view.replace("_", " ").title())
        return {
            "name": self.name,
            "label": f"{view_label} {short}",
            "label_short": short,
            "label_from_parameter": None,
            "type": self.type,
            "category": self.category,
            "field_group_label": None,
            "field_group_variant": short,
            "view": self.view,
            "view_label": view_label,
            "original_view": self.view,
            "sql": self.sql,
            "description": self.description or None,
            "is_numeric": self.is_numeric,
            "is_filter": False,
            "is_fiscal": False,
            "is_timeframe": self.type in DATE_TYPES,
            "hidden": False,
            "primary_key": self.primary_key,
            "measure": self.category == "measure",
            "dimension_group": self.dimension_group,
            "sortable": True,
            "can_filter": True,
            "can_time_filter": self.type in DATE_TYPES,
            "value_format": None,
            "value_format_name": self.value_format_name,
            "suggestable": self.category == "dimension",
            "enumerations": None,
            "tags": [],
            "lookml_link": None,
            "sql_case": None,
            "time_interval": {"name": self.type[5:], "count": 1} if self.type in DATE_TYPES else None,
            "user_attribute_filter_types": [_filter_type(self)],
            "map_layer": None,
            "has_allowed_values": False,
            "strict_value_format": False,
            "fill_style": None,
            "default_filter_value": None,
            "requires_refresh_on_sort": False,
            "permanent": None,
            "source_file": f"views/{self.view}.view.lkml",
            "source_file_path": f"finance/views/{self.view}.view.lkml",
            "week_start_day": "monday",
        }


def _filter_type(f: Field) -> str:
    if f.type in DATE_TYPES:
        return "advanced_filter_datetime"
    return "advanced_filter_number" if f.is_numeric else "advanced_filter_string"


def dim(name, type_, label, sql, get, **kw) -> Field:
    return Field(name, "dimension", type_, label, sql, get, **kw)


def measure(name, type_, label, sql, get, **kw) -> Field:
    return Field(name, "measure", type_, label, sql, get, **kw)


def _col(key: str) -> Callable[[dict], object]:
    return lambda row: row[key]


def _vendor(key: str) -> Callable[[dict], object]:
    return lambda row: row["vendor"][key] if row.get("vendor") else None


@dataclass
class Explore:
    name: str
    label: str
    description: str
    view_name: str
    sql_table_name: str
    rows: list[dict]
    fields: list[Field]
    view_labels: dict[str, str] = field(default_factory=dict)
    joins: list[str] = field(default_factory=list)

    def field(self, name: str) -> Field | None:
        return self._by_name.get(name)

    def __post_init__(self) -> None:
        self._by_name = {f.name: f for f in self.fields}

    def metadata(self) -> dict:
        dims = [f.metadata(self.view_labels) for f in self.fields if f.category == "dimension"]
        measures = [f.metadata(self.view_labels) for f in self.fields if f.category == "measure"]
        return {
            "id": f"{MODEL}::{self.name}",
            "name": self.name,
            "description": self.description,
            "label": self.label,
            "title": self.label,
            "scopes": [self.view_name, *self.joins],
            "can_total": True,
            "can_develop": False,
            "can_see_lookml": False,
            "lookml_link": None,
            "can_save": True,
            "can_explain": True,
            "can_pivot_in_db": True,
            "can_subtotal": True,
            "has_timezone_support": True,
            "supports_cost_estimate": False,
            "connection_name": "finance_dw",
            "null_sort_treatment": "low",
            "files": [f"finance/{self.name}.explore.lkml"],
            "source_file": f"{self.name}.explore.lkml",
            "project_name": "finance",
            "model_name": MODEL,
            "view_name": self.view_name,
            "hidden": False,
            "sql_table_name": self.sql_table_name,
            "access_filters": [],
            "aliases": [],
            "always_filter": [],
            "conditionally_filter": [],
            "index_fields": [],
            "sets": [],
            "tags": [],
            "errors": [],
            "fields": {"dimensions": dims, "measures": measures, "filters": [], "parameters": []},
            "joins": [
                {
                    "name": j,
                    "dependent_fields": [],
                    "fields": [],
                    "foreign_key": None,
                    "from": None,
                    "outer_only": False,
                    "relationship": "many_to_one",
                    "required_joins": [],
                    "sql_foreign_key": None,
                    "sql_on": None,
                    "sql_table_name": None,
                    "type": "left_outer",
                    "view_label": None,
                }
                for j in self.joins
            ],
            "group_label": "Finance",
            "supported_measure_types": [],
            "always_join": [],
        }


def _money(name, label, sql, key, **kw) -> Field:
    return measure(name, "sum", label, sql, _col(key), value_format_name="usd", **kw)


def build_explores(data: FinanceData) -> dict[str, Explore]:
    gl = Explore(
        "gl_lines",
        "GL Lines",
        "General ledger lines by account, subaccount, branch, cost center and period.",
        "gl_lines",
        "finance.gl_lines",
        data.gl_lines,
        view_labels={"gl_lines": "GL Lines", "vendors": "Vendors"},
        joins=["vendors"],
        fields=[
            dim(
                "gl_lines.line_id", "number", "Line ID", "${TABLE}.line_id", _col("line_id"), primary_key=True
            ),
            dim("gl_lines.batch_nbr", "string", "Batch Nbr", "${TABLE}.batch_nbr", _col("batch_nbr")),
            dim("gl_lines.period", "string", "Financial Period", "${TABLE}.fin_period", _col("period")),
            dim(
                "gl_lines.posted_date",
                "date_date",
                "Posted Date",
                "${TABLE}.posted_at",
                _col("posted_date"),
                dimension_group="gl_lines.posted",
            ),
            dim(
                "gl_lines.posted_month",
                "date_month",
                "Posted Month",
                "${TABLE}.posted_at",
                lambda r: r["posted_date"].strftime("%Y-%m"),
                dimension_group="gl_lines.posted",
            ),
            dim("gl_lines.account", "string", "Account", "${TABLE}.account_cd", _col("account")),
            dim(
                "gl_lines.account_name",
                "string",
                "Account Name",
                "${TABLE}.account_name",
                _col("account_name"),
            ),
            dim("gl_lines.subaccount", "string", "Subaccount", "${TABLE}.subaccount_cd", _col("subaccount")),
            dim("gl_lines.branch", "string", "Branch", "${TABLE}.branch_cd", _col("branch")),
            dim("gl_lines.cost_center", "string", "Cost Center", "${TABLE}.cost_center", _col("cost_center")),
            dim("gl_lines.description", "string", "Description", "${TABLE}.description", _col("description")),
            dim("gl_lines.debit", "number", "Debit", "${TABLE}.debit_amount", _col("debit_amount")),
            dim("gl_lines.credit", "number", "Credit", "${TABLE}.credit_amount", _col("credit_amount")),
            dim("vendors.vendor_id", "string", "Vendor ID", "${vendors.vendor_id}", _vendor("vendor_id")),
            dim("vendors.vendor_name", "string", "Vendor Name", "${vendors.name}", _vendor("vendor_name")),
            measure("gl_lines.count", "count", "Count", "", lambda r: 1),
            _money("gl_lines.total_debit", "Total Debit", "${debit}", "debit_amount"),
            _money("gl_lines.total_credit", "Total Credit", "${credit}", "credit_amount"),
            measure(
                "gl_lines.net_amount",
                "sum",
                "Net Amount",
                "${debit} - ${credit}",
                lambda r: r["debit_amount"] - r["credit_amount"],
                value_format_name="usd",
            ),
            measure(
                "vendors.count",
                "count_distinct",
                "Vendor Count",
                "${vendors.vendor_id}",
                _vendor("vendor_id"),
            ),
        ],
    )
    vendors = Explore(
        "vendors",
        "Vendors",
        "Vendors with their approval status.",
        "vendors",
        "finance.vendors",
        data.vendors,
        view_labels={"vendors": "Vendors"},
        fields=[
            dim(
                "vendors.vendor_id",
                "string",
                "Vendor ID",
                "${TABLE}.vendor_id",
                _col("vendor_id"),
                primary_key=True,
            ),
            dim("vendors.vendor_name", "string", "Vendor Name", "${TABLE}.name", _col("vendor_name")),
            dim("vendors.status", "string", "Status", "${TABLE}.status", _col("status")),
            dim("vendors.approved", "yesno", "Approved", "${TABLE}.approved", _col("approved")),
            dim("vendors.city", "string", "City", "${TABLE}.city", _col("city")),
            dim("vendors.state", "string", "State", "${TABLE}.state", _col("state")),
            dim(
                "vendors.payment_terms", "string", "Payment Terms", "${TABLE}.terms_id", _col("payment_terms")
            ),
            dim(
                "vendors.created_date",
                "date_date",
                "Created Date",
                "${TABLE}.created_at",
                _col("created_date"),
                dimension_group="vendors.created",
            ),
            measure("vendors.count", "count", "Count", "", lambda r: 1),
        ],
    )
    signed = _col("amount")
    alloc = Explore(
        "overhead_allocation",
        "Overhead Allocation",
        "Period overhead allocation: each rule's pool credited back and debited to cost centers by direct "
        "spend. Debits and credits balance per allocation_id and period.",
        "overhead_allocation",
        "${gl_lines.SQL_TABLE_NAME}",
        data.overhead_allocation,
        view_labels={"overhead_allocation": "Overhead Allocation"},
        fields=[
            dim(
                "overhead_allocation.allocation_id",
                "string",
                "Allocation ID",
                "${TABLE}.allocation_id",
                _col("allocation_id"),
            ),
            dim(
                "overhead_allocation.rule_name",
                "string",
                "Rule Name",
                "${TABLE}.rule_name",
                _col("rule_name"),
            ),
            dim(
                "overhead_allocation.period",
                "string",
                "Financial Period",
                "${TABLE}.fin_period",
                _col("period"),
                description="Acumatica financial period, MMYYYY.",
            ),
            dim(
                "overhead_allocation.period_month",
                "date_month",
                "Period Month",
                "${TABLE}.period_start",
                _col("period_month"),
                dimension_group="overhead_allocation.period",
            ),
            dim(
                "overhead_allocation.posting_date",
                "date_date",
                "Posting Date",
                "${TABLE}.posting_date",
                _col("posting_date"),
                description="Last day of the period.",
                dimension_group="overhead_allocation.posting",
            ),
            dim("overhead_allocation.line_nbr", "number", "Line Nbr", "${TABLE}.line_nbr", _col("line_nbr")),
            dim("overhead_allocation.account", "string", "Account", "${TABLE}.account_cd", _col("account")),
            dim(
                "overhead_allocation.subaccount",
                "string",
                "Subaccount",
                "${TABLE}.subaccount_cd",
                _col("subaccount"),
            ),
            dim("overhead_allocation.branch", "string", "Branch", "${TABLE}.branch_cd", _col("branch")),
            dim(
                "overhead_allocation.cost_center",
                "string",
                "Cost Center",
                "${TABLE}.cost_center",
                _col("cost_center"),
            ),
            dim(
                "overhead_allocation.description",
                "string",
                "Description",
                "${TABLE}.description",
                _col("description"),
            ),
            dim(
                "overhead_allocation.side",
                "string",
                "Side",
                "CASE WHEN ${TABLE}.amount >= 0 ...",
                lambda r: "debit" if r["amount"] >= 0 else "credit",
            ),
            measure(
                "overhead_allocation.allocated_amount",
                "sum",
                "Allocated Amount",
                "${TABLE}.amount",
                signed,
                value_format_name="usd",
                description="Signed: debits positive, credits negative.",
            ),
            measure(
                "overhead_allocation.debit_amount",
                "sum",
                "Debit Amount",
                "GREATEST(${TABLE}.amount, 0)",
                lambda r: max(r["amount"], Decimal(0)),
                value_format_name="usd",
            ),
            measure(
                "overhead_allocation.credit_amount",
                "sum",
                "Credit Amount",
                "GREATEST(-${TABLE}.amount, 0)",
                lambda r: max(-r["amount"], Decimal(0)),
                value_format_name="usd",
            ),
            measure("overhead_allocation.count", "count", "Count", "", lambda r: 1),
        ],
    )
    return {e.name: e for e in (gl, vendors, alloc)}


# ---- queries ---------------------------------------------------------------------------------


def parse_limit(limit: object, default: int) -> int | None:
    """Looker's string ``limit``: empty means the default, ``-1`` unlimited (None)."""
    if limit is None or str(limit).strip() == "":
        return default
    try:
        n = int(str(limit).strip())
    except ValueError as exc:
        raise QueryError(f"limit must be an integer string, got {limit!r}", "limit") from exc
    if n == -1:
        return None
    if n <= 0:
        return default
    return n


def _predicate(f: Field, expression: str, today: date) -> fx.Predicate:
    try:
        if f.type in DATE_TYPES:
            return fx.parse_date(expression, today)
        if f.type == "yesno":
            return fx.parse_yesno(expression)
        if f.is_numeric:
            return fx.parse_number(expression)
        return fx.parse_string(expression)
    except fx.FilterError as exc:
        raise QueryError(f"Filter on {f.name}: {exc}", "filters") from exc


def _value(f: Field, raw: object) -> object:
    if raw is None:
        return None
    if f.type == "yesno":
        return "Yes" if raw else "No"
    if isinstance(raw, date):
        return raw.isoformat()
    return raw


def _sort_key(value: object) -> tuple:
    if value is None:
        return (0, 0)
    return (1, value)


def execute(
    explore: Explore,
    fields: list[str],
    filters: dict[str, str] | None,
    sorts: list[str] | None,
    limit: int | None,
    today: date,
) -> list[dict]:
    """Run a query; ``limit`` None is unlimited. Rows are dicts of Looker JSON values."""
    if not fields:
        raise QueryError("A query needs at least one field.", "fields")
    selected: list[Field] = []
    for name in fields:
        f = explore.field(name)
        if f is None:
            raise QueryError(f"Unknown field {name!r} in explore {MODEL}::{explore.name}.", "fields")
        if f not in selected:
            selected.append(f)
    where, having = [], []
    for name, expression in (filters or {}).items():
        f = explore.field(name)
        if f is None:
            raise QueryError(f"Unknown filter field {name!r} in explore {MODEL}::{explore.name}.", "filters")
        if expression is None or str(expression) == "":
            continue
        test = _predicate(f, str(expression), today)
        (having if f.category == "measure" else where).append((f, test))
    dims = [f for f in selected if f.category == "dimension"]
    measures = [f for f in selected if f.category == "measure"]
    having_measures = [f for f, _ in having if f not in measures]
    all_measures = measures + having_measures

    groups: dict[tuple, list] = {}
    for row in explore.rows:
        if where and not all(test(_value(f, f.get(row))) for f, test in where):
            continue
        key = tuple(_value(f, f.get(row)) for f in dims)
        acc = groups.get(key)
        if acc is None:
            acc = groups[key] = [_start(m) for m in all_measures]
        for i, m in enumerate(all_measures):
            acc[i] = _step(m, acc[i], m.get(row))
    if not dims and not groups:
        groups[()] = [_start(m) for m in all_measures]
    out: list[dict] = []
    for key, acc in groups.items():
        values = {m.name: _finish(m, a) for m, a in zip(all_measures, acc, strict=True)}
        if having and not all(test(values[f.name]) for f, test in having):
            continue
        row = dict(zip((f.name for f in dims), key, strict=True))
        row.update({m.name: values[m.name] for m in measures})
        out.append(row)
    _sort(out, explore, selected, sorts)
    return out if limit is None else out[:limit]


def _start(m: Field):
    return set() if m.type == "count_distinct" else (0 if m.type == "count" else None)


def _step(m: Field, acc, value):
    if m.type == "count":
        return acc + 1
    if m.type == "count_distinct":
        if value is not None:
            acc.add(value)
        return acc
    if value is None:
        return acc
    return value if acc is None else acc + value


def _finish(m: Field, acc):
    if m.type == "count_distinct":
        return len(acc)
    return acc


def _sort(rows: list[dict], explore: Explore, selected: list[Field], sorts: list[str] | None) -> None:
    if sorts and sorts[0] == "__UNSORTED__":
        return
    spec: list[tuple[str, bool]] = []
    for item in sorts or []:
        parts = str(item).split()
        if not parts:
            continue
        name, desc = parts[0], len(parts) > 1 and parts[1].lower() == "desc"
        if explore.field(name) is None:
            raise QueryError(f"Unknown sort field {name!r} in explore {MODEL}::{explore.name}.", "sorts")
        if any(f.name == name for f in selected):
            spec.append((name, desc))
    if not spec:
        # Looker's default: the first date dimension descending, else the first measure descending,
        # else the first dimension ascending.
        first_date = next((f for f in selected if f.category == "dimension" and f.type in DATE_TYPES), None)
        first_measure = next((f for f in selected if f.category == "measure"), None)
        if first_date is not None:
            spec = [(first_date.name, True)]
        elif first_measure is not None:
            spec = [(first_measure.name, True)]
        else:
            spec = [(selected[0].name, False)]
    for name, desc in reversed(spec):
        rows.sort(key=lambda r, n=name: _sort_key(r.get(n)), reverse=desc)


# ---- JSON ------------------------------------------------------------------------------------


def _json_value(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    return json.dumps(value)


def encode_rows(rows: list[dict]) -> bytes:
    """Looker ``json``: an array of objects keyed by ``view.field``; decimals written exactly."""
    return (
        "["
        + ",".join(
            "{" + ",".join(f"{json.dumps(k)}:{_json_value(v)}" for k, v in row.items()) + "}" for row in rows
        )
        + "]"
    ).encode()
