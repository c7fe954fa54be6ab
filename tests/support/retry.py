"""What the tests of the shared retry policy (mlc_run_audit.retry) read: its log lines, and a URL
where nothing answers."""

from __future__ import annotations

import contextlib
import io
import logging
import re
import socket
from collections.abc import Iterator

#: "<METHOD> <url> [(<what>)]: <problem>; retry <n> of <m> in <wait> s" (groups in that order)
RETRY_LINE = re.compile(
    r"(GET|POST|PUT|DELETE) (\S+)(?: \(([^)]*)\))?: (.+); retry (\d+) of (\d+) in ([\d.]+) s$"
)


def retry_lines(text: str) -> list[re.Match]:
    """The policy's retry lines in a log, whatever prefix the log handler put before them."""
    return [m for line in text.splitlines() if (m := RETRY_LINE.search(line))]


def closed_port_url() -> str:
    """``http://127.0.0.1:<port>`` of a port nobody listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def captured_log(name: str) -> Iterator[io.StringIO]:
    """Messages of logger ``name`` (and its children), one a line; works whether or not it propagates."""
    text = io.StringIO()
    handler = logging.StreamHandler(text)
    handler.setLevel(logging.INFO)
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    try:
        yield text
    finally:
        logger.removeHandler(handler)
