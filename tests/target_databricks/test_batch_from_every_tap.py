"""Each tap with ``batch_config`` piped into target-databricks lands rows equal to its source (issue 11,
item 4). tap-acumatica's pair is in test_batch_messages.py; these are tap-sage-intacct and tap-looker."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from decimal import Decimal

import pytest
from intacct_emulator import SANDBOX as INTACCT_SANDBOX
from intacct_emulator import EmulatorConfig as IntacctConfig
from intacct_emulator import IntacctEmulator
from looker_emulator import EmulatorConfig as LookerConfig
from looker_emulator import LookerEmulator
from mlc_run_audit import AUDIT_COLUMNS

from tests.support.compare import differences
from tests.support.databricks import TARGET, rows, write_config
from tests.support.intacct import TIMEZONE, after_this_second, as_emitted, delta_rows, files, mismatches
from tests.support.looker import ALLOCATION_QUERY, by_key, expected, tap_output

#: ap_bills carries decimal amounts (and lines); vendors and gl_batches are read with deletions off.
INTACCT_STREAMS = {"vendors": "VENDOR", "ap_bills": "APBILL", "gl_batches": "GLBATCH"}


def batch_config(tmp_path, fmt: str, prefix: str) -> dict:
    return {
        "encoding": {"format": fmt, "compression": "gzip"},
        "storage": {"root": (tmp_path / "batches").as_uri(), "prefix": prefix},
    }


def load(tmp_path, dbx, text: bytes, **target) -> subprocess.CompletedProcess:
    """The target's console script, fed a tap's output; it must exit 0 having read batch files."""
    done = subprocess.run(
        [TARGET, "--config", write_config(tmp_path, dbx, **target)],
        input=text,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert b"from batch file" in done.stderr
    return done


def kinds(text: bytes | str) -> Counter:
    return Counter(json.loads(line)["type"] for line in text.splitlines() if line.strip())


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_tap_sage_intacct_batches_land_equal_to_the_emulator(tmp_path, dbx, fmt):
    sizes = {"APBILL": 12, "VENDOR": 10, "GLBATCH": 8, "GLDETAIL": 20, "APPYMT": 5, "CUSTOMER": 5}
    with IntacctEmulator(IntacctConfig(port=0, seed=42, sizes=sizes, timezone=TIMEZONE)) as intacct:
        config = {
            **INTACCT_SANDBOX,
            "endpoint_url": intacct.endpoint_url,
            "timezone": TIMEZONE,
            "page_size": 50,
            "start_date": "2020-01-01T00:00:00Z",
            "include_deleted": False,
            "batch_config": batch_config(tmp_path, fmt, "intacct-"),
        }
        tap = subprocess.run(
            files(tmp_path, config, list(INTACCT_STREAMS)), capture_output=True, timeout=120, check=False
        )
        assert tap.returncode == 0, tap.stderr[-3000:]
        sent = kinds(tap.stdout)
        assert sent["BATCH"] >= len(INTACCT_STREAMS) and sent["RECORD"] == 0, sent
        schemas = {
            m["stream"]: m["schema"]
            for m in map(json.loads, tap.stdout.splitlines())
            if m["type"] == "SCHEMA"
        }
        load(tmp_path, dbx, tap.stdout, schema="intacct")
        for stream, obj in INTACCT_STREAMS.items():
            landed = [as_emitted(r, schemas[stream]) for r in delta_rows(dbx, stream)]
            source = intacct.store.records(obj)
            assert len(source) >= 5
            wrong = mismatches(schemas[stream], landed, source)
            assert not wrong, (stream, wrong[:5])
        # Bill lines (a JSON column) keep their exact amounts: they add up to the bill's total.
        for bill in (as_emitted(r, schemas["ap_bills"]) for r in delta_rows(dbx, "ap_bills")):
            assert bill["APBILLITEMS"], bill["RECORDNO"]
            total = sum(Decimal(str(line["AMOUNT"])) for line in bill["APBILLITEMS"])
            assert total == bill["TOTALENTERED"], bill["RECORDNO"]


def test_tap_looker_batches_land_equal_to_the_query_results(tmp_path, dbx):
    with LookerEmulator(LookerConfig(port=0, sizes={"overhead_allocation": 40})) as looker:
        text = tap_output(looker, batch_config=batch_config(tmp_path, "jsonl", "looker-"))
        source = expected(looker, ALLOCATION_QUERY)
    sent = kinds(text)
    assert sent["BATCH"] >= 1 and sent["RECORD"] == 0, sent
    load(tmp_path, dbx, text.encode())
    landed = [
        # Dates and timestamps as the ISO text Looker answers; compare.same_value compares instants.
        {
            k: v.isoformat() if hasattr(v, "isoformat") else v
            for k, v in row.items()
            if k not in AUDIT_COLUMNS and not k.startswith("_sdc")
        }
        for row in rows(dbx, "overhead_allocation")
    ]
    assert 20 <= len(source) == len(landed)
    for got, want in zip(by_key(landed), by_key(source), strict=True):
        assert not differences(got, want), differences(got, want)


def test_tap_sage_intacct_batches_with_deletions_land_and_a_rerun_upserts(tmp_path, dbx):
    sizes = {"VENDOR": 10, "APBILL": 5, "GLDETAIL": 5, "GLBATCH": 5, "APPYMT": 5, "CUSTOMER": 5}
    # Real clock seconds for the changes below, so all three belong to the run after this second.
    emulator = IntacctConfig(
        port=0, seed=42, sizes=sizes, timezone=TIMEZONE, strictly_increasing_changes=False
    )
    with IntacctEmulator(emulator) as intacct:
        config = {
            **INTACCT_SANDBOX,
            "endpoint_url": intacct.endpoint_url,
            "timezone": TIMEZONE,
            "start_date": "2020-01-01T00:00:00Z",
            "include_deleted": True,
            "batch_config": batch_config(tmp_path, "jsonl", "intacct-"),
        }

        def sync(state: dict | None = None) -> tuple[dict, dict]:
            tap = subprocess.run(
                files(tmp_path, config, ["vendors"], state), capture_output=True, timeout=120, check=False
            )
            assert tap.returncode == 0, tap.stderr[-3000:]
            assert kinds(tap.stdout)["RECORD"] == 0
            [schema] = [
                m["schema"] for m in map(json.loads, tap.stdout.splitlines()) if m["type"] == "SCHEMA"
            ]
            done = load(tmp_path, dbx, tap.stdout, schema="intacct")
            return json.loads(done.stdout.splitlines()[-1]), schema

        state, schema = sync()
        first = [as_emitted(r, schema) for r in delta_rows(dbx, "vendors")]
        intacct.store.modify("VENDOR", 3, {"NAME": "Renamed vendor"})
        intacct.store.insert("VENDOR", {"VENDORID": "V9999", "NAME": "New vendor", "TOTALDUE": "10.05"})
        intacct.store.delete("VENDOR", 5)
        after_this_second()
        sync(state)

        landed = [as_emitted(r, schema) for r in delta_rows(dbx, "vendors")]
        deleted = [r for r in landed if r["_sdc_deleted_at"] is not None]
        # The deleted vendor is soft-deleted: its row keeps the values it had when it was last read,
        # with the deletion time set.
        [before] = [r for r in first if r["RECORDNO"] == 5]
        assert [(r["RECORDNO"], r["NAME"]) for r in deleted] == [(5, before["NAME"])]
        assert before["NAME"]
        live = [r for r in landed if r["_sdc_deleted_at"] is None]
        wrong = mismatches(schema, live, intacct.store.records("VENDOR"))
        assert not wrong, wrong[:5]
