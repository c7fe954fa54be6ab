"""Keep meltano.yml's plugin entries equal to each package's Hub-style `meltano-plugin.yml`.

    python scripts/meltano_plugins.py           # write meltano.yml
    python scripts/meltano_plugins.py --check   # exit 1 when meltano.yml is out of date

Each connector package carries its own definition (`<package>/meltano-plugin.yml`: what Meltano Hub
publishes). This copies it into `plugins.extractors` / `plugins.loaders`, less the Hub's listing metadata
(variant, repo, logo, quality, ...) that a project entry does not use, keeping the rest of meltano.yml
(comments, other plugins, the environments with the sandbox's emulator config, jobs, schedules) as written.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("tap-acumatica", "tap-sage-intacct", "tap-looker", "target-databricks", "target-acumatica")


def plugin_type(name: str) -> str:
    return "extractors" if name.startswith("tap-") else "loaders"


def definitions() -> list[dict]:
    yaml = YAML(typ="safe")
    found = []
    for package in PACKAGES:
        path = ROOT / package / "meltano-plugin.yml"
        if path.exists():
            found.append(yaml.load(path.read_text()))
    return found


#: What a project sets on a plugin beyond its published definition; kept as meltano.yml has it.
#: `pip_url` is the package index name in the definition and an editable install of this checkout here.
PROJECT_KEYS = ("pip_url", "config", "load_schema", "select", "metadata", "schema")

#: Keys of a definition that only the Hub's listing uses; a project's own plugin entry leaves them out.
HUB_ONLY_KEYS = (
    "variant",
    "repo",
    "docs",
    "logo_url",
    "domain_url",
    "keywords",
    "maintenance_status",
    "quality",
    "supported_python_versions",
)


def _upsert(entries: list, entry: dict, keep: tuple[str, ...] = ()) -> None:
    for i, existing in enumerate(entries):
        if existing["name"] == entry["name"]:
            entries[i] = entry | {k: existing[k] for k in keep if k in existing}
            return
    entries.append(entry)


def merged(text: str) -> str:
    yaml = YAML()
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=2, offset=0)
    project = yaml.load(text)
    for definition in definitions():
        entry = {k: v for k, v in definition.items() if k not in HUB_ONLY_KEYS}
        _upsert(project["plugins"].setdefault(plugin_type(definition["name"]), []), entry, keep=PROJECT_KEYS)
    out = io.StringIO()
    yaml.dump(project, out)
    return out.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    path = ROOT / "meltano.yml"
    current = path.read_text()
    wanted = merged(current)
    if args.check:
        # Compare what the files say, not how they are quoted or wrapped.
        if YAML(typ="safe").load(wanted) != YAML(typ="safe").load(current):
            print("meltano.yml is out of date: run python scripts/meltano_plugins.py", file=sys.stderr)
            return 1
        return 0
    path.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
