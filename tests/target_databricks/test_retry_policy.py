"""target-databricks follows the shared retry policy (mlc_run_audit.retry): at most max_retries + 1
attempts, one log line per retry naming the request, Retry-After honoured up to
max_backoff_seconds, a final error naming the host. Requests are counted by the emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlc_run_audit.settings import DEFAULT_MAX_RETRIES
from target_databricks.client import DatabricksClient
from target_databricks.target import TargetDatabricks

from tests.support.databricks import BILL_PROPS, bills, rows, run_in_process, schema, state, write_config
from tests.support.retry import check_renamed_setting, closed_port_url, retry_lines, waits

MESSAGES = [schema("bills", BILL_PROPS, ["id"]), *bills([1, 2]), state(1)]


def test_unreachable_host_fails_after_max_retries_plus_one_attempts_naming_the_host(tmp_path, dbx):
    host = closed_port_url()
    cfg = write_config(
        tmp_path, dbx, host=host, max_retries=1, retry_backoff_seconds=0.01, max_backoff_seconds=0.05
    )
    result = run_in_process(cfg, MESSAGES)
    assert result.returncode != 0 and result.states == []
    lines = retry_lines(result.stderr)
    assert [(m[1], m[3], m[5], m[6]) for m in lines] == [("GET", "OAuth discovery", "1", "1")]
    assert lines[0][2].startswith(host) and "Connection refused" in lines[0][4]
    assert "failed after 2 attempt(s) (max_retries 1)" in result.stderr
    assert f"Check host ({host})" in result.stderr


@pytest.mark.parametrize("status", [429, 503])
def test_storm_stops_after_max_retries_plus_one_requests_each_retry_logged(tmp_path, dbx, status):
    cfg = write_config(tmp_path, dbx, max_retries=2, retry_backoff_seconds=0.01, max_backoff_seconds=0.05)
    dbx.http_fail_next(50, status)
    result = run_in_process(cfg, MESSAGES)
    assert result.returncode != 0 and result.states == []
    assert dbx.stats.statuses[status] == 3
    assert [(m[5], m[6]) for m in retry_lines(result.stderr)] == [("1", "2"), ("2", "2")]
    assert "failed after 3 attempt(s) (max_retries 2)" in result.stderr


def test_retry_after_is_honoured_up_to_max_backoff_seconds(tmp_path, dbx):
    dbx.knobs.retry_after_s = 30
    cfg = write_config(tmp_path, dbx, max_backoff_seconds=0.2)
    dbx.http_fail_next(2, 429)
    result = run_in_process(cfg, MESSAGES)
    assert result.returncode == 0, result.stderr[-3000:]
    assert [m[7] for m in retry_lines(result.stderr)] == ["0.2", "0.2"]
    assert sorted(r["id"] for r in rows(dbx, "bills")) == [1, 2]


def test_statement_reruns_are_logged_like_every_other_retry(tmp_path, dbx):
    cfg = write_config(tmp_path, dbx, max_retries=1, retry_backoff_seconds=0.01, max_backoff_seconds=0.05)
    dbx.fail_next_statements(1, "TEMPORARILY_UNAVAILABLE")
    result = run_in_process(cfg, MESSAGES)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = retry_lines(result.stderr)
    # Before: "<error>; running it again, retry 1 of 1 in <w> s", naming neither the URL nor the host.
    assert [(m[1], m[5], m[6]) for m in lines] == [("POST", "1", "1")]
    assert (
        lines[0][2] == f"{dbx.base_url}/api/2.0/sql/statements" and "TEMPORARILY_UNAVAILABLE" in lines[0][4]
    )
    assert dbx.stats.statements_failed == 1


def test_retry_after_replaces_the_backoff(tmp_path, dbx):
    dbx.knobs.retry_after_s = 0
    # Without Retry-After the waits would be 2-4 s and 4-8 s (retry_backoff_seconds 4).
    cfg = write_config(tmp_path, dbx, retry_backoff_seconds=4, max_backoff_seconds=10)
    dbx.http_fail_next(2, 429)
    result = run_in_process(cfg, MESSAGES)
    assert result.returncode == 0, result.stderr[-3000:]
    assert waits(result.stderr) == ["0.0", "0.0"]
    assert dbx.stats.statuses[429] == 2


def test_max_retries_defaults_to_the_shared_default():
    # Before: 6 here, 8 in every other plugin.
    assert TargetDatabricks.config_jsonschema["properties"]["max_retries"]["default"] == DEFAULT_MAX_RETRIES


@pytest.mark.parametrize(
    ("old", "new", "value"),
    [
        ("retry_backoff_s", "retry_backoff_seconds", 0.5),
        ("max_statement_wait_s", "max_statement_wait_seconds", 120),
        ("statement_wait_timeout", "statement_wait_timeout_seconds", 10),
    ],
)
def test_a_setting_under_its_old_name_still_works_with_a_warning(tmp_path, dbx, old, new, value):
    config = json.loads(Path(write_config(tmp_path, dbx)).read_text())
    target = check_renamed_setting(TargetDatabricks, config, old, new, value)
    client = DatabricksClient.from_config(target.config)
    assert {
        "retry_backoff_seconds": client.policy.backoff_base_seconds,
        "max_statement_wait_seconds": client.max_statement_wait_s,
        "statement_wait_timeout_seconds": client.wait_timeout_s,
    }[new] == value
