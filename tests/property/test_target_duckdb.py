"""Round trips through target-duckdb."""

from __future__ import annotations

from hypothesis import example, given

from tests.property import properties as p
from tests.property.support import COLLIDING_STREAMS, hostile_streams, loads


@loads(examples=2)
@given(values=p.strings)
def test_strings_of_every_plane_land_exactly(duckdb_loader, values):
    p.strings_land(duckdb_loader, values)


@loads(examples=2)
@given(values=p.decimals)
def test_decimals_land_exactly_or_are_refused_by_name(duckdb_loader, values):
    p.decimals_land(duckdb_loader, values, must_land=p.anything)


@loads(examples=2)
@given(values=p.decimals_15)
def test_decimals_of_15_significant_digits_land_exactly(duckdb_loader, values):
    p.decimals_land(duckdb_loader, values, must_land=p.anything)


@loads(examples=2)
@given(values=p.datetimes)
def test_timestamps_with_offsets_land_exactly_or_are_refused_by_name(duckdb_loader, values):
    p.timestamps_land(duckdb_loader, values)


@loads(examples=3)
@given(streams=hostile_streams())
@example(streams=COLLIDING_STREAMS)
def test_hostile_names_land_apart_or_are_refused_by_name(duckdb_loader, streams):
    p.names_land(duckdb_loader, streams)
