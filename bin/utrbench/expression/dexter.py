"""DExTER (Menichelli et al. 2021), re-implemented with vectorised counting.

The algorithm follows the copy used by Sadat et al. (reference note 02, §1): the window is cut
into bins whose widths grow as cubes away from the alignment point (the TSS), every run of
consecutive bins is a *region*, and a greedy exploration grows k-mers from the 16 dinucleotides
one letter at a time, keeping a (k-mer, region) *domain* only when its absolute Spearman
correlation with expression beats its parent and both one-letter-shorter controls. All valid
domains become features (per-position frequency in the region) of a 10-fold LassoCV.

Speed comes from the layout, not from changing the algorithm: sequences are a ``uint8`` matrix
``[genes, length]`` (A=0, C=1, G=2, T=3, other=4), k-mer codes are built with k vectorised
shifts, occurrences of all candidate k-mers of one exploration level are counted in one
``np.bincount`` over a ``[genes x bins x k-mers]`` layout, region counts come from cumulative
sums over bins, and Spearman correlations are Pearson correlations of column-wise ranks.
"""

from dataclasses import dataclass, field

import numpy as np
from scipy.stats import rankdata

from utrbench.errors import UserError
from utrbench.progress import SILENT

NUCLEOTIDES = "ACGT"
OTHER_CODE = 4
_ENCODING = np.full(256, OTHER_CODE, dtype=np.uint8)
for _code, _letter in enumerate(NUCLEOTIDES):
    _ENCODING[ord(_letter)] = _code
    _ENCODING[ord(_letter.lower())] = _code

# Published defaults (flags -correlation_increase_ratio and -correlation_increase).
INCREASE_RATIO = 0.10
INCREASE_DELTA = 0.01
# Genes per bincount pass: bounds the int64 temporaries to ~100 MB for 4 kb windows.
GENES_PER_CHUNK = 1024
# k-mers scored together: bounds the [genes, k-mers x regions] rank matrix.
KMERS_PER_SCORE_BATCH = 16


def encode_sequences(sequences) -> np.ndarray:
    """2-bit codes of equal-length sequences as ``uint8 [n, L]``; anything but ACGT becomes 4."""
    sequences = list(sequences)
    if not sequences:
        return np.zeros((0, 0), dtype=np.uint8)
    length = len(sequences[0])
    raw = np.frombuffer("".join(sequences).encode("ascii", "replace"), dtype=np.uint8)
    if raw.size != length * len(sequences):
        raise ValueError("all sequences must have the same length")
    return _ENCODING[raw].reshape(len(sequences), length)


def kmer_code(kmer: str) -> int:
    """Base-4 value of a k-mer in A, C, G, T digit order (AA=0, AC=1, ..., TT=15)."""
    value = 0
    for letter in kmer:
        value = value * 4 + NUCLEOTIDES.index(letter)
    return value


# --------------------------------------------------------------------------- bins and regions


def make_bins(length: int, tss_index: int, n_bins: int = 13) -> np.ndarray:
    """Bin edges (0-based, half-open: bin b is ``[edges[b], edges[b+1])``) of the DExTER lattice.

    An even ``n_bins`` is raised by one. A 1-bp bin holds the TSS; on each side, bin widths are
    consecutive cubes k^3, (k+1)^3, ... outwards from the smallest k for which that many cubed bins
    would cover the side, and the outermost bin takes the remainder. For L = 4001, TSS 2000 and
    13 bins this gives the published widths 75, 729, 512, 343, 216, 125, 1, 125, ..., 75.
    """
    if not 0 <= tss_index < length:
        raise UserError(f"the alignment point {tss_index} lies outside sequences of length {length}.")
    n_bins += 1 - n_bins % 2
    per_side = (n_bins - 1) // 2
    left = _side_widths(tss_index, per_side)
    right = _side_widths(length - tss_index - 1, per_side)
    widths = left[::-1] + [1] + right
    return np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)


def _side_widths(side: int, n: int) -> list:
    """Widths of the ``n`` bins of one side, innermost first (cubes, outermost = remainder)."""
    if n == 0:
        return []
    k = 1
    while sum((k + i) ** 3 for i in range(n)) < side:
        k += 1
    inner = [(k + i) ** 3 for i in range(n - 1)]
    remainder = side - sum(inner)
    if remainder <= 0:
        raise UserError(f"a side of {side} bp is too short for {n} bins per side; use fewer bins.")
    return inner + [remainder]


@dataclass(frozen=True)
class Lattice:
    """Bins and the regions (runs of consecutive bins) built on them, relative to the TSS."""

    edges: np.ndarray  # int64 [n_bins + 1], 0-based half-open bin boundaries
    tss_index: int
    first_bin: np.ndarray = field(init=False)  # int64 [n_regions]
    last_bin: np.ndarray = field(init=False)

    def __post_init__(self):
        n = len(self.edges) - 1
        # Ordered by rank (number of bins), then by position: single bins first, whole window last.
        pairs = [(first, first + size - 1) for size in range(1, n + 1) for first in range(n - size + 1)]
        object.__setattr__(self, "first_bin", np.array([p[0] for p in pairs], dtype=np.int64))
        object.__setattr__(self, "last_bin", np.array([p[1] for p in pairs], dtype=np.int64))

    @property
    def n_bins(self) -> int:
        return len(self.edges) - 1

    @property
    def n_regions(self) -> int:
        return len(self.first_bin)

    @property
    def whole_window(self) -> int:
        return self.n_regions - 1

    def region_bounds(self) -> tuple:
        """Closed intervals ``(from, to)`` of every region relative to the TSS."""
        start = self.edges[self.first_bin] - self.tss_index
        end = self.edges[self.last_bin + 1] - 1 - self.tss_index
        return start, end

    def region_lengths(self) -> np.ndarray:
        return self.edges[self.last_bin + 1] - self.edges[self.first_bin]

    def intersects(self, a: int, b: int) -> bool:
        """Whether regions ``a`` and ``b`` share a bin."""
        return self.first_bin[a] <= self.last_bin[b] and self.first_bin[b] <= self.last_bin[a]

    def label(self, region: int) -> str:
        start, end = self.region_bounds()
        return f"[{start[region]},{end[region]}]"


# --------------------------------------------------------------------------- counting


def count_kmers_per_bin(codes: np.ndarray, kmers, edges: np.ndarray) -> np.ndarray:
    """Occurrences of each k-mer (all the same k) per gene and bin: ``int32 [n_kmers, genes, bins]``.

    Exact, overlapping, strand-specific matches; an occurrence belongs to the bin of its start;
    anything but ACGT never matches. As in DExTER, the last start position ``L - k`` is not counted.
    """
    kmers = list(kmers)
    k = len(kmers[0])
    if any(len(kmer) != k for kmer in kmers):
        raise ValueError("count_kmers_per_bin needs k-mers of one length")
    n_genes, length = codes.shape
    n_bins = len(edges) - 1
    n_starts = length - k
    counts = np.zeros((len(kmers), n_genes, n_bins), dtype=np.int32)
    if n_starts <= 0 or n_genes == 0:
        return counts
    bin_of_start = np.searchsorted(edges, np.arange(n_starts), side="right") - 1
    wanted = np.array([kmer_code(w) for w in kmers], dtype=np.int64)
    for first in range(0, n_genes, GENES_PER_CHUNK):
        chunk = codes[first:first + GENES_PER_CHUNK]
        values, valid = _kmer_values(chunk, k, n_starts)
        index = _kmer_index(values, wanted, k)
        hit = valid & (index >= 0)
        gene_bin = np.arange(len(chunk))[:, None] * n_bins + bin_of_start[None, :]
        flat = gene_bin[hit] * len(kmers) + index[hit]
        tally = np.bincount(flat, minlength=len(chunk) * n_bins * len(kmers))
        counts[:, first:first + len(chunk)] = tally.reshape(len(chunk), n_bins, len(kmers)).transpose(2, 0, 1)
    return counts


def _kmer_index(values: np.ndarray, wanted: np.ndarray, k: int) -> np.ndarray:
    """Position of each k-mer value in ``wanted``, -1 when absent (a lookup table up to k = 12)."""
    if k <= 12:
        table = np.full(4 ** k, -1, dtype=np.int64)
        table[wanted] = np.arange(len(wanted))
        return table[values]
    order = np.argsort(wanted)
    position = np.minimum(np.searchsorted(wanted[order], values), len(wanted) - 1)
    return np.where(wanted[order][position] == values, order[position], -1)


def _kmer_values(codes: np.ndarray, k: int, n_starts: int):
    """Base-4 value of the k-mer starting at each of the first ``n_starts`` positions, and validity."""
    values = np.zeros((codes.shape[0], n_starts), dtype=np.int64)
    valid = np.ones((codes.shape[0], n_starts), dtype=bool)
    for offset in range(k):
        window = codes[:, offset:offset + n_starts]
        values = values * 4 + (window & 3)
        valid &= window != OTHER_CODE
    return values, valid


def region_counts(bin_counts: np.ndarray, lattice: Lattice) -> np.ndarray:
    """Sum bin counts ``[..., bins]`` into region counts ``[..., regions]`` with cumulative sums."""
    cumulative = np.concatenate(
        [np.zeros(bin_counts.shape[:-1] + (1,), dtype=np.int64), np.cumsum(bin_counts, axis=-1, dtype=np.int64)],
        axis=-1,
    )
    return cumulative[..., lattice.last_bin + 1] - cumulative[..., lattice.first_bin]


def count_ranks(counts: np.ndarray) -> np.ndarray:
    """Average ranks (as ``rankdata``) of every column of non-negative integers ``[n, m]``.

    Counts are small integers, so a per-column histogram gives each value's rank directly:
    (number of smaller values) + (ties + 1) / 2, in O(n) instead of a sort per column.
    """
    n, m = counts.shape
    width = int(counts.max(initial=0)) + 1
    keys = counts + np.arange(m, dtype=np.int64) * width
    histogram = np.bincount(keys.ravel(), minlength=m * width).reshape(m, width)
    average = (np.cumsum(histogram, axis=1) - histogram) + (histogram + 1) / 2.0
    return average.ravel()[keys]


def abs_spearman(matrix: np.ndarray, y: np.ndarray) -> np.ndarray:
    """|Spearman rho| of every column of ``matrix [n, m]`` with ``y [n]``; constant columns give 0."""
    is_count = np.issubdtype(matrix.dtype, np.integer) and matrix.size and matrix.min() >= 0
    ranks = count_ranks(matrix) if is_count else rankdata(matrix, axis=0)
    ranks -= (matrix.shape[0] + 1) / 2.0
    y_ranks = rankdata(y) - (len(y) + 1) / 2.0
    numerator = y_ranks @ ranks
    denominator = np.sqrt(np.einsum("ij,ij->j", ranks, ranks) * (y_ranks @ y_ranks))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.abs(numerator / denominator)
    return np.nan_to_num(rho, nan=0.0)


def score_kmers(codes: np.ndarray, y: np.ndarray, kmers, lattice: Lattice) -> dict:
    """``{k-mer: |Spearman| per region [n_regions]}`` on the genes of ``codes``."""
    scores = {}
    for k in sorted({len(kmer) for kmer in kmers}):
        same_length = [kmer for kmer in kmers if len(kmer) == k]
        bins = count_kmers_per_bin(codes, same_length, lattice.edges)
        for first in range(0, len(same_length), KMERS_PER_SCORE_BATCH):
            batch = same_length[first:first + KMERS_PER_SCORE_BATCH]
            per_region = region_counts(bins[first:first + len(batch)], lattice)  # [batch, genes, regions]
            columns = per_region.transpose(1, 0, 2).reshape(len(y), -1)
            rho = abs_spearman(columns, y).reshape(len(batch), lattice.n_regions)
            scores.update(zip(batch, rho))
    return scores


# --------------------------------------------------------------------------- exploration


def beats(candidate: float, reference: float, ratio=INCREASE_RATIO, delta=INCREASE_DELTA) -> bool:
    """DExTER's improvement rule: ``>= delta`` over 0, else ``>= ratio`` relative and ``>= delta`` absolute."""
    if reference == 0:
        return candidate >= delta
    return (candidate - reference) / reference >= ratio and candidate - reference >= delta


def _region_beats_control(candidate: float, control: float, ratio, delta) -> bool:
    """Control rule of the region walk: a control scoring 0 only blocks a candidate scoring 0."""
    if control == 0:
        return candidate != 0
    return beats(candidate, control, ratio, delta)


@dataclass
class Exploration:
    """Result of the greedy search: the variables in discovery order and the exploration graph."""

    variables: list  # [(kmer, region)]
    scores: dict  # {kmer: |rho| per region}
    graph: list  # dict rows, one per processed domain and per region kept for it


def explore(codes, y, lattice: Lattice, ratio=INCREASE_RATIO, delta=INCREASE_DELTA, max_kmer_length=0,
            progress=SILENT) -> Exploration:
    """Greedy DExTER exploration on training genes (``codes [n, L]``, ``y [n]``).

    Breadth-first by k: the set of domains queued at one k is known before any is processed, and
    whether a domain is accepted depends only on scores, so each level's k-mers (and the controls
    they need) are counted and scored together. ``progress`` counts domains and gets a line per k.
    """
    scores: dict = {}
    whole = lattice.whole_window
    roots = [a + b for a in NUCLEOTIDES for b in NUCLEOTIDES]
    level = [(kmer, whole, None) for kmer in roots]  # (kmer, region, parent label)
    seen = {(kmer, whole) for kmer in roots}
    variables: dict = {}
    graph = []
    while level:
        k = len(level[0][0])
        controls = {w[1:] for w, _, _ in level} | {w[:-1] for w, _, _ in level} if k > 2 else set()
        missing_controls = sorted(c for c in controls if c not in scores)
        scores.update(score_kmers(codes, y, missing_controls, lattice))
        scores.update(score_kmers(codes, y, sorted({w for w, _, _ in level} - scores.keys()), lattice))
        next_level = []
        for kmer, region, parent in level:
            own = scores[kmer]
            prefix = scores[kmer[:-1]] if k > 2 else np.zeros(lattice.n_regions)
            suffix = scores[kmer[1:]] if k > 2 else np.zeros(lattice.n_regions)
            is_root = parent is None
            accepted = is_root or (
                beats(own[region], prefix[region], ratio, delta) and beats(own[region], suffix[region], ratio, delta)
            )
            graph.append(_graph_row(kmer, region, own, prefix, suffix, parent, "root" if is_root else
                                    ("accepted" if accepted else "rejected"), lattice))
            if not accepted:
                continue
            variables.setdefault((kmer, region), None)
            for kept in _walk_regions(own, prefix, suffix, region, lattice, ratio, delta):
                variables.setdefault((kmer, kept), None)
                label = f"{kmer}{lattice.label(region)}"
                if kept != region:
                    graph.append(_graph_row(kmer, kept, own, prefix, suffix, label, "kept_region", lattice))
                if max_kmer_length and k + 1 > max_kmer_length:
                    continue
                for extended in [kmer + n for n in NUCLEOTIDES] + [n + kmer for n in NUCLEOTIDES]:
                    if (extended, kept) not in seen:
                        seen.add((extended, kept))
                        next_level.append((extended, kept, f"{kmer}{lattice.label(kept)}"))
        progress.update(len(level))
        progress.write(f"k = {k}: {len(level)} domains explored, {len(variables)} variables so far, "
                       f"{len(next_level)} queued at k = {k + 1}")
        level = next_level
    return Exploration(list(variables), scores, graph)


def _walk_regions(own, prefix, suffix, region, lattice, ratio, delta) -> list:
    """Regions kept for an accepted domain: greedy, best score first, pairwise disjoint in bins."""
    candidates = np.flatnonzero(own >= own[region])
    candidates = sorted(candidates, key=lambda r: (-own[r], lattice.last_bin[r] - lattice.first_bin[r], r))
    kept = []
    for candidate in candidates:
        if any(lattice.intersects(candidate, other) for other in kept):
            continue
        if _region_beats_control(own[candidate], prefix[candidate], ratio, delta) and _region_beats_control(
            own[candidate], suffix[candidate], ratio, delta
        ):
            kept.append(int(candidate))
    return kept


def _graph_row(kmer, region, own, prefix, suffix, parent, status, lattice) -> dict:
    start, end = lattice.region_bounds()
    return {
        "kmer": kmer,
        "k": len(kmer),
        "region_from": int(start[region]),
        "region_to": int(end[region]),
        "score": float(own[region]),
        "prefix_control_score": float(prefix[region]),
        "suffix_control_score": float(suffix[region]),
        "parent": parent or "",
        "status": status,
    }


# --------------------------------------------------------------------------- features and model


def feature_matrix(codes: np.ndarray, variables, lattice: Lattice) -> np.ndarray:
    """Per-position frequency of each variable's k-mer in its region, clipped to [0, 1]: ``[n, vars]``."""
    matrix = np.zeros((codes.shape[0], len(variables)), dtype=np.float64)
    lengths = lattice.region_lengths()
    by_length: dict = {}
    for column, (kmer, region) in enumerate(variables):
        by_length.setdefault(len(kmer), []).append((column, kmer, region))
    for members in by_length.values():
        kmers = sorted({kmer for _, kmer, _ in members})
        bins = count_kmers_per_bin(codes, kmers, lattice.edges)
        index = {kmer: i for i, kmer in enumerate(kmers)}
        for column, kmer, region in members:
            # One k-mer at a time: a [k-mers, genes, regions] int64 block would need gigabytes.
            per_region = region_counts(bins[index[kmer]], lattice)
            matrix[:, column] = per_region[:, region] / lengths[region]
    return np.clip(matrix, 0.0, 1.0)


def fit_lasso(features: np.ndarray, y: np.ndarray, folds: int = 10, max_iter: int = 1_000_000):
    """StandardScaler + LassoCV (default alpha grid, unshuffled K-fold), as DExTER's ``lasso.py``."""
    from sklearn.linear_model import LassoCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(y) < folds:
        raise UserError(f"{len(y)} training genes are too few for {folds}-fold cross-validation.")
    model = make_pipeline(StandardScaler(), LassoCV(cv=folds, max_iter=max_iter))
    model.fit(features, y)
    return model


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """MSE, Pearson r and R² (the three numbers DExTER reports for the test genes)."""
    from sklearn.metrics import mean_squared_error, r2_score

    pearson = float(np.corrcoef(y_true, y_pred)[0, 1]) if np.std(y_pred) > 0 else 0.0
    return {"mse": float(mean_squared_error(y_true, y_pred)), "pearson_r": pearson, "r2": float(r2_score(y_true, y_pred))}


# --------------------------------------------------------------------------- whole run


@dataclass
class DexterRun:
    """Everything one DExTER run produces."""

    lattice: Lattice
    exploration: Exploration
    model: object  # fitted sklearn Pipeline(StandardScaler, LassoCV)
    test_predictions: np.ndarray
    test_metrics: dict


def run_dexter(codes, y, is_train, tss_index, n_bins=13, ratio=INCREASE_RATIO, delta=INCREASE_DELTA,
               max_kmer_length=0, folds=10, progress=SILENT) -> DexterRun:
    """Explore on training genes, build features for all genes, fit LassoCV, predict test genes."""
    is_train = np.asarray(is_train, dtype=bool)
    if is_train.all() or not is_train.any():
        raise UserError("DExTER needs both training and test genes; check the split column of the labels.")
    lattice = Lattice(make_bins(codes.shape[1], tss_index, n_bins), tss_index)
    exploration = explore(codes[is_train], y[is_train], lattice, ratio, delta, max_kmer_length, progress)
    progress.write(f"{len(exploration.variables)} variables; counting them in {len(codes)} genes")
    features = feature_matrix(codes, exploration.variables, lattice)
    progress.write(f"fitting {folds}-fold LassoCV on {int(is_train.sum())} training genes")
    model = fit_lasso(features[is_train], y[is_train], folds=folds)
    predictions = model.predict(features[~is_train])
    return DexterRun(lattice, exploration, model, predictions, regression_metrics(y[~is_train], predictions))


def variables_table(run: DexterRun):
    """One row per variable: k-mer, region, training |rho|, standardised LASSO coefficient."""
    import pandas as pd

    start, end = run.lattice.region_bounds()
    lasso = run.model[-1]
    return pd.DataFrame({
        "kmer": [kmer for kmer, _ in run.exploration.variables],
        "region_from": [int(start[r]) for _, r in run.exploration.variables],
        "region_to": [int(end[r]) for _, r in run.exploration.variables],
        "train_abs_spearman": [float(run.exploration.scores[k][r]) for k, r in run.exploration.variables],
        "coefficient": lasso.coef_,
        "selected": lasso.coef_ != 0,
    })


def model_description(run: DexterRun) -> dict:
    """The fitted model as plain JSON: bins, variables, scaling, coefficients and the chosen alpha."""
    scaler, lasso = run.model[0], run.model[-1]
    start, end = run.lattice.region_bounds()
    return {
        "bin_edges": run.lattice.edges.tolist(),
        "tss_index": run.lattice.tss_index,
        "alpha": float(lasso.alpha_),
        "intercept": float(lasso.intercept_),
        "variables": [
            {"kmer": kmer, "region_from": int(start[r]), "region_to": int(end[r]), "mean": float(m),
             "scale": float(s), "coefficient": float(c)}
            for (kmer, r), m, s, c in zip(run.exploration.variables, scaler.mean_, scaler.scale_, lasso.coef_)
        ],
        "test_metrics": run.test_metrics,
    }
