"""mlc-secrets: credentials encrypted at rest, decrypted only into one run's environment."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from acumatica_emulator import AcumaticaEmulator, EmulatorConfig, OAuthClient, User

from tests.support.meltano import MELTANO, ROOT, meltano_env, meltano_run
from tests.support.replay import meltano_runs

CLI = str(Path(sys.executable).parent / "mlc-secrets")
CLIENT_SECRET = "cs-7f1e2d9c4b-do-not-log"
PASSWORD = "pw-83a6c0e5d1-do-not-log"


def secrets_cli(tmp_path: Path, *args: str, key: str | None, stdin: str = "", **env: str):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MLC_SECRETS_")}
    environ["MLC_SECRETS_FILE"] = str(tmp_path / "vault" / "credentials.enc")
    if key is not None:
        environ["MLC_SECRETS_KEY"] = key
    return subprocess.run(
        [CLI, *args], input=stdin, capture_output=True, text=True, env=environ | env, timeout=120, check=False
    )


@pytest.fixture
def key(tmp_path) -> str:
    made = secrets_cli(tmp_path, "keygen", key=None)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


@pytest.fixture
def vault(tmp_path, key) -> Path:
    stored = secrets_cli(
        tmp_path,
        "set",
        "TAP_ACUMATICA_CLIENT_SECRET",
        "TAP_ACUMATICA_PASSWORD",
        key=key,
        stdin=f"{CLIENT_SECRET}\n{PASSWORD}\n",
    )
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
    probe = (
        "import os, sys; sys.exit(0 if os.environ['TAP_ACUMATICA_CLIENT_SECRET'] == sys.argv[1] "
        "and os.environ['TAP_ACUMATICA_PASSWORD'] == sys.argv[2] else 3)"
    )
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
    config = EmulatorConfig(
        port=0,
        users=(User("admin", PASSWORD),),
        clients=(OAuthClient(EmulatorConfig().clients[0].client_id, CLIENT_SECRET),),
    )
    logs = ROOT / ".meltano" / "logs"
    before = {p for p in logs.rglob("*") if p.is_file()} if logs.exists() else set()
    with AcumaticaEmulator(config) as emulator:
        env = {"MLC_SECRETS_KEY": key, "MLC_SECRETS_FILE": str(vault)}
        proc = meltano_run(
            tmp_path,
            "target-duckdb",
            command_prefix=[CLI, "run", "--"],
            TAP_ACUMATICA_BASE_URL=emulator.base_url,
            TARGET_DUCKDB_FILEPATH=str(tmp_path / "warehouse.duckdb"),
            **env,
        )
        assert emulator.stats.tokens_issued >= 1  # the decrypted credentials were the ones used
    places = {
        "stdout": proc.stdout.encode(),
        "stderr": proc.stderr.encode(),
        "meltano system database": (tmp_path / "meltano.db").read_bytes(),
        "warehouse": (tmp_path / "warehouse.duckdb").read_bytes(),
    }
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


#: Folders of the project tree that hold installed software, not anything a run writes.
NOT_SCANNED = {".git", ".venv", ".tools", "venv", "node_modules", "__pycache__"}


def files_holding(top: Path, secrets: tuple[str, ...], since: float = 0.0) -> list[Path]:
    """Every regular file under ``top`` (links not followed) changed since ``since`` that holds a secret."""
    found = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = [d for d in dirnames if d not in NOT_SCANNED]
        for name in filenames:
            path = Path(dirpath, name)
            try:
                info = path.lstat()
                if not stat.S_ISREG(info.st_mode) or info.st_mtime < since:
                    continue
                content = path.read_bytes()
            except OSError:
                continue  # removed while scanning
            if any(secret.encode() in content for secret in secrets):
                found.append(path)
    return found


def private_run_dirs(run_root: Path) -> list[Path]:
    return sorted(run_root.glob("mlc-secrets-run-*"))


def open_to_others(path: Path, top: Path) -> list[str]:
    """``path`` and each directory below ``top`` down to it that group or others may use."""
    return [
        f"{p} {stat.S_IMODE(p.lstat().st_mode):o}"
        for p in (path, *path.parents)
        if p.is_relative_to(top) and p != top and stat.S_IMODE(p.lstat().st_mode) & 0o077
    ]


@pytest.mark.e2e
def test_plugin_config_files_are_private_during_a_run_and_gone_after_it_or_a_kill(tmp_path, key, vault):
    """Meltano writes each plugin's settings, secrets included, to a config file for the plugin's
    command. Under `mlc-secrets run` that file is in a private run directory outside the project
    (700, file 600), which is removed when the run ends (also on SIGTERM) and, after a SIGKILL, by the
    next `mlc-secrets run`. The secret values are canaries: no file of the project tree holds them."""
    secrets = (CLIENT_SECRET, PASSWORD)
    started = time.time() - 1
    run_root = tmp_path / "runtime"
    config = EmulatorConfig(
        port=0,
        users=(User("admin", PASSWORD),),
        latency_ms=150,
        clients=(OAuthClient(EmulatorConfig().clients[0].client_id, CLIENT_SECRET),),
    )
    env = {
        k: v
        for k, v in meltano_env(tmp_path).items()
        if not k.startswith("MLC_SECRETS_") and k != "XDG_RUNTIME_DIR"
    }
    env |= {
        "MLC_SECRETS_KEY": key,
        "MLC_SECRETS_FILE": str(vault),
        "MLC_SECRETS_RUN_ROOT": str(run_root),
        "TARGET_DUCKDB_FILEPATH": str(tmp_path / "warehouse.duckdb"),
    }
    command = [CLI, "run", "--", MELTANO, "--environment=sandbox", "run", "tap-acumatica", "target-duckdb"]

    def start(emulator) -> subprocess.Popen:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=env | {"TAP_ACUMATICA_BASE_URL": emulator.base_url},
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "run.log").open("a"),
            start_new_session=True,
        )

    def config_files_during(proc: subprocess.Popen) -> list[Path]:
        """Once the tap runs: the files that hold a secret, all checked to be private and outside the
        project tree."""
        deadline = time.monotonic() + 240
        while not (held := files_holding(run_root, secrets)):
            assert proc.poll() is None, (tmp_path / "run.log").read_text()[-4000:]
            assert not files_holding(ROOT, secrets, since=started), "a secret reached the project tree"
            assert time.monotonic() < deadline, "no plugin config file appeared within 240 s"
            time.sleep(0.2)
        for path in held:
            assert not open_to_others(path, run_root), f"readable by others: {open_to_others(path, run_root)}"
        assert not files_holding(ROOT, secrets, since=started), "a secret reached the project tree"
        return held

    with AcumaticaEmulator(config) as emulator:
        # A whole run: the config files exist only while it runs.
        proc = start(emulator)
        config_files_during(proc)
        assert proc.wait(timeout=600) == 0, (tmp_path / "run.log").read_text()[-4000:]
        assert private_run_dirs(run_root) == [], "the run left its private directory behind"

        # SIGTERM to mlc-secrets: Meltano is told to stop, and the directory goes when it has.
        proc = start(emulator)
        config_files_during(proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) != 0
        assert private_run_dirs(run_root) == [], "a run stopped with SIGTERM left its private directory"

        # SIGKILL to every process of the run: nothing can clean up, so the next start does.
        proc = start(emulator)
        held = config_files_during(proc)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        assert all(path.exists() for path in held)  # what the next start has to remove
        nothing = secrets_cli(
            tmp_path,
            "run",
            "--",
            sys.executable,
            "-c",
            "pass",
            key=key,
            MLC_SECRETS_RUN_ROOT=str(run_root),
            MELTANO_PROJECT_ROOT=str(ROOT),
        )
        assert nothing.returncode == 0, nothing.stderr
        assert "left by a run that was killed" in nothing.stderr
        assert private_run_dirs(run_root) == []

    assert not files_holding(run_root, secrets) and not files_holding(ROOT, secrets, since=started)


def test_a_keyring_without_a_backend_is_no_key_not_a_traceback(tmp_path, vault):
    """keyring installed on a server without a desktop session has no backend: with no other key the
    error names every place a key can come from, and storing a key there is refused in one line."""
    no_backend = "keyring.backends.fail.Keyring"
    missing = secrets_cli(tmp_path, "list", key=None, PYTHON_KEYRING_BACKEND=no_backend)
    assert missing.returncode == 2 and "MLC_SECRETS_KEY" in missing.stderr
    assert "Traceback" not in missing.stderr
    store = secrets_cli(tmp_path, "keygen", "--keyring", key=None, PYTHON_KEYRING_BACKEND=no_backend)
    assert store.returncode == 2 and "keyring refused" in store.stderr and "Traceback" not in store.stderr
