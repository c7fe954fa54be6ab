"""Filters, sorts, limits, row caps, saved queries, formats, query tasks and faults."""

from __future__ import annotations

import pytest

from tests.support.looker import Api

GL = {"model": "finance", "view": "gl_lines"}
LINES = {**GL, "fields": ["gl_lines.line_id", "gl_lines.posted_date", "gl_lines.account"], "limit": "-1"}


def dates(rows: list[dict]) -> set[str]:
    return {r["gl_lines.posted_date"] for r in rows}


@pytest.mark.parametrize(
    ("expression", "low", "high"),
    [
        ("2026/01/01 to 2026/02/01", "2026-01-01", "2026-01-31"),
        ("after 2026/10/01", "2026-10-01", "2026-10-31"),
        ("before 2026/02/01", "2026-01-01", "2026-01-31"),
        ("2026/03", "2026-03-01", "2026-03-31"),
        ("last 3 months", "2026-08-01", "2026-10-31"),
        ("3 complete months", "2026-07-01", "2026-09-30"),
        ("last month", "2026-09-01", "2026-09-30"),
    ],
)
def test_date_filter_expressions(api: Api, expression, low, high):
    api.emu.knobs.today = "2026-10-15"
    rows = api.rows({**LINES, "filters": {"gl_lines.posted_date": expression}})
    assert rows and min(dates(rows)) >= low and max(dates(rows)) <= high
    every = api.emu.run("finance", "gl_lines", LINES["fields"])
    assert len(rows) == sum(low <= r["gl_lines.posted_date"] <= high for r in every)


@pytest.mark.parametrize(
    ("expression", "accounts"),
    [
        ("52000,55000", {"52000", "55000"}),
        ("-22000", {"52000", "55000", "58000", "61000", "64000", "67000", "70000", "73000"}),
        ("%2000", {"22000", "52000"}),
        ("6%,-64000", {"61000", "67000"}),
    ],
)
def test_string_filter_expressions(api: Api, expression, accounts):
    rows = api.rows({**LINES, "filters": {"gl_lines.account": expression}})
    assert {r["gl_lines.account"] for r in rows} == accounts


def test_measure_filters_apply_after_aggregation_and_sorts_order(api: Api):
    query = {
        **GL,
        "fields": ["gl_lines.account", "gl_lines.count"],
        "filters": {"gl_lines.count": ">400"},
        "sorts": ["gl_lines.count desc"],
    }
    rows = api.rows(query)
    counts = [r["gl_lines.count"] for r in rows]
    assert counts == sorted(counts, reverse=True) and min(counts) > 400


def test_limit_is_a_string_and_an_omitted_limit_truncates_silently_at_the_default(api: Api):
    assert len(api.rows({**LINES, "limit": "7"})) == 7
    assert len(api.rows({**LINES, "limit": None})) == 500
    assert len(api.rows({**LINES, "limit": "-1"})) == 2000
    api.emu.knobs.inline_row_cap = 1200
    assert len(api.rows({**LINES, "limit": "-1"})) == 1200
    assert len(api.rows(LINES, limit="3")) == 3  # the query parameter overrides the body


def test_saved_queries_are_deduplicated_and_run_by_id(api: Api):
    first = api.post("/queries", json={**LINES, "limit": "10"}).json()
    again = api.post("/queries", json={**LINES, "limit": "10"}).json()
    assert first["id"] == again["id"] and first["model"] == "finance"
    response = api.get(f"/queries/{first['id']}/run/json")
    assert response.status_code == 200 and len(response.json()) == 10
    csv = api.get(f"/queries/{first['id']}/run/csv")
    assert csv.headers["Content-Type"].startswith("text/csv") and len(csv.text.splitlines()) == 11
    detail = api.get(f"/queries/{first['id']}/run/json_detail").json()
    assert len(detail["data"]) == 10 and "value" in detail["data"][0]["gl_lines.account"]


def test_unknown_fields_are_422_validation_errors_naming_them(api: Api):
    response = api.post("/queries/run/json", json={**GL, "fields": ["gl_lines.nope"]})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "fields" and "gl_lines.nope" in response.text


def test_query_task_runs_202_then_200_and_expires_to_404(api: Api):
    api.emu.knobs.query_task_polls = 2
    query_id = api.post("/queries", json=LINES).json()["id"]
    task = api.post("/query_tasks", json={"query_id": query_id, "result_format": "json"}).json()
    assert task["status"] == "running"
    assert api.get(f"/query_tasks/{task['id']}/results").status_code == 202
    assert api.get(f"/query_tasks/{task['id']}").json()["status"] == "running"
    done = api.get(f"/query_tasks/{task['id']}/results")
    assert done.status_code == 200 and len(done.json()) == 2000
    multi = api.get("/query_tasks/multi_results", params={"query_task_ids": f"{task['id']},nope"}).json()
    assert multi[task["id"]]["status"] == "complete" and len(multi[task["id"]]["data"]) == 2000
    assert multi["nope"]["status"] == "missing"
    api.emu.knobs.query_task_expiry_s = 0
    assert api.get(f"/query_tasks/{task['id']}/results").status_code == 404
    assert api.emu.stats.query_tasks == 1 and api.emu.stats.rows_served == 4000


def test_rate_limits_and_injected_faults_answer_looker_errors(api: Api):
    api.emu.knobs.rate_limits = {"run_inline_query": 1}
    api.emu.knobs.rate_window_s = 3600
    api.emu.knobs.retry_after_s = 7
    assert api.post("/queries/run/json", json=LINES).status_code == 200
    limited = api.post("/queries/run/json", json=LINES)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    assert set(limited.json()) == {"message", "documentation_url"}
    api.emu.fail_next(1, 503, "lookml_model")
    assert api.get("/lookml_models/finance").status_code == 503
    assert api.get("/lookml_models/finance").status_code == 200
    assert api.emu.stats.rate_limited == 1 and api.emu.stats.statuses[503] == 1


def test_control_api_sets_knobs_and_reads_stats(api: Api):
    base = api.emu.base_url + "/_emulator"
    assert api.session.patch(base + "/knobs", json={"default_limit": 5}).json()["default_limit"] == 5
    assert len(api.rows({**LINES, "limit": ""})) == 5
    assert api.session.patch(base + "/knobs", json={"nope": 1}).status_code == 400
    stats = api.session.get(base + "/stats").json()
    assert stats["logins"] == 1 and stats["queries_run"] == 1 and stats["rows_served"] == 5
    assert api.session.post(base + "/expire_tokens").json()["expired"] == 1
