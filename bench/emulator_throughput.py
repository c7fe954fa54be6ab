"""Throughput of the Acumatica emulator for a bare HTTP client (no tap): records/s and MB/s.

Starts ``acumatica-emulator`` as a subprocess with 100,000 Bills, signs in with OAuth, then pages
through all Bills with $expand=Details at $top=1000 using the keyset $filter and $orderby a tap
would send. The client does the minimum: it reads the bytes and decodes only the last record's
cursor fields (msgspec with a typed Struct skips the rest), so the figures measure the server.

Two clients: ``requests`` (what the tap uses) and ``http.client`` (less client overhead). For
each, "end to end" is records / wall time, and "server" uses the time from sending the request to
receiving the response headers: the emulator builds the whole body before it answers, so that is
the server-side time per page (plus a loopback round trip). Prints figures; asserts nothing.
"""

from __future__ import annotations

import http.client
import subprocess
import sys
import time
from urllib.parse import urlencode, urlsplit

import msgspec
import requests

PORT = 8823
SIZE = 100_000
TOP = 1000
CLIENT_ID = "4C5E9A1B-7F3D-4E2A-9B6C-1D8F0A2E3B4C@Company"
ORDER = "LastModifiedDateTime,Type,ReferenceNbr"


class Value(msgspec.Struct):
    value: str


class Cursor(msgspec.Struct):
    LastModifiedDateTime: Value
    Type: Value
    ReferenceNbr: Value


CURSORS = msgspec.json.Decoder(list[Cursor])


def params(last: tuple[str, str, str] | None) -> dict[str, str]:
    out = {"$expand": "Details", "$top": str(TOP), "$orderby": ORDER}
    if last is not None:
        t, typ, ref = last
        out["$filter"] = (
            f"LastModifiedDateTime gt datetimeoffset'{t}' or (LastModifiedDateTime eq "
            f"datetimeoffset'{t}' and (Type gt '{typ}' or (Type eq '{typ}' and "
            f"ReferenceNbr gt '{ref}')))"
        )
    return out


def cursor(body: bytes) -> tuple[str, str, str]:
    tail = CURSORS.decode(body)[-1]
    return tail.LastModifiedDateTime.value, tail.Type.value, tail.ReferenceNbr.value


def run(name: str, fetch) -> None:
    """Page through every Bill with ``fetch(params) -> (body, seconds to headers)``."""
    last = None
    records = nbytes = pages = 0
    server = 0.0
    started = time.perf_counter()
    while True:
        body, waited = fetch(params(last))
        server += waited
        n = body.count(b',"_links":{"self":')  # one per top-level record, none in lines
        pages += 1
        records += n
        nbytes += len(body)
        if n < TOP:
            break
        last = cursor(body)
    elapsed = time.perf_counter() - started
    print(
        f"{name}: pages={pages} records={records} seconds={elapsed:.2f} "
        f"bytes/record={nbytes / max(records, 1):,.0f}"
    )
    print(f"  end to end: records/s={records / elapsed:,.0f} MB/s={nbytes / elapsed / 1e6:,.1f}")
    print(
        f"  server:     records/s={records / server:,.0f} MB/s={nbytes / server / 1e6:,.1f} "
        f"ms/page={server / pages * 1000:.1f}"
    )


def main() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "acumatica_emulator.cli", "--port", str(PORT), "--size", f"Bill={SIZE}"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        base = line.strip().rsplit(" ", 1)[-1]
        token = requests.post(
            f"{base}/identity/connect/token",
            data={
                "grant_type": "password",
                "client_id": CLIENT_ID,
                "client_secret": "sandbox-secret",
                "username": "admin",
                "password": "sandbox",
                "scope": "api",
            },
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        url = f"{base}/entity/Default/24.200.001/Bill"

        session = requests.Session()
        session.headers.update(auth)

        def with_requests(query: dict[str, str]) -> tuple[bytes, float]:
            sent = time.perf_counter()
            response = session.get(url, params=query, stream=True)  # returns after the headers
            waited = time.perf_counter() - sent
            response.raise_for_status()
            return response.content, waited

        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port)

        def with_http_client(query: dict[str, str]) -> tuple[bytes, float]:
            sent = time.perf_counter()
            conn.request("GET", f"{parts.path}?{urlencode(query)}", headers=auth)
            response = conn.getresponse()
            waited = time.perf_counter() - sent
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"{response.status}: {body[:200]!r}")
            return body, waited

        run("http.client", with_http_client)
        run("requests", with_requests)
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
