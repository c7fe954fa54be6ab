"""HTTP transport (stdlib ThreadingHTTPServer, HTTP/1.1 keep-alive) and the in-process emulator."""

from __future__ import annotations

import socket
import sys
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from .app import AcumaticaApp, Request, RequestInfo, Response, Stats, error_body
from .render import ENCODER
from .clock import InstanceClock
from .config import DEFAULT_SIZES, EmulatorConfig
from .generator import SPECS, Generator
from .store import RecordStore


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-IIS/10.0"
    sys_version = ""
    app: AcumaticaApp
    verbose = False

    def _serve(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command, path=url.path,
            query=dict(parse_qsl(url.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()}, body=body,
        )
        try:
            response = self.app.handle(request)
        except Exception as exc:  # noqa: BLE001 - a bug must still answer like IIS would: a 500 body
            response = Response(500, ENCODER.encode(error_body(repr(exc), "System.Exception")))
        if response.reset:
            # Drop the connection without a response, as a proxy or crashed worker would.
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.send_response(response.status)
        self.send_header("Date", formatdate(usegmt=True))
        if response.status != 204:
            self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        if response.body and self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    def send_response(self, code: int, message: str | None = None) -> None:
        # Skip BaseHTTPRequestHandler's own Server/Date headers; ours are added in _serve.
        self.log_request(code)
        self.send_response_only(code, message)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        if self.verbose:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class AcumaticaEmulator:
    """A running emulated Acumatica instance; use ``start()``/``stop()`` or ``with``.

    ``knobs``, ``store``, ``stats`` and ``on_request`` are the test control surface; the same
    operations are served over HTTP under ``/_emulator`` for out-of-process use.
    """

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        cfg = self.config
        sizes = {name: cfg.size_of(name) for name in set(SPECS) | set(DEFAULT_SIZES)}
        self.clock = InstanceClock(cfg.timezone_offset)
        generator = Generator(cfg.seed, sizes, tuple(cfg.versions), self.clock,
                              cfg.lines_per_document, cfg.same_timestamp_group)
        self.knobs = cfg.initial_knobs()
        self.store = RecordStore(generator, self.clock, tuple(cfg.versions))
        self.stats = Stats()
        self.app = AcumaticaApp(cfg, self.knobs, self.store, self.stats)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -----------------------------------------------------------------------
    def start(self) -> AcumaticaEmulator:
        handler = type("Handler", (_Handler,), {"app": self.app, "verbose": self.config.verbose})
        self._server = _Server((self.config.host, self.config.port), handler)
        self.config.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="acumatica-emulator",
                                        daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread (used by the CLI)."""
        handler = type("Handler", (_Handler,), {"app": self.app, "verbose": self.config.verbose})
        self._server = _Server((self.config.host, self.config.port), handler)
        self.config.port = self._server.server_address[1]
        self._server.serve_forever()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> AcumaticaEmulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- addresses -----------------------------------------------------------------------
    @property
    def root_url(self) -> str:
        return f"http://{self.config.host}:{self.config.port}"

    @property
    def base_url(self) -> str:
        return self.root_url + self.app.instance

    # ---- control -------------------------------------------------------------------------
    def on_request(self, callback) -> callable:
        """Call ``callback(RequestInfo)`` before each entity list GET; returns a remover."""
        return self.app.on_request(callback)

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        self.app.faults.fail_next(n, status)

    def reset_next(self, n: int = 1) -> None:
        self.app.faults.reset_next(n)

    def expire_tokens(self) -> int:
        return self.app.auth.expire_tokens()

    def api_users(self) -> int:
        return self.app.auth.api_users()


__all__ = ["AcumaticaEmulator", "RequestInfo"]
