"""Every setting of every plugin takes a representative value of its kind through
`meltano config set <plugin> <setting> <value>` (as typed at a shell) and reaches the plugin as that
value (`meltano invoke --dump=config`), in one throwaway project made with `meltano init`
and `meltano add --from-ref <package>/meltano-plugin.yml`. A `kind` that disagrees with the setting's type
fails here (e.g. `kind: integer` for a decimal: `retry_backoff_seconds 0.5` cannot be set)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from tests.support.plugins import PLUGINS, ROOT, about, clean_env, definition

pytestmark = [pytest.mark.publish, pytest.mark.e2e]

BIN = Path(sys.executable).parent
# In a folder of its own: run as a script, its folder comes first on sys.path, and tests/support/meltano.py
# would shadow Meltano.
BATCH = ROOT / "tests" / "support" / "scripts" / "meltano_batch.py"
DATE = "2024-01-31T00:00:00Z"


def representative(spec: dict) -> tuple[str, object]:
    """The text typed for a setting of JSON schema ``spec`` (from the plugin's --about, not from the
    definition's `kind`, which is under test) and the value the plugin must receive; never the default,
    so a value that did not land shows."""
    types = spec.get("type", [])
    types = [types] if isinstance(types, str) else [t for t in types if t != "null"]
    default = spec.get("default")
    if spec.get("enum"):
        value = next(v for v in spec["enum"] if v not in (default, None))
        return value, value
    if types == ["integer"]:
        value = 7 if default != 7 else 8
        return str(value), value
    if types == ["number"]:
        return ("0.5", 0.5) if default != 0.5 else ("2.5", 2.5)
    if types == ["boolean"]:
        return ("false", False) if default is True else ("true", True)
    if types == ["object"]:
        value = {"example": {"number": 1, "text": "a"}}
        return json.dumps(value), value
    if types == ["array"]:
        value = [{"name": "example", "number": 1}]
        return json.dumps(value), value
    if spec.get("format") == "date-time":
        return DATE, DATE
    assert types == ["string"], f"no representative value for {spec}"
    return "example-text", "example-text"


def same(got, want) -> bool:
    if want == DATE and isinstance(got, str):
        return datetime.fromisoformat(got.replace("Z", "+00:00")) == datetime.fromisoformat(
            want.replace("Z", "+00:00")
        )
    return got == want and type(got) is type(want)


def batch(project: Path, commands: list[list[str]]) -> list[dict]:
    done = subprocess.run(
        [sys.executable, str(BATCH), json.dumps(commands)],
        cwd=project,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


@pytest.mark.timeout(900)
@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_every_setting_of_the_plugin_sets_and_reads_back(tmp_path, plugin):
    """One project per plugin: Meltano reads and rewrites the whole meltano.yml on every `config set`."""
    init = subprocess.run(
        [str(BIN / "meltano"), "init", "project", "--no-usage-stats"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert init.returncode == 0, init.stderr[-3000:]
    project = tmp_path / "project"
    commands = [
        [
            "add",
            "--plugin-type",
            PLUGINS[plugin].rstrip("s"),
            plugin,
            "--from-ref",
            str(ROOT / plugin / "meltano-plugin.yml"),
            "--no-install",
        ]
    ]
    wanted: dict[str, object] = {}
    properties = about(plugin)["settings"]["properties"]
    for setting in definition(plugin)["settings"]:
        text, value = representative(properties[setting["name"]])
        wanted[setting["name"]] = value
        commands.append(["config", "set", plugin, setting["name"], text])
    commands.append(["invoke", "--dump=config", plugin])
    results = batch(project, commands)
    assert len(results) == len(commands), results[-1:]
    failed = [
        f"{' '.join(r['argv'])}: exit {r['exit_code']} {r['exception'] or r['stdout'][-300:]}"
        for r in results
        if r["exit_code"] != 0
    ]
    assert not failed, "\n".join(failed)
    dumped = json.loads(results[-1]["stdout"][results[-1]["stdout"].index("{") :])
    wrong = {
        name: (dumped.get(name), value) for name, value in wanted.items() if not same(dumped.get(name), value)
    }
    assert not wrong, f"{plugin}: (read back, set) differ: {wrong}"
