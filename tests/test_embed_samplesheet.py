"""The --models samplesheet schema (nf-schema validates the sheet with it in the pipeline)."""

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from utrbench.models import families

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "assets" / "schema_models.json"


def test_schema_lists_every_registered_family():
    schema = json.loads(SCHEMA_PATH.read_text())
    assert sorted(schema["items"]["properties"]["family"]["enum"]) == sorted(families())


@pytest.mark.parametrize("row, field", [
    ({"id": "ss", "family": "statespace", "path": "m1", "species": "Homo_sapiens", "token_budget": 4096}, None),
    ({"id": "x", "family": "gpt", "path": "m1"}, "family"),
    ({"id": "x", "family": "dnabert", "path": "m1", "token_budget": "lots"}, "token_budget"),
    ({"id": "x", "family": "dnabert"}, "path"),
])
def test_schema_accepts_good_rows_and_names_the_bad_field(row, field):
    items = json.loads(SCHEMA_PATH.read_text())["items"]
    errors = list(Draft202012Validator(items).iter_errors(row))
    if field is None:
        assert errors == []
    else:
        assert len(errors) == 1
        assert field in (list(errors[0].path) or [errors[0].message.split("'")[1]])
