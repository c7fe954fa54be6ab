"""Load tokens: a replayed batch changes nothing, a new load of older content lands (issue 12, case 2),
and streams that would share a table are refused (case 4)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tests.support.databricks import audit, rows, run_in_process, schema, write_config

SUBACCOUNT_PROPS = {
    "SubaccountCD": {"type": "string"},
    "Description": {"type": ["null", "string"]},
    "Active": {"type": ["null", "boolean"]},
}


def subaccounts(description: str, extracted: str | None) -> list[dict]:
    """One full-table sync of the subaccounts stream, as a tap sends it."""
    out: list[dict] = [schema("subaccounts", SUBACCOUNT_PROPS, ["SubaccountCD"])]
    for code in ("000-000", "000-100"):
        message = {
            "type": "RECORD",
            "stream": "subaccounts",
            "record": {"SubaccountCD": code, "Description": f"{description} {code}", "Active": True},
        }
        if extracted is not None:
            message["time_extracted"] = extracted
        out.append(message)
    out.append({"type": "STATE", "value": {"bookmarks": {"subaccounts": {}}}})
    return out


def descriptions(dbx) -> dict:
    return {k: v["Description"] for k, v in by_id_code(rows(dbx, "subaccounts")).items()}


def by_id_code(table_rows: list[dict]) -> dict:
    out = {r["SubaccountCD"]: r for r in table_rows}
    assert len(out) == len(table_rows), "duplicate rows"
    return out


@pytest.mark.parametrize(
    "times",
    [
        ("2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z", "2024-05-03T00:00:00Z"),  # an SDK tap
        (None, None, None),  # a tap that sends no time_extracted
    ],
    ids=["time_extracted", "no_time_extracted"],
)
def test_full_table_stream_that_reverts_lands_the_reverted_values(tmp_path, dbx, times):
    cfg = write_config(tmp_path, dbx)
    for description, extracted in zip(("Operations", "Renamed", "Operations"), times, strict=True):
        result = run_in_process(cfg, subaccounts(description, extracted))
        assert result.returncode == 0, result.stderr[-3000:]
        assert descriptions(dbx) == {c: f"{description} {c}" for c in ("000-000", "000-100")}
    assert [a["status"] for a in audit(dbx)] == ["committed"] * 3


def test_append_only_revert_appends_again_but_a_replay_does_not(tmp_path, dbx):
    cfg = write_config(tmp_path, dbx, load_method="append-only")
    first = subaccounts("Operations", "2024-05-01T00:00:00Z")
    for messages in (first, subaccounts("Renamed", "2024-05-02T00:00:00Z")):
        assert run_in_process(cfg, messages).returncode == 0
    # The same input again (a killed run's input piped again): a replay, nothing appended.
    replayed = run_in_process(cfg, first)
    assert replayed.returncode == 0, replayed.stderr[-3000:]
    assert len(rows(dbx, "subaccounts")) == 4
    # A new extraction that carries the first values again: a new load, appended.
    again = run_in_process(cfg, subaccounts("Operations", "2024-05-03T00:00:00Z"))
    assert again.returncode == 0, again.stderr[-3000:]
    landed = sorted((r["SubaccountCD"], r["Description"]) for r in rows(dbx, "subaccounts"))
    assert landed.count(("000-000", "Operations 000-000")) == 2 and len(landed) == 6


def test_replay_of_the_latest_batch_is_skipped_and_of_an_older_one_is_idempotent(tmp_path, dbx):
    cfg = write_config(tmp_path, dbx)
    old = subaccounts("Operations", "2024-05-01T00:00:00Z")
    new = subaccounts("Renamed", "2024-05-02T00:00:00Z")
    both = [*old[:-1], *new]  # one input, two batches (batch_size_rows 2)
    cfg = write_config(tmp_path, dbx, batch_size_rows=2)
    assert run_in_process(cfg, both).returncode == 0
    assert descriptions(dbx)["000-000"] == "Renamed 000-000"
    # The whole input again: the older batch is re-applied, then the newer one, so the table ends equal.
    again = run_in_process(cfg, both)
    assert again.returncode == 0, again.stderr[-3000:]
    assert descriptions(dbx) == {"000-000": "Renamed 000-000", "000-100": "Renamed 000-100"}
    # The newest batch alone: it is the table's latest load, so it is skipped.
    latest = run_in_process(cfg, new)
    assert "already committed; skipped" in latest.stderr
    assert descriptions(dbx) == {"000-000": "Renamed 000-000", "000-100": "Renamed 000-100"}


# --- one table per stream ------------------------------------------------------------------------

BILL = {"id": {"type": "integer"}, "memo": {"type": ["null", "string"]}}


def bill(stream: str, memo: str) -> dict:
    return {"type": "RECORD", "stream": stream, "record": {"id": 1, "memo": memo}}


def test_streams_that_normalise_to_one_table_fail_before_any_row_is_written(tmp_path, dbx):
    cfg = write_config(tmp_path, dbx)
    messages = [
        schema("AP Bills", BILL, ["id"]),
        bill("AP Bills", "from AP Bills"),
        schema("ap-bills", BILL, ["id"]),
        bill("ap-bills", "from ap-bills"),
        {"type": "STATE", "value": {"bookmarks": {"ap-bills": {}}}},
    ]
    result = run_in_process(cfg, messages)
    assert result.returncode != 0 and result.states == []
    assert "Streams 'AP Bills' and 'ap-bills' both map to table 'ap_bills'" in result.stderr
    assert audit(dbx) == []
    table = dbx.table_path("workspace", "loads", "ap_bills")
    assert not Path(table).exists() or rows(dbx, "ap_bills") == []


def test_a_stream_into_a_table_another_stream_loaded_is_refused(tmp_path, dbx):
    cfg = write_config(tmp_path, dbx)
    first = run_in_process(cfg, [schema("AP Bills", BILL, ["id"]), bill("AP Bills", "first")])
    assert first.returncode == 0, first.stderr[-3000:]
    second = run_in_process(cfg, [schema("ap_bills", BILL, ["id"]), bill("ap_bills", "second")])
    assert second.returncode != 0
    assert (
        "Streams 'AP Bills' and 'ap_bills' both map to table `workspace`.`loads`.`ap_bills`" in second.stderr
    )
    assert [r["memo"] for r in rows(dbx, "ap_bills")] == ["first"]


def test_a_stream_named_like_the_audit_table_is_refused(tmp_path, dbx):
    cfg = write_config(tmp_path, dbx)
    result = run_in_process(cfg, [schema("_SDC_load_audit", BILL, ["id"]), bill("_SDC_load_audit", "x")])
    assert result.returncode != 0
    assert "Stream '_SDC_load_audit' maps to table '_sdc_load_audit', a name target-databricks keeps" in (
        result.stderr
    )


def test_columns_that_differ_only_in_case_are_refused_by_name(tmp_path, dbx):
    cfg = write_config(tmp_path, dbx)
    props = {"id": {"type": "integer"}, "Amount": {"type": "number"}, "amount": {"type": "number"}}
    result = run_in_process(
        cfg,
        [
            schema("bills", props, ["id"]),
            {"type": "RECORD", "stream": "bills", "record": {"id": 1, "Amount": Decimal(1), "amount": 2}},
        ],
    )
    assert result.returncode != 0
    assert "properties 'Amount' and 'amount' map to the same column" in result.stderr
