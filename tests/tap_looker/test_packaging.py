"""tap-looker's Meltano definition and README match the plugin's own --about."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import settings_table  # noqa: E402

PLUGIN = ROOT / "tap-looker" / "meltano-plugin.yml"


@cache
def about() -> dict:
    executable = str(Path(sys.executable).parent / "tap-looker")
    out = subprocess.run([executable, "--about", "--format=json"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def definition() -> dict:
    return yaml.safe_load(PLUGIN.read_text())


def test_meltano_definition_declares_every_setting_with_secrets_sensitive():
    properties = about()["settings"]["properties"]
    declared = {s["name"]: s for s in definition()["settings"]}
    assert declared.keys() == properties.keys(), "regenerate with scripts/plugin_settings.py tap-looker"
    for name, spec in properties.items():
        assert bool(declared[name].get("sensitive")) == bool(spec.get("secret")), name
        if spec.get("default") not in (None, ""):
            assert declared[name].get("value") == spec["default"], name
    assert "default" not in properties["client_secret"]


def test_meltano_capabilities_are_ones_the_plugin_has():
    assert set(definition()["capabilities"]) <= set(about()["capabilities"])


def test_sandbox_config_points_at_the_emulator_with_its_demo_key():
    from looker_emulator import SANDBOX

    config = definition()["sandbox"]["config"]
    assert config["base_url"] == "http://127.0.0.1:8844"
    assert {k: config[k] for k in SANDBOX} == SANDBOX
    assert [q["name"] for q in config["queries"]] == ["overhead_allocation"]


def test_readme_settings_table_is_current():
    block = settings_table.block("tap-looker")
    assert block in (ROOT / "tap-looker" / "README.md").read_text(), (
        "tap-looker/README.md settings table is stale: run "
        "`.venv/bin/python scripts/settings_table.py tap-looker` and paste it"
    )
