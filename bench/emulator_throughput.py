"""Throughput of the Acumatica emulator for a bare HTTP client (no tap): records/s and bytes/s.

Starts ``acumatica-emulator`` as a subprocess with 100,000 Bills, signs in with OAuth, then pages
through all Bills with $expand=Details at $top=1000 using the keyset $filter a tap would send.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import subprocess
import sys
import time

import msgspec
import requests

PORT = 8823
SIZE = 100_000
TOP = 1000
CLIENT_ID = "4C5E9A1B-7F3D-4E2A-9B6C-1D8F0A2E3B4C@Company"


def main() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "acumatica_emulator.cli", "--port", str(PORT), "--size", f"Bill={SIZE}"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()
        base = line.strip().rsplit(" ", 1)[-1]
        session = requests.Session()
        token = session.post(f"{base}/identity/connect/token", data={
            "grant_type": "password", "client_id": CLIENT_ID, "client_secret": "sandbox-secret",
            "username": "admin", "password": "sandbox", "scope": "api"}).json()["access_token"]
        session.headers["Authorization"] = f"Bearer {token}"
        url = f"{base}/entity/Default/24.200.001/Bill"
        params = {"$expand": "Details", "$top": str(TOP),
                  "$orderby": "LastModifiedDateTime,Type,ReferenceNbr"}
        last = None
        records = nbytes = pages = 0
        started = time.perf_counter()
        while True:
            if last is not None:
                t, typ, ref = last
                params["$filter"] = (
                    f"LastModifiedDateTime gt datetimeoffset'{t}' or (LastModifiedDateTime eq "
                    f"datetimeoffset'{t}' and (Type gt '{typ}' or (Type eq '{typ}' and "
                    f"ReferenceNbr gt '{ref}')))")
            response = session.get(url, params=params)
            response.raise_for_status()
            page = msgspec.json.decode(response.content)
            pages += 1
            records += len(page)
            nbytes += len(response.content)
            if len(page) < TOP:
                break
            tail = page[-1]
            last = (tail["LastModifiedDateTime"]["value"], tail["Type"]["value"],
                    tail["ReferenceNbr"]["value"])
        elapsed = time.perf_counter() - started
        print(f"pages={pages} records={records} seconds={elapsed:.2f}")
        print(f"records/s={records / elapsed:,.0f} MB/s={nbytes / elapsed / 1e6:,.1f} "
              f"bytes/record={nbytes / max(records, 1):,.0f}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
