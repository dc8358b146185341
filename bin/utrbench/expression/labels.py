"""Reading the dataset step's outputs back: windows FASTA + labels TSV, joined by gene id."""

import numpy as np

from utrbench.errors import UserError

SPLITS = ("train", "dev", "test")


def read_labeled_windows(fasta, labels):
    """``(genes, sequences, y, split)`` in labels order; every labelled gene needs a window."""
    from utrbench.io import read_tsv
    from utrbench.seq import read_fasta

    table = read_tsv(labels, required_columns=("gene", "log10_tpm", "split"), dtype={"gene": str, "split": str})
    unknown = sorted(set(table["split"]) - set(SPLITS))
    if unknown:
        raise UserError(f"{labels}: split values {', '.join(map(str, unknown))} are not train, dev or test.")
    windows = read_fasta(fasta)
    missing = [gene for gene in table["gene"] if gene not in windows]
    if missing:
        raise UserError(f"{labels}: gene {missing[0]} (and {len(missing) - 1} more) has no window in {fasta}.")
    sequences = [windows[gene] for gene in table["gene"]]
    lengths = {len(s) for s in sequences}
    if len(lengths) > 1:
        raise UserError(f"{fasta}: windows have different lengths ({', '.join(map(str, sorted(lengths)[:4]))}); "
                        "DExTER needs one length.")
    y = table["log10_tpm"].to_numpy(dtype=np.float64)
    if not np.isfinite(y).all():
        raise UserError(f"{labels}: log10_tpm of gene {table['gene'][~np.isfinite(y)].iloc[0]} is not a finite number.")
    return table["gene"].to_numpy(dtype=object), sequences, y, table["split"].to_numpy(dtype=object)
