"""Generate the parts of a plugin's Hub definition that its own `--about --format=json` decides.

    python scripts/plugin_settings.py target-databricks           # print the settings
    python scripts/plugin_settings.py target-databricks --write   # into target-databricks/meltano-plugin.yml

`--write` replaces `capabilities` (exactly what --about lists), `settings` (one entry per config property,
its `kind` from the JSON schema type) and, when the file has none, `settings_group_validation` (the
required settings), keeping the hand-written Hub metadata. tests/publish/test_definitions.py and
tests/publish/test_hub_definitions.py check the result.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

BIN = Path(sys.executable).parent

#: JSON schema type -> Meltano setting kind (the Hub's base_setting schema lists the kinds). A number is
#: `decimal`: with `integer`, `meltano config set <plugin> <setting> 0.5` fails to cast.
KINDS = {
    "integer": "integer",
    "number": "decimal",
    "boolean": "boolean",
    "object": "object",
    "array": "array",
    "string": "string",
}


def about(plugin: str) -> dict:
    return json.loads(
        subprocess.run(
            [str(BIN / plugin), "--about", "--format=json"], capture_output=True, text=True, check=True
        ).stdout
    )


def kind_of(spec: dict) -> str | None:
    """The Meltano kind of one config property (None: none fits, Meltano then treats it as a string)."""
    types = spec.get("type", [])
    types = [types] if isinstance(types, str) else types
    if spec.get("secret"):
        return "password"
    if spec.get("enum"):
        return "options"
    if spec.get("format") == "date-time":
        return "date_iso8601"
    return next((KINDS[t] for t in types if t in KINDS), None)


def settings(plugin: str, info: dict | None = None) -> list[dict]:
    info = info or about(plugin)
    out = []
    for name, spec in info["settings"]["properties"].items():
        entry: dict = {"name": name, "label": spec.get("title") or name.replace("_", " ").capitalize()}
        kind = kind_of(spec)
        if kind:
            entry["kind"] = kind
        if kind == "password":
            entry["sensitive"] = True
        if kind == "options":
            entry["options"] = [{"label": str(v), "value": v} for v in spec["enum"] if v is not None]
        if "default" in spec and spec["default"] not in (None, ""):
            entry["value"] = spec["default"]
        if spec.get("description"):
            entry["description"] = " ".join(spec["description"].split())
        out.append(entry)
    return out


def write(plugin: str) -> None:
    """Regenerate capabilities, settings and (if absent) settings_group_validation of
    ``<plugin>/meltano-plugin.yml``, keeping the rest of the file."""
    from ruamel.yaml import YAML

    rt = YAML()
    rt.width = 110
    rt.indent(mapping=2, sequence=2, offset=0)
    path = Path(__file__).resolve().parent.parent / plugin / "meltano-plugin.yml"
    definition = rt.load(path.read_text())
    info = about(plugin)
    definition["capabilities"] = list(info["capabilities"])
    required = info["settings"].get("required", [])
    if required and not definition.get("settings_group_validation"):
        # Before `settings`, where a reader of the Hub definition looks for it.
        at = list(definition).index("settings") if "settings" in definition else len(definition)
        definition.insert(at, "settings_group_validation", [list(required)])
    definition["settings"] = settings(plugin, info)
    with path.open("w") as out:
        rt.dump(definition, out)


if __name__ == "__main__":
    if "--write" in sys.argv:
        write(sys.argv[1])
    else:
        print(yaml.safe_dump(settings(sys.argv[1]), sort_keys=False, width=110, allow_unicode=True))
