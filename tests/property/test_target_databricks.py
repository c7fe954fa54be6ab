"""Round trips through target-databricks into the Databricks emulator's Delta tables.

Documented mapping (target-databricks/README.md): strings as STRING; numbers as DECIMAL(38,9), a value
with more than 9 decimal places or 29 integer digits refused; date-times as UTC TIMESTAMP (Delta's
range is years 1-9999 UTC); property names as they are; tables named by the normalised stream name.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given

from tests.property import properties as p
from tests.property.loaders import fresh_name
from tests.property.support import COLLIDING_STREAMS, hostile_streams, loads


@loads(examples=3)
@given(values=p.strings)
def test_strings_of_every_plane_land_exactly(databricks, values):
    p.strings_land(databricks, values)


@loads(
    examples=3,
    xfail="a value outside DECIMAL(38,9) fails the batch naming stream and column but not the value or its "
    "record: 1E+30 gives 'column 'v' (DECIMAL(38,9)): more than 29 integer digits', 1E-10 'more than 9 "
    "decimal places would be rounded'",
)
@given(values=p.decimals)
def test_decimals_land_exactly_or_are_refused_by_name(databricks, values):
    p.decimals_land(databricks, values, must_land=p.fits_decimal(38, 9))


@loads(
    examples=3,
    xfail="9999-12-31T23:59:59.999-05:00 (UTC year 10000) and 0001-01-01T00:30:00+01:00 (UTC year 0) end "
    "the run with 'OverflowError: date value out of range', naming no stream, column or value",
)
@given(values=p.datetimes)
def test_timestamps_with_offsets_land_exactly_or_are_refused_by_name(databricks, values):
    p.timestamps_land(databricks, values)


@loads(examples=8, xfail="streams 'AP Bills', 'ap-bills', 'ap_bills' are merged into table ap_bills, exit 0")
@given(streams=hostile_streams())
@example(streams=COLLIDING_STREAMS)
def test_hostile_names_land_apart_or_are_refused_by_name(databricks, streams):
    p.names_land(databricks, streams)


@pytest.mark.parametrize("payload", p.INJECTIONS)
def test_injected_names_leave_other_tables_alone(databricks, payload):
    p.injection_leaves_other_tables_alone(databricks, payload, fresh_name())
