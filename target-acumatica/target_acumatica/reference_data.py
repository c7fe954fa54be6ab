"""The accounts, subaccounts, branches and ledgers journals may name, read once per run.

One list call per kind (``$select`` keeps them small): Account, Subaccount, and Ledger with its
Branches (the Default endpoint 20-24 has no Branch entity; a ledger lists the branches that post
to it). Every journal is checked against these before anything is posted.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from target_acumatica.journals import Journal, unwrap
from target_acumatica.mapping import text

if TYPE_CHECKING:
    from acumatica_client.api import AcumaticaApi


class ReferenceData:
    """Cached lookups of one instance."""

    def __init__(self, api: AcumaticaApi, *, validate_branches: bool = True) -> None:
        self.api = api
        self.validate_branches = validate_branches

    @cached_property
    def accounts(self) -> dict[str, bool]:
        """AccountCD -> Active."""
        rows = self.api.get_list("Account", **{"$select": "AccountCD,Active"})
        return {
            cd: unwrap(r.get("Active")) is not False
            for r in rows
            if (cd := text(unwrap(r.get("AccountCD")))) is not None
        }

    @cached_property
    def subaccounts(self) -> dict[str, tuple[str, bool]]:
        """SubaccountCD without segment separators -> (SubaccountCD as the instance has it, Active)."""
        rows = self.api.get_list("Subaccount", **{"$select": "SubaccountCD,Active"})
        out: dict[str, tuple[str, bool]] = {}
        for r in rows:
            cd = text(unwrap(r.get("SubaccountCD"))) or ""
            out[cd.replace("-", "")] = (cd, unwrap(r.get("Active")) is not False)
        return out

    @cached_property
    def ledgers(self) -> dict[str, set[str]]:
        """LedgerID -> BranchIDs of its active Branches."""
        rows = self.api.get_list("Ledger", **{"$expand": "Branches"})
        return {
            ledger: {
                branch
                for b in r.get("Branches") or []
                if unwrap(b.get("Active")) is not False
                and (branch := text(unwrap(b.get("BranchID")))) is not None
            }
            for r in rows
            if (ledger := text(unwrap(r.get("LedgerID")))) is not None
        }

    @property
    def branches(self) -> set[str]:
        return set().union(*self.ledgers.values()) if self.ledgers else set()

    def check(self, journal: Journal) -> None:
        """Append to ``journal.errors`` each line value Acumatica does not know; canonicalise
        subaccounts to the instance's form."""
        ledger = journal.header.get("LedgerID")
        if ledger is not None and ledger not in self.ledgers:
            journal.errors.append(
                f"journal {journal.key}: LedgerID '{ledger}' does not exist in Acumatica "
                f"(known: {', '.join(sorted(self.ledgers))})"
            )
        header_branch = journal.header.get("BranchID")
        if self.validate_branches and header_branch is not None and header_branch not in self.branches:
            journal.errors.append(
                f"journal {journal.key}: BranchID '{header_branch}' does not exist in Acumatica"
            )
        for line in journal.lines:
            where = journal.where(line.row)
            account = line.fields.get("Account")
            active = self.accounts.get(account) if account is not None else None
            if active is None:
                journal.errors.append(f"{where}: Account '{account}' does not exist in Acumatica")
            elif not active:
                journal.errors.append(f"{where}: Account '{account}' is inactive in Acumatica")
            sub = line.fields.get("Subaccount")
            if sub is not None:
                found = self.subaccounts.get(sub.replace("-", ""))
                if found is None:
                    journal.errors.append(f"{where}: Subaccount '{sub}' does not exist in Acumatica")
                elif not found[1]:
                    journal.errors.append(f"{where}: Subaccount '{sub}' is inactive in Acumatica")
                else:
                    line.fields["Subaccount"] = found[0]
            branch = line.fields.get("BranchID")
            if self.validate_branches and branch is not None:
                allowed = self.ledgers.get(ledger, set()) if ledger in self.ledgers else self.branches
                if branch not in allowed:
                    journal.errors.append(
                        f"{where}: BranchID '{branch}' does not exist in Acumatica"
                        + (f" for ledger {ledger}" if ledger else "")
                    )
