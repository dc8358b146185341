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
- Griesemer et al. 2021 (MPRAu), supplementary ``Oligo_Variant_Info.txt`` + ``Variant_MPRAu_Results.txt``
  and the GRCh37 genome their coordinates refer to (the files hold no sequences):
  :func:`read_griesemer`.
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
# Columns of the supplementary files as the study's code reads them (GitHub
# sergeyvilov/investigating-foundation-models-3utr, mpra/mpra_griesemer_2021/dataprep/: liftover/Snakefile.py
# reads Oligo_Variant_Info.txt by position, $3 oligo_id, $4 variant_id, $5 chrom, $6-$7 oligo_starts/ends,
# $9-$10 var_start/var_end, $11-$12 ref/alt allele, all 1-based inclusive, chrom without 'chr';
# griesemer.ipynb and seed_variants.ipynb read the named columns below, join the results on
# mpra_variant_id and cut each oligo from the genome, alleles on the + strand).
GRIESEMER_INFO_COLUMNS = ["mpra_variant_id", "tag", "oligo_id", "chrom", "oligo_starts", "oligo_ends", "strand",
                          "var_start", "ref_allele", "alt_allele", "other_var_in_oligo_window", "gene_symbols"]
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


def _missing(values: pd.Series) -> pd.Series:
    return values.isin(["", "NA", "NaN", "nan"])


def merge_overlapping_groups(frame: pd.DataFrame) -> pd.Series:
    """Group labels where genes sharing an overlapping oligo (same contig) become one group.

    ``frame`` has ``group``, ``chrom``, ``start``, ``end`` (half-open); the merged group is named by
    its genes, sorted and joined with ``+``. The study merges overlapping oligos into one group too,
    so that no test fold holds a sequence that overlaps a training one.
    """
    order = frame.sort_values(["chrom", "start", "end"], kind="stable")
    reach = order.groupby("chrom", sort=False)["end"].cummax().shift()
    new_run = (order["chrom"] != order["chrom"].shift()) | (order["start"] >= reach)
    interval_cluster = pd.Series(new_run.cumsum().to_numpy(), index=order.index).reindex(frame.index).to_numpy()
    genes, gene_index = np.unique(frame["group"].to_numpy(dtype=str), return_inverse=True)
    n_genes, n_clusters = len(genes), int(interval_cluster.max()) + 1
    edges = coo_matrix((np.ones(len(frame), dtype=np.int8), (gene_index, n_genes + interval_cluster)),
                       shape=(n_genes + n_clusters, n_genes + n_clusters))
    component = connected_components(edges, directed=False)[1][:n_genes]
    names = pd.Series(genes).groupby(component).agg(lambda members: "+".join(sorted(members)))
    return pd.Series(names.loc[component[gene_index]].to_numpy(), index=frame.index)


def read_griesemer(info_path, results_path, genome_path) -> dict:
    """Griesemer 2021 MPRAu as the study prepares it: one sample per ref and per alt oligo.

    Kept, as the study: contiguous oligos (no ',' in ``oligo_starts``), single-variant oligos
    (``other_var_in_oligo_window`` empty, no ``_2`` alternative-background copy), SNVs whose
    reference allele matches the genome. The sequence is the oligo cut from ``genome_path``
    (GRCh37, the files' coordinates), the alt allele seeded into alt oligos, reverse-complemented
    for ``-`` oligos (transcript orientation). Target of a ref oligo ``log2FoldChange_Ref_<cell>``,
    of an alt oligo ``log2FoldChange_Alt_<cell>``, for variants with both values; id = ``oligo_id``;
    group = gene symbol, genes linked by overlapping oligos merged (:func:`merge_overlapping_groups`),
    for leave-one-gene-out.
    Differences: no lift-over to GRCh38 and no check that the oligo lies in one of the study's
    UTRs (both need the study's annotation; oligos are cut from GRCh37 directly).
    """
    from utrbench.seq.alphabet import reverse_complement
    from utrbench.seq.genome import Genome

    info = _read_table(info_path, dtype=str, keep_default_na=False)
    _require(info, GRIESEMER_INFO_COLUMNS, info_path)
    results = _read_table(results_path, dtype=str)
    _require(results, ["mpra_variant_id"], results_path)
    cells = [c for c in GRIESEMER_CELL_LINES if f"log2FoldChange_Ref_{c}" in results.columns]
    if not cells:
        raise UserError(f"{results_path}: no log2FoldChange_Ref_<cell> column for any of {', '.join(GRIESEMER_CELL_LINES)}.")
    _require(results, [f"log2FoldChange_{allele}_{c}" for c in cells for allele in ("Ref", "Alt")], results_path)
    repeated = results["mpra_variant_id"][results["mpra_variant_id"].duplicated()]
    if len(repeated):
        raise UserError(f"{results_path}: line {repeated.index[0] + 2}: mpra_variant_id {repeated.iloc[0]!r} is listed twice.")
    unknown_tags = sorted(set(info["tag"]) - {"ref", "alt"})
    if unknown_tags:
        raise UserError(f"{info_path}: tag values {', '.join(unknown_tags)} are not 'ref' or 'alt'.")
    kept = info[~info["oligo_starts"].str.contains(",") & _missing(info["other_var_in_oligo_window"])
                & ~info["mpra_variant_id"].str.endswith("_2")
                & (info["ref_allele"].str.len() == 1) & (info["alt_allele"].str.len() == 1)]
    rows = []
    with Genome(genome_path) as genome:
        contigs = set(genome.contigs)
        for line, oligo in zip(kept.index + 2, kept.itertuples(index=False)):
            contig = next((c for c in (oligo.chrom, "chr" + oligo.chrom) if c in contigs), None)
            try:
                start, end, variant = int(oligo.oligo_starts) - 1, int(oligo.oligo_ends), int(oligo.var_start) - 1
            except ValueError:
                raise UserError(f"{info_path}: line {line}: oligo or variant position is not an integer.") from None
            if contig is None:
                raise UserError(f"{info_path}: line {line}: chromosome {oligo.chrom!r} is not in {genome_path}.")
            if oligo.strand not in ("+", "-") or not start <= variant < end:
                raise UserError(f"{info_path}: line {line}: strand {oligo.strand!r} or variant position "
                                f"{oligo.var_start} outside the oligo {oligo.oligo_starts}-{oligo.oligo_ends}.")
            sequence = list(genome.fetch(contig, start, end))
            if sequence[variant - start] != oligo.ref_allele.upper():
                continue  # reference mismatch: dropped, as the study drops it
            if oligo.tag == "alt":
                sequence[variant - start] = oligo.alt_allele.upper()
            sequence = "".join(sequence)
            rows.append({"id": oligo.oligo_id, "mpra_variant_id": oligo.mpra_variant_id, "tag": oligo.tag,
                         "sequence": reverse_complement(sequence) if oligo.strand == "-" else sequence,
                         "group": oligo.gene_symbols, "chrom": contig, "start": start, "end": end})
    oligos = pd.DataFrame(rows, columns=["id", "mpra_variant_id", "tag", "sequence", "group", "chrom", "start", "end"])
    joined = oligos.merge(results, on="mpra_variant_id", how="inner", validate="many_to_one")
    if joined.empty:
        raise UserError(f"{results_path}: no mpra_variant_id in common with the usable oligos of {info_path}.")
    joined["group"] = merge_overlapping_groups(joined)
    is_ref = joined["tag"] == "ref"
    for cell in cells:
        # Values may be written with a decimal comma (the study's code replaces it); a variant enters a
        # cell line's table only with both its ref and alt values, as in the study's run_regressor.py.
        ref, alt = (pd.to_numeric(joined[f"log2FoldChange_{allele}_{cell}"].astype(str).str.replace(",", "."),
                                  errors="coerce") for allele in ("Ref", "Alt"))
        joined[cell] = ref.where(is_ref, alt).where(ref.notna() & alt.notna())
    return _per_subset(joined, {f"{cell}_log2fc": cell for cell in cells}, str(results_path))


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
