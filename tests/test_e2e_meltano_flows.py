"""End to end through Meltano for the other two flows, as users run them in the sandbox environment:
`meltano run tap-sage-intacct target-databricks` and `meltano run tap-looker target-acumatica`."""

from __future__ import annotations

from collections import Counter

import pytest
from acumatica_emulator import AcumaticaEmulator
from acumatica_emulator import EmulatorConfig as AcumaticaConfig
from databricks_emulator import DatabricksEmulator
from databricks_emulator import EmulatorConfig as DatabricksConfig
from intacct_emulator import EmulatorConfig as IntacctConfig
from intacct_emulator import IntacctEmulator
from looker_emulator import EmulatorConfig as LookerConfig
from looker_emulator import LookerEmulator

from tests.tap_sage_intacct.conftest import mismatches
from tests.tap_sage_intacct.test_e2e_databricks import as_emitted, delta_rows
from tests.target_acumatica.helpers import posted_journals
from tests.test_e2e_looker_to_acumatica import PREFIX, expected_journals, journal_lines, query_rows
from tests.test_e2e_meltano import meltano_run

pytestmark = pytest.mark.e2e

#: stream -> Intacct object, checked row for row in the `intacct` schema (the extractor's load_schema)
INTACCT_STREAMS = {
    "vendors": "VENDOR", "ap_bills": "APBILL", "gl_details": "GLDETAIL", "departments": "DEPARTMENT",
}


def test_meltano_run_intacct_into_databricks_lands_rows_equal_to_the_source(tmp_path):
    from tap_sage_intacct.tap import TapSageIntacct

    with IntacctEmulator(IntacctConfig(port=0)) as intacct, \
            DatabricksEmulator(DatabricksConfig(port=0, data_dir=str(tmp_path / "dbx"))) as databricks:
        meltano_run(tmp_path, "target-databricks", tap="tap-sage-intacct",
                    TAP_SAGE_INTACCT_ENDPOINT_URL=intacct.endpoint_url,
                    TARGET_DATABRICKS_HOST=databricks.base_url,
                    TAP_SAGE_INTACCT__SELECT='["vendors.*", "ap_bills.*", "gl_details.*", "departments.*"]')
        schemas = {s.name: s.schema for s in TapSageIntacct(config={
            "sender_id": "x", "sender_password": "x", "company_id": "x", "user_id": "x", "user_password": "x",
        }, parse_env_config=False).streams.values()}
        for stream, obj in INTACCT_STREAMS.items():
            rows = [as_emitted(r, schemas[stream]) for r in delta_rows(databricks, stream)]
            assert rows, f"{stream}: nothing landed"
            assert not mismatches(schemas[stream], rows, intacct.store.records(obj)), stream


def test_meltano_run_looker_allocations_post_balanced_journals_once(tmp_path):
    with LookerEmulator(LookerConfig(port=0)) as looker, \
            AcumaticaEmulator(AcumaticaConfig(port=0)) as acumatica:
        env = {"TAP_LOOKER_BASE_URL": looker.base_url, "TARGET_ACUMATICA_BASE_URL": acumatica.base_url,
               "TARGET_ACUMATICA_AUDIT_DIR": str(tmp_path / "audit")}
        meltano_run(tmp_path, "target-acumatica", tap="tap-looker", **env)
        expected = expected_journals(query_rows(looker))
        posted = posted_journals(acumatica, PREFIX)
        assert sorted(posted) == sorted(expected)
        for key, lines in expected.items():
            assert journal_lines(posted[key]) == Counter(lines), key
            assert posted[key]["Status"] == "Balanced"

        puts = acumatica.stats.requests[("PUT", "entity")]
        meltano_run(tmp_path, "target-acumatica", tap="tap-looker", **env)
        assert acumatica.stats.requests[("PUT", "entity")] == puts, "a rerun must post nothing"
        assert posted_journals(acumatica, PREFIX) == posted
