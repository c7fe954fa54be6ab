"""End to end: tap-looker runs the overhead allocation query against the Looker emulator and
target-acumatica posts it into the Acumatica emulator as journals (the mapping of meltano.yml's
sandbox environment). Acumatica's journals equal the query's rows to the cent,
every one of 6,000+ rows is posted, and a rerun posts nothing."""

from __future__ import annotations

import contextlib
import io
from collections import Counter
from decimal import Decimal

import pytest
from acumatica_emulator import AcumaticaEmulator, EmulatorConfig
from looker_emulator import EmulatorConfig as LookerConfig
from looker_emulator import LookerEmulator
from tap_looker.tap import TapLooker

from tests.publish.test_definitions import sandbox_config
from tests.tap_looker.conftest import ALLOCATION_QUERY, tap_config
from tests.target_acumatica.helpers import audit_lines, posted_journals, run_target, target_config

pytestmark = pytest.mark.e2e

SANDBOX_MAPPING = sandbox_config("target-acumatica")["journals"]["overhead_allocation"]
PREFIX = SANDBOX_MAPPING["key_prefix"] + ":"


@pytest.fixture(scope="module")
def looker():
    with LookerEmulator(LookerConfig(port=0, sizes={"overhead_allocation": 6000})) as emu:
        yield emu


@pytest.fixture
def acumatica():
    with AcumaticaEmulator(EmulatorConfig(port=0)) as emu:
        yield emu


def tap_output(looker: LookerEmulator) -> str:
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")  # the tap's writer needs stdout.buffer
    with contextlib.redirect_stdout(out):
        TapLooker(config=tap_config(looker)).sync_all()
    out.flush()
    return out.buffer.getvalue().decode()


def query_rows(looker: LookerEmulator) -> list[dict]:
    rows = looker.run(ALLOCATION_QUERY["model"], ALLOCATION_QUERY["explore"], ALLOCATION_QUERY["fields"])
    return [{k.split(".", 1)[1]: v for k, v in row.items()} for row in rows]


def expected_journals(rows: list[dict]) -> dict[str, list[tuple]]:
    """The journal lines the sandbox mapping makes of the query's rows, by journal key."""
    expected: dict[str, list[tuple]] = {}
    for r in rows:
        amount = Decimal(str(r["allocated_amount"]))
        expected.setdefault(f"{PREFIX}{r['period']}:{r['allocation_id']}", []).append(
            (
                r["account"],
                r["subaccount"],
                r["branch"],
                max(amount, Decimal(0)),
                max(-amount, Decimal(0)),
                r["description"],
            )
        )
    return expected


def journal_lines(journal: dict) -> Counter:
    return Counter(
        (
            d["Account"],
            d["Subaccount"],
            d["BranchID"],
            d["DebitAmount"],
            d["CreditAmount"],
            d["TransactionDescription"],
        )
        for d in journal["Details"]
    )


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
