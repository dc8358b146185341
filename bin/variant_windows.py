#!/usr/bin/env python3
"""Reference and alternative windows around each variant: DNA (forward) and RNA (UTR, transcript) FASTAs."""

import click

from utrbench.cli import command


@command()
@click.option("--variants", required=True, type=click.Path(dir_okay=False), help="Variants TSV (variant_sets.py).")
@click.option("--bed", required=True, type=click.Path(dir_okay=False), help="The dataset's 3'UTR BED6.")
@click.option("--genome", "genome_path", required=True, type=click.Path(dir_okay=False), help="Genome FASTA.")
@click.option("--window", default=4096, show_default=True, type=click.IntRange(min=2), help="Window length in nt.")
@click.option("--out-prefix", required=True, help="Writes <prefix>.dna.fa, <prefix>.rna.fa and <prefix>.tsv (index).")
def main(variants, bed, genome_path, window, out_prefix):
    """Write each distinct window once, and the index of (variant, orientation, allele) -> record, offset."""
    from utrbench.align.utrs import read_utr_bed
    from utrbench.io import read_tsv, write_tsv
    from utrbench.seq import write_fasta
    from utrbench.seq.genome import Genome
    from utrbench.tasks.variant_windows import variant_windows
    from utrbench.tasks.variants import VARIANT_COLUMNS

    table = read_tsv(variants, required_columns=VARIANT_COLUMNS, dtype={"chrom": str})
    utrs = {utr.utr_id: utr for utr in read_utr_bed(bed)}
    with Genome(genome_path) as genome:
        fasta, index = variant_windows(table, utrs, genome, window)
    for orientation, records in fasta.items():
        write_fasta(records, f"{out_prefix}.{orientation}.fa")
    write_tsv(index, f"{out_prefix}.tsv")


if __name__ == "__main__":
    main()
