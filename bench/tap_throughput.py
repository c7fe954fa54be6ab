"""tap-acumatica throughput, requests and memory against the emulator, next to a bare client.

Starts the Acumatica emulator in its own process with N Bills (3 lines each), then
1. a bare client (requests + msgspec, exact decimals) reads every Bill with the same
   keyset queries the tap sends and writes one Singer RECORD line per Bill to /dev/null;
2. tap-acumatica reads the bills stream with its output to /dev/null.
Prints records/s of both and their ratio, requests per 10,000 records (from the
emulator's own counters) and the tap's peak memory (VmHWM). With --million it also
runs the tap over 1,000,000 Bills to show that memory stays flat.

    python bench/tap_throughput.py [--records 100000] [--million] [--page-size 1000] [--no-audit-columns]
                                   [--max-concurrent-requests N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import msgspec
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from measure import EmulatorProcess, print_report, sync_one_stream

from tests.support.taprun import SANDBOX


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--million", action="store_true", help="also run the tap over 1,000,000 Bills")
    parser.add_argument(
        "--no-audit-columns",
        action="store_true",
        help="run the tap with audit_columns off (the _audit_* stamps' cost)",
    )
    parser.add_argument(
        "--max-concurrent-requests",
        type=int,
        help="the tap's max_concurrent_requests (default: the tap's own, 4)",
    )
    args = parser.parse_args()
    extra = {"max_concurrent_requests": args.max_concurrent_requests} if args.max_concurrent_requests else {}

    with Emulator(args.records) as emu:
        bare = bare_client(emu, args.page_size)
        tap = run_tap(emu, args.page_size, audit=not args.no_audit_columns, extra=extra)
    report = {
        "bills": args.records,
        "bare_records_per_s": round(bare["records"] / bare["seconds"]),
        "tap_records_per_s": round(tap["records"] / tap["seconds"]),
        "tap_vs_bare": round((tap["records"] / tap["seconds"]) / (bare["records"] / bare["seconds"]), 3),
        "tap_requests_per_10k_records": round(tap["requests"] * 10_000 / tap["records"], 2),
        "tap_peak_memory_mib": round(tap["peak_kib"] / 1024, 1),
    }
    if args.million:
        with Emulator(1_000_000) as emu:
            big = run_tap(emu, args.page_size, audit=not args.no_audit_columns, extra=extra)
        report["tap_1m_records_per_s"] = round(big["records"] / big["seconds"])
        report["tap_1m_peak_memory_mib"] = round(big["peak_kib"] / 1024, 1)
        report["tap_1m_requests_per_10k_records"] = round(big["requests"] * 10_000 / big["records"], 2)
        report["tap_peak_memory_ratio_1m_to_100k"] = round(big["peak_kib"] / tap["peak_kib"], 2)
    print_report(report)


class Emulator(EmulatorProcess):
    command = "acumatica-emulator"

    def __init__(self, bills: int) -> None:
        super().__init__("--size", f"Bill={bills}")

    @property
    def base_url(self) -> str:
        return f"{self.root}/AcumaticaERP"

    def knobs(self, **values: object) -> None:
        """Set the emulator's knobs (latency, limits) through its control API."""
        requests.patch(f"{self.root}/_emulator/knobs", json=values, timeout=10).raise_for_status()

    def requests_served(self) -> int:
        return self.stats().get("requests", {}).get("GET entity_list", 0)


def bare_client(emu: Emulator, page_size: int) -> dict:
    """The least a client must do: page, decode exactly, unwrap, write Singer lines."""
    session = requests.Session()
    token = session.post(
        f"{emu.base_url}/identity/connect/token",
        data={
            "grant_type": "password",
            "client_id": SANDBOX["client_id"],
            "client_secret": SANDBOX["client_secret"],
            "username": SANDBOX["username"],
            "password": SANDBOX["password"],
            "scope": "api offline_access",
        },
        timeout=30,
    ).json()["access_token"]
    session.headers["Authorization"] = f"Bearer {token}"
    decode = msgspec.json.Decoder(float_hook=Decimal).decode
    encoder = msgspec.json.Encoder(decimal_format="number")
    url = f"{emu.base_url}/entity/Default/24.200.001/Bill"
    cursor = None
    records = 0
    start = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        while True:
            params = {
                "$top": page_size,
                "$expand": "Details",
                "$orderby": "LastModifiedDateTime,Type,ReferenceNbr",
            }
            if cursor:
                t, typ, ref = cursor
                params["$filter"] = (
                    f"(LastModifiedDateTime gt datetimeoffset'{t}' or (LastModifiedDateTime eq "
                    f"datetimeoffset'{t}' and (Type gt '{typ}' or "
                    f"(Type eq '{typ}' and ReferenceNbr gt '{ref}'))))"
                )
            rows = decode(session.get(url, params=params, timeout=300).content)
            now = datetime.now(UTC).isoformat()
            for row in rows:
                message = {"type": "RECORD", "stream": "bills", "record": unwrap(row), "time_extracted": now}
                sink.write(encoder.encode(message) + b"\n")
            records += len(rows)
            if len(rows) < page_size:
                break
            last = rows[-1]
            cursor = (
                last["LastModifiedDateTime"]["value"],
                last["Type"]["value"],
                last["ReferenceNbr"]["value"],
            )
    return {"records": records, "seconds": time.perf_counter() - start}


def unwrap(value):
    if isinstance(value, dict):
        if "value" in value and len(value) == 1:
            return value["value"]
        return {k: unwrap(v) for k, v in value.items() if k not in ("rowNumber", "_links")}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def run_tap(emu: Emulator, page_size: int, *, audit: bool, extra: dict) -> dict:
    before = emu.requests_served()
    with tempfile.TemporaryDirectory() as tmp:
        run, records = sync_one_stream(
            "tap-acumatica",
            {**SANDBOX, "base_url": emu.base_url, "page_size": page_size, "audit_columns": audit, **extra},
            "bills",
            Path(tmp),
        )
    return {
        "records": records,
        "seconds": run.seconds,
        "requests": emu.requests_served() - before,
        "peak_kib": run.peak_kib,
    }


if __name__ == "__main__":
    main()
