"""Tombstones (a record of keys and ``_sdc_deleted_at``, as tap-acumatica's detect_deletes emits) mark
the row in the Delta table and keep its other values; in an upsert MERGE only."""

from __future__ import annotations

from target_databricks import sql

from tests.support.databricks import rows, run_target, schema, write_config

PROPS = {
    "Type": {"type": "string"},
    "ReferenceNbr": {"type": "string"},
    "Description": {"type": ["null", "string"]},
    "_sdc_deleted_at": {"type": ["null", "string"], "format": "date-time"},
}
KEYS = ["Type", "ReferenceNbr"]


def record(rec: dict) -> dict:
    return {"type": "RECORD", "stream": "bills", "record": rec, "time_extracted": "2024-05-01T12:00:00Z"}


def bill(number: str, description: str) -> dict:
    return record({"Type": "Bill", "ReferenceNbr": number, "Description": description})


def tombstone(number: str, when: str = "2024-06-01T10:00:00+00:00") -> dict:
    return record({"Type": "Bill", "ReferenceNbr": number, "_sdc_deleted_at": when})


def test_a_tombstone_marks_the_row_and_keeps_its_values(tmp_path, dbx):
    config = write_config(tmp_path, dbx, load_method="upsert")
    first = run_target(config, [schema("bills", PROPS, KEYS), bill("1", "one"), bill("2", "two")])
    assert first.returncode == 0, first.stderr[-3000:]

    second = run_target(config, [schema("bills", PROPS, KEYS), tombstone("2"), tombstone("9")])
    assert second.returncode == 0, second.stderr[-3000:]

    landed = {r["ReferenceNbr"]: r for r in rows(dbx, "bills")}
    # Key 9 was never loaded: its tombstone inserts nothing.
    assert set(landed) == {"1", "2"}
    assert landed["1"]["_sdc_deleted_at"] is None
    assert landed["2"]["Description"] == "two"
    assert landed["2"]["_sdc_deleted_at"].isoformat().startswith("2024-06-01T10:00:00")


def test_a_record_after_its_tombstone_in_one_batch_wins(tmp_path, dbx):
    config = write_config(tmp_path, dbx, load_method="upsert")
    run_target(config, [schema("bills", PROPS, KEYS), bill("1", "one")])
    run = run_target(config, [schema("bills", PROPS, KEYS), tombstone("1"), bill("1", "re-created")])
    assert run.returncode == 0, run.stderr[-3000:]
    [row] = rows(dbx, "bills")
    assert row["Description"] == "re-created" and row["_sdc_deleted_at"] is None


def test_merge_without_deleted_at_column_is_unchanged():
    cols = [sql.Column("id", "BIGINT"), sql.Column("memo", "STRING")]
    text = sql.merge_template("t", cols, ["id"])
    assert "_sdc_deleted_at" not in text
    assert "WHEN NOT MATCHED THEN INSERT" in text
