"""target-acumatica's Meltano definition and README match the plugin's own --about; its sandbox
config points at the Acumatica emulator and maps tap-looker's overhead_allocation query."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import yaml

from tests.taprun import SANDBOX

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import settings_table  # noqa: E402

PLUGIN = ROOT / "target-acumatica" / "meltano-plugin.yml"


@cache
def about() -> dict:
    executable = str(Path(sys.executable).parent / "target-acumatica")
    out = subprocess.run([executable, "--about", "--format=json"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def definition() -> dict:
    return yaml.safe_load(PLUGIN.read_text())


def test_meltano_definition_declares_every_setting_with_secrets_sensitive():
    properties = about()["settings"]["properties"]
    declared = {s["name"]: s for s in definition()["settings"]}
    assert declared.keys() == properties.keys(), "regenerate with scripts/plugin_settings.py target-acumatica"
    for name, spec in properties.items():
        assert bool(declared[name].get("sensitive")) == bool(spec.get("secret")), name
        if spec.get("default") not in (None, ""):
            assert declared[name].get("value") == spec["default"], name
    for secret in ("client_secret", "password"):
        assert properties[secret].get("secret") and "default" not in properties[secret]


def test_meltano_capabilities_are_ones_the_plugin_has():
    assert set(definition()["capabilities"]) <= set(about()["capabilities"])


def test_readme_settings_table_is_current():
    assert (
        settings_table.block("target-acumatica") in (ROOT / "target-acumatica" / "README.md").read_text()
    ), "run `.venv/bin/python scripts/settings_table.py target-acumatica --write`"


def test_sandbox_config_uses_the_emulator_demo_credentials_and_the_looker_allocation_columns():
    config = definition()["sandbox"]["config"]
    assert config["base_url"] == "http://127.0.0.1:8811/AcumaticaERP"
    for name in ("tenant", "branch", "client_id", "client_secret", "username", "password"):
        assert config[name] == SANDBOX[name], name
    looker = yaml.safe_load((ROOT / "tap-looker" / "meltano-plugin.yml").read_text())
    (query,) = [q for q in looker["sandbox"]["config"]["queries"] if q["name"] == "overhead_allocation"]
    columns = {field.split(".", 1)[1] for field in query["fields"]}
    mapping = config["journals"]["overhead_allocation"]
    used = set(mapping["group_by"])
    for name, spec in mapping.items():
        if name not in ("group_by", "key_prefix", "description") and isinstance(spec, str):
            used.add(spec)
    assert used <= columns, sorted(used - columns)
