"""HTTP transport (stdlib ThreadingHTTPServer, HTTP/1.1 keep-alive) and the in-process emulator."""

from __future__ import annotations

import shutil
import socket
import sys
import tempfile
import threading
import uuid
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from .app import DatabricksApp, Request, Response, Stats, api_error
from .config import EmulatorConfig
from .engine import Warehouse

_STREAM_THRESHOLD = 8 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the body waits for the client's delayed
    # ACK (about 40 ms per request on Linux).
    disable_nagle_algorithm = True
    server_version = "databricks-emulator"
    sys_version = ""
    app: DatabricksApp
    upload_dir: Path
    verbose = False

    def _read_body(self, url_path: str) -> tuple[bytes, Path | None]:
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        length = int(self.headers.get("Content-Length") or 0)
        streamed = self.command == "PUT" and url_path.startswith("/api/2.0/fs/files/") and (
            chunked or length > _STREAM_THRESHOLD)
        if not streamed:
            if chunked:
                return b"".join(self._chunks()), None
            return (self.rfile.read(length) if length else b""), None
        path = self.upload_dir / uuid.uuid4().hex
        with open(path, "wb") as out:
            if chunked:
                for piece in self._chunks():
                    out.write(piece)
            else:
                remaining = length
                while remaining:
                    piece = self.rfile.read(min(remaining, 1 << 20))
                    if not piece:
                        break
                    out.write(piece)
                    remaining -= len(piece)
        return b"", path

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
        request = Request(method=self.command, path=url.path,
                          query=dict(parse_qsl(url.query, keep_blank_values=True)),
                          headers={k.lower(): v for k, v in self.headers.items()}, body=body, body_file=body_file)
        try:
            response = self.app.handle(request)
        except Exception as exc:  # noqa: BLE001 - a bug must still answer like the API would: a 500 body
            response = api_error(500, "INTERNAL_ERROR", repr(exc))
        finally:
            if body_file is not None and body_file.exists():
                body_file.unlink()
        if response.reset:
            # The request was accepted and acted on; drop the connection before answering.
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.send_response(response.status)
        self.send_header("Date", formatdate(usegmt=True))
        if response.content_type:
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
        self.log_request(code)
        self.send_response_only(code, message)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
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
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class DatabricksEmulator:
    """A running emulated Databricks workspace with one SQL warehouse; ``start()``/``stop()`` or ``with``.

    ``knobs``, ``stats`` and the fault methods are the test control surface; the same operations are
    served over HTTP under ``/_emulator`` for out-of-process use.
    """

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self._tmp: tempfile.TemporaryDirectory | None = None
        if self.config.data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="databricks-emulator-")
            self.config.data_dir = self._tmp.name
        self.data_dir = Path(self.config.data_dir)
        self.knobs = self.config.initial_knobs()
        self.stats = Stats()
        self.warehouse = Warehouse(str(self.data_dir), self.config.default_catalog, self.config.default_schema,
                                   self.knobs)
        self.app = DatabricksApp(self.config, self.knobs, self.warehouse, self.stats)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -----------------------------------------------------------------------
    def _bind(self) -> None:
        upload_dir = self.data_dir / "_emulator" / "uploads"
        upload_dir.mkdir(parents=True, exist_ok=True)
        handler = type("Handler", (_Handler,), {"app": self.app, "verbose": self.config.verbose,
                                                "upload_dir": upload_dir})
        self._server = _Server((self.config.host, self.config.port), handler)
        self.config.port = self._server.server_address[1]
        self.app.host = self.base_url

    def start(self) -> DatabricksEmulator:
        self._bind()
        self._thread = threading.Thread(target=self._server.serve_forever, name="databricks-emulator",
                                        daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread (used by the CLI)."""
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
        self.warehouse.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> DatabricksEmulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- addresses -----------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.config.host}:{self.config.port}"

    @property
    def warehouse_id(self) -> str:
        return self.config.warehouse_ids[0]

    # ---- data access for tests -----------------------------------------------------------
    def table_path(self, catalog: str, schema: str, table: str) -> str:
        """Directory of the Delta table ``catalog.schema.table`` (open with ``deltalake.DeltaTable``).

        Pending Delta commits (``delta_commit_delay_s``) are written first, so the table is current.
        """
        self.warehouse.flush()
        return str(self.warehouse.table_path(catalog, schema, table))

    def volume_path(self, volume_path: str) -> str:
        """Local file behind ``/Volumes/c/s/v/...``."""
        return str(self.warehouse.local_path(volume_path))

    def query(self, sql: str) -> list[tuple]:
        """Run Databricks SQL directly on the warehouse (no HTTP, no stats) and return Python rows."""
        return self.warehouse.query(sql)

    # ---- faults --------------------------------------------------------------------------
    def fail_next_statements(self, n: int = 1, error_code: str = "TEMPORARILY_UNAVAILABLE") -> None:
        """The next ``n`` statements end FAILED with ``error_code`` without running."""
        self.app.executor.fail_next(n, error_code)

    def http_fail_next(self, n: int = 1, status: int = 429) -> None:
        """The next ``n`` API requests answer ``status`` (429 or 503) with ``Retry-After``."""
        self.app.http_fail_next(n, status)

    def drop_after_accept_next(self, n: int = 1) -> None:
        """The next ``n`` statement submissions run, then the connection closes without an answer."""
        with self.app.faults._lock:
            self.app.faults.drop_after_accept += n

    def revoke_tokens(self) -> int:
        """Invalidate every OAuth access token issued so far (PATs stay valid)."""
        return self.app.auth.revoke_tokens()


__all__ = ["DatabricksEmulator"]
