"""Each `<package>/meltano-plugin.yml` is a definition the Meltano Hub accepts: it validates against the
Hub's own plugin-definition schema (a copy in hub_schemas/, source and commit in hub_schemas/SOURCE.md),
the same way the Hub's check does (Draft 7, every schema registered under its `$id`)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from tests.support.plugins import PLUGINS, ROOT

SCHEMAS = Path(__file__).parent / "hub_schemas"


@cache
def validator(plugin_type: str) -> Draft7Validator:
    resources = []
    for path in sorted(SCHEMAS.glob("*/*.schema.json")):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema, default_specification=DRAFT7)))
    schema = json.loads((SCHEMAS / "plugin_definitions" / f"{plugin_type}.schema.json").read_text())
    return Draft7Validator(schema, registry=Registry().with_resources(resources))


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_definition_validates_against_the_hub_schema(plugin):
    definition = yaml.safe_load((ROOT / plugin / "meltano-plugin.yml").read_text())
    errors = [
        f"{'/'.join(map(str, e.absolute_path)) or '<top>'}: {e.message}"
        for e in validator(PLUGINS[plugin]).iter_errors(definition)
    ]
    assert not errors, f"{plugin}/meltano-plugin.yml fails the Hub's schema:\n" + "\n".join(errors)


def test_the_hub_schema_copy_rejects_what_the_hub_rejects():
    """The copy is wired up: a definition without `variant`/`quality` and with a `sandbox` key fails."""
    definition = yaml.safe_load((ROOT / "tap-acumatica" / "meltano-plugin.yml").read_text())
    del definition["variant"], definition["quality"]
    definition["sandbox"] = {"config": {}}
    definition["settings"][0]["kind"] = "number"
    messages = " | ".join(e.message for e in validator("extractors").iter_errors(definition))
    for wanted in (
        "'variant' is a required property",
        "'quality' is a required property",
        "'sandbox' was unexpected",
        "'number' is not one of",
    ):
        assert wanted in messages, messages
