"""Routes of the emulated workspace, in the order of the Databricks REST API reference.

Everything under ``/api/2.0`` and ``/oidc`` behaves like the vendor's API; the control API for tests
and benchmarks lives at ``/_emulator`` on the server root.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import threading
import time
from email.utils import formatdate
from pathlib import Path
from urllib.parse import unquote

from emulator_kit import Request, Response, Stats

from .auth import Authenticator, AuthError
from .config import KNOB_NAMES, EmulatorConfig, Knobs
from .engine import SqlError, Warehouse
from .statements import TERMINAL, StatementExecutor, bind_parameters

WAIT_TIMEOUT = re.compile(r"^(\d+)s$")


def json_response(status: int, body: object, headers: list | None = None) -> Response:
    return Response(status, json.dumps(body).encode(), headers or [])


def api_error(status: int, error_code: str, message: str, headers: list | None = None) -> Response:
    return json_response(status, {"error_code": error_code, "message": message}, headers)


class Faults:
    """Injected HTTP failures: counters consumed by the next requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.http_fail: list[int] = []
        self.html_pages: list[int] = []
        self.drop_after_accept = 0

    def take_http_fail(self) -> int | None:
        with self._lock:
            return self.http_fail.pop(0) if self.http_fail else None

    def take_html_page(self) -> int | None:
        with self._lock:
            return self.html_pages.pop(0) if self.html_pages else None

    def take_drop(self) -> bool:
        with self._lock:
            if self.drop_after_accept > 0:
                self.drop_after_accept -= 1
                return True
            return False


class DatabricksApp:
    """The request router and handlers; transport-free so it can be unit-tested."""

    def __init__(self, config: EmulatorConfig, knobs: Knobs, warehouse: Warehouse, stats: Stats) -> None:
        self.config, self.knobs, self.warehouse, self.stats = config, knobs, warehouse, stats
        self.auth = Authenticator(config, knobs, stats)
        self.executor = StatementExecutor(warehouse, knobs, stats)
        self.faults = Faults()
        self.host = ""  # set by the server once the port is known

    # ---- dispatch ------------------------------------------------------------------------
    def internal_error(self, exc: Exception) -> Response:
        return api_error(500, "INTERNAL_ERROR", repr(exc))

    def handle(self, req: Request) -> Response:
        response = self._route(req)
        self.stats.status(response.status)
        if response.status == 401:
            self.stats.count("unauthorized")
        elif response.status == 429:
            self.stats.count("rate_limited")
        return response

    def _route(self, req: Request) -> Response:
        path = req.path
        if path.startswith("/_emulator/"):
            return self._control(req)
        if self.knobs.latency_ms:
            time.sleep(self.knobs.latency_ms / 1000)
        html_status = self.faults.take_html_page()
        if html_status is not None:
            self.stats.count("html_pages")
            return _html_page(html_status)
        if path == "/.well-known/databricks-config" and req.method == "GET":
            return json_response(200, self._host_metadata())
        if path == "/oidc/.well-known/oauth-authorization-server" and req.method == "GET":
            return json_response(200, self._oidc_metadata())
        if path == "/oidc/v1/token" and req.method == "POST":
            return self._token(req)
        if not path.startswith("/api/"):
            return api_error(404, "ENDPOINT_NOT_FOUND", f"No API found for '{req.method} {path}'.")
        status = self.faults.take_http_fail()
        if status is not None:
            if status == 429:
                return api_error(
                    429,
                    "REQUEST_LIMIT_EXCEEDED",
                    "Too many requests. Please retry later.",
                    [("Retry-After", str(int(self.knobs.retry_after_s)))],
                )
            return api_error(
                status,
                "TEMPORARILY_UNAVAILABLE",
                "The service is temporarily unavailable.",
                [("Retry-After", str(int(self.knobs.retry_after_s)))],
            )
        try:
            self.auth.check(req.headers.get("authorization"))
        except AuthError as exc:
            return api_error(401, "UNAUTHENTICATED", str(exc))
        if path == "/api/2.0/sql/statements" or path == "/api/2.0/sql/statements/":
            return self._execute(req) if req.method == "POST" else self._not_allowed(req)
        m = re.fullmatch(r"/api/2\.0/sql/statements/([^/]+)(/cancel|/result/chunks/(\d+))?", path)
        if m:
            return self._statement(req, m.group(1), m.group(2), m.group(3))
        m = re.fullmatch(r"/api/2\.0/sql/warehouses/([^/]+)", path)
        if m and req.method == "GET":
            return self._warehouse(m.group(1))
        if path.startswith("/api/2.0/fs/files/"):
            return self._files(req, unquote(path[len("/api/2.0/fs/files") :]))
        if path.startswith("/api/2.0/fs/directories/"):
            return self._directories(req, unquote(path[len("/api/2.0/fs/directories") :]))
        return api_error(404, "ENDPOINT_NOT_FOUND", f"No API found for '{req.method} {path}'.")

    @staticmethod
    def _not_allowed(req: Request) -> Response:
        return api_error(405, "BAD_REQUEST", f"Method {req.method} is not allowed here.")

    # ---- discovery and OAuth -------------------------------------------------------------
    def _host_metadata(self) -> dict:
        return {
            "oidc_endpoint": f"{self.host}/oidc",
            "account_id": self.config.account_id,
            "workspace_id": self.config.workspace_id,
            "cloud": "aws",
            "token_federation_default_oidc_audiences": [self.config.account_id],
        }

    def _oidc_metadata(self) -> dict:
        return {
            "issuer": f"{self.host}/oidc",
            "token_endpoint": f"{self.host}/oidc/v1/token",
            "authorization_endpoint": f"{self.host}/oidc/v1/authorize",
            "jwks_uri": f"{self.host}/oidc/jwks.json",
            "grant_types_supported": ["client_credentials", "authorization_code", "refresh_token"],
            "scopes_supported": ["all-apis", "offline_access"],
        }

    def _token(self, req: Request) -> Response:
        try:
            return json_response(200, self.auth.issue(req.headers.get("authorization"), req.body))
        except AuthError as exc:
            error = str(exc)
            description = (
                "Client authentication failed."
                if error == "invalid_client"
                else "Only grant_type=client_credentials is supported."
            )
            return json_response(
                401 if error == "invalid_client" else 400, {"error": error, "error_description": description}
            )

    # ---- SQL Statement Execution API -----------------------------------------------------
    def _execute(self, req: Request) -> Response:
        try:
            body = json.loads(req.body or b"{}")
        except ValueError:
            return api_error(400, "MALFORMED_REQUEST", "Request body is not valid JSON.")
        if not isinstance(body, dict):
            return api_error(400, "MALFORMED_REQUEST", "Request body must be a JSON object.")
        text = body.get("statement")
        if not isinstance(text, str) or not text.strip():
            return api_error(400, "INVALID_PARAMETER_VALUE", "statement is required.")
        if len(text.encode()) > self.config.max_statement_bytes:
            return api_error(400, "BAD_REQUEST", "The statement exceeds the maximum size of 16 MiB.")
        warehouse_id = body.get("warehouse_id")
        if not warehouse_id:
            return api_error(400, "INVALID_PARAMETER_VALUE", "warehouse_id is required.")
        if warehouse_id not in self.config.warehouse_ids:
            return api_error(404, "RESOURCE_DOES_NOT_EXIST", f"Warehouse {warehouse_id} does not exist.")
        m = WAIT_TIMEOUT.match(str(body.get("wait_timeout", "10s")))
        wait_s = int(m.group(1)) if m else -1
        if wait_s != 0 and not 5 <= wait_s <= 50:
            return api_error(
                400, "INVALID_PARAMETER_VALUE", "wait_timeout must be 0s or between 5s and 50s, e.g. '10s'."
            )
        on_timeout = body.get("on_wait_timeout", "CONTINUE")
        if on_timeout not in ("CONTINUE", "CANCEL"):
            return api_error(400, "INVALID_PARAMETER_VALUE", "on_wait_timeout must be CONTINUE or CANCEL.")
        if body.get("disposition", "INLINE") != "INLINE":
            return api_error(501, "NOT_IMPLEMENTED", "The emulator only supports disposition INLINE.")
        if body.get("format", "JSON_ARRAY") != "JSON_ARRAY":
            return api_error(
                400,
                "INVALID_PARAMETER_VALUE",
                "format ARROW_STREAM and CSV require disposition EXTERNAL_LINKS.",
            )
        try:
            params = bind_parameters(body.get("parameters"))
        except (ValueError, Exception) as exc:
            return api_error(400, "INVALID_PARAMETER_VALUE", f"Invalid parameters: {exc}")
        row_limit = body.get("row_limit")
        st = self.executor.submit(
            text,
            body.get("catalog"),
            body.get("schema"),
            params,
            int(row_limit) if row_limit is not None else None,
        )
        if wait_s:
            st.done.wait(wait_s)
            if not st.done.is_set() and on_timeout == "CANCEL":
                self.executor.cancel(st)
                st.done.wait(5)
        drop = self.faults.take_drop()
        if drop:
            st.done.wait(60)  # the statement is applied; only the answer is lost
            return Response(0, reset=True)
        return json_response(200, self.executor.response(st))

    def _statement(self, req: Request, statement_id: str, action: str | None, chunk: str | None) -> Response:
        st = self.executor.get(statement_id)
        if st is None:
            return api_error(404, "NOT_FOUND", f"Statement {statement_id} was not found.")
        if action == "/cancel":
            if req.method != "POST":
                return self._not_allowed(req)
            if st.state not in TERMINAL:
                self.executor.cancel(st)
            return Response(200, b"{}")
        if req.method != "GET":
            return self._not_allowed(req)
        if chunk is not None:
            if st.state != "SUCCEEDED":
                return api_error(400, "INVALID_STATE", f"Statement is {st.state}; no result is available.")
            data = self.executor.chunk(st, int(chunk))
            if data is None:
                return api_error(400, "INVALID_PARAMETER_VALUE", f"Chunk {chunk} does not exist.")
            return json_response(200, data)
        self.stats.count("polls")
        return json_response(200, self.executor.response(st))

    def _warehouse(self, warehouse_id: str) -> Response:
        if warehouse_id not in self.config.warehouse_ids:
            return api_error(404, "RESOURCE_DOES_NOT_EXIST", f"Warehouse {warehouse_id} does not exist.")
        return json_response(
            200,
            {
                "id": warehouse_id,
                "name": warehouse_id,
                "state": "RUNNING",
                "warehouse_type": "PRO",
                "enable_serverless_compute": True,
                "cluster_size": "2X-Small",
            },
        )

    # ---- Files API -----------------------------------------------------------------------
    def _volume_file(self, path: str) -> Path | Response:
        parts = [p for p in path.split("/") if p]
        if len(parts) < 4 or parts[0] != "Volumes" or any(p in (".", "..") for p in parts):
            return api_error(400, "INVALID_PARAMETER_VALUE", f"Invalid path: {path}. Use /Volumes/c/s/v/...")
        if not self.warehouse.volume_exists(*parts[1:4]):
            return api_error(404, "NOT_FOUND", f"Volume {'.'.join(parts[1:4])} does not exist.")
        return self.warehouse.volume_root(*parts[1:4]).joinpath(*parts[4:])

    def _files(self, req: Request, path: str) -> Response:
        target = self._volume_file(path)
        if isinstance(target, Response):
            return target
        if req.method == "PUT":
            size = req.body_file.stat().st_size if req.body_file else len(req.body)
            if size > self.config.max_upload_bytes:
                return api_error(400, "INVALID_PARAMETER_VALUE", "The file exceeds the maximum upload size.")
            if target.is_dir():
                return api_error(409, "ALREADY_EXISTS", f"A directory exists at {path}.")
            if target.exists() and req.query.get("overwrite", "true").lower() == "false":
                return api_error(409, "ALREADY_EXISTS", f"The file {path} already exists.")
            target.parent.mkdir(parents=True, exist_ok=True)
            if req.body_file is not None:
                shutil.move(str(req.body_file), target)
            else:
                tmp = target.with_name(f".{target.name}.upload")
                tmp.write_bytes(req.body)
                os.replace(tmp, target)
            self.stats.count("uploads")
            self.stats.count("bytes_uploaded", size)
            return Response(204, content_type="")
        if not target.is_file():
            return api_error(404, "NOT_FOUND", f"The file {path} does not exist.")
        if req.method in ("GET", "HEAD"):
            st = target.stat()
            headers = [("Last-Modified", formatdate(st.st_mtime, usegmt=True))]
            if req.method == "HEAD":
                return Response(
                    200,
                    b"",
                    [*headers, ("Content-Length", str(st.st_size))],
                    content_type="application/octet-stream",
                )
            self.stats.count("downloads")
            return Response(200, b"", headers, content_type="application/octet-stream", file=target)
        if req.method == "DELETE":
            target.unlink()
            return Response(204, content_type="")
        return self._not_allowed(req)

    def _directories(self, req: Request, path: str) -> Response:
        target = self._volume_file(path)
        if isinstance(target, Response):
            return target
        if req.method == "PUT":
            if target.is_file():
                return api_error(409, "ALREADY_EXISTS", f"A file exists at {path}.")
            target.mkdir(parents=True, exist_ok=True)
            return Response(204, content_type="")
        if not target.is_dir():
            return api_error(404, "NOT_FOUND", f"The directory {path} does not exist.")
        if req.method == "HEAD":
            return Response(200, content_type="")
        if req.method == "DELETE":
            if any(target.iterdir()):
                return api_error(409, "DIRECTORY_NOT_EMPTY", f"The directory {path} is not empty.")
            if target == self._volume_file("/".join(path.split("/")[:5])):
                return api_error(400, "INVALID_PARAMETER_VALUE", "Cannot delete the volume root.")
            target.rmdir()
            return Response(204, content_type="")
        if req.method != "GET":
            return self._not_allowed(req)
        base = "/" + "/".join(p for p in path.split("/") if p)
        contents = []
        for child in sorted(target.iterdir()):
            if child.name.startswith(".") and child.name.endswith(".upload"):
                continue
            st = child.stat()
            entry = {
                "path": f"{base}/{child.name}",
                "is_directory": child.is_dir(),
                "name": child.name,
                "last_modified": int(st.st_mtime * 1000),
            }
            if child.is_file():
                entry["file_size"] = st.st_size
            contents.append(entry)
        return json_response(200, {"contents": contents})

    # ---- control API ---------------------------------------------------------------------
    def _control(self, req: Request) -> Response:
        parts = [unquote(p) for p in req.path.strip("/").split("/")][1:]
        try:
            body = json.loads(req.body) if req.body.strip() else {}
        except ValueError:
            return api_error(400, "MALFORMED_REQUEST", "invalid JSON")
        try:
            if parts == ["stats"] and req.method == "GET":
                return json_response(200, self.stats.snapshot())
            if parts == ["stats"] and req.method == "DELETE":
                self.stats.reset()
                return Response(204, content_type="")
            if parts == ["knobs"] and req.method == "GET":
                return json_response(200, dataclasses.asdict(self.knobs))
            if parts == ["knobs"] and req.method == "PATCH":
                unknown = set(body) - set(KNOB_NAMES)
                if unknown:
                    return api_error(400, "INVALID_PARAMETER_VALUE", f"unknown knobs: {sorted(unknown)}")
                for name, value in body.items():
                    setattr(self.knobs, name, value)
                return json_response(200, dataclasses.asdict(self.knobs))
            if parts == ["fail_next_statements"] and req.method == "POST":
                self.executor.fail_next(
                    int(body.get("n", 1)), str(body.get("error_code", "TEMPORARILY_UNAVAILABLE"))
                )
                return Response(204, content_type="")
            if parts == ["http_fail_next"] and req.method == "POST":
                self.http_fail_next(int(body.get("n", 1)), int(body.get("status", 429)))
                return Response(204, content_type="")
            if parts == ["html_next"] and req.method == "POST":
                self.html_next(int(body.get("n", 1)), int(body.get("status", 200)))
                return Response(204, content_type="")
            if parts == ["drop_after_accept_next"] and req.method == "POST":
                self.faults.drop_after_accept += int(body.get("n", 1))
                return Response(204, content_type="")
            if parts == ["revoke_tokens"] and req.method == "POST":
                return json_response(200, {"revoked": self.auth.revoke_tokens()})
            if parts == ["flush"] and req.method == "POST":
                self.warehouse.flush()
                return Response(204, content_type="")
            if parts == ["query"] and req.method == "POST":
                rows = self.warehouse.query(str(body.get("statement", "")))
                return json_response(
                    200, {"rows": [[None if v is None else str(v) for v in r] for r in rows]}
                )
        except (ValueError, TypeError) as exc:
            return api_error(400, "INVALID_PARAMETER_VALUE", str(exc))
        except SqlError as exc:
            return api_error(400, exc.error_code, exc.message)
        return api_error(404, "NOT_FOUND", "unknown control route")

    def http_fail_next(self, n: int, status: int) -> None:
        if status not in (429, 503):
            raise ValueError("status must be 429 or 503")
        with self.faults._lock:
            self.faults.http_fail.extend([status] * n)

    def html_next(self, n: int, status: int) -> None:
        if status not in HTML_PAGES:
            raise ValueError(f"status must be one of {sorted(HTML_PAGES)}")
        with self.faults._lock:
            self.faults.html_pages.extend([status] * n)


# What answers in a workspace's place when a request never reaches the API: a single-sign-on page
# (200, e.g. a private-link workspace reached from outside its network), a proxy's or load
# balancer's error pages.
HTML_PAGES = {
    200: "Sign in",
    404: "404 Not Found",
    502: "502 Bad Gateway",
    503: "503 Service Temporarily Unavailable",
    504: "504 Gateway Time-out",
}


def _html_page(status: int) -> Response:
    title = HTML_PAGES[status]
    body = f"<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
    return Response(status, body.encode(), content_type="text/html; charset=utf-8")
