"""mlc-secrets: credentials encrypted at rest, decrypted only into one run's environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from acumatica_emulator import AcumaticaEmulator, EmulatorConfig, OAuthClient, User

from tests.replay import meltano_runs
from tests.test_e2e_meltano import ROOT, meltano_run

CLI = str(Path(sys.executable).parent / "mlc-secrets")
CLIENT_SECRET = "cs-7f1e2d9c4b-do-not-log"
PASSWORD = "pw-83a6c0e5d1-do-not-log"


def secrets_cli(tmp_path: Path, *args: str, key: str | None, stdin: str = "", **env: str):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MLC_SECRETS_")}
    environ["MLC_SECRETS_FILE"] = str(tmp_path / "vault" / "credentials.enc")
    if key is not None:
        environ["MLC_SECRETS_KEY"] = key
    return subprocess.run([CLI, *args], input=stdin, capture_output=True, text=True, env=environ | env,
                          timeout=120, check=False)


@pytest.fixture
def key(tmp_path) -> str:
    made = secrets_cli(tmp_path, "keygen", key=None)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


@pytest.fixture
def vault(tmp_path, key) -> Path:
    stored = secrets_cli(tmp_path, "set", "TAP_ACUMATICA_CLIENT_SECRET", "TAP_ACUMATICA_PASSWORD",
                         key=key, stdin=f"{CLIENT_SECRET}\n{PASSWORD}\n")
    assert stored.returncode == 0, stored.stderr
    assert CLIENT_SECRET not in stored.stdout + stored.stderr
    return tmp_path / "vault" / "credentials.enc"


def test_values_are_encrypted_at_rest_and_listed_by_name_only(tmp_path, key, vault):
    raw = vault.read_bytes()
    assert CLIENT_SECRET.encode() not in raw and PASSWORD.encode() not in raw
    assert vault.stat().st_mode & 0o077 == 0
    listed = secrets_cli(tmp_path, "list", key=key)
    assert listed.returncode == 0
    assert listed.stdout.split() == ["TAP_ACUMATICA_CLIENT_SECRET", "TAP_ACUMATICA_PASSWORD"]


def test_run_puts_the_secrets_only_into_the_child_environment(tmp_path, key, vault):
    probe = ("import os, sys; sys.exit(0 if os.environ['TAP_ACUMATICA_CLIENT_SECRET'] == sys.argv[1] "
             "and os.environ['TAP_ACUMATICA_PASSWORD'] == sys.argv[2] else 3)")
    ran = secrets_cli(tmp_path, "run", "--", sys.executable, "-c", probe, CLIENT_SECRET, PASSWORD, key=key)
    assert ran.returncode == 0, ran.stderr
    assert "TAP_ACUMATICA_CLIENT_SECRET" not in os.environ
    no_key = "import os, sys; sys.exit(3 if 'MLC_SECRETS_KEY' in os.environ else 0)"
    assert secrets_cli(tmp_path, "run", "--", sys.executable, "-c", no_key, key=key).returncode == 0


@pytest.mark.parametrize("damage", ["wrong key", "one byte changed"])
def test_wrong_key_or_tampered_file_decrypts_nothing(tmp_path, key, vault, damage):
    if damage == "wrong key":
        key = secrets_cli(tmp_path, "keygen", key=None).stdout.strip()
    else:
        raw = bytearray(vault.read_bytes())
        raw[len(raw) // 2] ^= 0x01
        vault.write_bytes(bytes(raw))
    marker = tmp_path / "ran"
    ran = secrets_cli(tmp_path, "run", "--", sys.executable, "-c", f"open({str(marker)!r}, 'w')", key=key)
    assert ran.returncode == 2
    assert "cannot decrypt" in ran.stderr and "nothing was decrypted" in ran.stderr
    assert CLIENT_SECRET not in ran.stdout + ran.stderr
    assert not marker.exists(), "the command must not run when the secrets cannot be decrypted"


def test_missing_or_malformed_key_is_named(tmp_path, vault):
    missing = secrets_cli(tmp_path, "list", key=None)
    assert missing.returncode == 2 and "MLC_SECRETS_KEY" in missing.stderr
    malformed = secrets_cli(tmp_path, "list", key="not-a-key")
    assert malformed.returncode == 2 and "not a valid key" in malformed.stderr


def test_key_file_readable_by_others_is_refused(tmp_path, key, vault):
    key_file = tmp_path / "key"
    key_file.write_text(key)
    key_file.chmod(0o644)
    refused = secrets_cli(tmp_path, "--key-file", str(key_file), "list", key=None)
    assert refused.returncode == 2 and "chmod 600" in refused.stderr
    key_file.chmod(0o600)
    listed = secrets_cli(tmp_path, "--key-file", str(key_file), "list", key=None)
    assert listed.returncode == 0 and "TAP_ACUMATICA_PASSWORD" in listed.stdout


def test_import_a_dotenv_file(tmp_path, key):
    dotenv = tmp_path / ".env"
    dotenv.write_text("# Databricks\nexport TARGET_DATABRICKS_CLIENT_SECRET='s3cr=t'\nOTHER=plain\n")
    imported = secrets_cli(tmp_path, "import", str(dotenv), key=key)
    assert imported.returncode == 0, imported.stderr
    probe = "import os, sys; sys.exit(0 if os.environ['TARGET_DATABRICKS_CLIENT_SECRET'] == 's3cr=t' else 3)"
    assert secrets_cli(tmp_path, "run", "--", sys.executable, "-c", probe, key=key).returncode == 0
    bad = tmp_path / "bad.env"
    bad.write_text("JUST_A_NAME\n")
    failed = secrets_cli(tmp_path, "import", str(bad), key=key)
    assert failed.returncode == 2 and "line 1" in failed.stderr


@pytest.mark.e2e
def test_meltano_run_with_decrypted_credentials_leaves_no_secret_anywhere(tmp_path, key, vault):
    """The credentials reach the tap only through `mlc-secrets run`; no log, state or database holds them."""
    config = EmulatorConfig(port=0, users=(User("admin", PASSWORD),),
                            clients=(OAuthClient(EmulatorConfig().clients[0].client_id, CLIENT_SECRET),))
    logs = ROOT / ".meltano" / "logs"
    before = {p for p in logs.rglob("*") if p.is_file()} if logs.exists() else set()
    with AcumaticaEmulator(config) as emulator:
        env = {"MLC_SECRETS_KEY": key, "MLC_SECRETS_FILE": str(vault)}
        proc = meltano_run(tmp_path, "target-duckdb", command_prefix=[CLI, "run", "--"],
                           TAP_ACUMATICA_BASE_URL=emulator.base_url,
                           TARGET_DUCKDB_FILEPATH=str(tmp_path / "warehouse.duckdb"), **env)
        assert emulator.stats.tokens_issued >= 1  # the decrypted credentials were the ones used
    places = {"stdout": proc.stdout.encode(), "stderr": proc.stderr.encode(),
              "meltano system database": (tmp_path / "meltano.db").read_bytes(),
              "warehouse": (tmp_path / "warehouse.duckdb").read_bytes()}
    for path in (p for p in logs.rglob("*") if p.is_file() and p not in before):
        places[str(path)] = path.read_bytes()
    for name, content in places.items():
        for secret in (CLIENT_SECRET, PASSWORD):
            assert secret.encode() not in content, f"a secret reached {name}"

    # `mlc-secrets run` gave the run one id: Meltano's run record, every landed row and the run's
    # own record in the warehouse carry it.
    (run_id,) = meltano_runs(tmp_path)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        stamped = set(con.execute("select distinct _audit_run_id from acumatica.vendors").fetchall())
        runs = con.execute("select run_id, status from acumatica._audit_runs").fetchall()
    assert stamped == {(run_id,)}
    assert runs == [(run_id, "extracted")]
