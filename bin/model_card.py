#!/usr/bin/env python3
"""One model directory's provenance row for the report (family, size, parameters, context, origin)."""

import json
from pathlib import Path

import click

from utrbench.cli import command


@command()
@click.option("--model-dir", required=True, type=click.Path(file_okay=False), help="utrbench model directory.")
@click.option("--id", "model_id", required=True, help="Model id of the run.")
@click.option("--study-name", default=None, help="The studies' name of this model (reference 01 §1), for the report's published column.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="JSON card to write.")
def main(model_dir, model_id, study_name, out):
    from utrbench.io import atomic_output
    from utrbench.report.cards import model_card

    card = model_card(model_dir, model_id)
    if study_name:
        card["study_name"] = study_name
    with atomic_output(out) as tmp:
        Path(tmp).write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
