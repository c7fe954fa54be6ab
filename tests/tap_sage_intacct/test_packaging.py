"""tap-sage-intacct's sandbox config points at the Intacct emulator and holds every required setting
(tests/test_packaging.py checks the definition against --about)."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.test_packaging import about

ROOT = Path(__file__).resolve().parents[2]


def test_sandbox_config_points_at_the_emulator_with_every_required_setting():
    plugin = yaml.safe_load((ROOT / "tap-sage-intacct" / "meltano-plugin.yml").read_text())
    sandbox = plugin["sandbox"]["config"]
    assert sandbox["endpoint_url"] == "http://127.0.0.1:8833/ia/xml/xmlgw.phtml"
    assert set(about("tap-sage-intacct")["settings"]["required"]) <= set(sandbox)
