"""Third-party Singer taps installed from the package index in their own venvs, piped into our
targets: tap-jsonl (Meltano Singer SDK) and tap-test-data-generator (singer-python, its static input
files) reading journal-shaped rows (200 lines of 20 balanced allocations) into target-databricks
(against the Databricks emulator) and target-acumatica (against the Acumatica emulator). What lands
equals what the tap emitted, row for row, and what it emitted equals the file it read."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.acumatica_target import (
    MAPPING,
    SCHEMA,
    STREAM,
    allocation_rows,
    assert_posted_equal_rows,
    audit_lines,
)
from tests.support.acumatica_target import target_config as acumatica_target_config
from tests.support.databricks import audit, error_lines, rows, write_config
from tests.support.interop import (
    ENCODER,
    Piped,
    ours,
    pipe,
    table_mismatches,
    third_party,
    write_json,
    write_jsonl,
)

KEY = SCHEMA["key_properties"]  # allocation_id, line
ROWS = allocation_rows(allocations=20, lines=9)  # 200 rows, debits to cost centers and a pool credit


def tap_jsonl(folder: Path, rows: list[dict] = ROWS) -> list[str]:
    """tap-jsonl over one file of the rows, stream named like the allocation query, keyed on KEY."""
    data = write_jsonl(folder / "data" / f"{STREAM}.jsonl", rows)
    config = {"path": str(data), "stream_name": STREAM, "primary_keys": KEY}
    return [third_party("tap-jsonl", "tap-jsonl"), "--config", write_json(folder, "tap.json", config)]


def tap_test_data_generator(folder: Path, rows: list[dict] = ROWS) -> list[str]:
    """tap-test-data-generator emitting the rows from its static input file, generating none."""
    root = folder / "generator"
    for name in ("schemas", "metadatas", "repositories", "static"):
        (root / name).mkdir(parents=True)
    (root / "schemas" / f"{STREAM}.json").write_text(json.dumps(SCHEMA["schema"]))
    selected = [{"metadata": {"selected": True, "inclusion": "available"}, "breadcrumb": []}]
    (root / "metadatas" / f"{STREAM}.json").write_text(json.dumps(selected))
    # Its static file is one JSON object {stream: [records]}; numbers keep their digits.
    (root / "static" / f"{STREAM}.json").write_bytes(ENCODER.encode({STREAM: rows}))
    config = {
        "schema_dir": str(root / "schemas"),
        "metadata_dir": str(root / "metadatas"),
        "object_repository_dir": str(root / "repositories"),
        "static_input_dir": str(root / "static"),
        "record_number": 0,
        "apply_record_number_on_pairwise": False,
        "generate_pairwise_hash": False,
    }
    script = third_party("tap-test-data-generator", "tap-test-data-generator")
    config_path = write_json(folder, "tap.json", config)
    # A singer-python tap syncs the streams its catalog selects: the one --discover writes.
    discover = [script, "--config", config_path, "--discover"]
    discovered = subprocess.run(discover, capture_output=True, text=True, check=True, timeout=60)
    catalog = folder / "catalog.json"
    catalog.write_text(discovered.stdout)
    return [script, "--config", config_path, "--catalog", str(catalog)]


def target_databricks(folder: Path, databricks) -> list[str]:
    return [ours("target-databricks"), "--config", write_config(folder, databricks)]


THEIR_TAPS = {"tap-jsonl": tap_jsonl, "tap-test-data-generator": tap_test_data_generator}


def emitted_rows(run: Piped, rows: list[dict] = ROWS) -> list[dict]:
    """The tap emitted every row of the file, with its values (numbers by value: tap-jsonl reads
    them as floats, so 12.50 is emitted as 12.5)."""
    records = run.tap.records[STREAM]
    assert len(records) == len(rows)
    for record, row in zip(records, rows, strict=True):
        assert {k: record[k] for k in row} == row
    return records


@pytest.mark.parametrize("tap_name", list(THEIR_TAPS))
def test_into_target_databricks_every_row_lands_as_emitted(tap_name, tmp_path, databricks):
    run = pipe(THEIR_TAPS[tap_name](tmp_path), target_databricks(tmp_path, databricks), tmp_path).check()
    records = emitted_rows(run)
    landed = rows(databricks, STREAM)
    assert not table_mismatches(run.tap.schemas[STREAM], records, landed, KEY)
    (applied,) = [a for a in audit(databricks) if a["stream"] == STREAM]
    assert applied["status"] == "committed" and applied["rows"] == len(ROWS)
    if run.tap.states:
        assert run.target_states[-1] == run.tap.state


def target_acumatica(folder: Path, acumatica) -> list[str]:
    config = acumatica_target_config(acumatica, folder / "audit", journals={STREAM: MAPPING})
    return [ours("target-acumatica"), "--config", write_json(folder, "target.json", config)]


@pytest.mark.parametrize("tap_name", list(THEIR_TAPS))
def test_into_target_acumatica_journals_post_equal_to_the_rows(tap_name, tmp_path, acumatica):
    run = pipe(THEIR_TAPS[tap_name](tmp_path), target_acumatica(tmp_path, acumatica), tmp_path).check()
    emitted_rows(run)
    assert_posted_equal_rows(acumatica, ROWS)
    statuses = [(a["key"], a["status"]) for a in audit_lines(tmp_path / "audit")]
    assert statuses == [(f"OH:2024-03:A-{a:04d}", "posted") for a in range(1, 21)]
    if run.tap.states:
        assert run.target_states[-1] == run.tap.state


def test_amounts_sent_as_text_as_csv_taps_send_them_post_to_the_cent(tmp_path, acumatica):
    text = [dict(row, allocated_amount=str(row["allocated_amount"])) for row in ROWS]
    run = pipe(tap_jsonl(tmp_path, text), target_acumatica(tmp_path, acumatica), tmp_path).check()
    assert run.tap.schemas[STREAM]["properties"]["allocated_amount"]["type"] == ["null", "string"]
    emitted_rows(run, text)
    assert_posted_equal_rows(acumatica, ROWS)


def test_a_field_the_schema_does_not_declare_lands_or_fails_the_run(tmp_path, databricks):
    # singer-python taps write records as they read them: here every row carries a "memo" that the
    # stream's schema leaves out, as many do when a schema was written by hand.
    memos = [dict(row, memo=f"memo {n}") for n, row in enumerate(ROWS[:20])]
    run = pipe(tap_test_data_generator(tmp_path, memos), target_databricks(tmp_path, databricks), tmp_path)
    assert run.tap_code == 0 and all("memo" in r for r in run.tap.records[STREAM])
    landed = rows(databricks, STREAM) if run.target_code == 0 else []
    landed_memos = sorted(str(r.get("memo")) for r in landed)
    assert run.target_code != 0 or landed_memos == sorted(r["memo"] for r in memos), (
        f"exit 0, and the memo column did not land: {landed_memos[:3]}"
    )
    # Refused (the default undeclared_fields: fail) in one line naming stream, record, field and setting.
    assert run.target_states == []
    (error,) = error_lines(run.target_stderr)
    assert (
        f"Stream {STREAM!r}, record 1: field 'memo' is not declared" in error and "undeclared_fields" in error
    )


def test_rows_with_a_null_key_all_land_or_fail_the_run(tmp_path, databricks):
    # tap-jsonl keys rows on the configured columns, null or not; two cost-center lines lack their
    # line number.
    nulls = [dict(row, line=None) if n in (3, 4) else row for n, row in enumerate(ROWS[:20])]
    run = pipe(tap_jsonl(tmp_path, nulls), target_databricks(tmp_path, databricks), tmp_path)
    assert run.tap_code == 0 and len(run.tap.records[STREAM]) == len(nulls)
    landed = rows(databricks, STREAM) if run.target_code == 0 else []
    assert run.target_code != 0 or len(landed) == len(nulls), f"exit 0, {len(landed)}/{len(nulls)} landed"
    # Refused by name at the first null key (record 4), before any STATE.
    assert run.target_states == []
    (error,) = error_lines(run.target_stderr)
    assert f"Stream {STREAM!r}, record 4: key property 'line' is null" in error


def test_a_value_databricks_cannot_store_ends_the_run_in_one_line_without_traceback(tmp_path, databricks):
    # 2^63 is a JSON integer tap-jsonl declares "integer" (BIGINT), one past its range.
    big = [dict(row, line=2**63) if n == 5 else row for n, row in enumerate(ROWS[:20])]
    run = pipe(tap_jsonl(tmp_path, big), target_databricks(tmp_path, databricks), tmp_path)
    assert run.tap_code == 0 and run.target_code == 1 and run.target_states == []
    errors = error_lines(run.target_stderr)
    assert not any("Traceback" in line for line in errors), run.target_stderr[-3000:]
    assert f"Stream {STREAM!r}: column 'line' (BIGINT): 9223372036854775808 is out of range" in errors[-1]


def test_a_journal_acumatica_refuses_ends_the_run_in_one_line_without_traceback(tmp_path, acumatica):
    unknown = [dict(row, account="99999") if n == 0 else row for n, row in enumerate(ROWS[:20])]
    run = pipe(tap_jsonl(tmp_path, unknown), target_acumatica(tmp_path, acumatica), tmp_path)
    assert run.tap_code == 0 and run.target_code == 1 and run.target_states == []
    errors = error_lines(run.target_stderr)
    assert not any("Traceback" in line for line in errors), run.target_stderr[-3000:]
    assert "AcumaticaError: 1 journal(s) or record(s) failed" in errors[-1]
    assert "Account '99999' does not exist in Acumatica" in errors[-1]
