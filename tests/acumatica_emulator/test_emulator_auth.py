"""OAuth 2.0 password/refresh grants, token expiry, cookie sessions and the API-user limit."""

from __future__ import annotations

import acumatica_emulator.auth
import pytest
import requests
from acumatica_emulator import SANDBOX_CLIENT_ID, AcumaticaEmulator, EmulatorConfig

from tests.support.clock import emulator_clock

V24 = "24.200.001"


def _token(emu, **overrides):
    form = {
        "grant_type": "password",
        "client_id": SANDBOX_CLIENT_ID,
        "client_secret": "sandbox-secret",
        "username": "admin",
        "password": "sandbox",
        "scope": "api offline_access",
    } | overrides
    return requests.post(f"{emu.base_url}/identity/connect/token", data=form)


def _bills(emu, token):
    return requests.get(
        f"{emu.base_url}/entity/Default/{V24}/Bill",
        params={"$top": 1},
        headers={"Authorization": f"Bearer {token}"},
    )


@pytest.fixture
def short_tokens():
    with AcumaticaEmulator(EmulatorConfig(token_lifetime_s=1, max_api_users=2)) as emulator:
        yield emulator


def test_openid_configuration(emu):
    doc = requests.get(f"{emu.base_url}/identity/.well-known/openid-configuration").json()
    assert doc["token_endpoint"].endswith("/AcumaticaERP/identity/connect/token")
    assert "password" in doc["grant_types_supported"]
    assert "client_credentials" not in doc["grant_types_supported"]


def test_password_grant_and_refresh_rotation(fresh):
    body = _token(fresh).json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["scope"] == "api offline_access" and body["refresh_token"]
    assert _bills(fresh, body["access_token"]).status_code == 200
    form = {
        "grant_type": "refresh_token",
        "client_id": SANDBOX_CLIENT_ID,
        "client_secret": "sandbox-secret",
        "refresh_token": body["refresh_token"],
    }
    renewed = requests.post(f"{fresh.base_url}/identity/connect/token", data=form)
    assert renewed.status_code == 200
    assert renewed.json()["refresh_token"] != body["refresh_token"]
    assert _bills(fresh, renewed.json()["access_token"]).status_code == 200
    reused = requests.post(f"{fresh.base_url}/identity/connect/token", data=form)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert fresh.stats.tokens_issued == 1 and fresh.stats.refreshes == 1


def test_no_refresh_token_without_offline_access(emu):
    assert "refresh_token" not in _token(emu, scope="api").json()


def test_grant_errors(emu):
    assert _token(emu, client_secret="nope").json() == {"error": "invalid_client"}
    assert (
        _token(emu, client_id="4C5E9A1B-7F3D-4E2A-9B6C-1D8F0A2E3B4C@Other").json()["error"]
        == "invalid_client"
    )
    bad = _token(emu, password="wrong")
    assert bad.status_code == 400 and bad.json() == {
        "error": "invalid_grant",
        "error_description": "invalid_username_or_password",
    }
    cc = _token(emu, grant_type="client_credentials")
    assert cc.status_code == 400 and cc.json() == {"error": "unsupported_grant_type"}


def test_access_token_expiry_and_revocation(short_tokens, monkeypatch):
    clock = emulator_clock(monkeypatch, acumatica_emulator.auth)
    body = _token(short_tokens).json()
    assert _bills(short_tokens, body["access_token"]).status_code == 200
    clock.advance(1.2)
    expired = _bills(short_tokens, body["access_token"])
    assert expired.status_code == 401
    assert expired.json() == {"message": "Authorization has been denied for this request."}
    fresh_token = _token(short_tokens).json()["access_token"]
    short_tokens.expire_tokens()
    assert _bills(short_tokens, fresh_token).status_code == 401


def test_cookie_login_logout(fresh):
    s = requests.Session()
    r = s.post(
        f"{fresh.base_url}/entity/auth/login",
        json={"name": "admin", "password": "sandbox", "tenant": "Company", "branch": "HEADOFFICE"},
    )
    assert r.status_code == 204
    assert {".ASPXAUTH", "ASP.NET_SessionId", "UserBranch", "Locale"} <= set(s.cookies.keys())
    assert "HttpOnly" in r.headers["Set-Cookie"]
    assert s.get(f"{fresh.base_url}/entity/Default/{V24}/Vendor").status_code == 200
    assert s.post(f"{fresh.base_url}/entity/auth/logout").status_code == 204
    assert s.get(f"{fresh.base_url}/entity/Default/{V24}/Vendor").status_code == 401


def test_bad_login_status_knob(fresh):
    bad = {"name": "admin", "password": "x", "tenant": "Company"}
    r = requests.post(f"{fresh.base_url}/entity/auth/login", json=bad)
    assert r.status_code == 500 and "Invalid credentials" in r.json()["message"]
    fresh.knobs.login_failure_status = 401
    assert requests.post(f"{fresh.base_url}/entity/auth/login", json=bad).status_code == 401


def test_api_user_limit(short_tokens):
    good = {"name": "admin", "password": "sandbox", "tenant": "Company"}
    first, second = requests.Session(), requests.Session()
    assert first.post(f"{short_tokens.base_url}/entity/auth/login", json=good).status_code == 204
    assert _token(short_tokens).status_code == 200  # the OAuth chain is the second API user
    third = second.post(f"{short_tokens.base_url}/entity/auth/login", json=good)
    assert third.status_code == 429 and "API Login Limit" in third.text
    assert first.post(f"{short_tokens.base_url}/entity/auth/logout").status_code == 204
    assert second.post(f"{short_tokens.base_url}/entity/auth/login", json=good).status_code == 204


def test_session_idle_timeout(fresh, monkeypatch):
    clock = emulator_clock(monkeypatch, acumatica_emulator.auth)
    fresh.knobs.session_idle_timeout_s = 0.5
    s = requests.Session()
    s.post(f"{fresh.base_url}/entity/auth/login", json={"name": "admin", "password": "sandbox"})
    assert s.get(f"{fresh.base_url}/entity/Default/{V24}/Vendor").status_code == 200
    clock.advance(0.7)
    assert s.get(f"{fresh.base_url}/entity/Default/{V24}/Vendor").status_code == 401


def test_discovery_auth_knob(fresh):
    assert requests.get(f"{fresh.base_url}/entity").status_code == 200
    fresh.knobs.discovery_requires_auth = True
    assert requests.get(f"{fresh.base_url}/entity").status_code == 401
