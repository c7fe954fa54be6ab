"""Signing in: token expiry and rotation, cookie sessions, and clear errors."""

from __future__ import annotations

import json
import subprocess

import acumatica_emulator.auth
import pytest

from tests.support.clock import emulator_clock
from tests.support.taprun import TAP


def test_token_revoked_mid_run_is_renewed_once_and_the_run_completes(tap, emulator):
    def revoke(info):
        if info.entity == "Bill" and info.number == 3:
            emulator.expire_tokens()

    emulator.on_request(revoke)
    sync = tap.sync(["bills"], page_size=10)
    assert len(sync.records["bills"]) == len(emulator.store.records("Bill", "24.200.001"))
    assert emulator.stats.refreshes >= 1


@pytest.mark.parametrize("emulator_config", [{"token_lifetime_s": 1, "latency_ms": 150}], indirect=True)
def test_short_lived_tokens_are_refreshed_before_expiry_with_the_newest_refresh_token(tap, emulator):
    # One page at a time, so the run outlasts two token lifetimes.
    sync = tap.sync(["bills"], page_size=10, max_concurrent_requests=1)
    assert len(sync.records["bills"]) == len(emulator.store.records("Bill", "24.200.001"))
    # Each refresh invalidates the previous refresh token: passing means the newest was used.
    assert emulator.stats.refreshes >= 2
    assert emulator.stats.tokens_issued == 1, "signed in with the password again"
    assert emulator.stats.statuses.get(401, 0) == 0, "a token was used after it expired"


def test_wrong_password_fails_clearly_without_leaking_it(tap):
    sync = tap.sync(["vendors"], password="not-the-password", check=False)
    assert sync.returncode != 0
    assert "password" in sync.stderr and "client_id" in sync.stderr
    assert "not-the-password" not in sync.stderr
    assert "sandbox-secret" not in sync.stderr
    assert sync.records == {}


def test_wrong_client_secret_fails_clearly(tap):
    sync = tap.sync(["vendors"], client_secret="wrong-secret", check=False)
    assert sync.returncode != 0
    assert "invalid_client" in sync.stderr
    assert "wrong-secret" not in sync.stderr


@pytest.mark.parametrize("emulator_config", [{"versions": ("22.200.001", "23.200.001")}], indirect=True)
def test_a_version_the_instance_lacks_fails_listing_what_it_offers(tap):
    sync = tap.sync(["vendors"], endpoint_version="24.200.001", check=False)
    assert sync.returncode != 0
    assert "24.200.001" in sync.stderr
    assert "Default 22.200.001, Default 23.200.001" in sync.stderr


def test_cookie_login_signs_in_once_and_out_once(tap, emulator):
    sync = tap.sync(["vendors", "bills", "gl_accounts"], auth_method="cookie")
    assert {"vendors", "bills", "gl_accounts"} <= set(sync.records)
    assert emulator.stats.logins == 1
    assert emulator.stats.logouts == 1
    assert emulator.api_users() == 0


def test_cookie_session_signs_out_even_when_the_run_fails(tap, emulator):
    def break_it(info):
        if info.entity == "Bill":
            emulator.fail_next(50, status=500)

    emulator.on_request(break_it)
    sync = tap.sync(["bills"], auth_method="cookie", max_retries=1, check=False)
    assert sync.returncode != 0
    assert emulator.stats.logouts == 1
    assert emulator.api_users() == 0


@pytest.mark.parametrize("emulator_config", [{"max_api_users": 1}], indirect=True)
def test_one_api_user_is_enough_for_a_whole_run(tap, emulator):
    sync = tap.sync(None, auth_method="cookie")
    assert len(sync.records) == 12  # 11 entity streams and the run's record
    assert emulator.stats.logins == 1


def test_discovery_and_about_need_no_credentials(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"endpoint_version": "20.200.001"}))
    catalog = json.loads(
        subprocess.run(
            [TAP, "--config", str(config), "--discover"], capture_output=True, text=True, check=True
        ).stdout
    )
    streams = {s["tap_stream_id"]: s for s in catalog["streams"]}
    assert len(streams) == 12
    assert streams["_audit_runs"]["key_properties"] == ["run_id"]
    assert streams["stock_items"]["replication_key"] == "LastModified"
    assert (
        "replication_key" not in streams["sales_invoices"] or not streams["sales_invoices"]["replication_key"]
    )
    about = json.loads(
        subprocess.run([TAP, "--about", "--format=json"], capture_output=True, text=True, check=True).stdout
    )
    assert {"base_url", "client_secret", "password"} <= {p for p in about["settings"]["properties"]}
    assert about["settings"]["properties"]["password"].get("secret") is True


def test_secrets_and_tokens_never_reach_the_log(tap, emulator):
    for method in ("oauth", "cookie"):
        sync = tap.sync(["vendors"], auth_method=method)
        assert sync.records["vendors"]
        for secret in ("sandbox-secret", '"sandbox"', "password=sandbox", "Bearer "):
            assert secret not in sync.stderr, (method, secret)


def test_unknown_version_or_stream_in_settings_fails_discovery_clearly(tmp_path):
    cases = {
        "25.100.001": ({"endpoint_version": "25.100.001"}, "20.200.001, 22.200.001, 23.200.001, 24.200.001"),
        "typo": ({"custom_fields": {"bill": ["Document.UsrApprovalCode"]}}, "unknown streams ['bill']"),
    }
    for name, (config, message) in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(config))
        proc = subprocess.run([TAP, "--config", str(path), "--discover"], capture_output=True, text=True)
        assert proc.returncode != 0, name
        assert message in proc.stderr, (name, proc.stderr[-500:])


@pytest.mark.parametrize("emulator_config", [{"session_idle_timeout_s": 0.5}], indirect=True)
def test_a_cookie_session_that_timed_out_is_signed_in_again(tap, emulator, monkeypatch):
    clock = emulator_clock(monkeypatch, acumatica_emulator.auth)

    def stall(info):
        if info.entity == "Bill" and info.number == 3:
            clock.advance(0.8)  # the session idles past its timeout before the next request

    emulator.on_request(stall)
    # One request at a time: concurrent requests would keep the session from idling.
    sync = tap.sync(["bills"], auth_method="cookie", page_size=10, max_concurrent_requests=1)
    assert len(sync.records["bills"]) == len(emulator.store.records("Bill", "24.200.001"))
    assert emulator.stats.logins == 2
    assert emulator.stats.statuses.get(401, 0) == 1
    assert emulator.api_users() == 0
