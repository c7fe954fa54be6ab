"""tap-looker's sandbox config points at the Looker emulator with its demo key and the example query
(tests/test_packaging.py checks the definition against --about)."""

from __future__ import annotations

from pathlib import Path

import yaml
from looker_emulator import SANDBOX

ROOT = Path(__file__).resolve().parents[2]


def test_sandbox_config_points_at_the_emulator_with_its_demo_key():
    config = yaml.safe_load((ROOT / "tap-looker" / "meltano-plugin.yml").read_text())["sandbox"]["config"]
    assert config["base_url"] == "http://127.0.0.1:8844"
    assert {k: config[k] for k in SANDBOX} == SANDBOX
    assert [q["name"] for q in config["queries"]] == ["overhead_allocation"]
