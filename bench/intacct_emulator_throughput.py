"""Throughput and memory of the Intacct emulator for a bare HTTP client (no tap).

Starts ``intacct-emulator`` as a subprocess with N GLDETAIL rows (100,000 and 1,000,000 by default),
opens a session with getAPISession, then reads every row the way a keyset tap does: ``query`` with
``WHENMODIFIED > t`` ordered by WHENMODIFIED, RECORDNO at pagesize 2000, then readByQuery + readMore
at pagesize 1000. Prints records/s, MB/s, API transactions per 10,000 records (from the emulator's own
counter) and the emulator's peak resident memory (VmHWM). Asserts nothing.

    .venv/bin/python bench/intacct_emulator_throughput.py [N ...]
"""

from __future__ import annotations

import subprocess
import sys
import time

import requests
from lxml import etree

PORT = 8834
SENDER = ("sandbox-sender", "sandbox-sender-pw")
FIELDS = [
    "RECORDNO",
    "WHENMODIFIED",
    "BATCHNO",
    "ACCOUNTNO",
    "AMOUNT",
    "TR_TYPE",
    "DEPARTMENTID",
    "LOCATIONID",
    "CLASSID",
    "PROJECTID",
    "DESCRIPTION",
    "ENTRY_DATE",
]


def envelope(function: str, session: str | None = None) -> bytes:
    auth = (
        f"<sessionid>{session}</sessionid>"
        if session
        else "<login><userid>sandbox-user</userid><companyid>SANDBOX-CO</companyid>"
        "<password>sandbox-pw</password></login>"
    )
    return (
        f"<request><control><senderid>{SENDER[0]}</senderid><password>{SENDER[1]}</password>"
        "<controlid>bench</controlid><uniqueid>false</uniqueid><dtdversion>3.0</dtdversion>"
        "<includewhitespace>false</includewhitespace></control><operation><authentication>"
        f'{auth}</authentication><content><function controlid="f">{function}</function></content>'
        "</operation></request>"
    ).encode()


def vmhwm_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run(size: int) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "intacct_emulator.cli", "--port", str(PORT), "--size", f"GLDETAIL={size}"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        proc.stdout.readline()
        http = requests.Session()
        url = f"http://127.0.0.1:{PORT}/ia/xml/xmlgw.phtml"
        root = etree.fromstring(http.post(url, data=envelope("<getAPISession/>")).content)
        session = root.findtext("operation/result/data/api/sessionid")
        url = root.findtext("operation/result/data/api/endpoint")
        base = http.get(f"http://127.0.0.1:{PORT}/_emulator/stats").json()["transactions"]
        select = "".join(f"<field>{f}</field>" for f in FIELDS)
        since, key, n, nbytes, t0 = "01/01/2000 00:00:00", 0, 0, 0, time.perf_counter()
        while True:  # phase 1 of the keyset: WHENMODIFIED > since, ordered; the tie group comes next
            flt = (
                f"<or><greaterthan><field>WHENMODIFIED</field><value>{since}</value></greaterthan>"
                f"<and><equalto><field>WHENMODIFIED</field><value>{since}</value></equalto>"
                f"<greaterthan><field>RECORDNO</field><value>{key}</value></greaterthan></and></or>"
            )
            body = http.post(
                url,
                data=envelope(
                    f"<query><object>GLDETAIL</object><select>{select}</select><filter>{flt}</filter>"
                    "<orderby><order><field>WHENMODIFIED</field><ascending/></order><order><field>RECORDNO"
                    "</field><ascending/></order></orderby><pagesize>2000</pagesize></query>",
                    session,
                ),
            ).content
            nbytes += len(body)
            data = etree.fromstring(body).find("operation/result/data")
            n += int(data.get("count"))
            if data.get("numremaining") == "0":
                break
            since, key = data[-1].findtext("WHENMODIFIED"), data[-1].findtext("RECORDNO")
        elapsed = time.perf_counter() - t0
        stats = http.get(f"http://127.0.0.1:{PORT}/_emulator/stats").json()
        txn = stats["transactions"] - base
        print(
            f"GLDETAIL={size:>9,}  query keyset  {n:>9,} rows  {n / elapsed:>8,.0f} rec/s  "
            f"{nbytes / elapsed / 1e6:6.1f} MB/s  {txn / n * 10000:5.2f} txn/10k  "
            f"VmHWM {vmhwm_mb(proc.pid):6.0f} MB"
        )
        n, nbytes, t0, base = 0, 0, time.perf_counter(), stats["transactions"]
        fields = ",".join(FIELDS)
        body = http.post(
            url,
            data=envelope(
                f"<readByQuery><object>GLDETAIL</object><fields>{fields}</fields><query></query>"
                "<pagesize>1000</pagesize></readByQuery>",
                session,
            ),
        ).content
        while True:
            nbytes += len(body)
            data = etree.fromstring(body).find("operation/result/data")
            n += int(data.get("count"))
            if data.get("numremaining") == "0":
                break
            body = http.post(
                url,
                data=envelope(f"<readMore><resultId>{data.get('resultId')}</resultId></readMore>", session),
            ).content
        elapsed = time.perf_counter() - t0
        txn = http.get(f"http://127.0.0.1:{PORT}/_emulator/stats").json()["transactions"] - base
        print(
            f"GLDETAIL={size:>9,}  readByQuery   {n:>9,} rows  {n / elapsed:>8,.0f} rec/s  "
            f"{nbytes / elapsed / 1e6:6.1f} MB/s  {txn / n * 10000:5.2f} txn/10k  "
            f"VmHWM {vmhwm_mb(proc.pid):6.0f} MB"
        )
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    for size in [int(a) for a in sys.argv[1:]] or [100_000, 1_000_000]:
        run(size)
