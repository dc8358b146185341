"""Task 4: mRNA half-life (Agarwal & Kelley 2022) joined to 3'UTR sequences.

``binnedgenes.txt`` (tab-separated, header ``BIN GENEID HALFLIFE``) holds the z-scored half-life
of 12,981 human genes and the ten cross-validation folds of the Saluki paper. The target table
keeps those folds as its ``group`` column, so leave-one-group-out regression *is* the published
10-fold scheme. Sequences come from a FASTA keyed by gene id, or keyed by UTR id together with the
UTR table of ``BUILD_UTR_DATASET`` (``utr_id gene_id``); gene ids are compared without their
Ensembl version. A gene with several UTRs in the FASTA keeps the first one listed.
"""

import pandas as pd

from utrbench.errors import UserError
from utrbench.io import read_tsv
from utrbench.seq.fasta import iter_fasta
from utrbench.tasks.targets import check_target_table

BINNED_COLUMNS = ["BIN", "GENEID", "HALFLIFE"]


def unversioned(gene_id: str) -> str:
    """``ENSG00000123456.7`` -> ``ENSG00000123456``."""
    return gene_id.split(".", 1)[0]


def read_binned_genes(path) -> pd.DataFrame:
    """``gene fold target`` from ``binnedgenes.txt``; folds must be integers, genes unique."""
    frame = read_tsv(path, required_columns=BINNED_COLUMNS, dtype={"GENEID": str})
    folds = pd.to_numeric(frame["BIN"], errors="coerce")
    bad = folds.isna() | (folds != folds.round())
    if bad.any():
        line = int(bad.to_numpy().nonzero()[0][0]) + 2
        raise UserError(f"{path}: line {line}: BIN {frame['BIN'].iloc[line - 2]!r} is not an integer fold.")
    genes = frame["GENEID"].map(unversioned)
    if genes.duplicated().any():
        raise UserError(f"{path}: gene {genes[genes.duplicated()].iloc[0]} occurs more than once.")
    return pd.DataFrame({"gene": genes, "fold": folds.astype(int), "target": frame["HALFLIFE"]})


def sequences_by_gene(fasta, utr_table=None) -> dict:
    """``{unversioned gene id: (record id, sequence)}``, first record per gene."""
    if utr_table is not None:
        table = read_tsv(utr_table, required_columns=["utr_id", "gene_id"], dtype=str)
        gene_of_record = dict(zip(table["utr_id"], table["gene_id"].map(unversioned)))
    by_gene = {}
    for record_id, sequence in iter_fasta(fasta):
        if utr_table is None:
            gene = unversioned(record_id)
        elif record_id in gene_of_record:
            gene = gene_of_record[record_id]
        else:
            raise UserError(f"{fasta}: record {record_id} is not in the UTR table {utr_table}.")
        by_gene.setdefault(gene, (record_id, sequence))
    return by_gene


def halflife_targets(binned: pd.DataFrame, by_gene: dict, where: str):
    """Target table ``id sequence target group gene`` (id = sequence record id, group = fold) and the genes without a sequence."""
    found = binned["gene"].isin(list(by_gene))
    missing = binned.loc[~found, "gene"].tolist()
    rows = binned[found]
    if rows.empty:
        raise UserError(f"{where}: no gene of the half-life table has a sequence.")
    records = [by_gene[gene] for gene in rows["gene"]]
    table = pd.DataFrame({"id": [r[0] for r in records], "sequence": [r[1] for r in records],
                          "target": rows["target"].to_numpy(), "group": rows["fold"].astype(str).to_numpy(),
                          "gene": rows["gene"].to_numpy()})
    return check_target_table(table, where), missing
