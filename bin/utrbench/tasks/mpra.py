"""Task 3: readers of published MPRA tables into target tables, and grouping of near-identical oligos.

Every reader returns ``{subset: table}`` with one target table (:mod:`utrbench.tasks.targets`) per
cell line × measure, ``subset`` named ``<cell>_<measure>``.

- Siegel et al. 2022, ``sequence_level_data_<cell>.csv`` (columns per its
  ``sequence_level_data_column_descriptions.txt``): ``issnp`` oligos only (the study's choice),
  measures ``stability`` (``ratios_T4T0_GC_resid``) and ``steady_state`` (``ratios_T0_GC_resid``),
  group = chromosome of ``region`` (``GENE|CHROM:START-END``), so folds are leave-one-chromosome-out.
- The Saluki authors' merge of the two Siegel tables, ``fastUTR_mpra.txt.gz`` (no header: sequence,
  Jurkat stability, Beas2B stability). It has no region or chromosome, and mixes reference, SNP and
  mutant oligos of the same 160-nt regions, so the group is a cluster of near-identical sequences
  (:func:`group_near_identical`). Ids are ``fastutr_<row>`` (1-based row of the file).
- Griesemer et al. 2021 (MPRAu), ``Oligo_Variant_Info.txt`` + ``Variant_MPRAu_Results.txt``, joined
  on the oligo id; ref and alt alleles are separate samples (ids ``<oligo>_ref`` / ``<oligo>_alt``),
  measure ``log2fc`` (``log2FoldChange_{Ref,Alt}_<cell>``), group = gene symbol; oligos listed with
  more than one variant are dropped (the study keeps single-variant oligos). The column names are
  those of :data:`GRIESEMER_COLUMNS`, written from the documented layout: not checked on the real files.
- Any other MPRA: a TSV/CSV with named id, sequence, group and target columns (:func:`read_generic`).
"""

import re
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from utrbench.errors import UserError
from utrbench.tasks.targets import check_target_table

SIEGEL_MEASURES = {"stability": "ratios_T4T0_GC_resid", "steady_state": "ratios_T0_GC_resid"}
FASTUTR_CELL_LINES = ["Jurkat", "Beas2B"]  # columns 2 and 3 of fastUTR_mpra.txt.gz, both T4/T0 stability
GRIESEMER_CELL_LINES = ["HEK293FT", "HEPG2", "HMEC", "K562", "GM12878", "SKNSH"]
GRIESEMER_COLUMNS = {"oligo": "oligo_id", "gene": "gene_symbol", "ref": "ref_sequence", "alt": "alt_sequence"}
# Two oligos sharing an exact 30-mer are copies of one region (SNP alleles, ARE/CDE mutants,
# overlapping tiles): 30 nt is far above chance sharing (4**30) and below the 160-nt oligo.
NEAR_IDENTICAL_K = 30
_BASE_CODE = np.full(256, 4, dtype=np.uint8)
_BASE_CODE[np.frombuffer(b"ACGT", dtype=np.uint8)] = np.arange(4, dtype=np.uint8)


def group_near_identical(sequences, k: int = NEAR_IDENTICAL_K) -> np.ndarray:
    """Connected components of the graph linking sequences that share an exact N-free k-mer.

    Returns one integer label per sequence, numbered in order of first appearance. Vectorised:
    all k-mers are packed into 2-bit integers (k <= 31), deduplicated with ``np.unique``, and
    the sequence–k-mer bipartite graph is split by ``scipy.sparse.csgraph.connected_components``.
    """
    if not 1 <= k <= 31:
        raise ValueError("k must be in 1..31 to pack k-mers into 64-bit integers")
    sequences = list(sequences)
    joined = "N".join(sequences).encode()  # the separator stops k-mers spanning two sequences
    codes = _BASE_CODE[np.frombuffer(joined, dtype=np.uint8)]
    n_windows = len(codes) - k + 1
    if n_windows <= 0:
        return np.arange(len(sequences))
    packed = np.zeros(n_windows, dtype=np.uint64)
    for offset in range(k):
        packed = (packed << np.uint64(2)) | (codes[offset:offset + n_windows] & 3).astype(np.uint64)
    invalid = np.concatenate([[0], np.cumsum(codes == 4)])
    valid = (invalid[k:] - invalid[:n_windows]) == 0
    owner = np.repeat(np.arange(len(sequences)), [len(s) + 1 for s in sequences])[:n_windows]
    kmer_index = np.unique(packed[valid], return_inverse=True)[1].ravel()
    n_nodes = len(sequences) + kmer_index.max(initial=-1) + 1
    edges = coo_matrix((np.ones(len(kmer_index), dtype=np.int8), (owner[valid], len(sequences) + kmer_index)),
                       shape=(n_nodes, n_nodes))
    labels = connected_components(edges, directed=False)[1][:len(sequences)]
    first_seen = pd.unique(labels)
    return pd.Index(first_seen).get_indexer(labels)


def _read_table(path, **kwargs) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: file not found.")
    separator = "," if path.name.lower().removesuffix(".gz").endswith(".csv") else "\t"
    try:
        return pd.read_csv(path, sep=separator, **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as error:
        raise UserError(f"{path}: not a readable table ({error}).") from None


def _require(frame, columns, path):
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise UserError(f"{path}: missing column(s) {', '.join(missing)}.")


def _per_subset(frame: pd.DataFrame, targets: dict, where: str) -> dict:
    """``{subset: target table}`` from a frame with id/sequence/group and one column per subset."""
    tables = {}
    for subset, column in targets.items():
        rows = frame[frame[column].notna()]
        table = pd.DataFrame({"id": rows["id"], "sequence": rows["sequence"], "target": rows[column],
                              "group": rows["group"].astype(str)}).reset_index(drop=True)
        if table.empty:
            raise UserError(f"{where}: no measured values for {subset}.")
        tables[subset] = check_target_table(table, f"{where} ({subset})")
    return tables


def read_fastutr(path, k: int = NEAR_IDENTICAL_K) -> dict:
    """Saluki's merge of the Siegel tables: stability per cell line, groups of near-identical oligos."""
    frame = _read_table(path, header=None, na_values=["NA"], keep_default_na=False)
    if frame.shape[1] != 3:
        raise UserError(f"{path}: expected 3 tab-separated columns (sequence, Jurkat, Beas2B), found {frame.shape[1]}.")
    frame.columns = ["sequence"] + FASTUTR_CELL_LINES
    for cell in FASTUTR_CELL_LINES:
        values = pd.to_numeric(frame[cell], errors="coerce")
        bad = values.isna() & frame[cell].notna()
        if bad.any():
            line = int(np.flatnonzero(bad)[0]) + 1
            raise UserError(f"{path}: line {line}: {cell} value {frame[cell].iloc[line - 1]!r} is not a number.")
        frame[cell] = values
    frame["sequence"] = frame["sequence"].astype(str).str.upper()
    frame["id"] = [f"fastutr_{row:05d}" for row in range(1, len(frame) + 1)]
    frame["group"] = [f"cluster{label}" for label in group_near_identical(frame["sequence"], k)]
    return _per_subset(frame, {f"{cell}_stability": cell for cell in FASTUTR_CELL_LINES}, str(path))


def siegel_cell_line(path) -> str:
    """Cell line from Siegel's file name ``sequence_level_data_<cell>.csv``."""
    match = re.fullmatch(r"sequence_level_data_(\w+?)\.csv(\.gz)?", Path(path).name)
    if not match:
        raise UserError(f"{path}: expected a Siegel file named sequence_level_data_<cell line>.csv.")
    return match.group(1)


def read_siegel(path, snp_only: bool = True) -> dict:
    """One Siegel sequence-level table: stability and steady state, grouped by chromosome."""
    cell = siegel_cell_line(path)
    frame = _read_table(path)
    _require(frame, ["ids", "seq", "region", "issnp", *SIEGEL_MEASURES.values()], path)
    if snp_only:
        frame = frame[frame["issnp"] == 1]
    chrom = frame["region"].astype(str).str.extract(r"^[^|]*\|([^:]+):\d+-\d+$")[0]
    if chrom.isna().any():
        bad = frame["region"][chrom.isna()].iloc[0]
        raise UserError(f"{path}: region {bad!r} is not of the form GENE|CHROM:START-END.")
    frame = frame.assign(id=frame["ids"].astype(str), sequence=frame["seq"], group=chrom)
    return _per_subset(frame, {f"{cell}_{measure}": column for measure, column in SIEGEL_MEASURES.items()}, str(path))


def read_griesemer(info_path, results_path, columns=GRIESEMER_COLUMNS) -> dict:
    """Griesemer 2021 MPRAu: ref and alt oligos per cell line, log2 fold change, grouped by gene."""
    info = _read_table(info_path, dtype=str, keep_default_na=False)
    results = _read_table(results_path, dtype={columns["oligo"]: str})
    _require(info, list(columns.values()), info_path)
    _require(results, [columns["oligo"]], results_path)
    single_variant = ~info[columns["oligo"]].duplicated(keep=False)
    info = info[single_variant]
    joined = info.merge(results, on=columns["oligo"], how="inner", validate="one_to_one")
    if joined.empty:
        raise UserError(f"{results_path}: no oligo id in common with {info_path}.")
    cells = [c for c in GRIESEMER_CELL_LINES if f"log2FoldChange_Ref_{c}" in results.columns]
    if not cells:
        raise UserError(f"{results_path}: no log2FoldChange_Ref_<cell> column for any of {', '.join(GRIESEMER_CELL_LINES)}.")
    alleles = []
    for allele, sequence_column in (("Ref", columns["ref"]), ("Alt", columns["alt"])):
        _require(results, [f"log2FoldChange_{allele}_{c}" for c in cells], results_path)
        alleles.append(pd.DataFrame({
            "id": joined[columns["oligo"]] + f"_{allele.lower()}",
            "sequence": joined[sequence_column].str.upper(),
            "group": joined[columns["gene"]],
            **{cell: pd.to_numeric(joined[f"log2FoldChange_{allele}_{cell}"], errors="coerce") for cell in cells},
        }))
    frame = pd.concat(alleles, ignore_index=True)
    return _per_subset(frame, {f"{cell}_log2fc": cell for cell in cells}, str(results_path))


def read_generic(path, id_column: str, sequence_column: str, group_column: str, target_columns) -> dict:
    """Any MPRA table with named columns; one subset per target column."""
    frame = _read_table(path, dtype={id_column: str, group_column: str})
    _require(frame, [id_column, sequence_column, group_column, *target_columns], path)
    frame = frame.assign(id=frame[id_column], sequence=frame[sequence_column], group=frame[group_column])
    for column in target_columns:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return _per_subset(frame, {column: column for column in target_columns}, str(path))


def oligo_fasta_records(tables: dict):
    """``(id, sequence)`` of every oligo of a dataset once, in first-seen order across its subsets."""
    combined = pd.concat([t[["id", "sequence"]] for t in tables.values()]).drop_duplicates("id")
    return list(zip(combined["id"], combined["sequence"]))
