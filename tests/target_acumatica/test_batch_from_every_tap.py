"""tap-acumatica with ``batch_config`` into target-acumatica (issue 11, item 4): one company's vendor
master, read as batch files, written as reference records into a second company; the second company's
vendors then equal the first's, field for field. (tap-looker's pair is in test_batch_messages.py.)"""

from __future__ import annotations

import json
import subprocess
from collections import Counter

import pytest
from acumatica_emulator import AcumaticaEmulator, EmulatorConfig
from intacct_emulator import SANDBOX as INTACCT_SANDBOX
from intacct_emulator import EmulatorConfig as IntacctConfig
from intacct_emulator import IntacctEmulator

from tests.support.acumatica_target import audit_lines, run_target, target_config
from tests.support.compare import differences
from tests.support.intacct import TIMEZONE, files
from tests.support.taprun import SANDBOX, TAP, _catalog, start_in_a_new_second

VERSION = "24.200.001"
FIELDS = ["VendorID", "VendorName", "Terms"]
MAPPING = {"entity": "Vendor", "key": ["VendorID"], "mode": "upsert", "fields": {f: f for f in FIELDS}}


def tap_output(tmp_path, emulator, fmt: str) -> str:
    """tap-acumatica's console script, ``vendors`` selected, writing batch files."""
    config = {
        **SANDBOX,
        "base_url": emulator.base_url,
        "batch_config": {
            "encoding": {"format": fmt, "compression": "gzip"},
            "storage": {"root": (tmp_path / "batches").as_uri(), "prefix": "acumatica-"},
        },
    }
    (tmp_path / "tap.json").write_text(json.dumps(config))
    discovery = json.dumps({k: v for k, v in config.items() if k != "base_url"}, sort_keys=True)
    (tmp_path / "catalog.json").write_text(json.dumps(_catalog(discovery, ["vendors"])))
    done = subprocess.run(
        [TAP, "--config", str(tmp_path / "tap.json"), "--catalog", str(tmp_path / "catalog.json")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_tap_acumatica_vendor_batches_are_written_to_a_second_company(tmp_path, fmt):
    with (
        AcumaticaEmulator(EmulatorConfig(port=0)) as source,
        AcumaticaEmulator(EmulatorConfig(port=0)) as destination,
    ):
        # The source company has moved on from the shared seed: renamed vendors, new terms, a new vendor.
        source.store.modify("Vendor", ("V000002",), {"VendorName": "Renamed in the source company"})
        source.store.modify("Vendor", ("V000005",), {"Terms": "45D"})
        source.store.insert("Vendor", {"VendorName": "Added in the source company", "Terms": "30D"})
        start_in_a_new_second(source)
        text = tap_output(tmp_path, source, fmt)
        sent = Counter(json.loads(line)["type"] for line in text.splitlines() if line.strip())
        assert sent["BATCH"] >= 1 and sent["RECORD"] == 0, sent

        config = target_config(
            destination, tmp_path / "audit", journals={}, reference_records={"vendors": MAPPING}
        )
        run = run_target(config, text, tmp_path)
        assert run.returncode == 0, run.stderr[-3000:]
        assert run.states and run.states[-1]["bookmarks"]["vendors"]
        wanted = {r["VendorID"]: r for r in source.store.records("Vendor", VERSION)}
        written = {r["VendorID"]: r for r in destination.store.records("Vendor", VERSION)}
        assert len(wanted) > 20 and written.keys() == wanted.keys()
        for key, record in wanted.items():
            assert not differences(written[key], record, FIELDS), key
        statuses = Counter(a["status"] for a in audit_lines(tmp_path / "audit"))
        assert statuses == {"unchanged": len(wanted) - 3, "updated": 2, "created": 1}, statuses


# --- tap-sage-intacct with batch_config | target-acumatica -----------------------------------------
# Intacct's GL detail lines do not balance per batch in a partial read and use another chart of
# accounts, so they cannot post as Acumatica journals; its vendor master can be written as vendors.

INTACCT_MAPPING = {
    "entity": "Vendor",
    "key": ["VendorID"],
    "mode": "upsert",
    "fields": {"VendorID": "VENDORID", "VendorName": "NAME"},
}


def test_tap_sage_intacct_vendor_batches_are_written_as_acumatica_vendors(tmp_path):
    with (
        IntacctEmulator(IntacctConfig(port=0, seed=42, sizes={"VENDOR": 12}, timezone=TIMEZONE)) as intacct,
        AcumaticaEmulator(EmulatorConfig(port=0)) as destination,
    ):
        config = {
            **INTACCT_SANDBOX,
            "endpoint_url": intacct.endpoint_url,
            "timezone": TIMEZONE,
            "start_date": "2020-01-01T00:00:00Z",
            "batch_config": {
                "encoding": {"format": "jsonl", "compression": "gzip"},
                "storage": {"root": (tmp_path / "batches").as_uri(), "prefix": "intacct-"},
            },
        }
        tap = subprocess.run(
            files(tmp_path, config, ["vendors"]), capture_output=True, text=True, timeout=120, check=False
        )
        assert tap.returncode == 0, tap.stderr[-3000:]
        sent = Counter(json.loads(line)["type"] for line in tap.stdout.splitlines() if line.strip())
        assert sent["BATCH"] >= 1 and sent["RECORD"] == 0, sent

        target = target_config(
            destination, tmp_path / "audit", journals={}, reference_records={"vendors": INTACCT_MAPPING}
        )
        before = {r["VendorID"]: r["VendorName"] for r in destination.store.records("Vendor", VERSION)}
        run = run_target(target, tap.stdout, tmp_path)
        assert run.returncode == 0, run.stderr[-3000:]
        assert run.states and run.states[-1]["bookmarks"]["vendors"]
        source = {r["VENDORID"]: r["NAME"] for r in intacct.store.records("VENDOR")}
        after = {r["VendorID"]: r["VendorName"] for r in destination.store.records("Vendor", VERSION)}
        assert len(source) >= 10 and not source.keys() & before.keys()
        assert after == {**before, **source}
        assert [a["status"] for a in audit_lines(tmp_path / "audit")] == ["created"] * len(source)
