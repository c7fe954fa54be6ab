"""Money posted once and exactly: repeated rows are de-duplicated on the stream's key properties, natural
keys never collide, and amounts Acumatica cannot store are refused by row without touching the other
journals of the input."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

from tests.support.acumatica_target import (
    MAPPING,
    SCHEMA,
    STREAM,
    allocation_rows,
    assert_posted_equal_rows,
    audit_lines,
    posted_journals,
    run_target,
    singer_input,
    target_config,
)

#: The allocation mapping without a post period, so group values need not be periods.
FREE_KEYS = {
    **{k: v for k, v in MAPPING.items() if k != "post_period"},
    "transaction_date": {"value": "2024-03-31"},
}


def _puts(emulator) -> int:
    return emulator.stats.requests[("PUT", "entity")]


def _lines(journal: dict) -> list[tuple]:
    return [
        (d["Account"], d["DebitAmount"], d["CreditAmount"], d["TransactionDescription"])
        for d in journal["Details"]
    ]


def _want(rows: list[dict]) -> list[tuple]:
    return [
        (
            r["account"],
            max(r["allocated_amount"], Decimal(0)),
            max(-r["allocated_amount"], Decimal(0)),
            r["description"],
        )
        for r in rows
    ]


def test_a_journal_sent_twice_posts_once_with_its_own_lines(emulator, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    rows = allocation_rows(allocations=1, lines=2)  # 3 rows: two debits, one credit
    total = sum(r["allocated_amount"] for r in rows if r["allocated_amount"] > 0)
    run = run_target(target_config(emulator, tmp_path / "audit"), singer_input(rows + rows), tmp_path)
    assert run.returncode == 0, run.stderr
    assert_posted_equal_rows(emulator, rows)
    (journal,) = posted_journals(emulator).values()
    assert len(journal["Details"]) == 3
    assert sum(d["DebitAmount"] for d in journal["Details"]) == total
    (line,) = audit_lines(tmp_path / "audit")
    assert (line["rows"], line["debit"], line["credit"]) == (3, str(total), str(total))
    assert "Stream overhead_allocation: 3 row(s) repeated the key properties" in caplog.text


def test_the_last_row_with_a_key_wins_in_the_place_of_the_first(emulator, tmp_path):
    rows = allocation_rows(allocations=2, lines=2)
    corrected = {**rows[1], "description": "corrected"}
    text = singer_input([*rows, corrected])
    run = run_target(target_config(emulator, tmp_path / "audit"), text, tmp_path)
    assert run.returncode == 0, run.stderr
    assert_posted_equal_rows(emulator, [rows[0], corrected, *rows[2:]])


def test_journals_sent_twice_across_runs_and_within_one_still_post_nothing_twice(emulator, tmp_path):
    config = target_config(emulator, tmp_path / "audit")
    rows = allocation_rows(allocations=2, lines=3)
    assert run_target(config, singer_input(rows), tmp_path).returncode == 0
    puts = _puts(emulator)
    again = run_target(config, singer_input(rows + rows[::-1]), tmp_path)
    assert again.returncode == 0, again.stderr
    assert _puts(emulator) == puts
    assert [a["status"] for a in audit_lines(tmp_path / "audit")][2:] == ["already-posted"] * 2


def test_group_values_holding_the_separator_make_two_journals(emulator, tmp_path):
    a, b = allocation_rows(allocations=2, lines=1, period="x")[0:2], allocation_rows(2, 1)[2:4]
    a = [{**r, "period": "Q:R", "allocation_id": "S"} for r in a]
    b = [{**r, "period": "Q", "allocation_id": "R:S"} for r in b]
    config = target_config(emulator, tmp_path / "audit", journals={STREAM: FREE_KEYS})
    run = run_target(config, singer_input(a + b), tmp_path)
    assert run.returncode == 0, run.stderr
    posted = posted_journals(emulator)
    assert sorted(posted) == ["OH:Q%3AR:S", "OH:Q:R%3AS"]
    assert _lines(posted["OH:Q%3AR:S"]) == _want(a) and _lines(posted["OH:Q:R%3AS"]) == _want(b)
    assert {a["status"] for a in audit_lines(tmp_path / "audit")} == {"posted"}

    puts = _puts(emulator)
    rerun = run_target(config, singer_input(a + b), tmp_path)
    assert rerun.returncode == 0 and _puts(emulator) == puts


def test_a_group_value_that_starts_another_one_is_not_taken_for_it(emulator, tmp_path):
    rows = allocation_rows(allocations=2, lines=1)
    first = [{**r, "allocation_id": "FAC X"} for r in rows[:2]]
    second = [{**r, "allocation_id": "FAC"} for r in rows[2:]]
    config = target_config(emulator, tmp_path / "audit")
    assert run_target(config, singer_input(first), tmp_path).returncode == 0
    run = run_target(config, singer_input(second), tmp_path)
    assert run.returncode == 0, run.stderr
    posted = posted_journals(emulator)
    assert sorted(posted) == ["OH:2024-03:FAC", "OH:2024-03:FAC%20X"]
    assert _lines(posted["OH:2024-03:FAC"]) == _want(second)
    assert [a["status"] for a in audit_lines(tmp_path / "audit")] == ["posted", "posted"]


def test_groups_whose_values_read_the_same_are_an_error_naming_both(emulator, tmp_path):
    schema = json.loads(json.dumps(SCHEMA))
    schema["schema"]["properties"]["allocation_id"]["type"] = ["string", "integer"]
    rows = allocation_rows(allocations=2, lines=1)
    rows = [{**r, "allocation_id": "7"} for r in rows[:2]] + [{**r, "allocation_id": 7} for r in rows[2:]]
    text = json.dumps(schema) + "\n" + singer_input(rows).split("\n", 1)[1]
    run = run_target(target_config(emulator, tmp_path / "audit"), text, tmp_path)
    assert run.returncode == 1
    assert "('2024-03', '7')" in run.stderr and "('2024-03', 7)" in run.stderr
    assert "same natural key OH:2024-03:7" in run.stderr
    assert posted_journals(emulator) == {} and run.states == []


def test_two_journal_streams_with_one_key_prefix_are_a_config_error(emulator, tmp_path):
    config = target_config(emulator, tmp_path / "audit", journals={STREAM: MAPPING, "other": MAPPING})
    run = run_target(config, singer_input(allocation_rows(1, 1)), tmp_path)
    assert run.returncode == 1
    assert "journals.other and journals.overhead_allocation share key_prefix 'OH'" in run.stderr
    assert _puts(emulator) == 0


def test_an_amount_acumatica_cannot_store_fails_its_journal_by_row_and_the_others_post(emulator, tmp_path):
    rows = allocation_rows(allocations=3, lines=2)
    rows[3]["allocated_amount"] = Decimal("1E30")  # row 4: allocation A-0002, its first line
    run = run_target(target_config(emulator, tmp_path / "audit"), singer_input(rows), tmp_path)
    assert run.returncode == 1
    assert (
        "row 4 of stream overhead_allocation (period=2024-03, allocation_id=A-0002): amount "
        "(column 'allocated_amount') 1E+30 is beyond what Acumatica stores"
    ) in run.stderr
    assert "InvalidOperation" not in run.stderr
    assert sorted(posted_journals(emulator)) == ["OH:2024-03:A-0001", "OH:2024-03:A-0003"]
    assert_posted_equal_rows(emulator, rows[:3] + rows[6:])
    assert run.states == [], "STATE must not pass the refused journal"
    failed = [a for a in audit_lines(tmp_path / "audit") if a["status"] == "failed"]
    assert [(a["key"], a["rows"]) for a in failed] == [("OH:2024-03:A-0002", 3)]


def test_a_journal_whose_total_acumatica_cannot_store_is_refused(emulator, tmp_path):
    rows = allocation_rows(allocations=1, lines=3)
    big = Decimal("600000000000000.00")  # each line fits decimal(19,4); the journal's total does not
    for row, amount in zip(rows, (big, big, -big, -big), strict=True):
        row["allocated_amount"] = amount
    run = run_target(target_config(emulator, tmp_path / "audit"), singer_input(rows), tmp_path)
    assert run.returncode == 1
    assert "journal OH:2024-03:A-0001: debit total 1200000000000000.00 is beyond what Acumatica" in run.stderr
    assert posted_journals(emulator) == {}


def test_a_description_longer_than_acumatica_keeps_is_refused(emulator, tmp_path):
    mapping = {**MAPPING, "description": {"template": "x" * 300}}
    config = target_config(emulator, tmp_path / "audit", journals={STREAM: mapping})
    run = run_target(config, singer_input(allocation_rows(1, 1)), tmp_path)
    assert run.returncode == 1
    assert "journal OH:2024-03:A-0001: Description is 318 characters; Acumatica keeps 256" in run.stderr
    assert posted_journals(emulator) == {}


def test_rows_moved_to_another_group_and_a_row_without_group_keep_their_places(emulator, tmp_path):
    """Journals are built from the rows on disk group by group: rows sent again with another group value
    leave their group for the new one, in the place of their first sending, and a row with a blank group
    column fails alone."""
    march = allocation_rows(allocations=1, lines=2, period="2024-03")  # keys A-0001/1-3
    april = allocation_rows(allocations=2, lines=2, period="2024-04")[3:]  # keys A-0002/1-3
    blank = {**april[0], "allocation_id": "  ", "line": 7}
    moved = [{**r, "period": "2024-04"} for r in march]
    text = singer_input([*march, *april, blank, *moved])
    run = run_target(target_config(emulator, tmp_path / "audit"), text, tmp_path)
    assert run.returncode == 1
    assert "row 7 of stream overhead_allocation: group column 'allocation_id' is empty" in run.stderr
    assert_posted_equal_rows(emulator, [*moved, *april])
    audit = audit_lines(tmp_path / "audit")
    assert [(a["key"], a["status"], a["rows"]) for a in audit] == [
        (None, "failed", 1),
        ("OH:2024-04:A-0001", "posted", 3),
        ("OH:2024-04:A-0002", "posted", 3),
    ]
    assert run.states == []
