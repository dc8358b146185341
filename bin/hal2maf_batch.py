#!/usr/bin/env python3
"""MAFs per reference chromosome from a HAL alignment over the UTRs or their stop codons (hal2maf)."""

import click

from utrbench.align.hal import hal_to_mafs, read_species_list
from utrbench.cli import command


@command()
@click.option("--hal", required=True, type=click.Path(dir_okay=False), help="HAL alignment (e.g. Zoonomia 241 mammals).")
@click.option("--bed", required=True, type=click.Path(dir_okay=False), help="UTR BED6; its merged intervals are extracted.")
@click.option("--reference", default="Homo_sapiens", show_default=True, help="Reference genome name in the HAL.")
@click.option("--species", "species_path", type=click.Path(dir_okay=False), default=None,
              help="Species to keep (one per line), passed as --targetGenomes; default all leaves.")
@click.option("--chrom", "chroms", multiple=True, help="Only this reference chromosome (repeatable); default all.")
@click.option("--stop-codons", is_flag=True, help="Extract the UTRs' stop codons (3 nt upstream) instead of the UTRs.")
@click.option("--flank", default=0, show_default=True, type=click.IntRange(min=0), help="Bases added on both sides of each UTR.")
@click.option("--hal2maf", "executable", default="hal2maf", show_default=True, help="hal2maf executable.")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False), help="Directory for <chrom>.maf and <chrom>.bed.")
def main(hal, bed, reference, species_path, chroms, stop_codons, flank, executable, out_dir):
    targets = read_species_list(species_path) if species_path else None
    for maf in hal_to_mafs(hal, bed, reference, out_dir, executable, targets, flank, chroms, stop_codons):
        click.echo(str(maf), err=True)


if __name__ == "__main__":
    main()
