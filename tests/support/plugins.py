"""The plugins as the project defines them: their names and kinds, --about, Hub-style definitions,
distribution names, the sandbox environment's config, and an environment without Meltano settings."""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
from functools import cache
from pathlib import Path

import yaml

from tests.support.taprun import TAP

ROOT = Path(__file__).resolve().parents[2]

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


def distribution(plugin: str) -> str:
    """The distribution name of a plugin's package (what its definition's pip_url installs)."""
    return tomllib.loads((ROOT / plugin / "pyproject.toml").read_text())["project"]["name"]


def sandbox_config(name: str) -> dict:
    """A plugin's config in meltano.yml's sandbox environment (the local emulators)."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    sandbox = next(env for env in project["environments"] if env["name"] == "sandbox")
    plugins = sandbox["config"]["plugins"][PLUGINS[name]]
    return next(p for p in plugins if p["name"] == name)["config"]


def clean_env() -> dict[str, str]:
    """This process's environment without any Meltano or plugin setting that would override the project."""
    prefixes = ("MELTANO_", "TAP_", "TARGET_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
