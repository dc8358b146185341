"""TSS windows, expression labels and the gene split of the expression study (reference 02, §3).

- Window: with the 1-based gene-level TSS t (``start`` on +, ``end`` on -) and t0 = t - 1, the
  0-based slice ``[t0 - flank, t0 + flank + 1)``, reverse-complemented on the minus strand, so
  index ``flank`` is the TSS base and the sequence reads 5'->3' on the transcribed strand.
  Genes whose window would leave the contig are dropped and counted, never clamped.
- Label: ``log10(max(TPM, 0.001))`` of one tissue, joined on unversioned Ensembl ids.
- Split: DExTER's (Python ``random.seed(seed)``, ``random.sample(genes, int(2n/3))`` over the
  genes in expression-table order), then a dev set carved from training with scikit-learn's
  ``train_test_split`` as in the DNABERT-2 fine-tuning. Genes stay in expression-table order.
"""

import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from utrbench.errors import UserError

TPM_FLOOR = 0.001
DEXTER_SEED = 686185200
_VERSION_SUFFIX = re.compile(r"\.\d+(?=(_PAR_Y)?$)")


def unversioned(gene_id: str) -> str:
    """Ensembl id without its version: ``ENSG00000223972.4`` -> ``ENSG00000223972`` (PAR_Y kept)."""
    return _VERSION_SUFFIX.sub("", gene_id)


def _make_names(name: str) -> str:
    """R's ``make.names`` for a column title: the 7-tissue table writes ``Whole Blood`` as ``Whole.Blood``."""
    return re.sub(r"[^A-Za-z0-9._]", ".", name)


def read_expression(path, tissue: str) -> pd.Series:
    """Median TPM of ``tissue`` per unversioned gene id, in file order.

    Reads a GTEx median-TPM GCT (``#1.2`` header, ``Name`` and ``Description`` columns) or a
    gene x tissue table (first column gene id). The tissue is matched exactly, or after R's
    ``make.names`` on both sides. Repeated unversioned ids keep their first row.
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: file not found.")
    with open(path) as handle:
        is_gct = handle.readline().startswith("#1.")
    try:
        table = pd.read_csv(path, sep="\t", skiprows=2 if is_gct else 0, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not a readable tab-separated expression table ({error}).") from None
    id_column = "Name" if is_gct else table.columns[0]
    if id_column not in table.columns:
        raise UserError(f"{path}: a GCT needs a 'Name' column; found {', '.join(table.columns[:5])}.")
    column = tissue if tissue in table.columns else None
    if column is None:
        matches = [c for c in table.columns if _make_names(c) == _make_names(tissue)]
        column = matches[0] if matches else None
    if column is None or column in (id_column, "Description"):
        tissues = [c for c in table.columns if c not in (id_column, "Description")]
        raise UserError(f"{path}: no tissue column {tissue!r}; tissues: {', '.join(tissues)}.")
    values = pd.to_numeric(table[column], errors="coerce")
    bad = np.flatnonzero(values.isna().to_numpy() | (values.to_numpy() < 0))
    if len(bad):
        row = int(bad[0])
        line = row + (4 if is_gct else 2)
        raise UserError(f"{path}: line {line} ({table[id_column].iloc[row]}): {column} value "
                        f"{table[column].iloc[row]!r} is not a non-negative number.")
    series = pd.Series(values.to_numpy(dtype=np.float64), index=table[id_column].map(unversioned), name=column)
    return series[~series.index.duplicated(keep="first")]


def log10_tpm(tpm, floor=TPM_FLOOR) -> np.ndarray:
    """The study's label: ``log10(max(TPM, floor))``."""
    return np.log10(np.maximum(np.asarray(tpm, dtype=np.float64), floor))


@dataclass
class WindowSet:
    """TSS windows by unversioned gene id, and what was left out."""

    windows: dict = field(default_factory=dict)
    genes_in_gtf: int = 0
    wrong_type_or_contig: int = 0
    off_contig_end: list = field(default_factory=list)
    too_many_n: list = field(default_factory=list)


def tss_windows(gtf_path, genome, flank=2000, gene_types=("protein_coding",), contigs=(), max_n_fraction=0.1) -> WindowSet:
    """Cut a ``2 * flank + 1`` bp window around the TSS of every ``gene`` feature of the GTF.

    ``gene_types`` (GENCODE ``gene_type`` / Ensembl ``gene_biotype``) and ``contigs`` filter genes;
    empty means all. A gene on a contig the genome lacks is an error (annotation and genome do not
    match); a window that would leave its contig, or with more than ``max_n_fraction`` N, is dropped.
    """
    from utrbench.seq.gtf import iter_gtf

    result = WindowSet()
    gene_types, contigs = set(gene_types), set(contigs)
    for record in iter_gtf(gtf_path, features={"gene"}):
        result.genes_in_gtf += 1
        gene_id = record.attributes.get("gene_id")
        if not gene_id:
            raise UserError(f"{gtf_path}: line {record.line_number}: gene feature without a gene_id attribute.")
        gene_type = record.attributes.get("gene_type", record.attributes.get("gene_biotype"))
        if (gene_types and gene_type not in gene_types) or (contigs and record.seqname not in contigs):
            result.wrong_type_or_contig += 1
            continue
        if record.strand not in "+-":
            raise UserError(f"{gtf_path}: line {record.line_number}: gene {gene_id} has no strand ('.').")
        if record.seqname not in genome.contigs:
            raise UserError(f"{gtf_path}: line {record.line_number}: gene {gene_id} lies on contig "
                            f"{record.seqname!r}, which is not in the genome {genome.path}.")
        tss0 = (record.start if record.strand == "+" else record.end) - 1
        start, end = tss0 - flank, tss0 + flank + 1
        if start < 0 or end > genome.length(record.seqname):
            result.off_contig_end.append(gene_id)
            continue
        sequence = genome.fetch(record.seqname, start, end, record.strand)
        if sequence.count("N") > max_n_fraction * len(sequence):
            result.too_many_n.append(gene_id)
            continue
        key = unversioned(gene_id)
        if key not in result.windows:
            result.windows[key] = sequence
    if result.genes_in_gtf == 0:
        raise UserError(f"{gtf_path}: no 'gene' features; TSS windows need gene records.")
    return result


def split_genes(genes, seed=DEXTER_SEED, dev_fraction=0.13, dev_seed=42) -> list:
    """``[(gene, split)]`` for ``genes`` in their input (expression-table) order.

    DExTER's training genes are ``random.Random(seed).sample(genes, int(2n/3))``; ``split`` is
    ``train``, ``dev`` (carved from the training genes, taken in input order, by scikit-learn's
    ``train_test_split``) or ``test``. The order is kept because DExTER writes its training matrix
    in input order, and its unshuffled 10-fold LassoCV runs over the rows in that order.
    """
    from sklearn.model_selection import train_test_split

    genes = list(genes)
    if len(genes) < 3:
        raise UserError(f"only {len(genes)} genes have both a window and a label; a split needs at least 3.")
    chosen = set(random.Random(seed).sample(genes, int(len(genes) * 2 / 3)))
    training = [gene for gene in genes if gene in chosen]
    dev = set()
    if dev_fraction > 0:
        _, dev_genes = train_test_split(training, test_size=dev_fraction, random_state=dev_seed)
        dev = set(dev_genes)
    return [(gene, "test" if gene not in chosen else "dev" if gene in dev else "train") for gene in genes]
