#!/usr/bin/env python3
"""Pretraining dataset: '>utr_id:species' FASTA shards, a by-UTR validation split and species.txt."""

import click

from utrbench.align.split import (excluded_utrs, iter_dataset_records, read_excluded_genes, validation_utrs,
                                  write_dataset)
from utrbench.cli import command
from utrbench.io import read_tsv
from utrbench.seq.fasta import iter_fasta


@command()
@click.option("--human", required=True, type=click.Path(dir_okay=False), help="Human UTR FASTA (utr_sequences.py).")
@click.option("--orthologs", multiple=True, type=click.Path(dir_okay=False), help="'>utr_id:species' FASTA; repeatable.")
@click.option("--reference", default="Homo_sapiens", show_default=True, help="Species name given to the human UTRs.")
@click.option("--utr-table", type=click.Path(dir_okay=False), default=None, help="UTR/gene TSV (utr_annotation.py).")
@click.option("--exclude-genes", type=click.Path(dir_okay=False), default=None,
              help="Genes (id or name) or UTR ids to leave out of the dataset, one per line; needs --utr-table for genes.")
@click.option("--valid-fraction", default=0.05, show_default=True, type=float, help="Fraction of UTRs for validation.")
@click.option("--shards", default=1, show_default=True, type=int, help="Number of training FASTA shards.")
@click.option("--seed", default=1, show_default=True, type=int, help="Seed of the split and the shuffle.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output directory.")
def main(human, orthologs, reference, utr_table, exclude_genes, valid_fraction, shards, seed, out):
    utr_ids = [utr_id for utr_id, _ in iter_fasta(human, validate=False)]
    skip = set()
    if exclude_genes:
        excluded = read_excluded_genes(exclude_genes)
        skip = set(excluded) & set(utr_ids)
        if utr_table:
            skip |= excluded_utrs(read_tsv(utr_table, ["utr_id", "gene_id", "gene_name"], dtype=str,
                                           keep_default_na=False), excluded)
    valid = validation_utrs([u for u in utr_ids if u not in skip], valid_fraction, seed)
    counts = write_dataset(iter_dataset_records(human, orthologs, reference), out, valid, skip, shards, seed)
    click.echo(" ".join(f"{side}={n}" for side, n in counts.items()), err=True)


if __name__ == "__main__":
    main()
