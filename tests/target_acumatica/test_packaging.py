"""target-acumatica's Meltano definition and README match the plugin's own --about; its sandbox
config points at the Acumatica emulator and maps tap-looker's overhead_allocation query."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from tests.taprun import SANDBOX
from tests.test_packaging import about as plugin_about
from tests.test_packaging import settings_table

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = yaml.safe_load((ROOT / "target-acumatica" / "meltano-plugin.yml").read_text())


@cache
def about() -> dict:
    return plugin_about("target-acumatica")


def test_meltano_definition_matches_about_with_secrets_sensitive_and_no_secret_defaults():
    properties = about()["settings"]["properties"]
    declared = {s["name"]: s for s in PLUGIN["settings"]}
    assert list(declared) == list(properties), "regenerate with scripts/plugin_settings.py target-acumatica"
    assert {n for n, s in declared.items() if s.get("sensitive")} == {"client_secret", "password"}
    assert {n for n, s in properties.items() if s.get("secret")} == {"client_secret", "password"}
    assert all("default" not in properties[n] for n in ("client_secret", "password"))
    defaults = {n: s["default"] for n, s in properties.items() if s.get("default") not in (None, "")}
    assert {n: declared[n].get("value") for n in defaults} == defaults
    assert set(PLUGIN["capabilities"]) <= set(about()["capabilities"])


def test_readme_settings_table_is_current():
    assert (
        settings_table.block("target-acumatica") in (ROOT / "target-acumatica" / "README.md").read_text()
    ), "run `.venv/bin/python scripts/settings_table.py target-acumatica --write`"


def test_sandbox_config_uses_the_emulator_demo_credentials_and_the_looker_allocation_columns():
    config = PLUGIN["sandbox"]["config"]
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
