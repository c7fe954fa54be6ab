"""Loads and faults against the Databricks emulator, feeding Singer messages to the
``target-databricks`` console script on stdin as a user's pipeline would.

Faults that must hit one particular statement are timed with ``statement_delay_s``: every statement
waits that long on the emulator before it runs, and a watcher thread in the test reacts to the
emulator's counters (e.g. "the audit check finished") well inside that window.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support.databricks import (
    BILL_PROPS,
    CATALOG,
    SCHEMA_NAME,
    audit,
    bills,
    by_id,
    consume_pending_fault,
    record,
    rows,
    run_console_script,
    run_target,
    schema,
    stat,
    state,
    wait_for,
    write_config,
)

# --- loads ---------------------------------------------------------------------------------------


def test_upsert_twice_no_duplicates_latest_values(tmp_path, dbx):
    cfg = write_config(tmp_path, dbx)
    first = run_target(cfg, [schema("bills", BILL_PROPS, ["id"]), *bills([1, 2, 3]), state(1)])
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.states[-1] == state(1)["value"]
    second = run_target(
        cfg, [schema("bills", BILL_PROPS, ["id"]), *bills([2, 3]), *bills([3, 4], "v2"), state(2)]
    )
    assert second.returncode == 0, second.stderr[-3000:]
    landed = by_id(rows(dbx, "bills"))
    assert {k: v["memo"] for k, v in landed.items()} == {1: "v1-1", 2: "v1-2", 3: "v2-3", 4: "v2-4"}
    assert landed[4]["amount"] == Decimal("4.10")
    assert all(r["_sdc_load_token"] and r["_sdc_sequence"] and r["_sdc_batched_at"] for r in landed.values())
    assert landed[1]["_sdc_extracted_at"].isoformat().startswith("2024-05-01T12:00:00")
    assert [a["status"] for a in audit(dbx)] == ["committed", "committed"]


def test_schema_drift_adds_a_column_without_losing_rows(tmp_path, dbx):
    cfg = write_config(tmp_path, dbx)
    assert run_target(cfg, [schema("bills", BILL_PROPS, ["id"]), *bills([1, 2])]).returncode == 0
    wider = {**BILL_PROPS, "currency": {"type": ["null", "string"]}}
    result = run_target(
        cfg,
        [
            schema("bills", BILL_PROPS, ["id"]),
            *bills([3]),
            schema("bills", wider, ["id"]),
            record("bills", {"id": 4, "amount": 4, "currency": "EUR", "updated": "2024-05-04T00:00:00Z"}),
        ],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    landed = by_id(rows(dbx, "bills"))
    assert sorted(landed) == [1, 2, 3, 4]
    assert landed[4]["currency"] == "EUR" and landed[1]["currency"] is None and landed[1]["memo"] == "v1-1"


HOSTILE_PROPS = {
    "id": {"type": "string"},
    "select": {"type": ["null", "string"]},
    "from": {"type": ["null", "string"]},
    "it's `quoted`; col": {"type": ["null", "string"]},
    "naïve ünïcode €": {"type": ["null", "string"]},
    "big": {"type": ["null", "number"]},
    "tiny": {"type": ["null", "number"]},
    "obj": {"type": ["null", "object"]},
}
HOSTILE_VALUES = [
    {
        "id": "a'b",
        "select": "'); DROP TABLE x; --",
        "from": "`back`tick`",
        "it's `quoted`; col": "semi;colon",
        "naïve ünïcode €": '日本語 ✓ \u0000-free \\ backslash "dq"',
        "big": Decimal("12345678901234567890123456789.123456789"),
        "tiny": Decimal("-0.000000001"),
        "obj": {"k": "v'`;", "n": Decimal("1.10")},
    },
    {
        "id": "`;`",
        "select": None,
        "from": None,
        "it's `quoted`; col": None,
        "naïve ünïcode €": None,
        "big": None,
        "tiny": None,
        "obj": None,
    },
    {
        "id": "SELECT * FROM t",
        "select": "",
        "from": "   ",
        "it's `quoted`; col": "\n\t",
        "naïve ünïcode €": "€",
        "big": Decimal("-99999999999999999999999999999.999999999"),
        "tiny": Decimal("0"),
        "obj": {},
    },
]


def test_hostile_names_and_values_land_intact(tmp_path, dbx):
    stream = "Weird`s; Stream-select"
    cfg = write_config(tmp_path, dbx)
    result = run_target(
        cfg, [schema(stream, HOSTILE_PROPS, ["id"]), *[record(stream, v) for v in HOSTILE_VALUES]]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    landed = {r["id"]: r for r in rows(dbx, "weird_s_stream_select")}
    assert len(landed) == 3
    for value in HOSTILE_VALUES:
        row = landed[value["id"]]
        for name, expected in value.items():
            got = row[name]
            if name in ("big", "tiny"):
                assert got == (None if expected is None else Decimal(expected)), name
            elif name == "obj":
                assert (None if got is None else json.loads(got, parse_float=Decimal)) == expected
            else:
                assert got == expected, name


# --- faults --------------------------------------------------------------------------------------


def _after_setup_then(dbx, action: Callable[[], None], setup_statements: int = 5):
    """Watcher: once the setup statements (schema, audit table and its describe, table and its
    describe) are done, act."""

    def watch(proc):
        wait_for(lambda: stat(dbx, "statements_succeeded") >= setup_statements)
        action()

    return watch


def test_failed_data_statement_fails_the_run_without_state(tmp_path, dbx):
    cfg = write_config(tmp_path, dbx)
    dbx.knobs.statement_delay_s = 0.3

    def watch(proc):
        wait_for(lambda: stat(dbx, "statements_succeeded") >= 6)  # ... and the audit check
        dbx.fail_next_statements(1, "BAD_REQUEST")

    result = run_target(cfg, [schema("bills", BILL_PROPS, ["id"]), *bills([1, 2]), state(1)], watcher=watch)
    assert result.returncode != 0
    assert result.states == []
    assert "merge statement" in result.stderr and "ended FAILED: BAD_REQUEST" in result.stderr
    assert "Injected failure: BAD_REQUEST." in result.stderr
    assert rows(dbx, "bills") == [] and audit(dbx) == []


def test_transient_failures_and_429_storms_are_retried(tmp_path, dbx):
    # The storm below answers 8 requests in a row with 429/503: within 8 retries (max_retries).
    cfg = write_config(tmp_path, dbx, max_retries=8)
    dbx.fail_next_statements(2, "TEMPORARILY_UNAVAILABLE")

    def storm():
        dbx.http_fail_next(6, 429)
        dbx.fail_next_statements(1, "TEMPORARILY_UNAVAILABLE")
        dbx.http_fail_next(2, 503)

    result = run_target(
        cfg,
        [schema("bills", BILL_PROPS, ["id"]), *bills([1, 2, 3]), state(1)],
        watcher=_after_setup_then(dbx, storm, setup_statements=2),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.states[-1] == state(1)["value"]
    assert sorted(by_id(rows(dbx, "bills"))) == [1, 2, 3]
    assert stat(dbx, "rate_limited") >= 6 and stat(dbx, "statements_failed") == 3


def test_revoked_token_is_refreshed(tmp_path, dbx):
    cfg = write_config(tmp_path, dbx)
    result = run_target(
        cfg,
        [schema("bills", BILL_PROPS, ["id"]), *bills([1, 2]), state(1)],
        watcher=_after_setup_then(dbx, dbx.revoke_tokens),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(by_id(rows(dbx, "bills"))) == [1, 2]
    assert stat(dbx, "tokens_issued") >= 2


def test_short_lived_tokens_refresh_before_expiry(tmp_path, dbx):
    dbx.knobs.token_lifetime_s = 2
    dbx.knobs.statement_delay_s = 0.4
    cfg = write_config(tmp_path, dbx)
    result = run_target(cfg, [schema("bills", BILL_PROPS, ["id"]), *bills([1, 2]), state(1)])
    assert result.returncode == 0, result.stderr[-3000:]
    assert stat(dbx, "tokens_issued") >= 2 and stat(dbx, "unauthorized") == 0


@pytest.mark.parametrize("method", ["upsert", "append-only"])
def test_dropped_connection_after_accept_does_not_double_insert(tmp_path, dbx, method):
    cfg = write_config(tmp_path, dbx, load_method=method)
    messages = [schema("bills", BILL_PROPS, ["id"]), *bills([1, 2, 3]), state(1)]
    # Every statement of the batch (audit check, data statement, audit row) runs, then its answer is lost.
    result = run_target(cfg, messages, watcher=_after_setup_then(dbx, lambda: dbx.drop_after_accept_next(3)))
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(r["id"] for r in rows(dbx, "bills")) == [1, 2, 3]
    assert len(audit(dbx)) == 1


@pytest.mark.parametrize("method", ["upsert", "append-only"])
def test_killed_between_data_statement_and_state_rerun_is_exact(tmp_path, dbx, method):
    cfg = write_config(tmp_path, dbx, load_method=method)
    messages = [schema("bills", BILL_PROPS, ["id"]), *bills([1, 2, 3]), *bills([2], "v2"), state(1)]
    data_kind = "statements_merge" if method == "upsert" else "statements_insert"
    dbx.knobs.statement_delay_s = 0.5

    def watch(proc):
        wait_for(lambda: stat(dbx, data_kind) >= 1)
        dbx.fail_next_statements(1, "CANCELLED")  # the audit row, if already sent, never commits
        proc.send_signal(signal.SIGKILL)

    killed = run_console_script(cfg, messages, watcher=watch)
    assert killed.returncode == -signal.SIGKILL and killed.states == []
    time.sleep(0.8)  # an audit insert sent before the kill has now taken the injected failure ...
    consume_pending_fault(dbx)  # ... else this does, so the rerun starts clean
    assert audit(dbx) == []
    dbx.knobs.statement_delay_s = 0
    rerun = run_target(cfg, messages)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert rerun.states[-1] == state(1)["value"]
    landed = rows(dbx, "bills")
    expected = {1: "v1-1", 2: "v2-2", 3: "v1-3"} if method == "upsert" else None
    if expected:
        assert {k: v["memo"] for k, v in by_id(landed).items()} == expected
    else:
        assert sorted((r["id"], r["memo"]) for r in landed) == [
            (1, "v1-1"),
            (2, "v1-2"),
            (2, "v2-2"),
            (3, "v1-3"),
        ]
    assert [a["status"] for a in audit(dbx)] == ["committed"]


# --- bulk path -----------------------------------------------------------------------------------


def bulk_messages(n: int, memo: str = "v1") -> list[dict]:
    props = {
        **HOSTILE_PROPS,
        "id": {"type": "integer"},
        "at": {"type": "string", "format": "date-time"},
        "lines": {"type": ["null", "array"]},
    }
    out = [{**schema("bills", props, ["id"]), "bookmark_properties": ["at"]}]
    for i in range(n):
        out.append(
            record(
                "bills",
                {
                    "id": i % (n - 5),  # the last 5 ids repeat: the later record must win
                    "select": f"{memo}-{i}",
                    "from": "it's `x`; y",
                    "naïve ünïcode €": "€ ✓",
                    "big": Decimal(f"{i}123456789012345678.123456789"[-38:]) if i % 7 else None,
                    "tiny": Decimal("0.000000001") * i,
                    "obj": {"n": Decimal("1.10"), "q": "'"},
                    "at": f"2024-06-{1 + i % 28:02d}T10:11:12.123456+02:00",
                    "lines": [{"a": Decimal("2.50")}],
                },
            )
        )
    return [*out, state(1)]


@pytest.mark.parametrize("method", ["upsert", "append-only"])
def test_bulk_path_stages_files_and_loads_in_one_statement(tmp_path, dbx, method):
    n = 300
    cfg = write_config(tmp_path, dbx, load_method=method, bulk_threshold_rows=100, bulk_file_max_bytes=4_000)
    messages = bulk_messages(n)
    result = run_target(cfg, messages)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.states[-1] == state(1)["value"]
    landed = rows(dbx, "bills")
    source = [m["record"] for m in messages if m["type"] == "RECORD"]
    if method == "upsert":
        latest = {r["id"]: r for r in source}
        got = by_id(landed)
        assert got.keys() == latest.keys()
        assert dbx.stats.statements_merge == 1 and dbx.stats.statements_insert == 1  # data + audit row
    else:
        latest = None
        assert len(landed) == n
        assert dbx.stats.statements_insert == 2 and dbx.stats.statements_merge == 0
    assert dbx.stats.uploads >= 2  # several files under bulk_file_max_bytes
    for row in landed:
        expected = latest[row["id"]] if latest else next(r for r in source if r["select"] == row["select"])
        assert row["select"] == expected["select"] and row["from"] == expected["from"]
        assert row["naïve ünïcode €"] == "€ ✓"
        assert row["big"] == expected["big"] and row["tiny"] == expected["tiny"]
        assert json.loads(row["obj"], parse_float=Decimal) == {"n": Decimal("1.10"), "q": "'"}
        assert row["at"].isoformat() == (datetime.fromisoformat(expected["at"]).astimezone(UTC).isoformat())
    # staged files and their folder are gone after the commit; the audit row has the replication bounds
    volume = Path(dbx.volume_path(f"/Volumes/{CATALOG}/{SCHEMA_NAME}/_sdc_staging"))
    assert list(volume.rglob("*")) == []
    [entry] = audit(dbx)
    assert entry["rows"] == (n - 5 if method == "upsert" else n)
    assert entry["min_replication_value"].startswith("2024-06-01T08:11:12.123456")
    assert entry["max_replication_value"].startswith("2024-06-28T08:11:12.123456")
    # the same input again changes nothing
    again = run_target(cfg, messages)
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(rows(dbx, "bills")) == len(landed)


def test_bulk_retry_after_dropped_answer_does_not_double_insert(tmp_path, dbx):
    cfg = write_config(tmp_path, dbx, load_method="append-only", bulk_threshold_rows=50)
    messages = bulk_messages(120)
    # create volume, audit check, bulk insert, audit row: each runs, then its answer is lost
    result = run_target(cfg, messages, watcher=_after_setup_then(dbx, lambda: dbx.drop_after_accept_next(4)))
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(rows(dbx, "bills")) == 120 and len(audit(dbx)) == 1
