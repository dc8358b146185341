#!/usr/bin/env python3
"""A bx interval index of a MAF's reference rows (plain or bgzip MAF), for random access by UTR."""

import click

from utrbench.align.maf import build_maf_index
from utrbench.cli import command
from utrbench.io import atomic_output


@command()
@click.option("--maf", required=True, type=click.Path(dir_okay=False), help="MAF, plain or bgzip.")
@click.option("--reference", default="Homo_sapiens", show_default=True, help="Reference species name in the MAF.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Index file.")
def main(maf, reference, out):
    with atomic_output(out) as tmp:
        build_maf_index(maf, tmp, reference)


if __name__ == "__main__":
    main()
