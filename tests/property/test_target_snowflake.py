"""Round trips through target-snowflake."""

from __future__ import annotations

from hypothesis import example, given

from tests.property import properties as p
from tests.property.support import COLLIDING_STREAMS, hostile_streams, loads


@loads(examples=2)
@given(values=p.strings)
def test_strings_of_every_plane_land_exactly(snowflake, values):
    p.strings_land(snowflake, values)


@loads(examples=2)
@given(values=p.decimals)
def test_decimals_land_exactly_or_are_refused_by_name(snowflake, values):
    p.decimals_land(snowflake, values, must_land=p.anything)


@loads(examples=2)
@given(values=p.decimals_15)
def test_decimals_of_15_significant_digits_land_exactly(snowflake, values):
    p.decimals_land(snowflake, values, must_land=p.anything)


@loads(examples=2)
@given(values=p.datetimes)
def test_timestamps_with_offsets_land_exactly_or_are_refused_by_name(snowflake, values):
    p.timestamps_land(snowflake, values)


@loads(examples=3)
@given(streams=hostile_streams())
@example(streams=COLLIDING_STREAMS)
def test_hostile_names_land_apart_or_are_refused_by_name(snowflake, streams):
    p.names_land(snowflake, streams)
