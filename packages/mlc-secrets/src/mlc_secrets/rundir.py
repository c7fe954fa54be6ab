"""A private Meltano system directory for one ``mlc-secrets run``.

Meltano hands every Singer plugin its settings, secrets included, as a JSON file in
``<system dir>/run/<plugin>/`` (the system dir is ``.meltano`` unless ``MELTANO_SYS_DIR_ROOT`` says
otherwise). For the length of one run that directory is a fresh ``mlc-secrets-run-*`` directory, mode
700, outside the project; everything else Meltano keeps there (plugin venvs, the system database, job
logs under ``run/elt``) is a symbolic link back to the project's own system dir, so installs, state and
logs are the project's as usual. The directory is removed when the run ends, and one left by a run that
was killed outright is removed by the next ``mlc-secrets run``.

A run holds an exclusive ``flock`` on the directory's ``.lock`` file for as long as it, or the command it
started, lives: the lock, not a process id, tells a live run from a dead one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

#: Where the private directories go: this variable, else $XDG_RUNTIME_DIR (a per-user tmpfs on most
#: Linux systems, so the files never reach a disk), else the system temp directory ($TMPDIR).
RUN_ROOT_ENV = "MLC_SECRETS_RUN_ROOT"
PREFIX = "mlc-secrets-run-"
LOCK = ".lock"
SYS_DIR_ENV = "MELTANO_SYS_DIR_ROOT"
PROJECT_ROOT_ENV = "MELTANO_PROJECT_ROOT"
#: The system dir's folders of installed plugins, one per Meltano plugin type. Made in the project's
#: system dir when missing, so that `meltano install` under `mlc-secrets run` installs into the project.
PLUGIN_DIRS = (
    "extractors",
    "loaders",
    "mappers",
    "utilities",
    "transformers",
    "orchestrators",
    "transforms",
    "files",
)
#: Meltano's default system database (sqlite:///$MELTANO_SYS_DIR_ROOT/meltano.db). SQLite resolves the
#: link, so the database and its journal stay in the project.
SYSTEM_DB = "meltano.db"


def run_root(env: dict[str, str]) -> Path:
    """The directory the private run directories are made in."""
    return Path(env.get(RUN_ROOT_ENV) or env.get("XDG_RUNTIME_DIR") or tempfile.gettempdir())


def find_project(env: dict[str, str], cwd: Path) -> Path | None:
    """The Meltano project the command will run in, found as Meltano finds it; None outside any."""
    if root := env.get(PROJECT_ROOT_ENV):
        return Path(root).resolve() if (Path(root) / "meltano.yml").is_file() else None
    for directory in (cwd, *cwd.parents):
        if (directory / "meltano.yml").is_file():
            return directory.resolve()
    return None


def clean_stale(root: Path) -> list[Path]:
    """Remove the private directories of runs that ended without cleaning up (killed); return them."""
    removed = []
    for path in sorted(root.glob(f"{PREFIX}*")):
        try:
            if not path.is_dir() or path.is_symlink() or path.lstat().st_uid != os.getuid():
                continue
            fd = os.open(path / LOCK, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue  # not ours, or made a moment ago and not locked yet
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a run in progress
        finally:
            os.close(fd)
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _link_system_dir(private: Path, project_sys_dir: Path) -> None:
    project_sys_dir.mkdir(parents=True, exist_ok=True)
    for name in PLUGIN_DIRS:
        (project_sys_dir / name).mkdir(exist_ok=True)
    (project_sys_dir / SYSTEM_DB).touch(exist_ok=True)
    for entry in project_sys_dir.iterdir():
        if entry.name not in ("run", LOCK):
            (private / entry.name).symlink_to(entry)
    (private / "run").mkdir(mode=0o700)
    # Job logs (run/elt/<state id>/<run id>/elt.log) hold no settings; they stay with the project, and
    # the lock Meltano takes to write meltano.yml stays shared with runs outside mlc-secrets.
    (project_sys_dir / "run" / "elt").mkdir(parents=True, exist_ok=True)
    for name in ("elt", "meltano.yml.lock"):
        (private / "run" / name).symlink_to(project_sys_dir / "run" / name)


@contextlib.contextmanager
def private_system_dir(project: Path, env: dict[str, str]) -> Iterator[tuple[Path, int]]:
    """Make the run's private system dir; yield it and the fd of its held lock; remove it at the end."""
    root = run_root(env)
    root.mkdir(parents=True, exist_ok=True)
    for path in clean_stale(root):
        print(f"mlc-secrets: removed {path}, left by a run that was killed", file=sys.stderr)
    project_sys_dir = Path(env.get(SYS_DIR_ENV) or project / ".meltano").resolve()
    private = Path(tempfile.mkdtemp(prefix=PREFIX, dir=root))  # mode 700
    lock = -1
    try:
        lock = os.open(private / LOCK, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
        fcntl.flock(lock, fcntl.LOCK_EX)
        _link_system_dir(private, project_sys_dir)
        yield private, lock
    finally:
        # Links are removed, never followed: the project's own system dir is untouched.
        shutil.rmtree(private, ignore_errors=True)
        if lock >= 0:
            os.close(lock)
