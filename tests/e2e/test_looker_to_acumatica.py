"""End to end: tap-looker runs the overhead allocation query against the Looker emulator and
target-acumatica posts it into the Acumatica emulator as journals (the mapping of meltano.yml's
sandbox environment). Acumatica's journals equal the query's rows to the cent,
every one of 6,000+ rows is posted, and a rerun posts nothing."""

from __future__ import annotations

from collections import Counter

import pytest
from acumatica_emulator import AcumaticaEmulator, EmulatorConfig
from looker_emulator import EmulatorConfig as LookerConfig
from looker_emulator import LookerEmulator

from tests.support.acumatica_target import (
    PREFIX,
    SANDBOX_MAPPING,
    audit_lines,
    expected_journals,
    journal_lines,
    posted_journals,
    query_rows,
    run_target,
    target_config,
)
from tests.support.looker import tap_output

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def looker():
    with LookerEmulator(LookerConfig(port=0, sizes={"overhead_allocation": 6000})) as emu:
        yield emu


@pytest.fixture
def acumatica():
    with AcumaticaEmulator(EmulatorConfig(port=0)) as emu:
        yield emu


def test_allocation_query_lands_as_journals_equal_to_its_rows_and_a_rerun_posts_nothing(
    looker, acumatica, tmp_path
):
    rows = query_rows(looker)
    assert len(rows) >= 6000
    config = target_config(acumatica, tmp_path / "audit", journals={"overhead_allocation": SANDBOX_MAPPING})
    text = tap_output(looker)
    run = run_target(config, text, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]

    expected = expected_journals(rows)
    posted = posted_journals(acumatica, PREFIX)
    assert sorted(posted) == sorted(expected)
    for key, lines in expected.items():
        journal = posted[key]
        assert journal_lines(journal) == Counter(lines), key
        assert journal["Status"] == "Balanced" and journal["PostPeriod"] == key.split(":")[1]
    assert sum(len(j["Details"]) for j in posted.values()) == len(rows)
    assert {a["status"] for a in audit_lines(tmp_path / "audit")} == {"posted"}
    assert run.states, "STATE is emitted once every journal has landed"

    puts = acumatica.stats.requests[("PUT", "entity")]
    rerun = run_target(config, tap_output(looker), tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert acumatica.stats.requests[("PUT", "entity")] == puts
    assert posted_journals(acumatica, PREFIX) == posted
