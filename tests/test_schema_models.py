"""The --models samplesheet schema (nf-schema validates the CSV with it in main.nf)."""

import csv
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from utrbench.errors import UserError
from utrbench.models import get_family

PROJECT_DIR = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((PROJECT_DIR / "assets" / "schema_models.json").read_text())


def errors_of(row: dict) -> list:
    return [error.message for error in Draft202012Validator(SCHEMA["items"]).iter_errors(row)]


def test_the_test_profile_sheet_is_valid_and_its_paths_exist():
    sheet = PROJECT_DIR / "assets" / "test" / "models.csv"
    with open(sheet, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and all(errors_of(row) == [] for row in rows)
    assert all((sheet.parent / row["path"]).is_dir() for row in rows)  # paths are relative to the sheet


@pytest.mark.parametrize("row", [
    {"id": "x y", "family": "dnabert", "path": "m"},
    {"id": "x", "family": "DNABERT", "path": "m"},
    {"id": "x", "family": "dnabert"},
    {"id": "x", "family": "dnabert", "path": "m", "token_budget": 0},
])
def test_bad_rows_are_rejected(row):
    assert errors_of(row)


def test_family_names_are_checked_by_the_registry_not_the_schema():
    """Adding a family touches only its module: the schema has no list of families."""
    assert errors_of({"id": "x", "family": "newfamily", "path": "m"}) == []
    with pytest.raises(UserError, match="unknown model family 'newfamily'; known families: dnabert, dnabert2, ntv2, statespace"):
        get_family("newfamily")
