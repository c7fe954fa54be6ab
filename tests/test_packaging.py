"""The plugin definitions users see (meltano.yml, README) match each plugin's own --about."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest
import yaml

from tests.taprun import TAP

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import settings_table  # noqa: E402

PLUGINS = {
    "tap-acumatica": "extractors",
    "tap-sage-intacct": "extractors",
    "tap-looker": "extractors",
    "target-databricks": "loaders",
    "target-acumatica": "loaders",
}


@cache
def about(plugin: str = "tap-acumatica") -> dict:
    executable = str(Path(TAP).parent / plugin)
    return json.loads(
        subprocess.run(
            [executable, "--about", "--format=json"], capture_output=True, text=True, check=True
        ).stdout
    )


def definition(name: str) -> dict:
    """The package's own Hub-style definition, `<package>/meltano-plugin.yml`."""
    return yaml.safe_load((ROOT / name / "meltano-plugin.yml").read_text())


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
    for key in ("name", "namespace", "label", "description", "pip_url", "executable", "capabilities"):
        assert spec.get(key), f"{plugin}/meltano-plugin.yml lacks {key}"
    assert set(spec["capabilities"]) <= set(about(plugin)["capabilities"])
    assert spec["namespace"] == plugin.replace("-", "_")
    assert "sandbox" in spec, "the sandbox environment's config lives with the definition"


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_meltano_yml_holds_the_package_definition(plugin):
    # meltano.yml installs this checkout (pip_url -e ./...); the definition names the PyPI package.
    published = {k: v for k, v in definition(plugin).items() if k not in ("sandbox", "pip_url")}
    in_project = {k: v for k, v in meltano_plugin(plugin).items() if k in published}
    assert in_project == published, "run .venv/bin/python scripts/meltano_plugins.py"
    assert definition(plugin)["pip_url"] == plugin
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


@pytest.mark.e2e
@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_meltano_add_from_the_definition_installs_a_working_plugin(plugin, tmp_path):
    """`meltano add --from-ref <package>/meltano-plugin.yml` in a new project, as a user would, with the
    PyPI name swapped for this checkout; the installed plugin answers --about like the workspace one."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "meltano.yml").write_text("project_id: from-ref-check\nsend_anonymous_usage_stats: false\n")
    spec = definition(plugin)
    spec["pip_url"] = " ".join(f"-e {ROOT / p}" for p in [*local_dependencies(plugin), plugin])
    ref = tmp_path / "plugin.yml"
    ref.write_text(yaml.safe_dump(spec, sort_keys=False))
    meltano = str(Path(sys.executable).parent / "meltano")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MELTANO_")}
    added = subprocess.run([meltano, "add", PLUGINS[plugin].rstrip("s"), plugin, "--from-ref", str(ref)],
                           cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert added.returncode == 0, added.stderr[-3000:]
    invoked = subprocess.run([meltano, "invoke", plugin, "--about", "--format=json"], cwd=project, env=env,
                             capture_output=True, text=True, timeout=300, check=False)
    assert invoked.returncode == 0, invoked.stderr[-3000:]
    assert json.loads(invoked.stdout)["settings"] == about(plugin)["settings"]


def test_meltano_yml_is_current():
    check = subprocess.run([sys.executable, str(ROOT / "scripts" / "meltano_plugins.py"), "--check"],
                           capture_output=True, text=True, check=False)
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
