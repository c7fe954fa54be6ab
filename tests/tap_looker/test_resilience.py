"""Token expiry, 429s and 5xx recover; secrets never reach the output; bad credentials fail clearly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tap_looker.client import LookerAuthError
from tap_looker.tap import TapLooker

from tests.support.looker import ALLOCATION_QUERY, by_key, expected, run_tap, tap_config

TAP = str(Path(sys.executable).parent / "tap-looker")


def test_an_expired_token_is_replaced_by_a_new_login(emulator):
    config = tap_config(emulator)
    tap = TapLooker(config=config)  # discovery logs in and reads the explore
    assert emulator.stats.logins == 1
    emulator.expire_tokens()
    sync = run_tap(config, tap=tap)
    assert by_key(sync.records["overhead_allocation"]) == by_key(expected(emulator, ALLOCATION_QUERY))
    assert emulator.stats.logins == 2
    assert emulator.stats.statuses[401] == 1


@pytest.mark.parametrize("emulator_config", [{"sizes": {"overhead_allocation": 6000}}], indirect=True)
def test_429s_and_5xx_are_retried_on_every_step_of_a_query_task(emulator):
    emulator.knobs.retry_after_s = 0
    emulator.fail_next(2, 429, "login")
    emulator.fail_next(3, 429, "run_inline_query")
    emulator.fail_next(1, 503, "create_query")
    emulator.fail_next(1, 429, "create_query_task")
    emulator.fail_next(2, 502, "query_task_results")
    sync = run_tap(tap_config(emulator))
    assert by_key(sync.records["overhead_allocation"]) == by_key(expected(emulator, ALLOCATION_QUERY))
    assert emulator.stats.rate_limited == 6
    assert emulator.stats.statuses[503] == 1 and emulator.stats.statuses[502] == 2
    assert emulator.stats.query_tasks == 1 and emulator.stats.logins == 1


def test_rate_limited_endpoint_gives_up_after_max_retries_with_a_clear_error(emulator):
    emulator.knobs.rate_limits = {"run_inline_query": 0}
    with pytest.raises(Exception, match=r"POST /api/4\.0/queries/run/json -> HTTP 429"):
        run_tap(tap_config(emulator, max_retries=2))
    assert emulator.stats.requests[("POST", "run_inline_query")] == 3


def test_bad_credentials_fail_naming_the_settings(emulator):
    with pytest.raises(LookerAuthError, match="client_id and client_secret settings"):
        TapLooker(config=tap_config(emulator, client_secret="not-the-secret"))


def test_secrets_never_reach_stdout_stderr_or_state(emulator, tmp_path):
    secret = "sandbox-looker-secret"
    config = tap_config(emulator)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    emulator.expire_tokens()
    ok = subprocess.run(
        [TAP, "--config", str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert '"type":"RECORD"' in ok.stdout.replace(" ", "")
    path.write_text(json.dumps({**config, "client_secret": secret + "-wrong"}))
    bad = subprocess.run(
        [TAP, "--config", str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert bad.returncode != 0 and "client_secret" in bad.stderr
    for text in (ok.stdout, ok.stderr, bad.stdout, bad.stderr):
        assert secret not in text
