"""tap-looker's sandbox config points at the Looker emulator with its demo key and the example query
(tests/publish/test_definitions.py checks the definition against --about)."""

from __future__ import annotations

from looker_emulator import SANDBOX

from tests.support.plugins import sandbox_config


def test_sandbox_config_points_at_the_emulator_with_its_demo_key():
    config = sandbox_config("tap-looker")
    assert config["base_url"] == "http://127.0.0.1:8844"
    assert {k: config[k] for k in SANDBOX} == SANDBOX
    assert [q["name"] for q in config["queries"]] == ["overhead_allocation"]
