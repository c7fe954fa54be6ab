"""A Singer SDK plugin's console command run in this process: the same click command, settings,
logging, error handling and exit status as its console script, without an interpreter start-up per
run. Tests keep the console script itself (a subprocess) where the process is the point: a kill or
signal, the exit status of the process, what reaches the real stdin or stderr."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import click
import mlc_run_audit.run_id
from singer_sdk.logging import ConsoleFormatter
from singer_sdk.plugin_base import PluginBase, _plugin_log_level


@dataclass
class Done:
    """What one command run wrote, and how it ended."""

    returncode: int
    stdout: str
    stderr: str


def run_command(plugin: type[PluginBase], args: list[str], env: dict[str, str] | None = None) -> Done:
    """``<plugin> <args>`` as its console script would run it, in this process: its stdout (Singer
    messages), its log formatted as the console script formats it on stderr, and its exit status. An
    exception that escapes the command is logged by the command's own excepthook, as the console
    script's is. ``env`` is added to the environment for the run. Each run gets its own run id, as each
    process does. What the command changes in this process (signal handlers, excepthook, warning
    filters, the root logger, the run id) is put back afterwards."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")  # Singer writers use stdout.buffer
    err = io.StringIO()
    handler = logging.StreamHandler(err)
    handler.setFormatter(ConsoleFormatter())
    root = logging.getLogger()
    level = root.level
    saved_signals = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    saved_hook = sys.excepthook
    saved_run_id = mlc_run_audit.run_id._generated
    # Without MELTANO_RUN_ID the run id is made once per process: each console-script run has its own.
    mlc_run_audit.run_id._generated = None
    try:
        with _environment(env or {}):
            root.addHandler(handler)
            root.setLevel(_plugin_log_level(plugin_name=plugin.name))  # as plugin.cli sets it
            with warnings.catch_warnings(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = _main(plugin, args)
    finally:
        mlc_run_audit.run_id._generated = saved_run_id
        logging.captureWarnings(False)
        sys.excepthook = saved_hook
        for sig, action in saved_signals.items():
            signal.signal(sig, action)
        root.removeHandler(handler)
        root.setLevel(level)
    out.flush()
    return Done(code, out.buffer.getvalue().decode(), err.getvalue())


def _main(plugin: type[PluginBase], args: list[str]) -> int:
    try:
        code = plugin.get_singer_command().main(args, prog_name=plugin.name, standalone_mode=False)
    except SystemExit as stop:
        code = stop.code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        return 1
    except Exception:
        sys.excepthook(*sys.exc_info())  # the command's own hook: it logs the error as the script would
        return 1
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
