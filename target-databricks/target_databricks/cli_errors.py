"""Expected failures end a command-line run with one log line; the traceback only at debug level.

Nothing here is specific to this target (it needs click and logging only), so any Singer SDK plugin
can use it from its ``get_singer_command``::

    @classmethod
    def get_singer_command(cls) -> click.Command:
        return concise_errors(super().get_singer_command(), cls.logger, (ConnectorError, SomeError))

The SDK already reports config validation errors one per line; every other exception reaches its
excepthook, which logs a full traceback. Errors a user can act on (a setting, a host, credentials,
an answer that is not the API's, a value) carry a message that says what to do, so they are logged
as that message alone and the process exits 1. Anything else keeps its traceback: it is a bug.
"""

from __future__ import annotations

import logging
from typing import Any

import click


class ConnectorError(Exception):
    """A failure whose message names what was wrong (setting, host, request, statement, stream,
    value) and what to do; the command line logs it as one line, without a traceback."""


def concise_errors(
    command: click.Command,
    logger: logging.Logger,
    expected: tuple[type[BaseException], ...] = (ConnectorError,),
) -> click.Command:
    """Make ``command`` log an ``expected`` error as one ERROR line (its message) and exit 1; the
    traceback goes to DEBUG, so ``<PLUGIN>_LOGLEVEL=DEBUG`` (or ``LOGLEVEL``) still shows it."""
    invoke = command.invoke

    def invoke_concisely(ctx: click.Context) -> Any:
        try:
            return invoke(ctx)
        except expected as exc:
            logger.error("%s", exc)  # the traceback is for debugging only
            logger.debug("Traceback of the error above", exc_info=exc)
            ctx.exit(1)

    command.invoke = invoke_concisely  # type: ignore[method-assign]
    return command
