"""Render a plugin's settings (from `<plugin> --about --format=json`) as a Markdown table.

python scripts/settings_table.py tap-acumatica          # print the table
python scripts/settings_table.py tap-acumatica --write  # refresh README.md and tap-acumatica/README.md
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def table(plugin: str) -> str:
    about = json.loads(
        subprocess.run(
            [str(BIN / plugin), "--about", "--format=json"], capture_output=True, text=True, check=True
        ).stdout
    )
    settings = about["settings"]
    required = set(settings.get("required", []))
    rows = ["| Setting | Required | Default | Description |", "|---|---|---|---|"]
    for name, spec in settings["properties"].items():
        default = spec.get("default")
        default_text = "" if default is None else f"`{json.dumps(default)}`"
        description = " ".join((spec.get("description") or "").split()).replace("|", "\\|")
        if spec.get("secret"):
            description += " *(secret)*"
        rows.append(f"| `{name}` | {'yes' if name in required else ''} | {default_text} | {description} |")
    return "\n".join(rows)


def block(plugin: str) -> str:
    return f"<!-- settings:{plugin} -->\n{table(plugin)}\n<!-- /settings:{plugin} -->"


def refresh(text: str, plugin: str) -> str:
    pattern = re.compile(
        rf"<!-- settings:{re.escape(plugin)} -->.*?<!-- /settings:{re.escape(plugin)} -->", re.S
    )
    return pattern.sub(lambda _: block(plugin), text)


if __name__ == "__main__":
    plugin = sys.argv[1]
    if "--write" in sys.argv:
        for readme in (ROOT / "README.md", ROOT / plugin / "README.md"):
            if readme.exists():
                readme.write_text(refresh(readme.read_text(), plugin))
    else:
        print(table(plugin))
