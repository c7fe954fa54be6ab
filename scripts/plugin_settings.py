"""Print a plugin's settings as meltano.yml `settings:` entries, from `<plugin> --about --format=json`.

    python scripts/plugin_settings.py target-databricks           # print them
    python scripts/plugin_settings.py target-databricks --write   # into target-databricks/meltano-plugin.yml

Keeps meltano.yml in step with what each plugin declares (tests/test_packaging.py checks it).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

BIN = Path(sys.executable).parent

KINDS = {
    "integer": "integer",
    "number": "integer",
    "boolean": "boolean",
    "object": "object",
    "array": "array",
}


def settings(plugin: str) -> list[dict]:
    about = json.loads(
        subprocess.run(
            [str(BIN / plugin), "--about", "--format=json"], capture_output=True, text=True, check=True
        ).stdout
    )
    out = []
    for name, spec in about["settings"]["properties"].items():
        types = spec.get("type", [])
        types = [types] if isinstance(types, str) else types
        entry: dict = {"name": name, "label": spec.get("title") or name.replace("_", " ").capitalize()}
        kind = next((KINDS[t] for t in types if t in KINDS), None)
        if spec.get("secret"):
            entry["kind"] = "password"
            entry["sensitive"] = True
        elif spec.get("enum"):
            entry["kind"] = "options"
            entry["options"] = [{"label": str(v), "value": v} for v in spec["enum"]]
        elif spec.get("format") == "date-time":
            entry["kind"] = "date_iso8601"
        elif kind:
            entry["kind"] = kind
        if "default" in spec and spec["default"] not in (None, ""):
            entry["value"] = spec["default"]
        if spec.get("description"):
            entry["description"] = " ".join(spec["description"].split())
        out.append(entry)
    return out


def write(plugin: str) -> None:
    """Replace the settings of ``<plugin>/meltano-plugin.yml``, keeping the rest of the file."""
    from ruamel.yaml import YAML

    rt = YAML()
    rt.width = 110
    rt.indent(mapping=2, sequence=2, offset=0)
    path = Path(__file__).resolve().parent.parent / plugin / "meltano-plugin.yml"
    definition = rt.load(path.read_text())
    definition["settings"] = settings(plugin)
    with path.open("w") as out:
        rt.dump(definition, out)


if __name__ == "__main__":
    if "--write" in sys.argv:
        write(sys.argv[1])
    else:
        print(yaml.safe_dump(settings(sys.argv[1]), sort_keys=False, width=110, allow_unicode=True))
