"""What a PUT and an action check before the store changes: Acumatica's 422 validation and the
long-running actions (``POST <Entity>/<Action>`` answered 202 with a ``Location`` to poll).

A 422 answer echoes the record as sent with ``"error"`` next to ``value`` on each failing field,
detail lines included, and an entity-level ``error`` summary (API-FACTS 1.5).
"""

from __future__ import annotations

import copy
import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from acumatica_client import catalog

from .odata import split_list
from .store import RecordNotFound, RecordStore

#: Journal statuses after release; such a batch can no longer be changed.
RELEASED = frozenset({"Posted", "Unposted", "Released", "Voided"})
_PERIOD = re.compile(r"^(\d{2})-?(\d{4})$")


@dataclass
class Problem:
    """One failing field: ``line`` is the index into the detail array, or None for the header."""

    field: str
    message: str
    line: int | None = None


def unwrap(value: object) -> object:
    if isinstance(value, dict) and set(value) <= {"value", "error"}:
        return value.get("value")
    return value


#: Keys of a sent object that are not fields (the record's identity, its note and custom fields, line
#: deletion): the answer carries id, rowNumber, note and custom whatever is sent or selected.
_NOT_FIELDS = frozenset({"id", "rowNumber", "note", "custom", "_links", "error", "delete", "files"})


def sent_fields(version: str, type_name: str, body: Mapping, path: str = "") -> tuple[list[str], list[str]]:
    """``$select`` and ``$expand`` items naming what a PUT body sent: its scalar fields, and each sent
    detail or linked entity with the fields sent in it (fields the endpoint does not know are left out)."""
    fields = catalog.fields(version, type_name)
    select: list[str] = []
    expand: list[str] = []
    for name, value in body.items():
        ftype = fields.get(name)
        if name in _NOT_FIELDS or ftype is None:
            continue
        if catalog.is_scalar(ftype):
            select.append(path + name)
            continue
        element = catalog.element_type(ftype)
        expand.append(path + name)
        parts = value if isinstance(value, list) else [value]
        inner: dict = {}
        for part in parts:
            if isinstance(part, Mapping):
                inner.update(part)
        if not catalog.has_entity(version, element):
            select.append(path + name)
            continue
        sub_select, sub_expand = sent_fields(version, element, inner, f"{path}{name}/")
        select += sub_select or [path + name]
        expand += sub_expand
    return select, expand


def put_answer_query(version: str, entity: str, body: Mapping, query: Mapping[str, str]) -> dict[str, str]:
    """The query options a PUT answer is rendered with: Acumatica answers with "only the fields that
    were sent or selected" (API-FACTS 1.5), so the sent fields join ``$select``, and each ``$expand``
    item is returned whole."""
    select, expand = sent_fields(version, entity, body)
    asked_expand = split_list(query.get("$expand"))
    fields = catalog.fields(version, entity)
    # An expanded entity comes back whole (its nested expansions with it); names the entity does not
    # have are ignored, as a GET ignores them.
    select += split_list(query.get("$select")) + [e for e in asked_expand if e in fields]
    expand += asked_expand
    out = {k: v for k, v in query.items() if k not in ("$select", "$expand")}
    out["$select"] = ",".join(dict.fromkeys(select))
    if expand:
        out["$expand"] = ",".join(dict.fromkeys(expand))
    return out


def invalid_body(entity: str, body: dict, detail: str | None, problems: list[Problem]) -> dict:
    """The 422 body: the record as sent, each failing field carrying its ``error``."""
    out = copy.deepcopy(body)
    for p in problems:
        target = out
        if p.line is not None and detail:
            target = out[detail][p.line]
        cell = target.get(p.field)
        target[p.field] = {"value": unwrap(cell), "error": p.message}
    out["error"] = (
        f"Inserting '{entity}' record raised at least one error. Please review the errors. "
        + " ".join(p.message for p in problems[:5])
    )
    return out


class ReferenceCheck:
    """Lookups of the reference data a document names (accounts, subaccounts, branches, ledgers)."""

    def __init__(self, store: RecordStore) -> None:
        self.store = store

    def _exists(self, entity: str, key: str) -> dict | None:
        try:
            return self.store.find(entity, (key,))
        except RecordNotFound:
            return None

    def account(self, cd: str) -> str | None:
        rec = self._exists("Account", cd)
        if rec is None:
            return f"Account '{cd}' cannot be found in the system."
        if rec.get("Active") is False:
            return f"Account '{cd}' is inactive."
        return None

    def subaccount(self, cd: str) -> tuple[str | None, str | None]:
        """(canonical SubaccountCD, error): segment separators are optional on input."""
        wanted = cd.replace("-", "")

        def same(r: dict) -> bool:
            return str(r.get("SubaccountCD") or "").replace("-", "") == wanted

        for rec in self.store.scan("Subaccount", same, None, None):
            if rec.get("Active") is False:
                return None, f"Subaccount '{cd}' is inactive."
            return rec["SubaccountCD"], None
        return None, f"Subaccount '{cd}' cannot be found in the system."

    def branches(self) -> set[str]:
        out = set()
        for rec in self.store.scan("Ledger", lambda r: True, None, None):
            out.update(line.get("BranchID") for line in self.store.lines("Ledger", rec))
        return out

    def ledger(self, ledger_id: str) -> str | None:
        if self._exists("Ledger", ledger_id):
            return None
        return f"Ledger '{ledger_id}' cannot be found in the system."


def post_period(text: str) -> str | None:
    """``MMYYYY`` from ``MM-YYYY`` or ``MMYYYY``; None if it is neither."""
    m = _PERIOD.match(text.strip())
    if not m or not 1 <= int(m.group(1)) <= 12:
        return None
    return m.group(1) + m.group(2)


def check_journal(refs: ReferenceCheck, values: dict, existing: dict | None) -> list[Problem]:
    """Validate (and normalise in place) a JournalTransaction PUT body."""
    problems: list[Problem] = []
    if existing is not None and existing.get("Status") in RELEASED:
        problems.append(
            Problem(
                "Status", f"The batch {existing.get('BatchNbr')} has been released and cannot be changed."
            )
        )
        return problems
    ledger = unwrap(values.get("LedgerID"))
    if ledger and (msg := refs.ledger(str(ledger))):
        problems.append(Problem("LedgerID", msg))
    branches = refs.branches()
    branch = unwrap(values.get("BranchID"))
    if branch and branch not in branches:
        problems.append(Problem("BranchID", f"Branch '{branch}' cannot be found in the system."))
    period = unwrap(values.get("PostPeriod"))
    if period:
        canonical = post_period(str(period))
        if canonical is None:
            problems.append(Problem("PostPeriod", f"'{period}' is not a financial period (MM-YYYY)."))
        else:
            values["PostPeriod"] = {"value": canonical}
    lines = values.get("Details") or []
    if existing is None and not lines:
        problems.append(Problem("Details", "The batch has no transactions."))
    for n, line in enumerate(lines):
        if line.get("delete") or line.get("id"):
            continue
        account = unwrap(line.get("Account"))
        if not account:
            problems.append(Problem("Account", "'Account' cannot be empty.", n))
        elif msg := refs.account(str(account)):
            problems.append(Problem("Account", msg, n))
        sub = unwrap(line.get("Subaccount"))
        if sub:
            canonical, msg = refs.subaccount(str(sub))
            if msg:
                problems.append(Problem("Subaccount", msg, n))
            else:
                line["Subaccount"] = {"value": canonical}
        line_branch = unwrap(line.get("BranchID"))
        if line_branch and line_branch not in branches:
            problems.append(Problem("BranchID", f"Branch '{line_branch}' cannot be found in the system.", n))
        for name in ("DebitAmount", "CreditAmount"):
            amount = unwrap(line.get(name))
            if amount is not None and Decimal(str(amount)) < 0:
                problems.append(Problem(name, f"'{name}' may not be negative.", n))
    return problems


def check_vendor(values: dict, existing: dict | None) -> list[Problem]:
    if existing is None and not unwrap(values.get("VendorName")):
        return [Problem("VendorName", "'Vendor Name' cannot be empty.")]
    return []


def journal_totals(store: RecordStore, rec: dict) -> tuple[Decimal, Decimal]:
    lines = store.lines("JournalTransaction", rec)
    debit = sum((Decimal(str(line.get("DebitAmount") or 0)) for line in lines), Decimal(0))
    credit = sum((Decimal(str(line.get("CreditAmount") or 0)) for line in lines), Decimal(0))
    return debit, credit


def journal_status(store: RecordStore, rec: dict) -> str:
    """Status of an unreleased batch after a save: on hold, or balanced when it balances (an
    unbalanced batch stays on hold, as the form keeps it)."""
    if rec.get("Status") in RELEASED:
        return rec["Status"]
    debit, credit = journal_totals(store, rec)
    if rec.get("Hold") or debit != credit:
        return "On Hold"
    return "Balanced"


@dataclass
class Operation:
    """A long-running action started with 202; ``polls_left`` more status requests answer 202."""

    entity: str
    record_id: str
    polls_left: int
    error: str | None = None
    done: bool = False
    result: dict = field(default_factory=dict)


class Actions:
    """``ReleaseJournalTransaction`` and the operations it starts."""

    def __init__(self, store: RecordStore) -> None:
        self.store = store
        self._ops: dict[str, Operation] = {}
        self._lock = threading.Lock()

    def release_problem(self, rec: dict) -> str | None:
        status = rec.get("Status")
        if status in RELEASED:
            return f"The batch {rec.get('BatchNbr')} has already been released."
        debit, credit = journal_totals(self.store, rec)
        if debit != credit:
            return f"The batch {rec.get('BatchNbr')} is out of balance (debit {debit}, credit {credit})."
        if rec.get("Hold") or status == "On Hold":
            return f"The batch {rec.get('BatchNbr')} is on hold and cannot be released."
        return None

    def start(self, entity: str, rec: dict, polls: int, error: str | None) -> str:
        op_id = str(uuid.uuid4())
        with self._lock:
            self._ops[op_id] = Operation(entity, rec["id"], polls, error)
        return op_id

    def poll(self, op_id: str) -> Operation | None:
        """The operation after one more status request (it completes once its polls are used up)."""
        with self._lock:
            op = self._ops.get(op_id)
            if op is None:
                return None
            if op.polls_left > 0:
                op.polls_left -= 1
                return op
            if not op.done and op.error is None:
                self.release(op.record_id)
            op.done = True
            return op

    def release(self, record_id: str) -> None:
        self.store.modify("JournalTransaction", record_id, {"Status": "Posted", "Hold": False})
