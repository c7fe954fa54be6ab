"""What the tests of the shared retry policy (mlc_run_audit.retry) and settings
(mlc_run_audit.settings) use: the policy's log lines, a URL where nothing answers, a server that
answers with Retry-After, and the check of a renamed setting."""

from __future__ import annotations

import contextlib
import io
import logging
import re
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

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


def waits(text: str) -> list[str]:
    """The waits of the policy's retry lines in a log, as logged (``"0.2"``)."""
    return [m[7] for m in retry_lines(text)]


def check_renamed_setting(plugin_class: Any, config: dict, old: str, new: str, value: Any) -> Any:
    """Build ``plugin_class`` with ``value`` under the setting's old name; check that the plugin reads
    it under the new name and warned once naming both. Returns the plugin, for checks of the effect."""
    with captured_log(plugin_class.name) as log:
        plugin = plugin_class(config={**{k: v for k, v in config.items() if k != new}, old: value})
    assert old not in plugin.config and plugin.config[new] == value
    warnings = [line for line in log.getvalue().splitlines() if f"Setting {old} is deprecated" in line]
    assert warnings == [f"Setting {old} is deprecated: it is now {new}; rename it in the config."]
    return plugin


class RetryAfterServer:
    """A local HTTP server that answers every request with ``status`` and ``Retry-After:
    retry_after``, counting the requests: for clients whose emulator sends no Retry-After."""

    def __init__(self, status: int, retry_after: str) -> None:
        counts = self.requests = Counter[str]()

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                counts[f"{self.command} {self.path}"] += 1
                self.send_response(status)
                self.send_header("Retry-After", retry_after)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> RetryAfterServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
