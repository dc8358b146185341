#!/usr/bin/env python3
"""Half-life target table ``<dataset>.all.tsv`` (group = published fold) + ``<dataset>.fa`` + genes without a sequence."""

import click

from utrbench.cli import command


@command()
@click.option("--table", required=True, type=click.Path(), help="binnedgenes.txt (BIN GENEID HALFLIFE).")
@click.option("--fasta", required=True, type=click.Path(), help="3'UTR FASTA keyed by gene id, or by UTR id with --utr-table.")
@click.option("--utr-table", type=click.Path(), help="UTR table of BUILD_UTR_DATASET (utr_id, gene_id) mapping FASTA ids to genes.")
@click.option("--dataset", default="halflife", show_default=True, help="Dataset name: the first part of the output file names.")
@click.option("--out-dir", required=True, type=click.Path(), help="Folder to create.")
def main(table, fasta, utr_table, dataset, out_dir):
    from utrbench.io import atomic_output
    from utrbench.tasks import halflife
    from utrbench.tasks.targets import write_target_table

    binned = halflife.read_binned_genes(table)
    targets, missing = halflife.halflife_targets(binned, halflife.sequences_by_gene(fasta, utr_table), str(table))
    with atomic_output(out_dir) as tmp:
        tmp.mkdir()
        write_target_table(targets, tmp / f"{dataset}.all.tsv", tmp / f"{dataset}.fa")
        (tmp / f"{dataset}.missing.txt").write_text("".join(f"{gene}\n" for gene in missing))
    click.echo(f"{dataset}: {len(targets):,} of {len(binned):,} genes have a 3'UTR sequence; "
               f"{len(missing):,} without one are listed in {dataset}.missing.txt", err=True)


if __name__ == "__main__":
    main()
