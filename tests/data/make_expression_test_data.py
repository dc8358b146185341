#!/usr/bin/env python3
"""Write a small synthetic genome, GTF and expression table with a planted k-mer x region signal."""

import click

from utrbench.cli import command


@command()
@click.option("--out", "out", required=True, type=click.Path(), help="Directory to write genome.fa, genes.gtf, expression.tsv.")
@click.option("--genes", default=200, show_default=True, help="Number of genes.")
@click.option("--flank", default=2000, show_default=True, help="Bases each side of the TSS.")
@click.option("--seed", default=0, show_default=True, help="Random seed.")
def main(out, genes, flank, seed):
    from synthetic_expression import write_study

    write_study(out, n_genes=genes, flank=flank, seed=seed)


if __name__ == "__main__":
    main()
