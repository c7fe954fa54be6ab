"""The checks every tap shares: safe names, case-insensitive collisions, bookmark values."""

from __future__ import annotations

import pytest
from mlc_run_audit.checks import (
    MAX_NAME_LENGTH,
    SettingError,
    check_name,
    check_unique,
    is_safe_name,
    parse_bookmark,
    safe_name,
)


@pytest.mark.parametrize("name", ["vendors", "_audit_runs", "AP_BILLS2", "a" * MAX_NAME_LENGTH])
def test_plain_identifiers_are_safe_and_map_to_themselves(name):
    assert is_safe_name(name)
    assert safe_name(name) == name


@pytest.mark.parametrize(
    ("source", "column"),
    [
        ("DISPLAYCONTACT.MAILADDRESS.CITY", "DISPLAYCONTACT_MAILADDRESS_CITY"),
        ('x" (i int); DROP TABLE bills; --', "x___i_int___DROP_TABLE_bills____"),
        ("9lives", "_9lives"),
        ("naïve", "na_ve"),
    ],
)
def test_unsafe_source_names_map_deterministically_to_safe_ones(source, column):
    assert safe_name(source) == column
    assert is_safe_name(column)


def test_long_names_are_cut_with_a_hash_so_two_long_names_stay_apart():
    one, two = "A" * 70 + "x", "A" * 70 + "y"
    assert len(safe_name(one)) == MAX_NAME_LENGTH and is_safe_name(safe_name(one))
    assert safe_name(one) != safe_name(two)


def test_an_unsafe_configured_name_names_where_it_came_from():
    with pytest.raises(SettingError, match=r"Setting objects: stream name 'a-b' is not a safe table"):
        check_name("a-b", "Setting objects: stream name")


def test_names_equal_ignoring_case_collide():
    with pytest.raises(SettingError, match=r"'vendors' \(built-in\) and 'Vendors' \(extra_entities\)"):
        check_unique([("vendors", "built-in"), ("Vendors", "extra_entities")], "Streams")


@pytest.mark.parametrize("value", ["2024-03-01T14:15:00.123000+00:00", "2024-03-01T14:15:00Z", "2024-03-01"])
def test_bookmark_times_parse(value):
    assert parse_bookmark(value) is not None


@pytest.mark.parametrize("value", ["soon", "", 17, None, "03/01/2024 10:00:00"])
def test_other_bookmark_values_do_not(value):
    assert parse_bookmark(value) is None
