#!/usr/bin/env python3
"""Split a FASTA into consecutive shards of at most --shard-nt nucleotides (shard_00000.fa, ...)."""

import click

from utrbench.cli import command


@command()
@click.option("--fasta", type=click.Path(), required=True, help="Records to split (uppercase ACGTN), kept in file order.")
@click.option("--shard-nt", type=int, required=True, help="Nucleotides per shard (a longer record is a shard of its own).")
@click.option("--out-dir", type=click.Path(), required=True, help="Folder of shard_NNNNN.fa files.")
def main(fasta, shard_nt, out_dir):
    """Write the shards that embed.py / zeroshot.py --shard-nt would score as blocks."""
    from utrbench.infer.shards import split_fasta

    split_fasta(fasta, shard_nt, out_dir)


if __name__ == "__main__":
    main()
