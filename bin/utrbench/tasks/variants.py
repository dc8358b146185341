"""Task 2, functional variants: the labelled variant sets (reference notes 01 §5, 05 §3.1-3.2).

Sources (GRCh38) and the labels and splits the study gives them:

| split     | label 1                                             | label 0                         |
|-----------|-----------------------------------------------------|---------------------------------|
| `clinvar` | ClinVar (likely) pathogenic, not conflicting, with an assertion | gnomAD common (AF > 5 %) |
| `gnomAD`  | gnomAD singletons (AC = 1)                          | gnomAD common                   |
| `eQTL`    | eQTL Catalogue credible-set variants, p <= 1e-25    | gnomAD common                   |
| `CADD`    | CADD simulated SNVs                                 | CADD human-derived SNVs         |
| any       | a user table `chrom pos ref alt label [split]`      | (same table)                    |

Each source is read (pysam for VCFs), reduced to SNVs, intersected with the dataset's 3'UTR BED
(a variant in several UTRs goes to the longest, ties to the smaller UTR id: one rule for every
source, fix V4 of note 05) and checked against the genome's reference base. Common gnomAD variants
that are positives of another source are removed from the negative pool. Then up to ``per_class``
variants per split and label are drawn with the seed after a stable sort by variant id (fix V5).
Negatives are disjoint between the splits that draw from gnomAD (fix V6) unless
``shared_negatives`` asks for the study's one shared sample.

Positions are 1-based (VCF); ``variant_id`` is ``chrom_pos_ref_alt`` with that position.
"""

import gzip
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from utrbench.errors import UserError

BASES = set("ACGT")
VARIANT_COLUMNS = ["variant_id", "chrom", "pos", "ref", "alt", "label", "split", "utr_id", "strand"]
COUNT_COLUMNS = ["source", "step", "n"]
# Study thresholds (note 05 §3.1).
GNOMAD_COMMON_AF = 0.05
EQTL_MAX_PVALUE = 1e-25
CLINVAR_NO_ASSERTION = ("no_assertion", "no_interpretation")
# Splits whose negatives are gnomAD common variants.
GNOMAD_NEGATIVE_SPLITS = ("clinvar", "gnomAD", "eQTL")
# More reference mismatches than this fraction of a source's variants means another genome build.
DEFAULT_MAX_REF_MISMATCH = 0.05


@dataclass
class Counts:
    """Variants left after each filter step, per source, in the order the steps ran."""

    rows: list = field(default_factory=list)

    def add(self, source: str, step: str, n: int) -> None:
        self.rows.append((source, step, int(n)))

    def frame(self) -> pd.DataFrame:
        """The counts grouped by source (in order of first appearance), steps in the order they ran."""
        frame = pd.DataFrame(self.rows, columns=COUNT_COLUMNS)
        first = {source: number for number, source in reversed(list(enumerate(frame["source"])))}
        return frame.sort_values("source", key=lambda s: s.map(first), kind="stable").reset_index(drop=True)


def _records_frame(rows, columns=("chrom", "pos", "ref", "alt")) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(columns))
    frame["pos"] = frame["pos"].astype(np.int64)
    return frame


def _open_vcf(path, need_index=False):
    import pysam

    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: file not found.")
    # htslib would warn on stderr that a streamed VCF has no index
    verbosity = pysam.set_verbosity(0)
    try:
        vcf = pysam.VariantFile(str(path))
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: not a readable VCF ({error}).") from None
    finally:
        pysam.set_verbosity(verbosity)
    if need_index and vcf.index is None:
        vcf.close()
        raise UserError(f"{path}: has no tabix/CSI index ({path.name}.tbi or .csi); create it with "
                        f"'tabix -p vcf {path.name}' (a bgzipped VCF is read by region).")
    return vcf


def _info_value(record, key, allele_index=None):
    """An INFO value; the per-allele element for Number=A fields."""
    value = record.info.get(key)
    if isinstance(value, tuple) and allele_index is not None and len(value) > allele_index:
        return value[allele_index]
    return value


def read_clinvar(path, counts: Counts) -> pd.DataFrame:
    """ClinVar VCF: (likely) pathogenic, not conflicting, with an assertion criterion (label 1).

    CLNSIG matching 'athogenic' (composites such as ``Pathogenic/Likely_pathogenic|risk_factor``
    included) and not 'Conflicting'; CLNREVSTAT without ``no_assertion``/``no_interpretation``
    (one-star records kept), as the study.
    """
    rows, total = [], 0
    with _open_vcf(path) as vcf:
        for record in vcf:
            for alt in record.alts or ():
                total += 1
                significance = ",".join(record.info.get("CLNSIG", ()) or ())
                review = ",".join(record.info.get("CLNREVSTAT", ()) or ())
                if "athogenic" not in significance or "onflicting" in significance:
                    continue
                if any(word in review for word in CLINVAR_NO_ASSERTION):
                    continue
                rows.append((record.chrom, record.pos, record.ref, alt))
    counts.add("clinvar", "read", total)
    counts.add("clinvar", "pathogenic_with_assertion", len(rows))
    frame = _records_frame(rows)
    frame["split"], frame["label"] = "clinvar", 1
    return frame



def _merged_regions(utrs):
    """Per contig, merged (start, end) of all UTR exons: the regions fetched from indexed VCFs."""
    by_contig = {}
    for utr in utrs:
        by_contig.setdefault(utr.chrom, []).extend(utr.exons)
    merged = {}
    for contig, intervals in by_contig.items():
        intervals.sort()
        out = [list(intervals[0])]
        for start, end in intervals[1:]:
            if start <= out[-1][1]:
                out[-1][1] = max(out[-1][1], end)
            else:
                out.append([start, end])
        merged[contig] = out
    return merged


def _file_contig(name, contigs):
    """The spelling of BED contig ``name`` in a file's contig list (with or without 'chr')."""
    for candidate in (name, name.removeprefix("chr"), "chr" + name):
        if candidate in contigs:
            return candidate
    return None


def read_gnomad(paths, utrs, counts: Counts, pass_only=False) -> pd.DataFrame:
    """gnomAD sites VCFs (bgzipped, indexed; one or one per chromosome), read over the UTR regions.

    Singletons (AC = 1) are label 1 of split ``gnomAD``; AF > 5 % variants are the common pool
    (label 0) every gnomAD-negative split draws from. The study checks no FILTER; ``pass_only``
    keeps only FILTER=PASS records (fix V3 of note 05).
    """
    rows, total, failed = [], 0, 0
    regions = _merged_regions(utrs)
    for path in paths:
        with _open_vcf(path, need_index=True) as vcf:
            contigs = set(vcf.header.contigs) | set(vcf.index)
            for contig, intervals in regions.items():
                name = _file_contig(contig, contigs)
                if name is None:
                    continue
                for start, end in intervals:
                    for record in vcf.fetch(name, start, end):
                        if not start < record.pos <= end:
                            continue  # an indel starting before the region
                        filters = list(record.filter)
                        for index, alt in enumerate(record.alts or ()):
                            total += 1
                            if pass_only and filters != ["PASS"]:
                                failed += 1
                                continue
                            ac, af = _info_value(record, "AC", index), _info_value(record, "AF", index)
                            if ac is None or af is None:
                                raise UserError(f"{path}: record {record.chrom}:{record.pos} has no AC or AF in INFO.")
                            if ac == 1:
                                rows.append((record.chrom, record.pos, record.ref, alt, 1))
                            elif af > GNOMAD_COMMON_AF:
                                rows.append((record.chrom, record.pos, record.ref, alt, 0))
    counts.add("gnomAD", "read_in_utr_regions", total)
    if pass_only:
        counts.add("gnomAD", "filter_pass", total - failed)
    frame = _records_frame(rows, ("chrom", "pos", "ref", "alt", "label"))
    counts.add("gnomAD", "singleton_or_common", len(frame))
    frame["split"] = np.where(frame["label"] == 1, "gnomAD", "common")
    return frame


# eQTL Catalogue credible sets (`QTD*.credible_sets.tsv.gz`): the columns the study reads.
EQTL_COLUMNS = ("variant", "pvalue")


def read_eqtl(paths, counts: Counts) -> tuple:
    """eQTL Catalogue SuSiE credible-set tables; rows with p <= 1e-25 are label 1 of split ``eQTL``.

    ``variant`` is ``chr_pos_ref_alt``. No PIP filter and no gene match, as the study (note 05 V3).
    Returns the positives and every variant of the tables (removed from the negative pool, as the
    study does before its p-value cut).
    """
    frames = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise UserError(f"{path}: file not found.")
        try:
            table = pd.read_csv(path, sep="\t", usecols=lambda c: c in EQTL_COLUMNS, dtype={"variant": str})
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, EOFError, OSError) as error:
            raise UserError(f"{path}: not a readable eQTL Catalogue credible-set table ({error}).") from None
        missing = [c for c in EQTL_COLUMNS if c not in table.columns]
        if missing:
            raise UserError(f"{path}: missing column(s) {', '.join(missing)} of the eQTL Catalogue credible-set format.")
        parts = table["variant"].str.split("_", expand=True)
        if parts.shape[1] != 4 or parts.isna().any().any() or not parts[1].str.isdigit().all():
            bad = table["variant"][parts.isna().any(axis=1) | ~parts[1].fillna("x").str.isdigit()].iloc[0] \
                if parts.shape[1] == 4 else table["variant"].iloc[0]
            raise UserError(f"{path}: variant {bad!r} is not 'chrom_pos_ref_alt'.")
        pvalue = pd.to_numeric(table["pvalue"], errors="coerce")
        if pvalue.isna().any():
            raise UserError(f"{path}: row {int(pvalue.isna().to_numpy().argmax()) + 2} has a p-value that is not a number.")
        frames.append(pd.DataFrame({"chrom": parts[0], "pos": parts[1].astype(np.int64), "ref": parts[2],
                                    "alt": parts[3], "pvalue": pvalue}))
    every = pd.concat(frames, ignore_index=True)
    counts.add("eQTL", "read", len(every))
    positives = every[every["pvalue"] <= EQTL_MAX_PVALUE].drop(columns="pvalue")
    positives = positives.drop_duplicates(ignore_index=True)
    counts.add("eQTL", "pvalue_le_1e-25_unique", len(positives))
    positives["split"], positives["label"] = "eQTL", 1
    return positives, every.drop(columns="pvalue")


def _open_text(path):
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: file not found.")
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rt") if gzipped else open(path)


def read_cadd(path, label, counts: Counts) -> pd.DataFrame:
    """CADD training variants (``simulation_SNVs.vcf.gz`` label 1, ``humanDerived_SNVs.vcf.gz`` label 0).

    The files are VCF-like with or without header lines; columns 1, 2, 4, 5 (chrom, pos, ref,
    alt) are read, as the study does.
    """
    rows = []
    with _open_text(path) as handle:
        try:
            for number, line in enumerate(handle, start=1):
                if line.startswith("#") or not line.strip():
                    continue
                columns = line.rstrip("\n").split("\t")
                if len(columns) < 5 or not columns[1].isdigit():
                    raise UserError(f"{path}: line {number} is not 'chrom pos id ref alt' (tab-separated).")
                rows.append((columns[0], int(columns[1]), columns[3], columns[4]))
        except (OSError, EOFError, UnicodeDecodeError) as error:
            raise UserError(f"{path}: not a readable CADD variant file ({error}).") from None
    name = "CADD_simulated" if label == 1 else "CADD_human_derived"
    counts.add(name, "read", len(rows))
    frame = _records_frame(rows)
    frame["split"], frame["label"] = "CADD", label
    return frame


def cadd_files(paths) -> tuple:
    """The simulated and the human-derived CADD file among ``paths``, told apart by their names."""
    if not paths:
        return None, None
    simulated = [p for p in paths if "simulation" in Path(p).name.lower()]
    human = [p for p in paths if "humanderived" in Path(p).name.lower().replace("_", "")]
    if len(paths) != 2 or len(simulated) != 1 or len(human) != 1:
        raise UserError(f"CADD variants: give the two training files, one named like simulation_SNVs.vcf.gz and one "
                        f"like humanDerived_SNVs.vcf.gz; got {', '.join(Path(p).name for p in paths)}.")
    return simulated[0], human[0]


def read_variant_table(path, counts: Counts) -> pd.DataFrame:
    """A user's table with a header: ``chrom pos ref alt label [split]`` (label 0/1; split 'table').

    Unlike the public sources, every row must be an SNV: a table is the user's own selection.
    """
    from utrbench.io import read_tsv

    table = read_tsv(path, required_columns=("chrom", "pos", "ref", "alt", "label"), dtype=str, keep_default_na=False)
    for number, row in enumerate(table.itertuples(index=False), start=2):
        if len(row.ref) != 1 or len(row.alt) != 1 or row.ref.upper() not in BASES or row.alt.upper() not in BASES:
            raise UserError(f"{path}: line {number}: {row.ref}>{row.alt} is not a single-nucleotide variant "
                            "(ref and alt must each be one of A, C, G, T).")
        if not row.pos.isdigit() or int(row.pos) < 1:
            raise UserError(f"{path}: line {number}: position {row.pos!r} is not a positive integer.")
        if row.label not in ("0", "1"):
            raise UserError(f"{path}: line {number}: label {row.label!r} is not 0 or 1.")
    frame = pd.DataFrame({"chrom": table["chrom"], "pos": table["pos"].astype(np.int64),
                          "ref": table["ref"].str.upper(), "alt": table["alt"].str.upper(),
                          "label": table["label"].astype(int),
                          "split": table["split"] if "split" in table.columns else "table"})
    counts.add("table", "read", len(frame))
    return frame


def keep_snvs(frame, source, counts: Counts) -> pd.DataFrame:
    """Single-nucleotide A/C/G/T substitutions only (the study's filter)."""
    ref, alt = frame["ref"].str.upper(), frame["alt"].str.upper()
    keep = ref.isin(BASES) & alt.isin(BASES) & (ref != alt)
    frame = frame[keep].assign(ref=ref[keep], alt=alt[keep])
    counts.add(source, "snv", len(frame))
    return frame.reset_index(drop=True)


def normalise_contigs(frame, contigs) -> pd.DataFrame:
    """Rename contigs to the BED's spelling ('1' -> 'chr1' or back) where that names a BED contig."""
    mapping = {name: _file_contig(name, contigs) or name for name in frame["chrom"].unique()}
    return frame.assign(chrom=frame["chrom"].map(mapping))


def assign_utrs(frame, utrs) -> pd.DataFrame:
    """``utr_id`` and ``strand`` of the longest UTR with an exon holding each variant (ties: smaller id).

    Vectorised per contig: the candidate exons of a position are those starting in
    ``(pos - longest exon, pos]``, found by binary search; no variant is compared to all exons.
    """
    order = sorted(utrs, key=lambda u: (-u.length, u.utr_id))
    rank = {utr.utr_id: number for number, utr in enumerate(order)}
    best = np.full(len(frame), len(order), dtype=np.int64)
    position = frame["pos"].to_numpy(np.int64) - 1  # 0-based
    chrom = frame["chrom"].to_numpy()
    exons_by_contig = {}
    for utr in utrs:
        exons_by_contig.setdefault(utr.chrom, []).extend((s, e, rank[utr.utr_id]) for s, e in utr.exons)
    for contig, exons in exons_by_contig.items():
        rows = np.flatnonzero(chrom == contig)
        if not len(rows):
            continue
        exons = np.array(sorted(exons), dtype=np.int64)
        starts, ends, ranks = exons[:, 0], exons[:, 1], exons[:, 2]
        longest = int((ends - starts).max())
        p = position[rows]
        low = np.searchsorted(starts, p - longest, side="right")
        high = np.searchsorted(starts, p, side="right")
        n = high - low
        owner = np.repeat(np.arange(len(rows)), n)
        candidate = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n) + np.repeat(low, n)
        inside = ends[candidate] > p[owner]
        found = np.full(len(rows), len(order), dtype=np.int64)
        np.minimum.at(found, owner[inside], ranks[candidate[inside]])
        best[rows] = found
    hit = best < len(order)
    utr_ids = np.array([u.utr_id for u in order] + [""], dtype=object)
    strands = np.array([u.strand for u in order] + [""], dtype=object)
    return frame.assign(utr_id=utr_ids[best], strand=strands[best])[hit].reset_index(drop=True)


def check_reference(frame, genome, source, counts: Counts, strict=False,
                    max_mismatch=DEFAULT_MAX_REF_MISMATCH, where="") -> pd.DataFrame:
    """Drop variants whose ref differs from the genome (counted); errors for --strict or another build."""
    reference = np.array([genome.fetch(c, p - 1, p) if p <= genome.length(c) else "" for c, p in
                          zip(frame["chrom"], frame["pos"])], dtype=object) if len(frame) else np.array([], dtype=object)
    match = reference == frame["ref"].to_numpy(dtype=object)
    mismatches = int((~match).sum())
    if mismatches:
        first = frame[~match].iloc[0]
        detail = (f"{first['chrom']}:{first['pos']} has ref {first['ref']} but {genome.path.name} has "
                  f"{reference[~match][0] or 'no base'} there")
        if strict:
            raise UserError(f"{where or source}: {detail} (--strict stops at the first reference mismatch).")
        if mismatches > max_mismatch * len(frame):
            raise UserError(f"{where or source}: {mismatches} of {len(frame)} variants in 3'UTRs "
                            f"({100 * mismatches / len(frame):.0f} %) have a reference allele that differs from "
                            f"{genome.path.name} (e.g. {detail}); is the file on another genome build than the "
                            f"genome (GRCh38 expected)?")
    counts.add(source, "ref_matches_genome", int(match.sum()))
    return frame[match].reset_index(drop=True)


def variant_ids(frame) -> pd.Series:
    return frame["chrom"] + "_" + frame["pos"].astype(str) + "_" + frame["ref"] + "_" + frame["alt"]


def _key(frame) -> pd.Series:
    return frame["chrom"] + ":" + frame["pos"].astype(str) + ":" + frame["ref"].str.upper() + ":" + frame["alt"].str.upper()


def _draw(frame, n, seed) -> pd.DataFrame:
    """Up to ``n`` rows, seeded, independent of the input order (stable sort by variant id first)."""
    frame = frame.sort_values("variant_id", kind="stable").reset_index(drop=True)
    return frame.sample(n=min(n, len(frame)), random_state=seed) if len(frame) > n else frame


def sample_variants(labelled, common, per_class, seed, shared_negatives=False, counts=None) -> pd.DataFrame:
    """Up to ``per_class`` variants per split and label; gnomAD-common negatives for those splits.

    ``labelled``: rows of every split with their own labels (both classes for CADD and tables, label
    1 for clinvar, gnomAD, eQTL). ``common``: the gnomAD common pool. Disjoint negatives by default:
    the pool is drawn once and cut into consecutive parts, one per split that needs it.
    """
    parts = []
    for (split, label), group in labelled.groupby(["split", "label"], sort=True):
        parts.append(_draw(group, per_class, seed).assign(split=split, label=label))
    needing = [s for s in GNOMAD_NEGATIVE_SPLITS if s in set(labelled["split"])]
    if needing and len(common):
        if shared_negatives:
            drawn = _draw(common, per_class, seed)
            parts.extend(drawn.assign(split=split, label=0) for split in needing)
        else:
            size = min(per_class, len(common) // len(needing))
            drawn = _draw(common, size * len(needing), seed)
            parts.extend(drawn.iloc[k * size:(k + 1) * size].assign(split=split, label=0)
                         for k, split in enumerate(needing))
    selected = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=VARIANT_COLUMNS)
    if counts is not None:
        for (split, label), group in selected.groupby(["split", "label"], sort=True):
            counts.add(f"{split}", f"sampled_label_{label}", len(group))
    return (selected.sort_values(["split", "label", "variant_id"], ascending=[True, False, True], kind="stable")
            [VARIANT_COLUMNS].reset_index(drop=True))


@dataclass
class Sources:
    """The input files of the variant sets; any may be absent."""

    clinvar: str = None
    gnomad: tuple = ()
    eqtl: tuple = ()
    cadd_simulated: str = None
    cadd_human_derived: str = None
    tables: tuple = ()


def build_variant_sets(sources: Sources, utrs, genome, per_class=10000, seed=1, shared_negatives=False,
                       strict=False, max_mismatch=DEFAULT_MAX_REF_MISMATCH, gnomad_pass_only=False):
    """The sampled variants (``VARIANT_COLUMNS``) and the counts after each filter step."""
    counts = Counts()
    contigs = {utr.chrom for utr in utrs}
    read = []  # (source name, where, frame)
    if sources.clinvar:
        read.append(("clinvar", sources.clinvar, read_clinvar(sources.clinvar, counts)))
    if sources.gnomad:
        read.append(("gnomAD", ", ".join(map(str, sources.gnomad)), read_gnomad(sources.gnomad, utrs, counts, gnomad_pass_only)))
    eqtl_every = None
    if sources.eqtl:
        positives, eqtl_every = read_eqtl(sources.eqtl, counts)
        read.append(("eQTL", ", ".join(map(str, sources.eqtl)), positives))
    if sources.cadd_simulated:
        read.append(("CADD_simulated", sources.cadd_simulated, read_cadd(sources.cadd_simulated, 1, counts)))
    if sources.cadd_human_derived:
        read.append(("CADD_human_derived", sources.cadd_human_derived,
                     read_cadd(sources.cadd_human_derived, 0, counts)))
    for path in sources.tables:
        read.append(("table", path, read_variant_table(path, counts)))
    if not read:
        raise UserError("no variant source given: pass at least one of ClinVar, gnomAD, eQTL, CADD or a variant table.")

    kept = []
    for name, where, frame in read:
        frame = keep_snvs(normalise_contigs(frame, contigs), name, counts)
        in_utrs = assign_utrs(frame, utrs)
        counts.add(name, "in_3utr", len(in_utrs))
        if in_utrs.empty:
            raise UserError(f"{where}: none of its {len(frame)} SNVs lies in a 3'UTR of the UTR BED "
                            f"(its contigs: {', '.join(sorted(frame['chrom'].unique())[:5]) or 'none'}; "
                            f"the BED's: {', '.join(sorted(contigs)[:5])}).")
        kept.append(check_reference(in_utrs, genome, name, counts, strict, max_mismatch, where))
    every = pd.concat(kept, ignore_index=True)
    every["variant_id"] = variant_ids(every)
    every = every.drop_duplicates(["variant_id", "split", "label"], ignore_index=True)

    common = every[every["split"] == "common"]
    labelled = every[every["split"] != "common"]
    # Common variants that are positives elsewhere cannot be negatives (the study's cell 13).
    positives = set(_key(labelled[labelled["label"] == 1]))
    if eqtl_every is not None:
        positives |= set(_key(normalise_contigs(eqtl_every, contigs)))
    before = len(common)
    common = common[~_key(common).isin(positives)]
    if before:
        counts.add("gnomAD_common", "not_a_positive_elsewhere", len(common))
    selected = sample_variants(labelled, common, per_class, seed, shared_negatives, counts)
    return selected, counts.frame()
