"""The plugin definitions users see (meltano.yml, README) match the tap's own --about."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.taprun import TAP

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import settings_table  # noqa: E402


def about() -> dict:
    return json.loads(
        subprocess.run([TAP, "--about", "--format=json"], capture_output=True, text=True, check=True).stdout
    )


def meltano_extractor(name: str) -> dict:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    return next(p for p in project["plugins"]["extractors"] if p["name"] == name)


def test_meltano_yml_declares_every_setting_of_the_tap_with_secrets_sensitive():
    properties = about()["settings"]["properties"]
    plugin = meltano_extractor("tap-acumatica")
    declared = {s["name"]: s for s in plugin["settings"]}
    assert declared.keys() == properties.keys()
    for name, spec in properties.items():
        assert bool(declared[name].get("sensitive")) == bool(spec.get("secret")), name
        assert declared[name].get("value", spec.get("default")) == spec.get("default"), name


def test_meltano_yml_capabilities_are_ones_the_tap_has():
    assert set(meltano_extractor("tap-acumatica")["capabilities"]) <= set(about()["capabilities"])


def test_readme_settings_tables_are_current():
    block = settings_table.block("tap-acumatica")
    for readme in (ROOT / "README.md", ROOT / "tap-acumatica" / "README.md"):
        assert block in readme.read_text(), (
            f"{readme.name} settings table is stale: run "
            "`.venv/bin/python scripts/settings_table.py tap-acumatica --write`"
        )


def test_no_secret_defaults_in_the_packaged_plugin():
    for name, spec in about()["settings"]["properties"].items():
        if spec.get("secret"):
            assert "default" not in spec, name
