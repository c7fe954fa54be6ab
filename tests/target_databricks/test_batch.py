"""StagedBatch: records converted and spooled to a local file as they arrive, read back at drain time."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from target_databricks import audit, sql, values
from target_databricks.batch import StagedBatch
from target_databricks.sql import Column


def test_staged_batch_dedupes_on_keys_and_matches_the_whole_batch_token():
    cols = sql.columns_for_schema(
        {"properties": {"id": {"type": "integer"}, "v": {"type": "number"}}}, sql.NUMBER_TYPES["decimal"]
    )
    records = [
        {"id": 1, "v": Decimal("1.5"), "_sdc_sequence": 1},
        {"id": 2, "v": 2, "_sdc_sequence": 2},
        {"id": 1, "v": Decimal("9"), "_sdc_sequence": 3},
    ]
    batch = StagedBatch("bills", cols, ["id"], "v")
    for r in records:
        batch.add(r)
    assert batch.token == audit.load_token("bills", records) and batch.rows == 2 and batch.received == 3
    constants = batch.constants(datetime(2024, 1, 1, tzinfo=UTC), batch.token)
    values = batch.row_values(constants)
    assert [(r[0], r[1]) for r in values] == [("2", "2"), ("1", "9")]
    token_at = [c.name for c in cols].index("_sdc_load_token")
    assert all(r[token_at] == batch.token for r in values)
    assert batch.bounds.texts() == ("1.5", "9")
    batch.close()


def test_staged_batch_keeps_a_conversion_error_for_the_drain():
    cols = [Column("id", "BIGINT")]
    batch = StagedBatch("bills", cols, None, None)
    batch.add({"id": 1})
    batch.add({"id": Decimal("1.5")})
    batch.add({"id": 3})
    assert isinstance(batch.error, values.ValueConversionError) and batch.received == 3
    batch.close()
