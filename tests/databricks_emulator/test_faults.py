"""The emulator's HTML fault: what answers in a workspace's place (a sign-in page, a proxy's error
pages), over HTTP and through the control route."""

from __future__ import annotations

import pytest
import requests


@pytest.mark.parametrize(
    ("status", "title"),
    [(200, "Sign in"), (404, "404 Not Found"), (503, "503 Service Temporarily Unavailable")],
)
def test_html_next_answers_pages_then_the_api_again(api, emulator, status, title):
    emulator.html_next(2, status)
    for path in ("/api/2.0/sql/statements", "/oidc/.well-known/oauth-authorization-server"):
        page = api.get(path)
        assert page.status_code == status
        assert page.headers["Content-Type"].startswith("text/html")
        assert f"<title>{title}</title>" in page.text
    assert emulator.stats.html_pages == 2
    assert api.ok("SELECT 1") == [["1"]]


def test_html_next_control_route_and_its_bounds(api, emulator):
    control = f"{emulator.base_url}/_emulator/html_next"
    assert requests.post(control, json={"n": 1, "status": 502}, timeout=10).status_code == 204
    assert api.get("/api/2.0/sql/warehouses/sandbox-warehouse").status_code == 502
    assert requests.post(control, json={"n": 1, "status": 418}, timeout=10).status_code == 400
    assert api.get("/api/2.0/sql/warehouses/sandbox-warehouse").status_code == 200
