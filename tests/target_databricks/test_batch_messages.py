"""BATCH messages (the SDK's batch manifests) load like RECORD messages (issue 11, item 4)."""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal

import pytest
from singer_sdk.batch import Batcher
from singer_sdk.helpers._batch import BatchConfig

from tests.support.databricks import audit, by_id, rows, run_in_process, schema, write_config
from tests.support.taprun import BIN, SANDBOX, TAP, _catalog

VERSION = "24.200.001"
TARGET = str(BIN / "target-databricks")
PROPS = {
    "id": {"type": "integer"},
    "amount": {"type": ["null", "number"], "multipleOf": 0.01},
    "memo": {"type": ["null", "string"]},
    "updated": {"type": ["null", "string"], "format": "date-time"},
}


def batch_files(tmp_path, fmt: str, records: list[dict]) -> list[str]:
    """Files written by the SDK's own batcher, as a tap with ``batch_config`` writes them."""
    config = BatchConfig.from_dict(
        {
            "encoding": {"format": fmt, "compression": "gzip"},
            "storage": {"root": (tmp_path / "batches").as_uri(), "prefix": "t-"},
            "batch_size": 2,
        }
    )
    return [
        url for manifest in Batcher("tap-x", "bills", config).get_batches(iter(records)) for url in manifest
    ]


def bills(memo: str) -> list[dict]:
    return [
        {
            "id": i,
            "amount": Decimal(f"{i}.25"),
            "memo": f"{memo}-{i}",
            "updated": f"2024-05-0{i}T10:00:00+00:00",
        }
        for i in (1, 2, 3)
    ]


def batch_message(fmt: str, manifest: list[str], compression: str | None = "gzip") -> dict:
    return {
        "type": "BATCH",
        "stream": "bills",
        "encoding": {"format": fmt, "compression": compression},
        "manifest": manifest,
    }


STATE = {"type": "STATE", "value": {"bookmarks": {"bills": {"replication_key_value": "2024-05-03"}}}}


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_batch_message_loads_with_audit_and_state_after_commit(tmp_path, dbx, fmt):
    cfg = write_config(tmp_path, dbx)
    source = bills("v1")
    messages = [schema("bills", PROPS, ["id"]), batch_message(fmt, batch_files(tmp_path, fmt, source)), STATE]
    result = run_in_process(cfg, messages)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.states == [STATE["value"]]
    landed = by_id(rows(dbx, "bills"))
    assert {i: (r["amount"], r["memo"], r["updated"].isoformat()) for i, r in landed.items()} == {
        r["id"]: (r["amount"], r["memo"], r["updated"]) for r in source
    }
    assert [a["rows"] for a in audit(dbx)] == [3] and audit(dbx)[0]["status"] == "committed"
    # The same BATCH message again is a replay: skipped.
    again = run_in_process(cfg, messages)
    assert again.returncode == 0 and "already committed; skipped" in again.stderr
    # A later BATCH with the first values after other values: it lands (a full-table stream reverting).
    changed = [
        schema("bills", PROPS, ["id"]),
        batch_message(fmt, batch_files(tmp_path, fmt, bills("v2"))),
        STATE,
    ]
    assert run_in_process(cfg, changed).returncode == 0
    reverted = [schema("bills", PROPS, ["id"]), batch_message(fmt, batch_files(tmp_path, fmt, source)), STATE]
    assert run_in_process(cfg, reverted).returncode == 0
    assert {i: r["memo"] for i, r in by_id(rows(dbx, "bills")).items()} == {1: "v1-1", 2: "v1-2", 3: "v1-3"}


def test_records_and_batches_of_a_stream_keep_their_order_and_duplicates_collapse(tmp_path, dbx):
    cfg = write_config(tmp_path, dbx, load_method="upsert")
    record = {"type": "RECORD", "stream": "bills", "record": {"id": 1, "memo": "from a RECORD before"}}
    messages = [
        schema("bills", PROPS, ["id"]),
        record,
        batch_message("jsonl", batch_files(tmp_path, "jsonl", [*bills("v1"), {"id": 1, "memo": "last"}])),
        STATE,
    ]
    result = run_in_process(cfg, messages)
    assert result.returncode == 0, result.stderr[-3000:]
    assert {i: r["memo"] for i, r in by_id(rows(dbx, "bills")).items()} == {1: "last", 2: "v1-2", 3: "v1-3"}


def test_a_failing_batch_message_keeps_its_records_and_moves_no_state(tmp_path, dbx):
    failed = tmp_path / "failed"
    cfg = write_config(tmp_path, dbx, failed_batch_dir=str(failed))
    source = [*bills("v1"), {"id": 4, "amount": Decimal("1" * 37)}]  # over DECIMAL(38,2): fails at drain
    messages = [
        schema("bills", PROPS, ["id"]),
        batch_message("jsonl", batch_files(tmp_path, "jsonl", source)),
        STATE,
    ]
    result = run_in_process(cfg, messages)
    assert result.returncode != 0 and result.states == []
    [kept] = failed.iterdir()
    kept_messages = [json.loads(line) for line in kept.read_text().splitlines()]
    assert [m["type"] for m in kept_messages] == ["SCHEMA", "RECORD", "RECORD", "RECORD", "RECORD"]
    assert kept_messages[-1]["record"]["id"] == 4
    too_long = "1" * 37
    assert f"(DECIMAL(38,2)): value {too_long} has more than 36 integer digits" in result.stderr
    assert rows(dbx, "bills") == [] and audit(dbx) == []


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (
            batch_message("avro", ["file:///nowhere/x.avro"]),
            "BATCH message of stream 'bills' uses format 'avro' with compression 'gzip'",
        ),
        (
            batch_message("jsonl", ["file:///nowhere/x.json.gz"]),
            "cannot read batch file file:///nowhere/x.json.gz",
        ),
        (
            {**batch_message("jsonl", []), "stream": "vendors"},
            "BATCH message of stream 'vendors' arrived before",
        ),
    ],
    ids=["encoding", "missing-file", "no-schema"],
)
def test_a_batch_message_that_cannot_be_honoured_fails_before_state(tmp_path, dbx, message, error):
    cfg = write_config(tmp_path, dbx)
    result = run_in_process(cfg, [schema("bills", PROPS, ["id"]), message, STATE])
    assert result.returncode != 0 and result.states == []
    assert error in result.stderr


@pytest.mark.parametrize("method", ["upsert", "append-only", "overwrite"])
def test_activate_version_is_refused_unless_the_table_is_overwritten(tmp_path, dbx, method):
    cfg = write_config(tmp_path, dbx, load_method=method)
    record = {"type": "RECORD", "stream": "bills", "record": {"id": 1, "memo": "m"}, "version": 7}
    activate = {"type": "ACTIVATE_VERSION", "stream": "bills", "version": 7}
    result = run_in_process(cfg, [schema("bills", PROPS, ["id"]), record, activate, STATE])
    if method == "overwrite":
        assert result.returncode == 0, result.stderr[-3000:]
        assert result.states == [STATE["value"]] and [r["id"] for r in rows(dbx, "bills")] == [1]
    else:
        assert result.returncode != 0 and result.states == []
        assert (
            "Stream 'bills' sent ACTIVATE_VERSION 7: target-databricks does not delete rows" in result.stderr
        )


# --- tap-acumatica with batch_config | target-databricks -------------------------------------------


def exact(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_tap_acumatica_batches_land_equal_to_the_source(tmp_path, emulator, dbx, fmt):
    tap_config = {
        **SANDBOX,
        "base_url": emulator.base_url,
        "batch_config": {
            "encoding": {"format": fmt, "compression": "gzip"},
            "storage": {"root": (tmp_path / "batches").as_uri(), "prefix": "acumatica-"},
        },
    }
    (tmp_path / "tap.json").write_text(json.dumps(tap_config))
    discovery = json.dumps({k: v for k, v in tap_config.items() if k != "base_url"}, sort_keys=True)
    (tmp_path / "catalog.json").write_text(
        json.dumps(_catalog(discovery, ["bills", "vendors", "subaccounts"]))
    )
    cfg = write_config(tmp_path, dbx)
    tap = subprocess.Popen(
        [TAP, "--config", str(tmp_path / "tap.json"), "--catalog", str(tmp_path / "catalog.json")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    target = subprocess.run(
        [TARGET, "--config", cfg], stdin=tap.stdout, capture_output=True, text=True, timeout=300, check=False
    )
    assert tap.wait(timeout=60) == 0
    assert target.returncode == 0, target.stderr[-4000:]
    assert "Read " in target.stderr and "from batch file" in target.stderr
    assert [json.loads(line) for line in target.stdout.splitlines()][-1]["bookmarks"]["bills"]

    source = {r["ReferenceNbr"]: r for r in emulator.store.records("Bill", VERSION)}
    landed = {r["ReferenceNbr"]: r for r in rows(dbx, "bills")}
    assert landed.keys() == source.keys() and len(rows(dbx, "bills")) == len(source)
    for key, record in source.items():
        row = landed[key]
        assert exact(row["Amount"]) == record["Amount"], key
        assert row["Description"] == record["Description"]
        lines = json.loads(row["Details"])
        assert [exact(line["Amount"]) for line in lines] == [d["Amount"] for d in record["Details"]]
    assert {r["VendorID"] for r in rows(dbx, "vendors")} == {
        r["VendorID"] for r in emulator.store.records("Vendor", VERSION)
    }
    subaccounts = {r["SubaccountCD"]: r for r in emulator.store.records("Subaccount", VERSION)}
    assert {r["SubaccountCD"]: r["Description"] for r in rows(dbx, "subaccounts")} == {
        k: v["Description"] for k, v in subaccounts.items()
    }
    assert sorted(a["stream"] for a in audit(dbx)) == ["bills", "subaccounts", "vendors"]
