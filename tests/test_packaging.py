"""The plugin definitions users see (meltano.yml, README) match each plugin's own --about."""

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

PLUGINS = {"tap-acumatica": "extractors", "target-databricks": "loaders"}


def about(plugin: str = "tap-acumatica") -> dict:
    executable = str(Path(TAP).parent / plugin)
    return json.loads(
        subprocess.run(
            [executable, "--about", "--format=json"], capture_output=True, text=True, check=True
        ).stdout
    )


def meltano_plugin(name: str) -> dict:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    return next(p for p in project["plugins"][PLUGINS[name]] if p["name"] == name)


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_meltano_yml_declares_every_setting_of_the_plugin_with_secrets_sensitive(plugin):
    properties = about(plugin)["settings"]["properties"]
    declared = {s["name"]: s for s in meltano_plugin(plugin)["settings"]}
    assert declared.keys() == properties.keys(), "regenerate with scripts/plugin_settings.py"
    for name, spec in properties.items():
        assert bool(declared[name].get("sensitive")) == bool(spec.get("secret")), name
        default = spec.get("default")
        if default not in (None, ""):
            assert declared[name].get("value") == default, name


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_meltano_yml_capabilities_are_ones_the_plugin_has(plugin):
    assert set(meltano_plugin(plugin)["capabilities"]) <= set(about(plugin)["capabilities"])


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
