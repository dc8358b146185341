#!/usr/bin/env python3
"""Baseline "embeddings" without a model: k-mer spectra ('kmer1'..'kmer6') or the minimal MPRA features ('minseq')."""

import re

import click

from utrbench.cli import command


@command()
@click.option("--fasta", required=True, type=click.Path(), help="Sequences to describe.")
@click.option("--features", required=True, help="'kmer<k>' with k in 1..6, or 'minseq'.")
@click.option("--out", required=True, type=click.Path(), help="Embeddings HDF5 to write.")
def main(fasta, features, out):
    from utrbench.errors import UserError
    from utrbench.io import write_embeddings
    from utrbench.seq.fasta import read_fasta
    from utrbench.tasks.features import kmer_names, kmer_spectrum, minimal_feature_names, minimal_features

    records = read_fasta(fasta)
    kmer = re.fullmatch(r"kmer([1-6])", features)
    if kmer:
        k = int(kmer.group(1))
        matrix, names = kmer_spectrum(list(records.values()), k), kmer_names(k)
    elif features == "minseq":
        matrix, names = minimal_features(list(records.values())), minimal_feature_names()
    else:
        raise UserError(f"--features {features!r}: expected kmer1 .. kmer6 or minseq.")
    write_embeddings(out, list(records), matrix,
                     attrs={"model": features, "layer": "none", "pooling": "none", "feature_names": names})


if __name__ == "__main__":
    main()
