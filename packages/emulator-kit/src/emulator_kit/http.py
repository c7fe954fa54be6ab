"""HTTP transport (stdlib ThreadingHTTPServer, HTTP/1.1 keep-alive) and the emulator lifecycle.

An emulator is an *app* (``handle(Request) -> Response`` and ``internal_error(exc) -> Response``) behind
an :class:`HttpEmulator`, which binds the port, serves in a thread or the foreground, and stops cleanly.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import sys
import threading
import uuid
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qsl, urlsplit

_STREAM_THRESHOLD = 8 * 1024 * 1024


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""
    body_file: Path | None = None  # a large upload, streamed to disk by the transport


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str | None = "application/json"
    reset: bool = False  # close the connection without answering
    file: Path | None = None  # stream this file as the body


class App(Protocol):
    def handle(self, request: Request) -> Response: ...

    def internal_error(self, exc: Exception) -> Response: ...


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the body waits for the client's delayed
    # ACK (about 40 ms per request on Linux).
    disable_nagle_algorithm = True
    sys_version = ""
    app: App
    upload_dir: Path | None = None
    stream_prefix: str | None = None
    verbose = False

    def _read_body(self, url_path: str) -> tuple[bytes, Path | None]:
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        length = int(self.headers.get("Content-Length") or 0)
        streamed = (
            self.upload_dir is not None
            and self.stream_prefix is not None
            and url_path.startswith(self.stream_prefix)
            and (chunked or length > _STREAM_THRESHOLD)
        )
        if not streamed:
            if chunked:
                return b"".join(self._chunks()), None
            return (self.rfile.read(length) if length else b""), None
        path = self.upload_dir / uuid.uuid4().hex
        with open(path, "wb") as out:
            pieces = self._chunks() if chunked else self._fixed(length)
            for piece in pieces:
                out.write(piece)
        return b"", path

    def _fixed(self, length: int):
        remaining = length
        while remaining:
            piece = self.rfile.read(min(remaining, 1 << 20))
            if not piece:
                return
            remaining -= len(piece)
            yield piece

    def _chunks(self):
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return
            yield self.rfile.read(size)
            self.rfile.readline()

    def _serve(self) -> None:
        url = urlsplit(self.path)
        body, body_file = self._read_body(url.path)
        request = Request(
            method=self.command,
            path=url.path,
            query=dict(parse_qsl(url.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            body_file=body_file,
        )
        try:
            response = self.app.handle(request)
        except Exception as exc:  # a bug must still answer the way the vendor's 500 does
            response = self.app.internal_error(exc)
        finally:
            if body_file is not None and body_file.exists():
                body_file.unlink()
        if response.reset:
            # Drop the connection without a response, as a proxy or a crashed worker would.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._answer(response)

    def _answer(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Date", formatdate(usegmt=True))
        if response.content_type and response.status != 204:
            self.send_header("Content-Type", response.content_type)
        names = {n.lower() for n, _ in response.headers}
        length = response.file.stat().st_size if response.file is not None else len(response.body)
        if "content-length" not in names:
            self.send_header("Content-Length", str(length))
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        if response.file is not None:
            with open(response.file, "rb") as src:
                shutil.copyfileobj(src, self.wfile, 1 << 20)
        elif response.body:
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    def send_response(self, code: int, message: str | None = None) -> None:
        # Skip BaseHTTPRequestHandler's own Server/Date headers; ours are added in _answer.
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Server", self.server_version)

    def log_message(self, format: str, *args) -> None:
        if self.verbose:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._open: set = set()
        self._open_lock = threading.Lock()

    def process_request(self, request, client_address) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_client_connections(self) -> None:
        """End keep-alive connections, so their handler threads (and what they hold) finish."""
        with self._open_lock:
            open_now = list(self._open)
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class HttpEmulator:
    """A local server for one emulated API; ``start()``/``stop()``, ``with``, or ``serve_forever()``.

    Subclasses set ``self.config`` (with ``host``, ``port``, ``verbose``) and ``self.app`` before
    binding, and may override :meth:`_bound` (the port is known) and :meth:`_closed` (after stop).
    """

    server_header = "emulator"
    #: Path prefix whose large or chunked request bodies are streamed to :meth:`upload_dir`.
    stream_uploads_under: str | None = None

    config: object
    app: App
    _server: _Server | None = None
    _thread: threading.Thread | None = None

    def upload_dir(self) -> Path | None:
        return None

    def _bound(self) -> None:
        """Called once the port is bound (``config.port`` holds the real port)."""

    def _closed(self) -> None:
        """Called after the server stopped; release what the emulator holds."""

    def _bind(self) -> None:
        handler = type(
            "Handler",
            (_Handler,),
            {
                "app": self.app,
                "verbose": getattr(self.config, "verbose", False),
                "server_version": self.server_header,
                "upload_dir": self.upload_dir(),
                "stream_prefix": self.stream_uploads_under,
            },
        )
        self._server = _Server((self.config.host, self.config.port), handler)
        self.config.port = self._server.server_address[1]
        self._bound()

    def start(self):
        self._bind()
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread."""
        self._bind()
        self._server.serve_forever()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.close_client_connections()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._closed()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        return f"http://{self.config.host}:{self.config.port}"

    @property
    def base_url(self) -> str:
        """Where clients point (the root, unless the API lives under a path)."""
        return self.root_url
