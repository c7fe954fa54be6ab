"""Failures a user can act on: each ends the run within ``max_retries`` with one or two error lines that
name the setting, host or request and say what to do; every retry is logged; no traceback unless the
log level is DEBUG.

The emulator injects the faults (``http_fail_next``: 503 storms; ``html_next``: an HTML page where the
API should answer, as a sign-in page or proxy would). Tests count requests and log lines, never time.
"""

from __future__ import annotations

import logging
import re
import socket
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner
from target_databricks.cli_errors import ConnectorError, concise_errors
from target_databricks.target import TargetDatabricks

from tests.support.databricks import (
    BILL_PROPS,
    ENCODER,
    TARGET,
    bills,
    rows,
    run_in_process,
    schema,
    state,
    write_config,
)

MESSAGES = [schema("bills", BILL_PROPS, ["id"]), *bills([1, 2]), state(1)]
# "<METHOD> <url> (<what>): <status or error>; retry <n> of <m> in <wait> s"
RETRY_LINE = re.compile(r"^(GET|POST|PUT|DELETE) (\S+) \(([^)]*)\): (.+); retry (\d+) of (\d+) in [\d.]+ s$")


def retry_lines(text: str) -> list[re.Match]:
    return [m for line in text.splitlines() if (m := RETRY_LINE.match(line))]


def fast(**settings) -> dict:
    """Small retry settings, so a test that exhausts them is quick."""
    return {"retry_backoff_seconds": 0.01, "max_backoff_seconds": 0.05, **settings}


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- unreachable hosts and retry storms -----------------------------------------------------------


def test_unreachable_host_fails_after_max_retries_naming_the_host_without_traceback(tmp_path, dbx):
    host = closed_port_url()
    cfg = write_config(tmp_path, dbx, **fast(host=host, max_retries=2))
    lines = "".join(ENCODER.encode(m).decode() + "\n" for m in MESSAGES)
    # Before: silent for 5 minutes (databricks-sdk's own retry budget), then "Invalid URL 'None'".
    proc = subprocess.run([TARGET, "--config", cfg], input=lines, capture_output=True, text=True, timeout=90)
    assert proc.returncode != 0 and proc.stdout == ""
    retries = retry_lines(re.sub(r"^.*\| ", "", proc.stderr, flags=re.M))
    assert [(m[1], m[5], m[6]) for m in retries] == [("GET", "1", "2"), ("GET", "2", "2")]
    assert all(m[2].startswith(host) and "Connection refused" in m[4] for m in retries)
    errors = [line for line in proc.stderr.splitlines() if "| ERROR" in line]
    assert len(errors) <= 2, proc.stderr
    assert "failed after 3 attempt(s) (max_retries 2)" in errors[-1]
    assert f"Check host ({host})" in errors[-1]
    assert "Traceback" not in proc.stderr and "Invalid URL" not in proc.stderr


@pytest.mark.parametrize("max_retries", [0, 2])
def test_503_storm_gives_up_after_max_retries_logging_each_retry(tmp_path, dbx, max_retries):
    cfg = write_config(tmp_path, dbx, **fast(max_retries=max_retries))
    dbx.http_fail_next(50, 503)  # more than any retry budget here
    result = run_in_process(cfg, MESSAGES)
    assert result.returncode != 0 and result.states == []
    # max_retries counts retries after the first attempt (before: attempts, and databricks-sdk retried
    # each of them for 5 minutes on its own).
    assert dbx.stats.statuses[503] == max_retries + 1
    retries = retry_lines(result.stderr)
    assert [(m[1], m[2].split("/", 3)[-1], m[5], m[6]) for m in retries] == [
        ("POST", "api/2.0/sql/statements", str(n), str(max_retries)) for n in range(1, max_retries + 1)
    ]
    assert all(
        m[3] == "create schema statement" and m[4].startswith("HTTP 503 TEMPORARILY_UNAVAILABLE")
        for m in retries
    )
    assert (
        f"create schema statement: POST {dbx.base_url}/api/2.0/sql/statements failed after "
        f"{max_retries + 1} attempt(s) (max_retries {max_retries}): HTTP 503" in result.stderr
    )


def test_transient_failed_statement_is_rerun_max_retries_times(tmp_path, dbx):
    cfg = write_config(tmp_path, dbx, **fast(max_retries=1))
    dbx.fail_next_statements(1, "TEMPORARILY_UNAVAILABLE")
    ok = run_in_process(cfg, MESSAGES)
    assert ok.returncode == 0, ok.stderr[-3000:]  # one retry after the first attempt
    assert "ended FAILED: TEMPORARILY_UNAVAILABLE" in ok.stderr and "retry 1 of 1" in ok.stderr
    assert sorted(r["id"] for r in rows(dbx, "bills")) == [1, 2]

    dbx.fail_next_statements(2, "TEMPORARILY_UNAVAILABLE")
    failed = run_in_process(cfg, [schema("bills", BILL_PROPS, ["id"]), *bills([3]), state(2)])
    assert failed.returncode != 0
    assert dbx.stats.statements_failed == 3  # 1 + (1 + 1 retry)


def test_failed_statement_names_an_error_code_of_any_name(tmp_path, dbx):
    """The statement's error_code is named as the API sent it, also a code that no client library
    lists (databricks-sdk's enum turned those into "no error_code")."""
    cfg = write_config(tmp_path, dbx, **fast(max_retries=0))
    dbx.fail_next_statements(1, "DELTA_CONCURRENT_APPEND")
    failed = run_in_process(cfg, MESSAGES)
    assert failed.returncode != 0
    assert "ended FAILED: DELTA_CONCURRENT_APPEND" in failed.stderr


def test_start_up_imports_no_databricks_sdk():
    """databricks-sdk's package imports every service module (more than a second of CPU at each start);
    the target reads its few fields of a statement answer itself."""
    script = "import sys, target_databricks.target; print([m for m in sys.modules if 'databricks.sdk' in m])"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# --- answers that are not the API's ---------------------------------------------------------------


def test_html_page_with_200_is_a_clear_error_naming_host_and_content_type_not_retried(tmp_path, dbx):
    cfg = write_config(tmp_path, dbx, **fast(max_retries=3))
    dbx.html_next(1, 200)  # a sign-in page where the OAuth discovery document should be
    result = run_in_process(cfg, MESSAGES)
    assert result.returncode != 0
    assert dbx.stats.html_pages == 1  # 200 is not a status to retry
    assert retry_lines(result.stderr) == []
    error = result.stderr.splitlines()[-1]
    assert f"GET {dbx.base_url}/oidc/.well-known/oauth-authorization-server answered HTTP 200 with " in error
    assert "text/html, page title 'Sign in'" in error
    assert f"not the Databricks API's JSON: something else answers at {dbx.base_url}" in error
    assert "Check host" in error and "JSON is malformed" not in result.stderr


def test_html_page_on_a_statement_with_200_is_a_clear_error(tmp_path, dbx):
    cfg = write_config(tmp_path, dbx, **fast(token="dapi-sandbox-token", client_id=None, client_secret=None))
    dbx.html_next(1, 200)  # the first request is the CREATE SCHEMA statement (a PAT needs no discovery)
    result = run_in_process(cfg, MESSAGES)
    assert result.returncode != 0 and dbx.stats.html_pages == 1
    assert (
        f"create schema statement: POST {dbx.base_url}/api/2.0/sql/statements answered HTTP 200 with "
        "text/html, page title 'Sign in'" in result.stderr
    )


def test_html_page_with_a_retryable_status_is_retried(tmp_path, dbx):
    cfg = write_config(tmp_path, dbx, **fast(max_retries=2))
    dbx.html_next(2, 503)  # a proxy's "service unavailable" page, twice
    result = run_in_process(cfg, MESSAGES)
    assert result.returncode == 0, result.stderr[-3000:]
    assert dbx.stats.html_pages == 2
    retries = retry_lines(result.stderr)
    assert [(m[5], m[6]) for m in retries] == [("1", "2"), ("2", "2")]
    assert all(
        "HTTP 503 with text/html, page title '503 Service Temporarily Unavailable'" in m[4] for m in retries
    )
    assert sorted(r["id"] for r in rows(dbx, "bills")) == [1, 2]


@pytest.mark.parametrize("auth", ["oauth", "token"])
def test_wrong_host_path_says_the_url_is_wrong_not_the_credentials(tmp_path, dbx, auth):
    credentials = (
        {"token": "dapi-sandbox-token", "client_id": None, "client_secret": None} if auth == "token" else {}
    )
    cfg = write_config(tmp_path, dbx, **fast(host=f"{dbx.base_url}/wrong", **credentials))
    result = run_in_process(cfg, MESSAGES)
    assert result.returncode != 0
    error = result.stderr.splitlines()[-1]
    assert "answered HTTP 404" in error
    assert (
        f"There is no Databricks API at this URL: check host ({dbx.base_url}/wrong) (it has the path '/wrong'"
        in error
    )
    assert not re.search(r"credential|client_secret|token|Invalid URL", error, re.I)


def test_html_404_from_a_proxy_says_the_url_is_wrong(tmp_path, dbx):
    cfg = write_config(tmp_path, dbx, **fast(token="dapi-sandbox-token", client_id=None, client_secret=None))
    dbx.html_next(1, 404)
    result = run_in_process(cfg, MESSAGES)
    assert result.returncode != 0
    error = result.stderr.splitlines()[-1]
    assert "answered HTTP 404 with text/html, page title '404 Not Found'" in error
    assert f"There is no Databricks API at this URL: check host ({dbx.base_url})" in error
    assert "token" not in error


def test_refused_credentials_name_the_settings(tmp_path, dbx):
    cfg = write_config(tmp_path, dbx, **fast(client_secret="not-the-secret"))
    result = run_in_process(cfg, MESSAGES)
    assert result.returncode != 0
    assert (
        f"OAuth token request to {dbx.base_url}/oidc/v1/token was refused (HTTP 401 invalid_client: "
        "Client authentication failed.): check client_id ('sandbox-sp') and client_secret." in result.stderr
    )
    assert "not-the-secret" not in result.stderr

    cfg = write_config(tmp_path, dbx, **fast(token="dapi-wrong", client_id=None, client_secret=None))
    result = run_in_process(cfg, MESSAGES)
    assert result.returncode != 0
    assert "answered HTTP 401 UNAUTHENTICATED" in result.stderr and "Check token" in result.stderr
    assert "dapi-wrong" not in result.stderr


# --- settings -----------------------------------------------------------------------------------


def run_cli(tmp_path, dbx, caplog, **settings) -> tuple[click.testing.Result, list[logging.LogRecord]]:
    """The console command in process (the SDK's click command, as ``target-databricks`` runs it)."""
    cfg = write_config(tmp_path, dbx, **settings)
    messages = tmp_path / "input.jsonl"
    messages.write_text("".join(ENCODER.encode(m).decode() + "\n" for m in MESSAGES))
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    result = CliRunner().invoke(
        TargetDatabricks.get_singer_command(), ["--config", cfg, "--input", str(messages)]
    )
    return result, [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"max_retries": -1}, "-1 is less than the minimum of 0 in config['max_retries']"),
        (
            {"statement_wait_timeout_seconds": 500},
            "500 is greater than the maximum of 50 in config['statement_wait_timeout_seconds']",
        ),
        ({"statement_wait_timeout_seconds": 3}, "statement_wait_timeout_seconds 3 is not accepted"),
        ({"retry_backoff_seconds": -1}, "in config['retry_backoff_seconds']"),
        ({"max_backoff_seconds": -5}, "in config['max_backoff_seconds']"),
        ({"load_method": "upsret"}, "in config['load_method']"),
        ({"client_id": None, "client_secret": None}, "no credentials: set token"),
        ({"client_secret": None}, "client_id is set but client_secret is not"),
        ({"host": "http://"}, "host 'http://' is not a workspace URL"),
    ],
)
def test_bad_settings_fail_before_any_request_in_one_line_each(tmp_path, dbx, caplog, settings, expected):
    result, errors = run_cli(tmp_path, dbx, caplog, **settings)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert any(expected in r.getMessage() for r in errors), [r.getMessage() for r in errors]
    assert all(r.exc_info is None for r in errors)  # no traceback
    assert dbx.stats.statuses == {}  # refused before any request


def test_connection_error_at_the_command_line_is_one_line_with_the_traceback_at_debug(tmp_path, dbx, caplog):
    result, errors = run_cli(tmp_path, dbx, caplog, **fast(host=closed_port_url(), max_retries=0))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert [r.exc_info for r in errors] == [None, None]  # the SDK's "Error initializing" line and ours
    assert "Check host" in errors[-1].getMessage()
    [debug] = [r for r in caplog.records if r.getMessage() == "Traceback of the error above"]
    assert debug.levelno == logging.DEBUG and debug.exc_info


def test_statement_wait_timeout_0_answers_at_once_and_the_statements_are_polled(tmp_path, dbx):
    dbx.knobs.statement_delay_s = 0.2
    cfg = write_config(tmp_path, dbx, statement_wait_timeout_seconds=0)
    result = run_in_process(cfg, MESSAGES)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(r["id"] for r in rows(dbx, "bills")) == [1, 2]
    assert dbx.stats.polls >= dbx.stats.statements_succeeded  # each one polled (before: sent as 5s)


def test_settings_bounds_are_in_the_config_schema():
    properties = TargetDatabricks.config_jsonschema["properties"]
    assert properties["max_retries"]["minimum"] == 0
    assert (
        properties["statement_wait_timeout_seconds"]["minimum"],
        properties["statement_wait_timeout_seconds"]["maximum"],
    ) == (0, 50)
    assert (
        properties["retry_backoff_seconds"]["minimum"] == 0
        and properties["max_backoff_seconds"]["minimum"] == 0
    )
    assert properties["bulk_file_max_bytes"]["maximum"] == 48 * 1024 * 1024
    assert properties["load_method"]["enum"] == ["upsert", "append-only", "overwrite"]


# --- the generic command-line piece -----------------------------------------------------------------


def test_concise_errors_logs_expected_errors_as_one_line_and_keeps_tracebacks_of_bugs(caplog):
    logger = logging.getLogger("plugin-under-test")

    def command(error: Exception) -> click.Command:
        def fail() -> None:
            raise error

        return concise_errors(click.Command("plugin", callback=fail), logger)

    caplog.set_level(logging.DEBUG, logger="plugin-under-test")
    result = CliRunner().invoke(command(ConnectorError("host x is unreachable: check host")), [])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert [(r.levelname, r.getMessage(), bool(r.exc_info)) for r in caplog.records] == [
        ("ERROR", "host x is unreachable: check host", False),
        ("DEBUG", "Traceback of the error above", True),
    ]
    bug = CliRunner().invoke(command(KeyError("oops")), [])
    assert isinstance(bug.exception, KeyError)  # not swallowed: the SDK's excepthook shows its traceback
