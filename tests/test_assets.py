"""Files in assets/ that users copy: the --models samplesheet example validates against its schema."""

import csv
import json
from pathlib import Path

import jsonschema

ASSETS = Path(__file__).resolve().parents[1] / "assets"


def test_models_samplesheet_example_validates_against_the_schema():
    schema = json.loads((ASSETS / "schema_models.json").read_text())
    with open(ASSETS / "models_samplesheet.csv", newline="") as handle:
        rows = [{key: value for key, value in row.items() if value} for row in csv.DictReader(handle)]
    for row in rows:  # nf-schema casts CSV cells by the schema's types
        for key in ("token_budget", "window"):
            if key in row:
                row[key] = int(row[key])
    jsonschema.validate(rows, schema)
    assert {row["study_name"] for row in rows if "study_name" in row} == {"DNABERT", "DNABERT2", "NT-MS-v2-100M"}
