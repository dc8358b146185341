#!/usr/bin/env python3
"""Human UTR sequences (transcript orientation, uppercase) from a genome FASTA."""

import click

from utrbench.align.utrs import read_utr_bed, utr_sequence
from utrbench.cli import command
from utrbench.seq.fasta import write_fasta
from utrbench.seq.genome import Genome


@command()
@click.option("--bed", required=True, type=click.Path(dir_okay=False), help="UTR BED6 from utr_annotation.py.")
@click.option("--genome", "genome_path", required=True, type=click.Path(dir_okay=False), help="Genome FASTA (plain or bgzip).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="FASTA, one record per UTR id.")
def main(bed, genome_path, out):
    utrs = read_utr_bed(bed)
    with Genome(genome_path) as genome:
        records = [(utr.utr_id, utr_sequence(genome, utr, bed)) for utr in utrs]
    write_fasta(records, out)


if __name__ == "__main__":
    main()
