"""The regression target table shared by the MPRA and half-life tasks.

A TSV with the columns ``id sequence target group`` (extra columns allowed): one row per
measured sequence, ``group`` the unit cross-validation keeps together (chromosome, gene, fold,
cluster of near-identical oligos). Each table comes with a FASTA of its sequences, keyed by
``id``, that the embedding step and the sequence-feature baselines read.
"""

import numpy as np
import pandas as pd

from utrbench.errors import UserError
from utrbench.io import read_tsv, write_tsv
from utrbench.seq.alphabet import check_sequence
from utrbench.seq.fasta import write_fasta

TARGET_COLUMNS = ["id", "sequence", "target", "group"]


def check_target_table(table: pd.DataFrame, where: str) -> pd.DataFrame:
    """Validate ids, sequences and targets; return the table with uppercase sequences and float targets."""
    table = table.copy()
    table["id"] = table["id"].astype(str)
    duplicated = table["id"].duplicated()
    if duplicated.any():
        raise UserError(f"{where}: id {table['id'][duplicated].iloc[0]!r} occurs more than once.")
    target = pd.to_numeric(table["target"], errors="coerce")
    bad = target.isna() | ~np.isfinite(target)
    if bad.any():
        line = int(np.flatnonzero(bad)[0])
        raise UserError(f"{where}: row {line + 1} (id {table['id'].iloc[line]}) has a missing or non-numeric "
                        f"target {table['target'].iloc[line]!r}.")
    if table["group"].isna().any():
        line = int(np.flatnonzero(table["group"].isna())[0])
        raise UserError(f"{where}: row {line + 1} (id {table['id'].iloc[line]}) has no group.")
    table["target"] = target.astype(np.float64)
    table["sequence"] = [check_sequence(str(s), f"{where}: id {i}") for i, s in zip(table["id"], table["sequence"])]
    return table


def read_target_table(path) -> pd.DataFrame:
    """Read and validate a target table (groups read as strings)."""
    table = read_tsv(path, required_columns=TARGET_COLUMNS, dtype={"id": str, "group": str}, keep_default_na=False,
                     na_values={"target": ["", "NA", "NaN", "nan"]})
    if table.empty:
        raise UserError(f"{path}: the target table has no rows.")
    return check_target_table(table, str(path))


def write_target_table(table: pd.DataFrame, tsv_path, fasta_path=None) -> None:
    """Write the table (``TARGET_COLUMNS`` first) and, if asked, the FASTA of its sequences."""
    columns = TARGET_COLUMNS + [c for c in table.columns if c not in TARGET_COLUMNS]
    write_tsv(table[columns], tsv_path, float_format="%.8g")
    if fasta_path is not None:
        write_fasta(zip(table["id"], table["sequence"]), fasta_path)
