#!/usr/bin/env python3
"""One species' 3'UTRs ('>utr_id:species', transcript orientation) cut from its genome with hal2fasta."""

import click

from utrbench.align.hal import read_regions, species_utr_sequences, write_species_fasta
from utrbench.cli import command
from utrbench.errors import UserError


@command()
@click.option("--hal", required=True, type=click.Path(dir_okay=False), help="HAL alignment.")
@click.option("--species", required=True, help="Genome name in the HAL.")
@click.option("--regions", required=True, type=click.Path(dir_okay=False), help="regions.tsv of hal_ortholog_regions.py.")
@click.option("--hal2fasta", "executable", default="hal2fasta", show_default=True, help="hal2fasta executable.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="FASTA of the species' UTRs.")
def main(hal, species, regions, executable, out):
    rows = [row for row in read_regions(regions) if row[1] == species]
    if not rows:
        raise UserError(f"{regions}: no region of species {species!r}.")
    write_species_fasta(species_utr_sequences(hal, species, rows, executable), species, out)


if __name__ == "__main__":
    main()
