"""Round trips through target-databricks into the Databricks emulator's Delta tables.

Documented mapping (target-databricks/README.md): strings as STRING; a plain number as DOUBLE by default
(``number_type: decimal``, as the project's flows set it: DECIMAL(38,9)); a number declared exact
(x-sql-datatype decimal, multipleOf, string format x-singer.decimal) as DECIMAL(38,9); a value with more
than 9 decimal places or 29 integer digits for a DECIMAL(38,9) refused by name; date-times as UTC
TIMESTAMP (Delta's range is years 1-9999 UTC, later instants refused by name); property names as they
are; tables named by the normalised stream name, colliding names refused.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given

from tests.support import properties as p
from tests.support.loaders import fresh_name
from tests.support.roundtrip import COLLIDING_STREAMS, hostile_streams, loads


@loads(examples=3)
@given(values=p.strings)
def test_strings_of_every_plane_land_exactly(databricks, values):
    p.strings_land(databricks, values)


@loads(examples=2)
@given(values=p.decimals)
@example(values=p.DECIMAL_BATCH)
def test_plain_numbers_land_as_the_nearest_double_by_default(databricks, values):
    """A plain ``number`` is DOUBLE (``number_type`` default): every value, of any size, lands as the
    nearest double; none fails the batch."""
    p.decimals_land(databricks, values, must_land=p.anything, kind="double", number_type="double")


@loads(examples=2)
@given(values=p.decimals)
@example(values=p.DECIMAL_BATCH)
def test_plain_numbers_land_exactly_or_are_refused_by_name_with_number_type_decimal(databricks, values):
    """``number_type: decimal``, as the project's flows set it: DECIMAL(38,9), exact or refused by name."""
    p.decimals_land(databricks, values, must_land=p.fits_decimal(38, 9), number_type="decimal")


#: The three ways a stream declares an exact number: the SDK's SQL-type hint, a step, decimal text.
DECLARED = {
    "x-sql-datatype": {"type": ["number", "null"], "x-sql-datatype": "decimal(38,9)"},
    "multipleOf": {"type": ["number", "null"], "multipleOf": 1e-9},
    "x-singer.decimal": {"type": ["string", "null"], "format": "x-singer.decimal"},
}


@pytest.mark.parametrize("declared", sorted(DECLARED))
@loads(examples=1)
@given(values=p.decimals)
@example(values=p.DECIMAL_BATCH)
def test_declared_decimals_land_exactly_or_are_refused_by_name(databricks, declared, values):
    p.decimals_land(
        databricks, values, must_land=p.fits_decimal(38, 9), schema=DECLARED[declared], number_type="double"
    )


@loads(examples=3)
@given(values=p.datetimes)
@example(values=p.TIMESTAMP_BATCH)
def test_timestamps_with_offsets_land_exactly_or_are_refused_by_name(databricks, values):
    p.timestamps_land(databricks, values)


@loads(examples=8)
@given(streams=hostile_streams())
@example(streams=COLLIDING_STREAMS)
def test_hostile_names_land_apart_or_are_refused_by_name(databricks, streams):
    p.names_land(databricks, streams)


@pytest.mark.parametrize("payload", p.INJECTIONS)
def test_injected_names_leave_other_tables_alone(databricks, payload):
    p.injection_leaves_other_tables_alone(databricks, payload, fresh_name())
