"""target-acumatica's console script against the Acumatica emulator: journals land equal to the rows,
once; invalid or unbalanced journals fail clearly and post nothing; retries, dry run and replay."""

from __future__ import annotations

import json
from decimal import Decimal

from tests.support.acumatica_target import (
    STREAM,
    allocation_rows,
    assert_posted_equal_rows,
    audit_lines,
    posted_journals,
    run_cli,
    run_target,
    singer_input,
    target_config,
)


def _puts(emulator) -> int:
    return emulator.stats.requests[("PUT", "entity")]


def test_journals_posted_equal_the_input_rows_to_the_cent(emulator, tmp_path):
    rows = allocation_rows(allocations=3, lines=4)
    run = run_target(target_config(emulator, tmp_path / "audit"), singer_input(rows), tmp_path)
    assert run.returncode == 0, run.stderr
    assert_posted_equal_rows(emulator, rows)
    journal = posted_journals(emulator)["OH:2024-03:A-0001"]
    assert journal["PostPeriod"] == "032024" and journal["TransactionDate"].startswith("2024-03-31")
    assert journal["Description"] == "OH:2024-03:A-0001 Overhead allocation A-0001 2024-03"
    assert run.states == [{"bookmarks": {STREAM: {"done": True}}}]
    audit = audit_lines(tmp_path / "audit")
    assert [(a["key"], a["status"]) for a in audit] == [(f"OH:2024-03:A-000{n}", "posted") for n in (1, 2, 3)]
    assert audit[0]["batch_nbr"] == journal["BatchNbr"] and len(audit[0]["source_hash"]) == 64
    assert (
        audit[0]["debit"]
        == audit[0]["credit"]
        == str(journal["Details"][0]["DebitAmount"] + sum(d["DebitAmount"] for d in journal["Details"][1:]))
    )


def test_rerun_posts_nothing(emulator, tmp_path):
    config = target_config(emulator, tmp_path / "audit")
    text = singer_input(allocation_rows(allocations=4, lines=3))
    assert run_target(config, text, tmp_path).returncode == 0
    puts, before = _puts(emulator), posted_journals(emulator)
    again = run_target(config, text, tmp_path)
    assert again.returncode == 0, again.stderr
    assert _puts(emulator) == puts and posted_journals(emulator) == before
    assert [a["status"] for a in audit_lines(tmp_path / "audit")][4:] == ["already-posted"] * 4
    assert again.states, "a rerun that has nothing to post still confirms its state"


def test_invalid_account_fails_that_journal_clearly_posts_nothing_of_it_and_replays(emulator, tmp_path):
    rows = allocation_rows(allocations=3, lines=3)
    rows[5]["account"] = "99999"  # allocation A-0002, its second row: row 6 of the stream
    config = target_config(emulator, tmp_path / "audit")
    run = run_target(config, singer_input(rows), tmp_path)
    assert run.returncode != 0
    assert (
        "row 6 of stream overhead_allocation (period=2024-03, allocation_id=A-0002): Account '99999' does "
        "not exist in Acumatica"
    ) in run.stderr
    assert sorted(posted_journals(emulator)) == ["OH:2024-03:A-0001", "OH:2024-03:A-0003"]
    assert run.states == [], "STATE must not pass rows that did not land"
    failed = [a for a in audit_lines(tmp_path / "audit") if a["status"] == "failed"]
    assert [a["key"] for a in failed] == ["OH:2024-03:A-0002"]
    kept = (tmp_path / "audit" / "failed").glob("*.singer")
    (path,) = list(kept)
    messages = [json.loads(line) for line in path.read_text().splitlines()]
    assert messages[0]["type"] == "SCHEMA"
    assert [m["record"]["allocation_id"] for m in messages[1:]] == ["A-0002"] * 4
    assert "target-acumatica --config <config.json> <" in run.stderr

    # The account is opened in Acumatica; the replay posts A-0002 only, and a second replay nothing.
    emulator.store.insert("Account", {"AccountCD": "99999", "Active": True, "Type": "Expense"})
    puts = _puts(emulator)
    replay = run_target(config, path.read_text(), tmp_path)
    assert replay.returncode == 0, replay.stderr
    posted = posted_journals(emulator)
    assert sorted(posted) == ["OH:2024-03:A-0001", "OH:2024-03:A-0002", "OH:2024-03:A-0003"]
    assert [d["Account"] for d in posted["OH:2024-03:A-0002"]["Details"]] == [r["account"] for r in rows[4:8]]
    assert _puts(emulator) == puts + 1
    assert run_target(config, path.read_text(), tmp_path).returncode == 0
    assert _puts(emulator) == puts + 1


def test_unbalanced_journal_fails_and_posts_nothing(emulator, tmp_path):
    rows = allocation_rows(allocations=2, lines=3)
    rows[1]["allocated_amount"] += Decimal("0.01")
    run = run_target(target_config(emulator, tmp_path / "audit"), singer_input(rows), tmp_path)
    assert run.returncode != 0
    assert "journal OH:2024-03:A-0001 does not balance" in run.stderr and "(difference 0.01)" in run.stderr
    assert sorted(posted_journals(emulator)) == ["OH:2024-03:A-0002"]


def test_amounts_with_fractions_of_a_cent_are_rejected_not_rounded(emulator, tmp_path):
    rows = allocation_rows(allocations=1, lines=2)
    rows[0]["allocated_amount"] = Decimal("10.005")
    run = run_target(target_config(emulator, tmp_path / "audit"), singer_input(rows), tmp_path)
    assert run.returncode != 0 and "10.005 has more than two decimal places" in run.stderr
    assert posted_journals(emulator) == {}


def test_token_expiry_and_429s_recover_without_duplicates(emulator, tmp_path):
    emulator.knobs.retry_after_s = 0
    lists = []

    def faults(info):
        lists.append(info.entity)
        if len(lists) == 1:
            emulator.fail_next(2, 429)  # the license limit declines the next two requests
        if lists.count("JournalTransaction") == 2:
            emulator.expire_tokens()  # the next request meets a revoked token

    emulator.on_request(faults)
    rows = allocation_rows(allocations=3, lines=2)
    run = run_target(target_config(emulator, tmp_path / "audit"), singer_input(rows), tmp_path)
    assert run.returncode == 0, run.stderr
    assert_posted_equal_rows(emulator, rows)
    statuses = emulator.stats.statuses
    assert statuses[429] == 2 and statuses[401] == 1
    assert emulator.stats.requests[("POST", "token")] == 2  # sign-in, then one refresh after the 401
    assert _puts(emulator) == 4  # the create that met the revoked token was sent again


def test_create_whose_connection_dropped_is_looked_up_before_it_is_retried(emulator, tmp_path):
    rows = allocation_rows(allocations=1, lines=2)
    seen = []

    def drop_the_create(info):
        seen.append(info.entity)
        if info.entity == "JournalTransaction" and seen.count("JournalTransaction") == 1:
            emulator.reset_next(1)  # the PUT that follows this lookup loses its connection

    emulator.on_request(drop_the_create)
    run = run_target(target_config(emulator, tmp_path / "audit"), singer_input(rows), tmp_path)
    assert run.returncode == 0, run.stderr
    assert seen.count("JournalTransaction") == 2  # looked up again after the dropped create
    assert_posted_equal_rows(emulator, rows)


def test_dry_run_validates_prints_and_posts_nothing(emulator, tmp_path):
    rows = allocation_rows(allocations=2, lines=2)
    run = run_target(target_config(emulator, tmp_path / "audit", dry_run=True), singer_input(rows), tmp_path)
    assert run.returncode == 0, run.stderr
    assert _puts(emulator) == 0 and posted_journals(emulator) == {}
    printed = [
        line for line in run.stderr.splitlines() if line.startswith("DRY RUN would-post JournalTransaction")
    ]
    assert len(printed) == 2
    body = json.loads(printed[0].split(": ", 1)[1], parse_float=Decimal)
    assert [d["DebitAmount"]["value"] - d["CreditAmount"]["value"] for d in body["Details"]] == [
        r["allocated_amount"] for r in rows[:3]
    ]
    assert run.states == []
    bad = allocation_rows(allocations=1, lines=2)
    bad[0]["branch"] = "NOWHERE"
    failed = run_target(
        target_config(emulator, tmp_path / "audit", dry_run=True), singer_input(bad), tmp_path
    )
    assert failed.returncode != 0 and "BranchID 'NOWHERE' does not exist in Acumatica" in failed.stderr


def test_long_journal_goes_in_chunks_on_hold_and_is_released(emulator, tmp_path):
    emulator.knobs.action_polls = 2
    rows = allocation_rows(allocations=1, lines=9)
    config = target_config(emulator, tmp_path / "audit", lines_per_request=4, release=True)
    run = run_target(config, singer_input(rows), tmp_path)
    assert run.returncode == 0, run.stderr
    journal = posted_journals(emulator)["OH:2024-03:A-0001"]
    assert journal["Status"] == "Posted" and len(journal["Details"]) == 10
    assert _puts(emulator) == 1 + 2 + 1  # create with 4 lines, add 4, add 2, take off hold
    assert emulator.stats.counters["ReleaseJournalTransaction_started"] == 1
    assert [a["status"] for a in audit_lines(tmp_path / "audit")] == ["released"]


def test_journal_left_on_hold_by_a_stopped_run_is_completed_not_duplicated(emulator, tmp_path):
    rows = allocation_rows(allocations=1, lines=5)
    # A run stopped after creating the batch (on hold) with its first two lines.
    first_two = [
        {
            "Account": r["account"],
            "Subaccount": "000-000",
            "BranchID": r["branch"],
            "DebitAmount": r["allocated_amount"],
            "CreditAmount": Decimal(0),
            "TransactionDescription": r["description"],
        }
        for r in rows[:2]
    ]
    emulator.store.insert(
        "JournalTransaction",
        {
            "Module": "GL",
            "Description": "OH:2024-03:A-0001 Overhead allocation A-0001 2024-03",
            "Hold": True,
            "Status": "On Hold",
            "PostPeriod": "032024",
            "Details": first_two,
        },
    )
    config = target_config(emulator, tmp_path / "audit", lines_per_request=2)
    run = run_target(config, singer_input(rows), tmp_path)
    assert run.returncode == 0, run.stderr
    assert_posted_equal_rows(emulator, rows)
    assert _puts(emulator) == 2 + 1  # lines 3-4, line 5-6, then off hold
    assert [a["status"] for a in audit_lines(tmp_path / "audit")] == ["completed"]


def test_batch_with_the_key_but_other_lines_is_left_alone(emulator, tmp_path):
    emulator.store.insert(
        "JournalTransaction",
        {
            "Module": "GL",
            "Description": "OH:2024-03:A-0001",
            "Hold": False,
            "Status": "Balanced",
            "Details": [
                {"Account": "60000", "DebitAmount": Decimal("1.00")},
                {"Account": "67000", "CreditAmount": Decimal("1.00")},
            ],
        },
    )
    run = run_target(
        target_config(emulator, tmp_path / "audit"), singer_input(allocation_rows(1, 2)), tmp_path
    )
    assert run.returncode != 0 and "already exists in Acumatica as batch 000041" in run.stderr
    assert _puts(emulator) == 0


def test_secrets_never_reach_output_audit_or_failed_files(emulator, tmp_path):
    rows = allocation_rows(allocations=2, lines=2)
    rows[0]["account"] = "99999"
    config = target_config(emulator, tmp_path / "audit")
    run = run_cli(config, singer_input(rows), tmp_path)
    assert run.returncode != 0 and "Account '99999' does not exist" in run.stderr
    written = [run.stdout, run.stderr] + [
        p.read_text() for p in (tmp_path / "audit").rglob("*") if p.is_file()
    ]
    for secret in (config["client_secret"], config["password"]):
        assert all(secret not in text for text in written)


def test_unmapped_stream_and_mapping_typo_fail_naming_the_setting(emulator, tmp_path):
    rows = allocation_rows(allocations=1, lines=1)
    other = run_target(
        target_config(emulator, tmp_path / "audit"), singer_input(rows, stream="other"), tmp_path
    )
    assert other.returncode != 0
    assert "Stream other is named in neither journals nor reference_records" in other.stderr
    typo = {"group_by": ["period", "allocation_id"], "account": "acount", "amount": "allocated_amount"}
    config = target_config(emulator, tmp_path / "audit", journals={STREAM: typo})
    run = run_target(config, singer_input(rows), tmp_path)
    assert run.returncode != 0 and "journals.overhead_allocation names columns" in run.stderr
    assert "acount (account)" in run.stderr and _puts(emulator) == 0


def test_a_batch_the_instance_keeps_on_hold_fails_naming_its_number(emulator, tmp_path, monkeypatch):
    """An instance that keeps a batch on hold once Hold is cleared (an approval step, say): the journal
    fails naming the batch, read from the PUT answer, which holds only what was sent or asked for."""
    from acumatica_emulator import writes

    monkeypatch.setattr(writes, "journal_status", lambda store, rec: "On Hold")
    rows = allocation_rows(allocations=1, lines=4)
    config = target_config(emulator, tmp_path / "audit", lines_per_request=2)
    run = run_target(config, singer_input(rows), tmp_path)
    assert run.returncode == 1
    assert "journal OH:2024-03:A-0001: batch 000041 stays on hold in Acumatica (status On Hold)" in run.stderr
    assert run.states == []
    assert [(a["key"], a["status"]) for a in audit_lines(tmp_path / "audit")] == [
        ("OH:2024-03:A-0001", "failed")
    ]


def test_keep_failed_records_false_leaves_no_rows_on_disk(emulator, tmp_path):
    """With keep_failed_records false a failed journal is still named in the error and the audit line,
    but no file with its rows is written."""
    rows = allocation_rows(allocations=2, lines=3)
    rows[1]["allocated_amount"] += Decimal("0.01")
    config = target_config(emulator, tmp_path / "audit", keep_failed_records=False)
    run = run_target(config, singer_input(rows), tmp_path)
    assert run.returncode != 0 and "journal OH:2024-03:A-0001 does not balance" in run.stderr
    assert not (tmp_path / "audit" / "failed").exists()
    failed = [a for a in audit_lines(tmp_path / "audit") if a["status"] == "failed"]
    assert [(a["key"], a["failed_file"]) for a in failed] == [("OH:2024-03:A-0001", None)]
    assert sorted(posted_journals(emulator)) == ["OH:2024-03:A-0002"] and run.states == []
