"""The plugin definitions users see (meltano.yml, README) match each plugin's own --about."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest
import yaml

from tests.support.plugins import PLUGINS, ROOT, about, definition, distribution

sys.path.insert(0, str(ROOT / "scripts"))
import settings_table
from meltano_plugins import HUB_ONLY_KEYS


def meltano_plugin(name: str) -> dict:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    return next(p for p in project["plugins"][PLUGINS[name]] if p["name"] == name)


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_plugin_definition_declares_every_setting_with_secrets_sensitive(plugin):
    properties = about(plugin)["settings"]["properties"]
    declared = {s["name"]: s for s in definition(plugin)["settings"]}
    assert declared.keys() == properties.keys(), f"regenerate with scripts/plugin_settings.py {plugin}"
    for name, spec in properties.items():
        assert bool(declared[name].get("sensitive")) == bool(spec.get("secret")), name
        default = spec.get("default")
        if default not in (None, ""):
            assert declared[name].get("value") == default, name
        if spec.get("secret"):
            assert "default" not in spec, f"{plugin} ships a default for the secret {name}"


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_plugin_definition_is_hub_ready(plugin):
    spec = definition(plugin)
    for key in (
        "name",
        "variant",
        "namespace",
        "label",
        "description",
        "pip_url",
        "executable",
        "capabilities",
        "repo",
        "docs",
        "logo_url",
        "domain_url",
        "keywords",
        "maintenance_status",
        "quality",
    ):
        assert spec.get(key), f"{plugin}/meltano-plugin.yml lacks {key}"
    assert spec["namespace"] == plugin.replace("-", "_")
    assert spec["executable"] == plugin
    assert "sandbox" not in spec, "the sandbox's emulator config belongs in meltano.yml's sandbox environment"


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_plugin_definition_capabilities_are_what_the_plugin_reports(plugin):
    assert sorted(definition(plugin)["capabilities"]) == sorted(about(plugin)["capabilities"]), (
        f"run .venv/bin/python scripts/plugin_settings.py {plugin} --write"
    )


#: JSON schema type of a setting -> the Meltano kinds that hold it (a string may be a secret, a choice
#: or a date).
KINDS = {
    "integer": {"integer"},
    "number": {"decimal"},
    "boolean": {"boolean"},
    "object": {"object"},
    "array": {"array"},
    "string": {"string", "password", "options", "date_iso8601"},
}


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_every_setting_kind_matches_its_json_schema_type(plugin):
    properties = about(plugin)["settings"]["properties"]
    for setting in definition(plugin)["settings"]:
        types = properties[setting["name"]].get("type", [])
        types = [types] if isinstance(types, str) else [t for t in types if t != "null"]
        assert len(types) == 1, f"{plugin} {setting['name']}: one JSON type expected, got {types}"
        assert setting.get("kind") in KINDS[types[0]], (
            f"{plugin} {setting['name']}: kind {setting.get('kind')} for JSON type {types[0]}"
        )


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_settings_group_validation_covers_the_required_settings(plugin):
    required = set(about(plugin)["settings"].get("required", []))
    groups = definition(plugin).get("settings_group_validation") or []
    assert groups or not required, f"{plugin} requires {sorted(required)}: no settings_group_validation"
    names = {s["name"] for s in definition(plugin)["settings"]}
    for group in groups:
        assert required <= set(group), f"{plugin}: group {group} lacks {sorted(required - set(group))}"
        assert set(group) <= names, f"{plugin}: group {group} names unknown settings"


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_meltano_yml_holds_the_package_definition(plugin):
    # meltano.yml installs this checkout (pip_url -e ./...); the definition names the published package.
    published = {k: v for k, v in definition(plugin).items() if k not in (*HUB_ONLY_KEYS, "pip_url")}
    in_project = {k: v for k, v in meltano_plugin(plugin).items() if k in published}
    assert in_project == published, "run .venv/bin/python scripts/meltano_plugins.py"
    assert definition(plugin)["pip_url"] == distribution(plugin)
    assert meltano_plugin(plugin)["pip_url"].endswith(f"-e ./{plugin}")


def local_dependencies(plugin: str) -> list[str]:
    """What a package needs from this checkout besides itself (not on an index yet): its workspace
    sources, found among the root pyproject's members by project name."""
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    members = {
        tomllib.loads((ROOT / m / "pyproject.toml").read_text())["project"]["name"]: m
        for m in root["tool"]["uv"]["workspace"]["members"]
    }
    sources = tomllib.loads((ROOT / plugin / "pyproject.toml").read_text()).get("tool", {}).get("uv", {})
    return [members[name] for name, source in sources.get("sources", {}).items() if source.get("workspace")]


def test_meltano_yml_installs_each_plugin_with_its_workspace_dependencies():
    for plugin in PLUGINS:
        wanted = [f"-e ./{p}" for p in [*local_dependencies(plugin), plugin]]
        assert sorted(meltano_plugin(plugin)["pip_url"].split(" -e ")) == sorted(
            " ".join(wanted).split(" -e ")
        ), plugin


def test_meltano_yml_is_current():
    check = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "meltano_plugins.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_readme_settings_tables_are_current(plugin):
    block = settings_table.block(plugin)
    readmes = [ROOT / plugin / "README.md"] + ([ROOT / "README.md"] if plugin == "tap-acumatica" else [])
    for readme in readmes:
        assert block in readme.read_text(), (
            f"{readme} settings table is stale: run "
            f"`.venv/bin/python scripts/settings_table.py {plugin} --write`"
        )
