"""Task 1: RBP binding motifs, scored from per-nucleotide probabilities (reference notes 01 §5, 05 §2).

Sites (:func:`rbp_sites`):

- eCLIP peaks (ENCODE IDR narrowPeak BED6+4, one or more files per RBP and cell line, already on
  the genome of the UTR BED): the RBP is the peak name up to its first ``_`` (cell lines pooled);
  every peak is extended on its 5' side (``+``: start lowered, ``-``: end raised) before anything else.
- RBNS k-mers (Van Nostrand 2020, MOESM8 layout): per RBP, the k-mers whose stepwise R - 1 is at
  least a threshold (0 in the study), U written as T.
- Positives: occurrences of an RBP's k-mer lying wholly inside a merged IDR peak of that RBP on the
  UTR's strand, merged per (UTR, RBP) in transcript coordinates (touching intervals merge); one row
  per (UTR, offset), the RBPs comma-joined.
- Negatives: the same k-mers lying wholly inside UTR regions without any peak (any RBP, any
  replicate, either strand: the study's strand-unaware ``bedtools subtract``), subsampled per k-mer
  to that k-mer's positive count with a seeded generator.
- Every start position 0 .. L - k of every UTR is scanned (the study stopped one short, note 05 R2),
  as one vectorised pass over the concatenated UTRs rather than a loop per position.

Scores (:func:`score_sites`): for a probability file (language model, Zoo-AL) the mean over the motif
of p(reference base) with rows renormalised over A/C/G/T; for a score file (PhyloP, CADD; ``kind =
score``) the maximum over the motif of the per-position maximum over the four columns (CADD keeps one
score per alternative base), NaN when any position has none (the study's ``np.max``).

Metrics (:func:`evaluate`): signed ROC AUC (higher score = functional) and PR-AUC (average
precision) with percentile bootstrap intervals (``sklearn.utils.resample`` with seeds seed ..
seed + n - 1, as the study), on all sites and on the conservation strata: positives whose
conservation score is at or above the 90th (top) or at or below the 10th (bottom) percentile of
their RBP x k-mer group, each against all negatives.
"""

import re
from pathlib import Path

import numpy as np
import pandas as pd

from utrbench.errors import UserError

BASES = "ACGT"
SITE_COLUMNS = ["site_id", "utr_id", "offset", "chrom", "position", "strand", "motif", "rbps",
                "stepwise_r_minus1", "label"]
PEAK_EXTENSION = 50  # nt added on the 5' side of every peak (the study)
RBNS_SKIPPED_COLUMNS = 4  # columns after 'RBP' that are not motif entries (05 §2.2)
# byte -> base code for bytes.translate (one C pass over a genome-size string): A C G T -> 0 1 2 3, others 255 (int8 -1)
_CODE_BYTES = bytes(BASES.index(chr(byte)) if chr(byte) in BASES else 255 for byte in range(256))


def base_codes(text: str) -> np.ndarray:
    """int8 codes of ``text``: A C G T -> 0 1 2 3, anything else -1."""
    return np.frombuffer(text.encode().translate(_CODE_BYTES), dtype=np.int8)


# ---------------------------------------------------------------- inputs

def read_eclip_peaks(paths, extension: int = PEAK_EXTENSION) -> pd.DataFrame:
    """Peaks of ENCODE narrowPeak files: ``chrom start end strand rbp idr``, 5'-extended.

    Only the first six columns are read (no signal or p-value threshold, as the study); ``idr``
    marks reproducible peaks (name containing ``_IDR``).
    """
    from utrbench.seq.gtf import open_text

    frames = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise UserError(f"{path}: file not found.")
        rows = []
        with open_text(path) as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip() or line.startswith(("#", "track", "browser")):
                    continue
                fields = line.rstrip("\n").split("\t")
                try:
                    chrom, start, end, name, _score, strand = fields[:6]
                    start, end = int(start), int(end)
                    if not (chrom and name and 0 <= start < end and strand in ("+", "-")):
                        raise ValueError
                except ValueError:
                    raise UserError(f"{path}: line {number} is not 'chrom start end name score strand' with "
                                    "0 <= start < end and strand + or - (an eCLIP peak BED).") from None
                rows.append((chrom, start, end, strand, name.partition("_")[0], "_IDR" in name))
        if not rows:
            raise UserError(f"{path}: no peaks.")
        chrom, start, end, strand, rbp, idr = map(list, zip(*rows))
        plus = np.array(strand) == "+"
        frames.append(pd.DataFrame({
            "chrom": chrom, "start": np.array(start) - np.where(plus, extension, 0),
            "end": np.array(end) + np.where(plus, 0, extension), "strand": strand, "rbp": rbp, "idr": np.array(idr),
        }))
    if not frames:
        raise UserError("no eCLIP peak files given.")
    return pd.concat(frames, ignore_index=True)


_RBNS_ENTRY = re.compile(r"^([ACGTU]+)_(\d+)_(-?[0-9.]+(?:[eE][-+]?\d+)?)$")


def read_rbns_motifs(path, stepwise_r_min: float = 0.0) -> pd.DataFrame:
    """RBNS k-mers ``rbp motif stepwise_r_minus1`` from the Van Nostrand 2020 table (.xlsx or TSV).

    Layout (05 §2.2): a column ``RBP``, then four columns that are skipped, then one entry
    ``KMER_LOGONUMBER_STEPWISER`` per cell; empty cells are skipped. Entries whose stepwise R - 1 is
    below ``stepwise_r_min`` are dropped; all k-mers must have one length.
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: file not found.")
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            table = pd.read_excel(path, engine="openpyxl", dtype=str, keep_default_na=False)
        else:
            table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError, OSError) as error:
        raise UserError(f"{path}: not a readable RBNS table ({error}).") from None
    columns = [str(c) for c in table.columns]
    if "RBP" not in columns or len(columns) <= columns.index("RBP") + RBNS_SKIPPED_COLUMNS + 1:
        raise UserError(f"{path}: expected a column 'RBP' followed by {RBNS_SKIPPED_COLUMNS} columns and then "
                        f"KMER_LOGO_STEPWISER entries (Van Nostrand 2020 MOESM8 layout); found {', '.join(columns)}.")
    first_entry = columns.index("RBP") + RBNS_SKIPPED_COLUMNS + 1
    rows = []
    for number, record in enumerate(table.itertuples(index=False), start=2):
        rbp = str(record[columns.index("RBP")]).strip()
        for column, cell in zip(columns[first_entry:], record[first_entry:]):
            cell = str(cell).strip()
            if not cell:
                continue
            match = _RBNS_ENTRY.match(cell.upper())
            if not rbp or not match:
                raise UserError(f"{path}: row {number}, column {column!r}: {cell!r} is not KMER_LOGONUMBER_STEPWISER "
                                "(e.g. UUUUU_1_0.42) or its RBP is empty.")
            rows.append((rbp, match.group(1).replace("U", "T"), float(match.group(3))))
    motifs = pd.DataFrame(rows, columns=["rbp", "motif", "stepwise_r_minus1"])
    motifs = motifs[motifs["stepwise_r_minus1"] >= stepwise_r_min].drop_duplicates(["rbp", "motif"])
    if motifs.empty:
        raise UserError(f"{path}: no RBNS k-mer has stepwise R - 1 >= {stepwise_r_min}.")
    lengths = motifs["motif"].str.len()
    if lengths.nunique() > 1:
        odd = motifs[lengths != lengths.iloc[0]].iloc[0]
        raise UserError(f"{path}: k-mers of different lengths ({motifs['motif'].iloc[0]} and {odd['motif']} of "
                        f"{odd['rbp']}); sites are scanned for one k.")
    return motifs.reset_index(drop=True)


# ---------------------------------------------------------------- coordinates

class UtrLayout:
    """The UTRs concatenated in FASTA order: global transcript coordinates and their exons.

    Global position ``starts[u] + offset`` is nucleotide ``offset`` (transcript orientation) of UTR
    ``u``; ``exons`` lists every exon with its global transcript start, so genomic and transcript
    coordinates map into each other by array look-ups.
    """

    def __init__(self, utrs, sequences: dict, where: str):
        by_id = {utr.utr_id: utr for utr in utrs}
        self.ids = [name for name in sequences if name in by_id]
        missing = [utr.utr_id for utr in utrs if utr.utr_id not in sequences]
        if missing:
            raise UserError(f"{where}: UTR {missing[0]} of the BED is not in the FASTA.")
        self.utrs = [by_id[name] for name in self.ids]
        lengths = np.array([len(sequences[name]) for name in self.ids], dtype=np.int64)
        for utr, length in zip(self.utrs, lengths):
            if utr.length != length:
                raise UserError(f"{where}: UTR {utr.utr_id} is {utr.length} nt in the BED but {length} nt in the FASTA.")
        self.lengths = lengths
        self.starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        self.codes = base_codes("".join([sequences[name] for name in self.ids]))
        rows = []  # utr index, chrom, strand, genomic start, end, global transcript start
        for index, utr in enumerate(self.utrs):
            offset = self.starts[index]
            for start, end in utr.exons_in_transcript_order():
                rows.append((index, utr.chrom, utr.strand, start, end, offset))
                offset += end - start
        self.exons = pd.DataFrame(rows, columns=["utr", "chrom", "strand", "start", "end", "tstart"])

    def genomic_start(self, positions, k: int) -> np.ndarray:
        """0-based genomic start (lowest coordinate) of the k-mers at global transcript ``positions``."""
        exons = self.exons
        plus = exons["strand"].to_numpy()[self._exon_of(positions)] == "+"
        # on '-' the lowest coordinate is the k-mer's last nucleotide
        last = np.where(plus, positions, positions + k - 1)
        exon = self._exon_of(last)
        into = last - exons["tstart"].to_numpy()[exon]
        return np.where(plus, exons["start"].to_numpy()[exon] + into, exons["end"].to_numpy()[exon] - 1 - into)

    def _exon_of(self, positions):
        return np.searchsorted(self.exons["tstart"].to_numpy(), positions, side="right") - 1

    def peaks_in_transcript(self, peaks: pd.DataFrame, same_strand: bool) -> pd.DataFrame:
        """Peak pieces clipped to exons, in global transcript coordinates: ``utr start end`` (+ peak columns).

        A peak overlapping several UTRs (or exons) gives one piece for each.
        """
        pieces = []
        peaks_by_chrom = dict(tuple(peaks.groupby("chrom", sort=False)))  # each in file order
        for chrom, exons in self.exons.groupby("chrom", sort=True):
            if chrom not in peaks_by_chrom:
                continue
            on_chrom = peaks_by_chrom[chrom].sort_values("start", kind="stable")
            peak_start, peak_end = on_chrom["start"].to_numpy(), on_chrom["end"].to_numpy()
            longest = int((peak_end - peak_start).max())
            # candidates: peaks starting before the exon's end and at most `longest` before its start
            low = np.searchsorted(peak_start, exons["start"].to_numpy() - longest, side="left")
            high = np.searchsorted(peak_start, exons["end"].to_numpy(), side="left")
            exon_row, peak_row = expand_ranges(low, high)
            exon_start, exon_end = exons["start"].to_numpy()[exon_row], exons["end"].to_numpy()[exon_row]
            keep = peak_end[peak_row] > exon_start
            if same_strand:
                keep &= on_chrom["strand"].to_numpy()[peak_row] == exons["strand"].to_numpy()[exon_row]
            exon_row, peak_row = exon_row[keep], peak_row[keep]
            clipped_start = np.maximum(peak_start[peak_row], exon_start[keep])
            clipped_end = np.minimum(peak_end[peak_row], exon_end[keep])
            tstart = exons["tstart"].to_numpy()[exon_row]
            plus = exons["strand"].to_numpy()[exon_row] == "+"
            gstart, gend = exon_start[keep], exon_end[keep]
            piece = on_chrom.iloc[peak_row][["rbp", "idr"]].reset_index(drop=True)
            piece["utr"] = exons["utr"].to_numpy()[exon_row]
            piece["start"] = np.where(plus, tstart + clipped_start - gstart, tstart + gend - clipped_end)
            piece["end"] = np.where(plus, tstart + clipped_end - gstart, tstart + gend - clipped_start)
            pieces.append(piece)
        if not pieces:
            return pd.DataFrame({"rbp": [], "idr": [], "utr": [], "start": [], "end": []}).astype(
                {"utr": np.int64, "start": np.int64, "end": np.int64})
        return pd.concat(pieces, ignore_index=True)


def expand_ranges(low, high):
    """For ranges ``[low[i], high[i])``: the range index and the value of every member, in order."""
    low, high = np.asarray(low, dtype=np.int64), np.asarray(high, dtype=np.int64)
    counts = np.maximum(high - low, 0)
    owner = np.repeat(np.arange(len(low)), counts)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return owner, low[owner] + np.arange(counts.sum()) - first[owner]


def merge_intervals(frame: pd.DataFrame, keys) -> pd.DataFrame:
    """Union of ``start end`` intervals per ``keys``; touching intervals merge (start <= previous end)."""
    if frame.empty:
        return frame[[*keys, "start", "end"]].copy()
    frame = frame.sort_values([*keys, "start", "end"], kind="stable").reset_index(drop=True)
    reach = frame.groupby(keys, sort=False)["end"].cummax()
    previous = reach.groupby([frame[k] for k in keys], sort=False).shift()
    block = (previous.isna() | (frame["start"] > previous)).cumsum()
    merged = frame.groupby(block, sort=False).agg({**{k: "first" for k in keys}, "start": "min", "end": "max"})
    return merged.reset_index(drop=True)


def kmer_starts(intervals: pd.DataFrame, k: int) -> tuple:
    """Every global start ``p`` with ``[p, p + k)`` inside one interval; also the interval's row."""
    row, position = expand_ranges(intervals["start"].to_numpy(), intervals["end"].to_numpy() - k + 1)
    return row, position


def kmer_codes(codes: np.ndarray, starts: np.ndarray, lengths: np.ndarray, k: int) -> np.ndarray:
    """Base-4 code of the k-mer at every global position; -1 where it holds N or runs past its UTR.

    A rolling encoding over the concatenated UTRs: k passes over the whole array, in place.
    """
    if k > 15:
        raise UserError(f"k-mers of length {k} are longer than the 15 this scan supports.")
    total = len(codes)
    value = np.zeros(total, dtype=np.int16 if 4 ** k < 2 ** 15 else np.int32)
    valid = np.zeros(total, dtype=bool)
    valid[: max(total - k + 1, 0)] = True
    not_acgt = np.flatnonzero(codes < 0)
    letters = np.maximum(codes, 0) if len(not_acgt) else codes
    for j in range(k):
        value[: total - j] *= 4
        value[: total - j] += letters[j:]
    # the k-mers holding an N, and those starting within k - 1 of their UTR's end (they run into the next)
    holding = (not_acgt[:, None] - np.arange(k)[None, :]).ravel()
    tails = ((starts + lengths)[:, None] - np.arange(1, k)[None, :]).ravel()
    valid[holding[holding >= 0]] = False
    valid[tails[tails >= 0]] = False
    value[~valid] = -1
    return value


def kmers_inside(positions: np.ndarray, intervals: pd.DataFrame, k: int) -> np.ndarray:
    """Whether ``[p, p + k)`` lies inside one of ``intervals`` (disjoint, sorted by start) for each of
    the sorted ``positions``: the test of :func:`kmer_starts` without listing every start."""
    first = intervals["start"].to_numpy(np.int64)
    interval = np.searchsorted(first, positions, side="right") - 1
    inside = interval >= 0
    inside[inside] = positions[inside] + k <= intervals["end"].to_numpy(np.int64)[interval[inside]]
    return inside


def encode_kmer(kmer: str) -> int:
    value = 0
    for base in kmer:
        value = value * 4 + BASES.index(base)
    return value


# ---------------------------------------------------------------- sites

def rbp_sites(utrs, sequences: dict, peaks: pd.DataFrame, motifs: pd.DataFrame, seed: int, where: str = "UTRs"):
    """The site table (``SITE_COLUMNS``) and ``(step, count)`` pairs; see the module docstring."""
    k = len(motifs["motif"].iloc[0])
    layout = UtrLayout(utrs, sequences, where)
    counts = [("eCLIP peaks read", len(peaks)), ("IDR peaks", int(peaks["idr"].sum())),
              ("RBPs with IDR peaks", peaks.loc[peaks["idr"], "rbp"].nunique()),
              ("RBPs with RBNS k-mers", motifs["rbp"].nunique())]
    rbp_names = sorted(set(motifs["rbp"].unique()) & set(peaks.loc[peaks["idr"], "rbp"].unique()))
    counts.append(("RBPs with both", len(rbp_names)))
    rbp_index = {name: n for n, name in enumerate(rbp_names)}

    positive_peaks = layout.peaks_in_transcript(peaks[peaks["idr"] & peaks["rbp"].isin(rbp_index)], same_strand=True)
    counts.append(("IDR peak pieces on a UTR of the same strand", len(positive_peaks)))
    merged = merge_intervals(positive_peaks, ["utr", "rbp"])
    counts.append(("merged (UTR, RBP) intervals", len(merged)))

    codes = kmer_codes(layout.codes, layout.starts, layout.lengths, k)
    is_motif = np.zeros((max(len(rbp_names), 1), 4 ** k), dtype=bool)
    r_minus1 = np.full(is_motif.shape, np.nan)
    for rbp, motif, value in motifs[motifs["rbp"].isin(rbp_index)].itertuples(index=False):
        is_motif[rbp_index[rbp], encode_kmer(motif)] = True
        r_minus1[rbp_index[rbp], encode_kmer(motif)] = value
    row, position = kmer_starts(merged, k)
    rbp_of = merged["rbp"].map(rbp_index).to_numpy(np.int64)[row] if len(merged) else np.zeros(0, np.int64)
    code = codes[position]
    hit = (code >= 0) & is_motif[rbp_of, np.maximum(code, 0)]
    counts.append(("RBNS k-mer occurrences inside a merged peak of their RBP", int(hit.sum())))
    positives = _collapse_per_site(position[hit], np.asarray(rbp_names, dtype=object)[rbp_of[hit]],
                                   r_minus1[rbp_of[hit], code[hit]], code[hit])
    counts.append(("positive sites (UTR, offset)", len(positives)))

    # negatives: UTR stretches free of every peak (any RBP, any replicate, either strand)
    all_peaks = merge_intervals(layout.peaks_in_transcript(peaks, same_strand=False), ["utr"])
    free = _complement(all_peaks, layout)
    positive_counts = positives.groupby("code").size().sort_index()
    is_positive_kmer = np.zeros(4 ** k + 1, dtype=bool)  # the last entry: code -1
    is_positive_kmer[positive_counts.index.to_numpy(np.int64)] = True
    position = np.flatnonzero(is_positive_kmer[codes])
    position = position[kmers_inside(position, free, k)]
    candidate_code = codes[position]
    counts.append(("negative candidates (positive k-mers outside every peak)", len(position)))
    # the candidates of each k-mer in position order, found by one stable sort
    by_code = np.argsort(candidate_code, kind="stable")
    bounds = np.searchsorted(candidate_code[by_code], positive_counts.index.to_numpy(np.int64), side="left")
    ends = np.searchsorted(candidate_code[by_code], positive_counts.index.to_numpy(np.int64), side="right")
    rng = np.random.default_rng(seed)
    chosen, short = [], 0
    for needed, low, high in zip(positive_counts.to_numpy(), bounds, ends):
        pool = position[by_code[low:high]]
        if len(pool) <= needed:
            short += len(pool) < needed
            chosen.append(pool)
        else:
            chosen.append(np.sort(pool[rng.choice(len(pool), size=needed, replace=False)]))
    negatives = np.concatenate(chosen) if chosen else np.zeros(0, np.int64)
    counts.append(("negative sites sampled", len(negatives)))
    counts.append(("k-mers with fewer negative candidates than positives", short))

    table = _site_table(layout, positives, negatives, k)
    counts += [("UTRs with a site", table["utr_id"].nunique()), ("RBPs with a positive site", positives["rbps"]
               .str.split(",").explode().nunique() if len(positives) else 0),
               ("distinct k-mers of positive sites", positives["code"].nunique()),
               ("(RBP, k-mer) groups", len(positives.assign(rbp=positives["rbps"].str.split(",")).explode("rbp")
                                            .drop_duplicates(["rbp", "code"])) if len(positives) else 0)]
    return table, counts


def _collapse_per_site(position, rbps, r_minus1, code) -> pd.DataFrame:
    """One row per position: its RBPs and their R - 1 values comma-joined in RBP name order."""
    order = np.lexsort((rbps, position))
    position, rbps, r_minus1, code = position[order], rbps[order], r_minus1[order], code[order]
    first = np.flatnonzero(np.r_[True, position[1:] != position[:-1]]) if len(position) else np.zeros(0, np.int64)
    bounds = np.r_[first, len(position)]
    values = np.array([f"{x:g}" for x in r_minus1], dtype=object)
    return pd.DataFrame({
        "position": position[first],
        "rbps": [",".join(rbps[a:b]) for a, b in zip(bounds[:-1], bounds[1:])],
        "stepwise_r_minus1": [",".join(values[a:b]) for a, b in zip(bounds[:-1], bounds[1:])],
        "code": code[first],
    })


def _complement(intervals: pd.DataFrame, layout: UtrLayout) -> pd.DataFrame:
    """Global intervals of each UTR not covered by ``intervals`` (merged per ``utr``, inside the UTRs)."""
    utr_start, utr_end = layout.starts, layout.starts + layout.lengths
    cuts = intervals.sort_values(["utr", "start"], kind="stable")
    utr = cuts["utr"].to_numpy(np.int64)
    # the gap before each cut starts at the previous cut's end, or at the UTR start
    previous_end = cuts.groupby("utr", sort=False)["end"].shift().to_numpy()
    before = pd.DataFrame({"utr": utr, "start": np.where(np.isnan(previous_end), utr_start[utr], previous_end),
                           "end": cuts["start"].to_numpy()})
    last_end = utr_start.copy()
    ends = cuts.groupby("utr")["end"].max()
    last_end[ends.index.to_numpy(np.int64)] = ends.to_numpy()
    after = pd.DataFrame({"utr": np.arange(len(utr_start)), "start": last_end, "end": utr_end})
    gaps = pd.concat([before, after], ignore_index=True).astype(np.int64)
    gaps = gaps[gaps["end"] > gaps["start"]]
    return gaps.sort_values(["utr", "start"], kind="stable").reset_index(drop=True)


def _site_table(layout: UtrLayout, positives: pd.DataFrame, negatives: np.ndarray, k: int) -> pd.DataFrame:
    position = np.concatenate([positives["position"].to_numpy(np.int64), negatives])
    label = np.concatenate([np.ones(len(positives), np.int64), np.zeros(len(negatives), np.int64)])
    order = np.argsort(position, kind="stable")
    position, label = position[order], label[order]
    utr = np.searchsorted(layout.starts, position, side="right") - 1
    offset = position - layout.starts[utr]
    ids = np.asarray(layout.ids, dtype=object)[utr]
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    text = letters[layout.codes[position[:, None] + np.arange(k)]].tobytes().decode()
    motif = [text[n * k:(n + 1) * k] for n in range(len(position))]
    rbps = np.concatenate([positives["rbps"].to_numpy(object), np.full(len(negatives), "", dtype=object)])[order]
    values = np.concatenate([positives["stepwise_r_minus1"].to_numpy(object),
                             np.full(len(negatives), "", dtype=object)])[order]
    chrom = np.asarray([u.chrom for u in layout.utrs], dtype=object)[utr]
    strand = np.asarray([u.strand for u in layout.utrs], dtype=object)[utr]
    return pd.DataFrame({
        "site_id": [f"{name}:{o}" for name, o in zip(ids, offset)],
        "utr_id": ids, "offset": offset, "chrom": chrom, "position": layout.genomic_start(position, k),
        "strand": strand, "motif": motif, "rbps": rbps, "stepwise_r_minus1": values, "label": label,
    }, columns=SITE_COLUMNS)


def read_sites(path) -> pd.DataFrame:
    """The site table written by ``rbp_sites.py``."""
    from utrbench.io import read_tsv

    sites = read_tsv(path, required_columns=SITE_COLUMNS, dtype={"rbps": str, "stepwise_r_minus1": str},
                     keep_default_na=False)
    if sites.empty:
        raise UserError(f"{path}: no sites.")
    return sites


def check_motifs_in_fasta(sites: pd.DataFrame, sequences: dict, where: str) -> None:
    """Each site's motif must be the FASTA's sequence at its offset (the study asserts the same)."""
    for site_id, utr_id, offset, motif in sites[["site_id", "utr_id", "offset", "motif"]].itertuples(index=False):
        sequence = sequences.get(utr_id)
        if sequence is None:
            raise UserError(f"{where}: UTR {utr_id} of site {site_id} is not in the FASTA.")
        if sequence[offset:offset + len(motif)] != motif:
            raise UserError(f"{where}: site {site_id}: {motif} is not at offset {offset} of {utr_id} in the FASTA "
                            "(sites of another FASTA?).")


# ---------------------------------------------------------------- scores

READ_ROWS = 1 << 21  # probability rows read from an HDF5 at a time: memory stays flat in file size
TRANSCRIPT_ORIENTATIONS = ("forward", "reverse", "both", "transcript")


def score_column(attrs: dict) -> str:
    """Column name ``model/strategy`` of one score file (``score`` for baselines, ``alignment`` for Zoo-AL)."""
    model = attrs.get("model", "unnamed")
    strategy = attrs.get("strategy") or ("score" if attrs.get("kind") == "score" else "alignment")
    return f"{model}/{strategy}"


def _chunk_addresses(dataset):
    """``(rows per chunk, file offset of each chunk)`` where the rows of ``dataset`` lie in the file as
    plain bytes: contiguous (``write_probabilities``: one chunk) or chunked over whole rows without
    filters (``InferenceWriter``, as ZEROSHOT writes); None for anything else (compression, a
    chunk never written, another file driver)."""
    if dataset.file.driver != "sec2" or dataset.file.userblock_size or dataset.id.get_create_plist().get_nfilters():
        return None
    if dataset.chunks is None:
        offset = dataset.id.get_offset()
        return None if offset is None else (max(dataset.shape[0], 1), np.array([offset], dtype=np.int64))
    rows_per_chunk = dataset.chunks[0]
    chunks = -(-dataset.shape[0] // rows_per_chunk)
    if dataset.chunks[1:] != dataset.shape[1:] or dataset.id.get_num_chunks() != chunks:
        return None
    offsets = np.empty(chunks, dtype=np.int64)

    def record(info):  # chunk_iter: one walk of the chunk index (get_chunk_info(i) walks it once per chunk)
        offsets[info.chunk_offset[0] // rows_per_chunk] = info.byte_offset

    dataset.id.chunk_iter(record)
    return rows_per_chunk, offsets


def _gather_rows(dataset, rows: np.ndarray) -> np.ndarray:
    """``dataset[rows]`` (float64) for unsorted, repeated ``rows``.

    Where the rows lie in the file as plain bytes (:func:`_chunk_addresses`), the file is mapped
    into memory and only the pages holding the rows are read: a few sites per thousand positions
    need a fraction of the file. Otherwise the whole dataset is read block by block.
    """
    addresses = _chunk_addresses(dataset)
    if addresses is not None:
        rows_per_chunk, offsets = addresses
        row_bytes = dataset.dtype.itemsize * int(np.prod(dataset.shape[1:]))
        first_byte = offsets[rows // rows_per_chunk] + (rows % rows_per_chunk) * row_bytes
        in_file_order = np.argsort(first_byte, kind="stable")  # forward through the file: the kernel reads ahead
        mapped = np.memmap(dataset.file.filename, dtype=np.uint8, mode="r")
        raw = np.empty((len(rows), row_bytes), dtype=np.uint8)
        raw[in_file_order] = mapped[first_byte[in_file_order][:, None] + np.arange(row_bytes)]
        return raw.view(dataset.dtype).reshape(len(rows), *dataset.shape[1:]).astype(np.float64)
    order = np.argsort(rows, kind="stable")
    ordered = rows[order]
    out = np.empty((len(rows), dataset.shape[1]), dtype=np.float64)
    bounds = np.searchsorted(ordered, np.arange(0, dataset.shape[0] + READ_ROWS, READ_ROWS))
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        if lo == hi:
            continue
        first, last = ordered[lo], ordered[hi - 1] + 1
        out[order[lo:hi]] = dataset[first:last][ordered[lo:hi] - first]
    return out


def score_sites(path, sites: pd.DataFrame, lengths: dict) -> tuple:
    """``(column name, score per site)`` from one per-nucleotide HDF5 (see the module docstring).

    ``lengths`` are the FASTA's UTR lengths: a file whose record lengths differ was made from
    another FASTA and is refused.
    """
    import h5py

    path = Path(path)
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise UserError(f"{path}: not an HDF5 file ({error}).") from None
    with handle:
        if not {"ids", "offsets", "probs"} <= set(handle):
            raise UserError(f"{path}: not a per-nucleotide HDF5 with 'ids', 'offsets' and 'probs'.")
        attrs = dict(handle.attrs)
        orientation = attrs.get("orientation", "transcript")
        if orientation not in TRANSCRIPT_ORIENTATIONS:
            raise UserError(f"{path}: orientation {orientation!r}: rows are expected in the FASTA's (transcript) "
                            f"orientation ({', '.join(TRANSCRIPT_ORIENTATIONS)}).")
        ids = [x.decode() if isinstance(x, bytes) else x for x in handle["ids"][()]]
        offsets = handle["offsets"][()]
        for n, name in enumerate(ids):
            if name in lengths and offsets[n + 1] - offsets[n] != lengths[name]:
                raise UserError(f"{path}: record {name} has {offsets[n + 1] - offsets[n]} rows but the FASTA has "
                                f"{lengths[name]} nt (probabilities of another FASTA?).")
        record = pd.Index(ids).get_indexer(sites["utr_id"])
        if (record < 0).any():
            missing = sites.iloc[int(np.argmax(record < 0))]
            raise UserError(f"{path}: UTR {missing['utr_id']} (site {missing['site_id']}) has no record in the file.")
        k = len(sites["motif"].iloc[0])
        first_row = offsets[record] + sites["offset"].to_numpy(np.int64)
        rows = (first_row[:, None] + np.arange(k)).ravel()
        values = _gather_rows(handle["probs"], rows).reshape(len(sites), k, 4)
    if attrs.get("kind") == "score":
        with np.errstate(invalid="ignore"):
            per_position = np.where(np.isnan(values).all(axis=2), np.nan,
                                    np.nanmax(np.where(np.isnan(values), -np.inf, values), axis=2))
        return score_column(attrs), per_position.max(axis=1)  # NaN anywhere -> NaN, as np.max in the study
    reference = base_codes("".join(sites["motif"].tolist())).reshape(len(sites), k)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_ref = np.take_along_axis(values, reference[:, :, None].astype(np.int64), axis=2)[:, :, 0] / values.sum(axis=2)
    return score_column(attrs), p_ref.mean(axis=1)


# ---------------------------------------------------------------- metrics

STRATA = {"phylop_top10": 90.0, "phylop_bottom10": 10.0}


def positive_groups(sites: pd.DataFrame) -> pd.DataFrame:
    """One row per (positive site, RBP): ``site`` (row of ``sites``), ``rbp``, ``motif``."""
    positives = sites[sites["label"] == 1]
    exploded = positives.assign(rbp=positives["rbps"].str.split(",")).explode("rbp")
    return pd.DataFrame({"site": exploded.index.to_numpy(), "rbp": exploded["rbp"].to_numpy(),
                         "motif": exploded["motif"].to_numpy()})


def conservation_strata(groups: pd.DataFrame, conservation: np.ndarray) -> pd.DataFrame:
    """``groups`` plus ``phylop_top10``/``phylop_bottom10``: the row's conservation is >= the 90th / <= the 10th
    percentile (linear interpolation, NaN ignored) of its RBP x k-mer group; ties included, NaN in neither."""
    frame = groups.assign(value=conservation[groups["site"].to_numpy()])
    for stratum, percentile in STRATA.items():
        cut = frame.groupby(["rbp", "motif"], sort=False)["value"].transform(
            lambda v, q=percentile: np.nanpercentile(v, q) if v.notna().any() else np.nan)
        frame[stratum] = (frame["value"] >= cut) if percentile > 50 else (frame["value"] <= cut)
    return frame


def evaluation_rows(sites: pd.DataFrame, conservation=None, per_rbp_rows: bool = False) -> dict:
    """Rows of ``sites`` evaluated per subset: ``all``, and with a conservation score ``phylop_top10`` and
    ``phylop_bottom10`` (their positives, every negative).

    One row per site by default; a site is in a stratum if it is in it for any of its RBPs.
    ``per_rbp_rows`` repeats a positive once per RBP (the study's merge, note 05 R3).
    """
    negatives = np.flatnonzero(sites["label"].to_numpy() == 0)
    groups = positive_groups(sites)
    positives = groups["site"].to_numpy() if per_rbp_rows else np.flatnonzero(sites["label"].to_numpy() == 1)
    subsets = {"all": np.sort(np.concatenate([positives, negatives]))}
    if conservation is None:
        return subsets
    strata = conservation_strata(groups, np.asarray(conservation, dtype=np.float64))
    for stratum in STRATA:
        if per_rbp_rows:
            chosen = strata.loc[strata[stratum], "site"].to_numpy()
        else:
            chosen = np.unique(strata.loc[strata[stratum], "site"].to_numpy())
        subsets[stratum] = np.sort(np.concatenate([chosen, negatives]))
    return subsets


def bootstrap_metrics(labels, scores, n_resamples: int = 100, seed: int = 0) -> dict:
    """ROC AUC and PR-AUC (average precision) with 2.5-97.5 % percentile bootstrap intervals.

    Resample ``i`` is ``sklearn.utils.resample(rows, random_state=seed + i)`` (with replacement,
    not stratified: the study's); resamples holding one class only are skipped.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score
    from sklearn.utils import resample

    labels, scores = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    keep = ~np.isnan(scores)
    labels, scores = labels[keep], scores[keep]
    result = {"n": int(len(labels))}
    if len(np.unique(labels)) < 2:
        return dict(result, roc_auc=(np.nan, np.nan, np.nan), pr_auc=(np.nan, np.nan, np.nan))
    draws = {"roc_auc": [], "pr_auc": []}
    rows = np.arange(len(labels))
    for i in range(n_resamples):
        sample = resample(rows, random_state=seed + i)
        if len(np.unique(labels[sample])) < 2:
            continue
        draws["roc_auc"].append(roc_auc_score(labels[sample], scores[sample]))
        draws["pr_auc"].append(average_precision_score(labels[sample], scores[sample]))
    for name, function in (("roc_auc", roc_auc_score), ("pr_auc", average_precision_score)):
        low, high = np.percentile(draws[name], [2.5, 97.5]) if draws[name] else (np.nan, np.nan)
        result[name] = (float(function(labels, scores)), float(low), float(high))
    return result


def evaluate(sites: pd.DataFrame, scores: pd.DataFrame, conservation_column=None, n_resamples: int = 100,
             seed: int = 0, per_rbp_rows: bool = False, dataset: str = "utrs") -> list:
    """Metrics rows (DESIGN.md format) for every score column of ``scores`` (aligned with ``sites``)."""
    conservation = scores[conservation_column].to_numpy() if conservation_column else None
    subsets = evaluation_rows(sites, conservation, per_rbp_rows)
    labels = sites["label"].to_numpy()
    rows = []
    for column in scores.columns:
        model, predictor = column.split("/", 1)
        values = scores[column].to_numpy(dtype=np.float64)
        for subset, index in subsets.items():
            result = bootstrap_metrics(labels[index], values[index], n_resamples, seed)
            for metric in ("roc_auc", "pr_auc"):
                rows.append(["rbp", dataset, subset, model, predictor, metric, *result[metric], result["n"]])
    return rows
