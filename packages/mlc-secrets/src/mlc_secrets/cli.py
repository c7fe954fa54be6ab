"""``mlc-secrets``: keep credentials encrypted at rest; decrypt them only into one run's environment.

mlc-secrets keygen                  # print a new key; keep it in MLC_SECRETS_KEY (or --keyring)
mlc-secrets set TAP_ACUMATICA_PASSWORD   # prompts, or one line per name on stdin
mlc-secrets import .env             # encrypt an existing dotenv file, then delete the plain file
mlc-secrets list                    # names only, never values
mlc-secrets run -- meltano run tap-acumatica target-databricks
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from types import FrameType

from .rundir import SYS_DIR_ENV, find_project, private_system_dir
from .vault import (
    DEFAULT_FILE,
    FILE_ENV,
    KEY_ENV,
    KEY_FILE_ENV,
    Vault,
    VaultError,
    check_name,
    load_key,
    new_key,
    store_key_in_keyring,
)


def _vault(args: argparse.Namespace) -> Vault:
    return Vault(args.file, load_key(args.key_file))


def _read_values(names: list[str]) -> dict[str, str]:
    values = {}
    for name in names:
        check_name(name)
        tty = sys.stdin.isatty()
        value = getpass.getpass(f"{name}: ") if tty else sys.stdin.readline().rstrip("\r\n")
        if not value:
            raise VaultError(f"no value given for {name}")
        values[name] = value
    return values


def parse_dotenv(text: str, source: str) -> dict[str, str]:
    values = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.removeprefix("export ").partition("=")
        if not sep:
            raise VaultError(f"{source} line {number}: expected NAME=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[check_name(name.strip())] = value
    return values


def _cmd_keygen(args: argparse.Namespace) -> int:
    key = new_key()
    if args.keyring:
        store_key_in_keyring(key)
        print("A new key is stored in the OS keyring.", file=sys.stderr)
    else:
        print(key)
    return 0


def _store(args: argparse.Namespace, values: dict[str, str]) -> Vault:
    vault = _vault(args)
    vault.write(vault.read() | values)
    return vault


def _cmd_set(args: argparse.Namespace) -> int:
    vault = _store(args, _read_values(args.names))
    print(f"Stored {', '.join(args.names)} in {vault.path}.", file=sys.stderr)
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    imported = parse_dotenv(Path(args.dotenv).read_text(), args.dotenv)
    vault = _store(args, imported)
    print(f"Imported {len(imported)} names into {vault.path}; now delete {args.dotenv}.", file=sys.stderr)
    return 0


def _cmd_unset(args: argparse.Namespace) -> int:
    vault = _vault(args)
    secrets = vault.read()
    missing = [n for n in args.names if n not in secrets]
    if missing:
        raise VaultError(f"not in {vault.path}: {', '.join(missing)}")
    vault.write({k: v for k, v in secrets.items() if k not in args.names})
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    for name in sorted(_vault(args).read()):
        print(name)
    return 0


#: Read by `meltano run` as its run id, and by the ml-connector taps and targets.
RUN_ID_ENV = "MELTANO_RUN_ID"


def _cmd_run(args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise VaultError("nothing to run: mlc-secrets run -- <command> [args...]")
    vault = _vault(args)
    if not vault.exists():
        raise VaultError(f"no secrets file at {vault.path}; add secrets with `mlc-secrets set NAME`")
    # The command gets the secrets, not the key that unlocks all of them.
    env = {k: v for k, v in os.environ.items() if k not in (KEY_ENV, KEY_FILE_ENV)} | vault.read()
    # One id for the run: Meltano takes it as its own run id (`meltano run --run-id`) and the
    # connectors write it on every record and audit row. A run id already set is kept.
    env.setdefault(RUN_ID_ENV, str(uuid.uuid4()))
    project = find_project(env, Path.cwd())
    if project is None:
        return _supervise(command, env, ())
    with private_system_dir(project, env) as (sys_dir, lock):
        return _supervise(command, env | {SYS_DIR_ENV: str(sys_dir)}, (lock,))


def _supervise(command: list[str], env: dict[str, str], pass_fds: tuple[int, ...]) -> int:
    """Run ``command`` to its end, passing on SIGTERM, SIGHUP and SIGINT, so that this process outlives
    it and can remove the private run directory; the command's exit code, or 128 + the signal."""
    child: subprocess.Popen[bytes] | None = None
    early: list[int] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        # Ctrl-C reaches the whole foreground process group, the command included: sent once is enough.
        if signum == signal.SIGINT and _in_terminal_foreground():
            return
        if child is None:
            early.append(signum)  # arrived while the command was being started
            return
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    # Installed first: from here on no signal ends this process before the directory is removed.
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, forward)
    try:
        # The command inherits the run directory's lock: while it lives, no other run removes the directory.
        # umask 077: whatever the command writes (Meltano's plugin config files hold the secrets) is the
        # user's alone.
        child = subprocess.Popen(command, env=env, pass_fds=pass_fds, umask=0o077)
    except FileNotFoundError:
        raise VaultError(f"command not found: {command[0]}") from None
    for pending in early:
        child.send_signal(pending)
    returncode = child.wait()
    return 128 - returncode if returncode < 0 else returncode


def _in_terminal_foreground() -> bool:
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except (OSError, ValueError):
        return False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlc-secrets", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--file",
        default=os.environ.get(FILE_ENV, DEFAULT_FILE),
        help=f"the encrypted file (default ${FILE_ENV} or {DEFAULT_FILE})",
    )
    parser.add_argument("--key-file", default=None, help="read the key from this file (mode 600)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("keygen", help="print a new key (or store it in the OS keyring)")
    p.add_argument("--keyring", action="store_true")
    p.set_defaults(func=_cmd_keygen)
    p = sub.add_parser("set", help="add or replace secrets; values from a prompt or stdin, never argv")
    p.add_argument("names", nargs="+")
    p.set_defaults(func=_cmd_set)
    p = sub.add_parser("import", help="encrypt the NAME=value lines of a dotenv file")
    p.add_argument("dotenv")
    p.set_defaults(func=_cmd_import)
    p = sub.add_parser("unset", help="remove secrets")
    p.add_argument("names", nargs="+")
    p.set_defaults(func=_cmd_unset)
    p = sub.add_parser("list", help="print the names held (never the values)")
    p.set_defaults(func=_cmd_list)
    p = sub.add_parser("run", help="run a command with the secrets added to its environment")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.set_defaults(func=_cmd_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except VaultError as exc:
        print(f"mlc-secrets: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
