"""Reading the dataset step's outputs back: windows FASTA + labels TSV, joined by gene id."""

import numpy as np
import pandas as pd

from utrbench.errors import UserError

SPLITS = ("train", "dev", "test")


def read_labeled_windows(fasta, labels):
    """``(genes, sequences, y, split)`` in labels order; every labelled gene needs a window."""
    from utrbench.io import read_tsv
    from utrbench.seq import read_fasta

    table = read_tsv(labels, required_columns=("gene", "log10_tpm", "split"), dtype={"gene": str, "split": str},
                     keep_default_na=False)
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
    y = pd.to_numeric(table["log10_tpm"], errors="coerce").to_numpy(dtype=np.float64)
    if not np.isfinite(y).all():
        row = int(np.flatnonzero(~np.isfinite(y))[0])
        raise UserError(f"{labels}: line {row + 2} (gene {table['gene'].iloc[row]}): log10_tpm "
                        f"{table['log10_tpm'].iloc[row]!r} is not a finite number.")
    return table["gene"].to_numpy(dtype=object), sequences, y, table["split"].to_numpy(dtype=object)
