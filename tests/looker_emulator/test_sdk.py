"""The official looker-sdk, unmodified, against the emulator."""

from __future__ import annotations

import json

import looker_sdk
from looker_emulator import SANDBOX
from looker_sdk import models40 as models


def test_looker_sdk_logs_in_reads_an_explore_runs_inline_and_as_a_query_task(emulator, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no looker.ini: settings come from the environment only
    monkeypatch.setenv("LOOKERSDK_BASE_URL", emulator.base_url)
    monkeypatch.setenv("LOOKERSDK_CLIENT_ID", SANDBOX["client_id"])
    monkeypatch.setenv("LOOKERSDK_CLIENT_SECRET", SANDBOX["client_secret"])
    monkeypatch.setenv("LOOKERSDK_VERIFY_SSL", "false")
    sdk = looker_sdk.init40()

    explore = sdk.lookml_model_explore("finance", "overhead_allocation")
    assert "overhead_allocation.allocated_amount" in [m.name for m in explore.fields.measures]

    fields = [
        "overhead_allocation.allocation_id",
        "overhead_allocation.period",
        "overhead_allocation.allocated_amount",
    ]
    inline = sdk.run_inline_query(
        "json", models.WriteQuery(model="finance", view="overhead_allocation", fields=fields, limit="-1")
    )
    assert json.loads(inline) == json.loads(
        json.dumps(emulator.run("finance", "overhead_allocation", fields), default=float)
    )

    query = sdk.create_query(
        models.WriteQuery(model="finance", view="vendors", fields=["vendors.vendor_id"], limit="-1")
    )
    task = sdk.create_query_task(
        models.WriteCreateQueryTask(query_id=query.id, result_format=models.ResultFormat.json)
    )
    statuses = [sdk.query_task(task.id).status for _ in range(2)]
    assert statuses == ["running", "complete"]
    assert len(json.loads(sdk.query_task_results(task.id))) == 40
    sdk.auth.logout()
    assert emulator.stats.logins == 1 and emulator.stats.logouts == 1
