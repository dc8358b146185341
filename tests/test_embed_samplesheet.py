"""The --models samplesheet schema and its reader."""

import json

import pytest

from utrbench.errors import UserError
from utrbench.infer.samplesheet import SCHEMA_PATH, read_models_samplesheet
from utrbench.models import families


def test_schema_lists_every_registered_family():
    schema = json.loads(SCHEMA_PATH.read_text())
    assert sorted(schema["items"]["properties"]["family"]["enum"]) == sorted(families())


def test_reads_rows_with_types(tmp_path):
    (tmp_path / "m1").mkdir()
    (tmp_path / "m2").mkdir()
    sheet = tmp_path / "models.csv"
    sheet.write_text("id,family,path,species,token_budget\nss,statespace,m1,Homo_sapiens,4096\nbert,dnabert,m2,,\n")
    rows = read_models_samplesheet(sheet)
    assert rows == [
        {"id": "ss", "family": "statespace", "path": "m1", "species": "Homo_sapiens", "token_budget": 4096},
        {"id": "bert", "family": "dnabert", "path": "m2"},
    ]


@pytest.mark.parametrize("body, message", [
    ("id,family,path\nx,gpt,m1\n", "line 2: family must be one of"),
    ("id,family,path\nx,dnabert,m1\nx,ntv2,m1\n", "line 3: id 'x' is listed twice"),
    ("id,family,path,token_budget\nx,dnabert,m1,lots\n", "line 2: token_budget must be a positive integer"),
    ("id,family,path\nx,dnabert,missing\n", "line 2: path 'missing' is not a model directory"),
    ("id,family,path,colour\nx,dnabert,m1,red\n", "unknown column(s) colour"),
    ("id,family\nx,dnabert\n", "line 2: 'path' is a required property"),
])
def test_errors_name_line_and_field(tmp_path, body, message):
    (tmp_path / "m1").mkdir()
    sheet = tmp_path / "models.csv"
    sheet.write_text(body)
    with pytest.raises(UserError) as error:
        read_models_samplesheet(sheet)
    assert message in str(error.value)
