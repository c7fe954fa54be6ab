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

from tests.interop.support import (
    ENCODER,
    Piped,
    ours,
    pipe,
    table_mismatches,
    third_party,
    write_json,
    write_jsonl,
)
from tests.target_acumatica.helpers import MAPPING, SCHEMA, STREAM, allocation_rows, audit_lines
from tests.target_acumatica.helpers import target_config as acumatica_target_config
from tests.target_acumatica.test_journals import assert_posted_equal_rows
from tests.target_databricks.loadrun import audit, rows, write_config

KEY = SCHEMA["key_properties"]  # allocation_id, line
ROWS = allocation_rows(allocations=20, lines=9)  # 200 rows, debits to cost centers and a pool credit


def tap_jsonl(folder: Path) -> list[str]:
    """tap-jsonl over one file of the rows, stream named like the allocation query, keyed on KEY."""
    data = write_jsonl(folder / "data" / f"{STREAM}.jsonl", ROWS)
    config = {"path": str(data), "stream_name": STREAM, "primary_keys": KEY}
    return [third_party("tap-jsonl", "tap-jsonl"), "--config", write_json(folder, "tap.json", config)]


def tap_test_data_generator(folder: Path) -> list[str]:
    """tap-test-data-generator emitting the rows from its static input file, generating none."""
    root = folder / "generator"
    for name in ("schemas", "metadatas", "repositories", "static"):
        (root / name).mkdir(parents=True)
    (root / "schemas" / f"{STREAM}.json").write_text(json.dumps(SCHEMA["schema"]))
    selected = [{"metadata": {"selected": True, "inclusion": "available"}, "breadcrumb": []}]
    (root / "metadatas" / f"{STREAM}.json").write_text(json.dumps(selected))
    # Its static file is one JSON object {stream: [records]}; numbers keep their digits.
    (root / "static" / f"{STREAM}.json").write_bytes(ENCODER.encode({STREAM: ROWS}))
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


THEIR_TAPS = {"tap-jsonl": tap_jsonl, "tap-test-data-generator": tap_test_data_generator}


def emitted_rows(run: Piped) -> list[dict]:
    """The tap emitted every row of the file, with its values (numbers by value: tap-jsonl reads
    them as floats, so 12.50 is emitted as 12.5)."""
    records = run.tap.records[STREAM]
    assert len(records) == len(ROWS)
    for record, row in zip(records, ROWS, strict=True):
        assert {k: record[k] for k in row} == row
    return records


@pytest.mark.parametrize("tap_name", list(THEIR_TAPS))
def test_into_target_databricks_every_row_lands_as_emitted(tap_name, tmp_path, databricks):
    config = write_config(tmp_path, databricks)
    target = [ours("target-databricks"), "--config", config]
    run = pipe(THEIR_TAPS[tap_name](tmp_path), target, tmp_path).check()
    records = emitted_rows(run)
    landed = rows(databricks, STREAM)
    assert not table_mismatches(run.tap.schemas[STREAM], records, landed, KEY)
    (applied,) = [a for a in audit(databricks) if a["stream"] == STREAM]
    assert applied["status"] == "committed" and applied["rows"] == len(ROWS)
    if run.tap.states:
        assert run.target_states[-1] == run.tap.state


@pytest.mark.parametrize("tap_name", list(THEIR_TAPS))
def test_into_target_acumatica_journals_post_equal_to_the_rows(tap_name, tmp_path, acumatica):
    config = acumatica_target_config(acumatica, tmp_path / "audit", journals={STREAM: MAPPING})
    target = [ours("target-acumatica"), "--config", write_json(tmp_path, "target.json", config)]
    run = pipe(THEIR_TAPS[tap_name](tmp_path), target, tmp_path).check()
    emitted_rows(run)
    assert_posted_equal_rows(acumatica, ROWS)
    statuses = [(a["key"], a["status"]) for a in audit_lines(tmp_path / "audit")]
    assert statuses == [(f"OH:2024-03:A-{a:04d}", "posted") for a in range(1, 21)]
    if run.tap.states:
        assert run.target_states[-1] == run.tap.state
