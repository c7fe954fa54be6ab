"""Login, LookML metadata and inline queries, as the Looker API 4.0 reference describes them."""

from __future__ import annotations

import pytest

from tests.support.looker import ALLOCATION, API, Api


def test_login_form_returns_a_bearer_token_for_an_hour(api: Api):
    response = api.login()
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["access_token"]
    assert api.emu.stats.logins == 1


def test_bad_credentials_answer_404_with_looker_error_body(api: Api):
    response = api.login(client_id="sandbox-looker-id", client_secret="wrong")
    assert response.status_code == 404
    assert set(response.json()) == {"message", "documentation_url"}
    assert api.emu.stats.logins == 0


@pytest.mark.parametrize("scheme", ["token", "Bearer"])
def test_both_authorization_schemes_are_accepted(emulator, scheme):
    api = Api(emulator, scheme=scheme)
    assert api.get("/lookml_models").status_code == 200


def test_calls_without_a_valid_token_require_authentication(api: Api):
    response = api.session.get(api.emu.base_url + API + "/lookml_models")
    assert response.status_code == 401 and "Requires authentication" in response.json()["message"]
    api.login()
    api.emu.expire_tokens()
    assert api.get("/lookml_models").status_code == 401


def test_logout_is_delete_and_revokes_the_token(api: Api):
    api.login()
    assert api.call("DELETE", "/logout").status_code == 204
    assert api.get("/lookml_models").status_code == 401


def test_explore_lists_typed_dimensions_and_measures(api: Api):
    explore = api.get("/lookml_models/finance/explores/overhead_allocation").json()
    dims = {f["name"]: f for f in explore["fields"]["dimensions"]}
    measures = {f["name"]: f for f in explore["fields"]["measures"]}
    assert dims["overhead_allocation.account"]["type"] == "string"
    assert dims["overhead_allocation.posting_date"]["type"] == "date_date"
    assert measures["overhead_allocation.allocated_amount"]["type"] == "sum"
    assert measures["overhead_allocation.allocated_amount"]["is_numeric"] is True
    assert all(
        {"name", "type", "label", "sql", "category"} <= set(f) for f in [*dims.values(), *measures.values()]
    )
    assert api.get("/lookml_models/finance/explores/nope").status_code == 404


def test_inline_query_equals_the_emulators_own_answer(api: Api):
    query = {
        "model": "finance",
        "view": "overhead_allocation",
        "fields": ALLOCATION,
        "limit": "-1",
        "sorts": ["overhead_allocation.cost_center"],
    }
    rows = api.rows(query)
    expected = api.emu.run(
        "finance", "overhead_allocation", ALLOCATION, sorts=["overhead_allocation.cost_center"]
    )
    assert rows == expected and len(rows) == 270


def test_allocation_balances_per_allocation_and_period(emulator):
    totals: dict = {}
    for row in emulator.run("finance", "overhead_allocation", ALLOCATION):
        key = (row["overhead_allocation.allocation_id"], row["overhead_allocation.period"])
        totals[key] = totals.get(key, 0) + row["overhead_allocation.allocated_amount"]
    assert totals and set(totals.values()) == {0}
