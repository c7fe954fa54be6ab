"""The Singer SDK's standard target tests, against the Acumatica emulator.

The SDK's test streams (arrays, camel-case names, special characters, schema updates ...) carry no
accounts or amounts, so they cannot be journals; the suite runs with ``unmapped_streams: ignore`` and
checks that the target reads every message kind without failing, and fails where the SDK expects it to
(invalid schema, record before schema, record without its key property). On top of that, after each
test this module checks that nothing was written to Acumatica.
"""

from __future__ import annotations

import pytest
from singer_sdk.testing import get_target_test_class
from singer_sdk.testing.runners import TargetTestRunner
from target_acumatica.target import TargetAcumatica

from tests.support.acumatica_target import target_config

StandardTargetTests = get_target_test_class(TargetAcumatica, config={})


class TestTargetAcumatica(StandardTargetTests):
    """The SDK's standard target suite, one fresh emulator per test."""

    @pytest.fixture
    def runner(self, emulator, tmp_path) -> TargetTestRunner:
        config = target_config(emulator, tmp_path / "audit", journals={}, unmapped_streams="ignore")
        return TargetTestRunner(target_class=TargetAcumatica, config=config)

    @pytest.fixture(autouse=True)
    def wrote_nothing(self, emulator):
        yield
        assert emulator.stats.requests[("PUT", "entity")] == 0
