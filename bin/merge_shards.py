#!/usr/bin/env python3
"""Merge the per-shard HDF5 results of embed.py or zeroshot.py, in the order given, into one file."""

import click

from utrbench.cli import command


@command()
@click.option("--out", type=click.Path(), required=True, help="Merged HDF5 (same layout as the shards).")
@click.argument("shards", nargs=-1, type=click.Path(), required=True)
def main(out, shards):
    """Append the records of every shard file, in argument order."""
    from utrbench.infer.shards import merge_shards

    merge_shards(list(shards), out)


if __name__ == "__main__":
    main()
