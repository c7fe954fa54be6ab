"""The shared run id and the run record's parts that do not need a tap run."""

from __future__ import annotations

import uuid

import pytest
from mlc_run_audit import RunIdError, current_run_id
from mlc_run_audit.tap import public_url, with_audit_columns


def test_meltano_run_id_is_used_in_canonical_form():
    given = uuid.uuid4()
    assert current_run_id({"MELTANO_RUN_ID": f" {given.hex.upper()} "}) == str(given)


def test_without_meltano_run_id_one_id_per_process():
    first = current_run_id({})
    assert uuid.UUID(first)
    assert current_run_id({"MELTANO_RUN_ID": ""}) == first


def test_a_run_id_that_is_not_a_uuid_names_the_variable():
    with pytest.raises(RunIdError, match="MELTANO_RUN_ID must be a UUID"):
        current_run_id({"MELTANO_RUN_ID": "nightly-7"})


def test_source_addresses_lose_credentials_query_and_fragment():
    url = "https://loader:s3cret@acme.acumatica.com:8443/AcumaticaERP/entity?token=abc#x"
    assert public_url(url) == "https://acme.acumatica.com:8443/AcumaticaERP/entity"


def test_a_source_field_named_like_an_audit_column_is_refused_unless_they_are_off():
    schema = {"type": "object", "properties": {"_audit_run_id": {"type": "string"}}}
    with pytest.raises(ValueError, match="vendors has fields \\['_audit_run_id'\\]"):
        with_audit_columns(schema, {}, "vendors")
    assert with_audit_columns(schema, {"audit_columns": False}, "vendors") is schema
