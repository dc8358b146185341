#!/usr/bin/env python3
"""Turn a downloaded checkpoint folder into a utrbench model directory (with a parity self-check)."""

import click

from utrbench.cli import command


@command()
@click.option("--source", required=True, type=click.Path(), help="Checkpoint folder: Hugging Face-style, or the state-space study's config.json + model.pt.")
@click.option("--family", required=True, help="Model family of the checkpoint, e.g. dnabert2 (an unknown name lists the families).")
@click.option("--out", required=True, type=click.Path(), help="Model directory to create.")
def main(source, family, out):
    from utrbench.models.importer import import_model

    provenance = import_model(source, family, out)
    click.echo(f"{source} ({family}) -> {out}: {len(provenance['imported_files_sha256'])} files hashed, "
               f"self-check max |difference| {provenance['self_check']['max_abs_difference']:g}", err=True)


if __name__ == "__main__":
    main()
