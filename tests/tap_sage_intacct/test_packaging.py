"""tap-sage-intacct's Meltano plugin definition and README match its own --about."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from tests.tap_sage_intacct.conftest import TAP

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import settings_table  # noqa: E402


def about() -> dict:
    return json.loads(
        subprocess.run([TAP, "--about", "--format=json"], capture_output=True, text=True, check=True).stdout
    )


def test_plugin_definition_declares_every_setting_secrets_sensitive_and_a_sandbox():
    info = about()
    plugin = yaml.safe_load((ROOT / "tap-sage-intacct" / "meltano-plugin.yml").read_text())
    properties = info["settings"]["properties"]
    declared = {s["name"]: s for s in plugin["settings"]}
    assert declared.keys() == properties.keys(), "regenerate with scripts/plugin_settings.py"
    for name, spec in properties.items():
        assert bool(declared[name].get("sensitive")) == bool(spec.get("secret")), name
        if spec.get("default") not in (None, ""):
            assert declared[name].get("value") == spec["default"], name
        if spec.get("secret"):
            assert "default" not in spec and "value" not in declared[name], name
    assert set(plugin["capabilities"]) <= set(info["capabilities"])
    sandbox = plugin["sandbox"]["config"]
    assert sandbox["endpoint_url"] == "http://127.0.0.1:8833/ia/xml/xmlgw.phtml"
    assert set(info["settings"]["required"]) <= set(sandbox)


def test_readme_settings_table_is_current():
    assert (
        settings_table.block("tap-sage-intacct") in (ROOT / "tap-sage-intacct" / "README.md").read_text()
    ), "run `.venv/bin/python scripts/settings_table.py tap-sage-intacct --write`"
