"""tap-sage-intacct as Meltano runs it (its console script): crash and resume from STATE,
secrets never in its output, --about without signing in, discovery with one lookup per object."""

from __future__ import annotations

import json
import os
import subprocess

from tap_sage_intacct.objects import BALANCES, BUILTIN

from tests.support.intacct import TAP, files, messages, mismatches


def test_killed_mid_stream_then_resumed_from_its_state_loses_nothing(tmp_path, intacct, config):
    config = {**config, "page_size": 40}
    proc = subprocess.Popen(
        files(tmp_path, config, ["gl_details"]), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    first, states = [], []
    for message in messages(proc.stdout):
        if message["type"] == "RECORD":
            first.append(message["record"])
        elif message["type"] == "STATE":
            states.append(message["value"])
            if len(states) == 3:
                proc.kill()
                break
    proc.wait(timeout=30)
    total = len(intacct.store.records("GLDETAIL"))
    assert 0 < len(first) < total, "the tap was killed mid-stream"
    bookmark = states[-1]["bookmarks"]["gl_details"]["replication_key_value"]
    assert all(r["WHENMODIFIED"] <= bookmark for r in first[: len(first)])

    resumed = subprocess.run(
        files(tmp_path, config, ["gl_details"], states[-1]),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    second = [m["record"] for m in messages(resumed.stdout.splitlines()) if m["type"] == "RECORD"]
    assert all(r["WHENMODIFIED"] > bookmark for r in second), "a record at or before the bookmark came again"
    emitted = {r["RECORDNO"]: r for r in first if r["WHENMODIFIED"] <= bookmark}
    emitted.update({r["RECORDNO"]: r for r in second})
    schema = next(m for m in messages(resumed.stdout.splitlines()) if m["type"] == "SCHEMA")["schema"]
    assert not mismatches(schema, list(emitted.values()), intacct.store.records("GLDETAIL"))


def test_secrets_never_reach_output_logs_or_errors(tmp_path, intacct, config):
    secrets = [config["sender_password"], config["user_password"]]
    debug = {**os.environ, "LOGLEVEL": "DEBUG"}
    ok = subprocess.run(
        files(tmp_path, config, ["vendors", "classes"]),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env=debug,
    )
    bad = {**config, "user_password": "not-the-Pa55word"}
    failed = subprocess.run(
        files(tmp_path, bad, ["classes"]), capture_output=True, text=True, timeout=120, env=debug
    )
    assert failed.returncode != 0 and "XL03000006" in failed.stderr
    assert "vendors" in ok.stdout and "Opened an Intacct session" in ok.stderr
    for text in (ok.stdout, ok.stderr, failed.stdout, failed.stderr):
        for secret in [*secrets, "not-the-Pa55word"]:
            assert secret not in text


def test_about_never_signs_in_and_discovery_asks_lookup_once_per_object(tmp_path, intacct, config):
    about = json.loads(
        subprocess.run([TAP, "--about", "--format=json"], capture_output=True, text=True, check=True).stdout
    )
    secret = {n for n, s in about["settings"]["properties"].items() if s.get("secret")}
    assert secret == {"sender_password", "user_password"}
    (tmp_path / "config.json").write_text(json.dumps({**config, "lookup_fields": False}))
    found = json.loads(
        subprocess.run(
            [TAP, "--config", str(tmp_path / "config.json"), "--discover"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    # The objects, the balances and the run's record, _audit_runs
    assert len(found["streams"]) == len(BUILTIN) + len(BALANCES) + 1
    assert intacct.stats.requests == 0
    (tmp_path / "config.json").write_text(json.dumps(config))
    subprocess.run(
        [TAP, "--config", str(tmp_path / "config.json"), "--discover"], capture_output=True, check=True
    )
    assert intacct.stats.sessions_issued == 1
    assert intacct.stats.functions["lookup"] == len({spec.object for spec in BUILTIN})
