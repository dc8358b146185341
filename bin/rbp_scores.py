#!/usr/bin/env python3
"""Score every RBP site from per-nucleotide HDF5s: mean p(reference) over the motif, or max of a baseline score."""

import click

from utrbench.cli import command


@command()
@click.option("--sites", required=True, type=click.Path(dir_okay=False), help="Site table of rbp_sites.py.")
@click.option("--fasta", required=True, type=click.Path(dir_okay=False), help="The UTR FASTA the files were computed on.")
@click.option("--scores", "score_paths", multiple=True, required=True, type=click.Path(dir_okay=False),
              help="Probability HDF5 (ZEROSHOT, Zoo-AL) or score HDF5 (PhyloP, CADD); repeat for several.")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="TSV: site_id, label and one column 'model/strategy' per file.")
def main(sites, fasta, score_paths, out):
    """Read the files one at a time (memory flat in their number) and write one score column each."""
    import pandas as pd

    from utrbench.errors import UserError
    from utrbench.io import write_tsv
    from utrbench.seq import read_fasta
    from utrbench.tasks.rbp import check_motifs_in_fasta, read_sites, score_sites

    table = read_sites(sites)
    sequences = read_fasta(fasta)
    check_motifs_in_fasta(table, sequences, sites)
    lengths = {name: len(sequence) for name, sequence in sequences.items()}
    columns = {}
    for path in score_paths:
        name, values = score_sites(path, table, lengths)
        if name in columns:
            raise UserError(f"{path}: a second file for {name!r} (model/strategy); give each model once.")
        columns[name] = values
    write_tsv(pd.concat([table[["site_id", "label"]], pd.DataFrame(columns)], axis=1), out)


if __name__ == "__main__":
    main()
