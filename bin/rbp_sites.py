#!/usr/bin/env python3
"""RBP binding-site table: RBNS k-mers inside merged eCLIP IDR peaks (positives) and outside every peak (negatives)."""

import click

from utrbench.cli import command


@command()
@click.option("--eclip", "eclip_paths", multiple=True, required=True, type=click.Path(dir_okay=False),
              help="ENCODE eCLIP narrowPeak BED (plain or gzip), on the genome of --bed; repeat for several files.")
@click.option("--motifs", required=True, type=click.Path(dir_okay=False),
              help="RBNS k-mer table (Van Nostrand 2020 MOESM8 layout), .xlsx or TSV.")
@click.option("--bed", required=True, type=click.Path(dir_okay=False), help="UTR BED6 of the dataset step.")
@click.option("--fasta", required=True, type=click.Path(dir_okay=False), help="UTR FASTA of the dataset step (transcript orientation).")
@click.option("--stepwise-r-min", default=0.0, show_default=True, type=float,
              help="Keep RBNS k-mers whose stepwise R - 1 is at least this (the study: 0).")
@click.option("--extension", default=50, show_default=True, type=click.IntRange(min=0),
              help="nt added to every peak on its 5' side before anything else.")
@click.option("--seed", default=1, show_default=True, type=int, help="Seed of the per-k-mer negative subsampling.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Site table TSV.")
@click.option("--out-counts", required=True, type=click.Path(dir_okay=False), help="TSV 'step count' of every step.")
def main(eclip_paths, motifs, bed, fasta, stepwise_r_min, extension, seed, out, out_counts):
    """Write every positive site and the sampled negatives, one row per (UTR, offset)."""
    import pandas as pd

    from utrbench.align.utrs import read_utr_bed
    from utrbench.io import write_tsv
    from utrbench.seq import read_fasta
    from utrbench.tasks.rbp import rbp_sites, read_eclip_peaks, read_rbns_motifs

    peaks = read_eclip_peaks(eclip_paths, extension)
    kmers = read_rbns_motifs(motifs, stepwise_r_min)
    table, counts = rbp_sites(read_utr_bed(bed), read_fasta(fasta), peaks, kmers, seed, where=f"{bed} / {fasta}")
    write_tsv(table, out)
    write_tsv(pd.DataFrame(counts, columns=["step", "count"]), out_counts)
    for step, count in counts:
        click.echo(f"{step}: {count}", err=True)


if __name__ == "__main__":
    main()
