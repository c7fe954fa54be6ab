"""target-acumatica's sandbox config points at the Acumatica emulator and maps tap-looker's
overhead_allocation query (tests/publish/test_definitions.py checks the definition against --about)."""

from __future__ import annotations

from tests.support.plugins import sandbox_config
from tests.support.taprun import SANDBOX


def test_sandbox_config_uses_the_emulator_demo_credentials_and_the_looker_allocation_columns():
    config = sandbox_config("target-acumatica")
    assert config["base_url"] == "http://127.0.0.1:8811/AcumaticaERP"
    for name in ("tenant", "branch", "client_id", "client_secret", "username", "password"):
        assert config[name] == SANDBOX[name], name
    (query,) = [q for q in sandbox_config("tap-looker")["queries"] if q["name"] == "overhead_allocation"]
    columns = {field.split(".", 1)[1] for field in query["fields"]}
    mapping = config["journals"]["overhead_allocation"]
    used = set(mapping["group_by"])
    for name, spec in mapping.items():
        if name not in ("group_by", "key_prefix", "description") and isinstance(spec, str):
            used.add(spec)
    assert used <= columns, sorted(used - columns)
