"""tap-sage-intacct's sandbox config points at the Intacct emulator and holds every required setting
(tests/publish/test_definitions.py checks the definition against --about)."""

from __future__ import annotations

from tests.support.plugins import about, sandbox_config


def test_sandbox_config_points_at_the_emulator_with_every_required_setting():
    sandbox = sandbox_config("tap-sage-intacct")
    assert sandbox["endpoint_url"] == "http://127.0.0.1:8833/ia/xml/xmlgw.phtml"
    assert set(about("tap-sage-intacct")["settings"]["required"]) <= set(sandbox)
