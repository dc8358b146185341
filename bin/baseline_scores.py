#!/usr/bin/env python3
"""PhyloP (bigWig) or CADD (tabix TSV) scores per UTR position, in the per-nucleotide HDF5 layout."""

import click

from utrbench.cli import command


@command()
@click.option("--bed", type=click.Path(), required=True, help="UTR BED6 (one line per exon, name = UTR id).")
@click.option("--phylop", type=click.Path(), default=None, help="PhyloP bigWig.")
@click.option("--cadd", type=click.Path(), default=None, help="CADD whole-genome TSV (bgzip + tabix index).")
@click.option("--cadd-column", default="RawScore", show_default=True,
              help="CADD score column: RawScore (the study's) or PHRED.")
@click.option("--out", type=click.Path(), required=True, help="Scores HDF5 (ids, offsets, probs [L, 4]).")
def main(bed, phylop, cadd, cadd_column, out):
    """Write one baseline's per-position scores for every UTR of the BED."""
    from utrbench.align.utrs import read_utr_bed
    from utrbench.errors import UserError
    from utrbench.infer.baselines import cadd_scores, phylop_scores
    from utrbench.io import write_probabilities

    if (phylop is None) == (cadd is None):
        raise UserError("give exactly one of --phylop and --cadd.")
    utrs = read_utr_bed(bed)
    if phylop:
        scores, attrs = phylop_scores(phylop, utrs), dict(model="phylop", kind="score", source=str(phylop))
    else:
        scores = cadd_scores(cadd, utrs, cadd_column)
        attrs = dict(model="cadd", kind="score", column=cadd_column, source=str(cadd))
    write_probabilities(out, [utr.utr_id for utr in utrs], scores, dict(attrs, orientation="transcript"))


if __name__ == "__main__":
    main()
