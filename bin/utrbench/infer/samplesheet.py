"""The ``--models`` samplesheet: one CSV row per model, validated by ``assets/schema_models.json``.

In the pipeline nf-schema validates the sheet with the same schema; this reader gives the same
checks to the scripts and tests: required columns, types, allowed values, unique ids, and that each
path is a directory. Empty cells are absent values.
"""

import csv
import json
from pathlib import Path

from jsonschema import Draft202012Validator

from utrbench.errors import UserError

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "assets" / "schema_models.json"


def _typed(value: str, spec: dict):
    """A CSV cell as the schema's type (integers stay text when not integral, for a clear error)."""
    if spec.get("type") == "integer" and value.lstrip("-").isdigit():
        return int(value)
    return value


def read_models_samplesheet(path, schema_path=SCHEMA_PATH) -> list:
    """Rows of the samplesheet as dicts (absent optional columns left out), in file order."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: file not found.")
    schema = json.loads(Path(schema_path).read_text())
    properties = schema["items"]["properties"]
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        unknown = [name for name in reader.fieldnames or [] if name not in properties]
        if unknown:
            raise UserError(f"{path}: unknown column(s) {', '.join(unknown)}; allowed: {', '.join(properties)}.")
        rows = [{key: _typed(value.strip(), properties[key]) for key, value in row.items() if value and value.strip()}
                for row in reader]
    if not rows:
        raise UserError(f"{path}: no models listed.")
    validator = Draft202012Validator(schema["items"])
    seen = set()
    for line, row in enumerate(rows, start=2):
        error = next(iter(sorted(validator.iter_errors(row), key=lambda e: list(e.path))), None)
        if error is not None:
            field = error.path[0] if error.path else None
            message = properties.get(field, {}).get("errorMessage", error.message) if field else error.message
            raise UserError(f"{path}: line {line}: {message}.")
        if not (path.parent / row["path"]).is_dir() and not Path(row["path"]).is_dir():
            raise UserError(f"{path}: line {line}: path {row['path']!r} is not a model directory.")
        if row["id"] in seen:
            raise UserError(f"{path}: line {line}: id {row['id']!r} is listed twice.")
        seen.add(row["id"])
    return rows
