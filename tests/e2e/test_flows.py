"""End to end through Meltano for the other two flows, as users run them in the sandbox environment:
`meltano run tap-sage-intacct target-databricks` and `meltano run tap-looker target-acumatica`.

Each first run has its loader killed mid-load; the documented replay (`meltano run <job>`) then lands
everything once, and the audit trail names the runs that loaded it."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from acumatica_emulator import AcumaticaEmulator
from acumatica_emulator import EmulatorConfig as AcumaticaConfig
from databricks_emulator import DatabricksEmulator
from databricks_emulator import EmulatorConfig as DatabricksConfig
from intacct_emulator import EmulatorConfig as IntacctConfig
from intacct_emulator import IntacctEmulator
from looker_emulator import EmulatorConfig as LookerConfig
from looker_emulator import LookerEmulator
from mlc_run_audit import RUNS_STREAM
from target_databricks.sql import table_name

from tests.support.acumatica_target import (
    PREFIX,
    audit_lines,
    expected_journals,
    journal_lines,
    posted_journals,
    query_rows,
)
from tests.support.compare import instant
from tests.support.intacct import as_emitted, delta_rows, mismatches
from tests.support.meltano import VERSION, meltano_run
from tests.support.replay import bookmarks, kept_state, kill_loader_mid_load, meltano_runs, replay

pytestmark = pytest.mark.e2e

#: stream -> Intacct object, checked row for row in the `intacct` schema (the extractor's load_schema)
INTACCT_STREAMS = {
    "vendors": "VENDOR",
    "ap_bills": "APBILL",
    "gl_details": "GLDETAIL",
    "departments": "DEPARTMENT",
}
INTACCT_STATE_ID = "sandbox:tap-sage-intacct-to-target-databricks"
LOOKER_STATE_ID = "sandbox:tap-looker-to-target-acumatica"


def intacct_tap_streams() -> dict:
    from tap_sage_intacct.tap import TapSageIntacct

    return TapSageIntacct(
        config={
            "sender_id": "x",
            "sender_password": "x",
            "company_id": "x",
            "user_id": "x",
            "user_password": "x",
            # Built here without a gateway: the tap's own field lists (a subset of what it reads).
            "lookup_fields": False,
        },
        parse_env_config=False,
    ).streams


def landed_rows(databricks, table: str) -> list[dict]:
    """Rows of a Delta table of the `intacct` schema; none while the loader has not created it."""
    path = Path(databricks.table_path("workspace", "intacct", table))
    return delta_rows(databricks, table) if (path / "_delta_log").is_dir() else []


def keys(rows: list[dict], stream) -> set[tuple]:
    return {tuple(r[k] for k in stream.primary_keys) for r in rows}


def test_meltano_run_intacct_into_databricks_killed_mid_load_replays_to_rows_equal_to_the_source(tmp_path):
    streams = intacct_tap_streams()
    schemas = {name: stream.schema for name, stream in streams.items()}
    # Every gateway call waits, so the loader is killed after its first batches and long before the
    # tap has read the later streams; the replay runs at full speed.
    with (
        IntacctEmulator(IntacctConfig(port=0, latency_ms=1000)) as intacct,
        DatabricksEmulator(DatabricksConfig(port=0, data_dir=str(tmp_path / "dbx"))) as databricks,
    ):
        env = {
            "TAP_SAGE_INTACCT_ENDPOINT_URL": intacct.endpoint_url,
            "TARGET_DATABRICKS_HOST": databricks.base_url,
            "TAP_SAGE_INTACCT__SELECT": json.dumps([f"{s}.*" for s in [*INTACCT_STREAMS, RUNS_STREAM]]),
            # Discovery without lookup: at 1 s a call, one lookup per object would delay every run.
            "TAP_SAGE_INTACCT_LOOKUP_FIELDS": "false",
        }

        def committed() -> bool:
            return any(a["status"] == "committed" for a in landed_rows(databricks, "_sdc_load_audit"))

        # Batches of 10 rows: the killed run commits some of them.
        killed = kill_loader_mid_load(
            tmp_path,
            "target-databricks",
            committed,
            tap="tap-sage-intacct",
            **env,
            TARGET_DATABRICKS_BATCH_SIZE_ROWS="10",
        )
        landed = {name: keys(landed_rows(databricks, name), streams[name]) for name in INTACCT_STREAMS}
        sizes = {name: len(intacct.store.records(obj)) for name, obj in INTACCT_STREAMS.items()}
        assert 0 < sum(map(len, landed.values())) < sum(sizes.values()), (landed, sizes)
        assert meltano_runs(tmp_path)[killed.run_id] == "FAIL"
        kept = bookmarks(kept_state(tmp_path, INTACCT_STATE_ID))

        intacct.knobs.latency_ms = 0
        replay_id, _ = replay(tmp_path, "intacct-to-databricks", **env)
        assert meltano_runs(tmp_path)[replay_id] == "SUCCESS"
        raw = {stream: delta_rows(databricks, stream) for stream in INTACCT_STREAMS}
        tables = {stream: [as_emitted(r, schemas[stream]) for r in rows] for stream, rows in raw.items()}
        for stream, obj in INTACCT_STREAMS.items():
            assert tables[stream], f"{stream}: nothing landed"
            assert not mismatches(schemas[stream], tables[stream], intacct.store.records(obj)), stream
        # The state kept after the kill named no row that had not landed by then.
        for name, bookmark in kept.items():
            stream = streams[name]
            behind = [r for r in tables[name] if instant(str(r[stream.replication_key])) <= instant(bookmark)]
            assert keys(behind, stream) <= landed[name], f"{name}: kept {bookmark} is past rows not landed"

        # Each row was loaded by the run that extracted it: the killed run's batches that had committed,
        # the replay's for the rest.
        audit = delta_rows(databricks, "_sdc_load_audit")
        assert {a["run_id"] for a in audit} == {killed.run_id, replay_id}
        loaded_by = {(a["stream"], a["load_token"]): a["run_id"] for a in audit if a["status"] == "committed"}
        for stream, rows in raw.items():
            for row in rows:
                assert loaded_by[stream, row["_sdc_load_token"]] == row["_audit_run_id"], (stream, row)
        runs = {r["run_id"]: r for r in delta_rows(databricks, table_name(RUNS_STREAM))}
        assert runs[replay_id]["status"] == "extracted"
        assert {s["stream"]: s["records"] for s in json.loads(runs[replay_id]["streams"])} == sizes


def test_meltano_run_looker_allocations_killed_mid_post_replays_each_journal_once(tmp_path):
    # Journals of 9 lines go in PUTs of 3, each request waiting: the loader is killed once a journal is
    # on hold with its first 3 lines (a PUT then in flight may still add lines; the one taking the journal
    # off hold comes two PUTs later), so the replay must complete that journal, not post it again.
    with (
        LookerEmulator(LookerConfig(port=0)) as looker,
        AcumaticaEmulator(AcumaticaConfig(port=0, latency_ms=400)) as acumatica,
    ):
        audit_dir = tmp_path / "audit"
        env = {
            "TAP_LOOKER_BASE_URL": looker.base_url,
            "TARGET_ACUMATICA_BASE_URL": acumatica.base_url,
            "TARGET_ACUMATICA_AUDIT_DIR": str(audit_dir),
            "TARGET_ACUMATICA_LINES_PER_REQUEST": "3",
        }
        expected = expected_journals(query_rows(looker))

        def first_put_held() -> bool:
            journals = posted_journals(acumatica, PREFIX).values()
            return any(j["Hold"] and len(j["Details"]) == 3 for j in journals)

        killed = kill_loader_mid_load(tmp_path, "target-acumatica", first_put_held, tap="tap-looker", **env)
        at_kill = posted_journals(acumatica, PREFIX)
        on_hold = sorted(key for key, journal in at_kill.items() if journal["Hold"])
        assert 0 < len(at_kill) < len(expected) and on_hold, at_kill.keys()
        assert meltano_runs(tmp_path)[killed.run_id] == "FAIL"
        assert kept_state(tmp_path, LOOKER_STATE_ID) == {}, "STATE is only for journals that all landed"

        acumatica.knobs.latency_ms = 0
        replay_id, _ = replay(tmp_path, "looker-allocations-to-acumatica", **env)
        assert meltano_runs(tmp_path)[replay_id] == "SUCCESS"
        posted = posted_journals(acumatica, PREFIX)
        assert sorted(posted) == sorted(expected)
        every = acumatica.store.records("JournalTransaction", VERSION)
        batches = Counter((j.get("Description") or "").split(" ")[0] for j in every)
        assert {key: batches[key] for key in expected} == dict.fromkeys(expected, 1), "each journal once"
        for key, lines in expected.items():
            assert journal_lines(posted[key]) == Counter(lines), key
            assert posted[key]["Status"] == "Balanced"

        # The replay's lines name it, and the tap run that extracted the rows: the replay's own.
        by_replay = {a["key"]: a for a in audit_lines(audit_dir) if a["run_id"] == replay_id}
        assert sorted(by_replay) == sorted(expected)
        for key, line in by_replay.items():
            status = "completed" if key in on_hold else "already-posted" if key in at_kill else "posted"
            assert (line["status"], line["source_run_ids"]) == (status, [replay_id]), key
        assert {a["run_id"] for a in audit_lines(audit_dir)} <= {killed.run_id, replay_id}
        runs = [json.loads(line) for line in (audit_dir / "runs.jsonl").read_text().splitlines()]
        assert [(r["run_id"], r["target_run_id"], r["status"]) for r in runs] == [
            (killed.run_id, killed.run_id, "extracted"),
            (replay_id, replay_id, "extracted"),
        ]

        puts = acumatica.stats.requests[("PUT", "entity")]
        meltano_run(tmp_path, "target-acumatica", tap="tap-looker", **env)
        assert acumatica.stats.requests[("PUT", "entity")] == puts, "a rerun must post nothing"
        assert posted_journals(acumatica, PREFIX) == posted
