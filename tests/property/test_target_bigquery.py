"""Round trips through target-bigquery 0.7.2 (z3z1ma) into bqemulator, with meltano.yml's settings
(batch_job, denormalized, upsert). Its limit, stated in the README: numbers are FLOAT64."""

from __future__ import annotations

import pytest
from hypothesis import example, given

from tests.support import properties as p
from tests.support.loaders import fresh_name
from tests.support.roundtrip import COLLIDING_STREAMS, Column, Stream, hostile_streams, loads

pytestmark = pytest.mark.e2e


@loads(examples=1)
@given(values=p.few_strings)
def test_strings_of_every_plane_land_exactly(bigquery, values):
    p.strings_land(bigquery, values)


@loads(
    examples=1,
    xfail="an integral number beyond 64 bits (100000000000000000000000000000) ends the run with "
    "'TypeError: Integer exceeds 64-bit range', naming no stream, property or value (numbers are FLOAT64 "
    "in target-bigquery 0.7.2 besides: 9007199254740993 would land as 9007199254740992)",
)
@given(values=p.few_decimals)
@example(values=p.DECIMAL_BATCH)
def test_decimals_land_exactly_or_are_refused_by_name(bigquery, values):
    p.decimals_land(bigquery, values, must_land=p.anything)


@loads(examples=1)
@given(values=p.few_decimals_15)
def test_decimals_of_15_significant_digits_land_exactly(bigquery, values):
    p.decimals_land(bigquery, values, must_land=p.anything)


@loads(examples=1)
@given(values=p.few_datetimes)
def test_timestamps_with_offsets_land_exactly_or_are_refused_by_name(bigquery, values):
    p.timestamps_land(bigquery, values)


@loads(examples=2)
@given(streams=hostile_streams(properties_apart_in_case=True))
@example(streams=COLLIDING_STREAMS)
def test_hostile_names_land_apart_or_are_refused_by_name(bigquery, streams):
    p.names_land(bigquery, streams)


def _case_only(*properties: str) -> Stream:
    stream = Stream("p_case", properties[0], [Column(n, {"type": "string"}) for n in properties])
    stream.rows = [{n: f"s0p{j}r{r}" for j, n in enumerate(properties)} for r in range(20)]
    return stream


#: The hang is known and always the same: one fixed batch (no search, no replay of a found example),
#: and a short watchdog (a run of this size lands in about 5 s).
@pytest.mark.xfail(
    strict=True,
    reason="two properties of one stream that differ only in case ('Amount' and 'AMOUNT') make the run "
    "hang: still running after 20 s, nothing landed, no error",
)
def test_properties_differing_only_in_case_land_apart_or_are_refused_by_name(bigquery):
    p.names_land(bigquery, [_case_only("id", "Amount", "AMOUNT")], timeout=20)


@pytest.mark.parametrize("payload", [p.INJECTIONS[1]])
def test_injected_names_leave_other_tables_alone(bigquery, payload):
    p.injection_leaves_other_tables_alone(bigquery, payload, fresh_name("PROP"))
