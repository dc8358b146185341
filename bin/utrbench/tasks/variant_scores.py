"""Zero-shot variant scores (note 05 §3.5), one table per model.

From the full-UTR probabilities (transcript orientation, as ZEROSHOT writes for the dataset's UTR
FASTA; Zoo-AL frequencies alike), rows renormalised over A/C/G/T, natural log, EPSILON = 1e-14:

- ``pref = ln(p_ref + eps)``, ``palt_inv = -ln(p_alt + eps)``, ``pratio = pref + palt_inv``.

From the window probabilities of the reference and alternative windows (ZEROSHOT on the windows
FASTA of the model's orientation), rows renormalised:

- ``d_j = max_n |logit2 p_ref(j, n) - logit2 p_alt(j, n)|``, ``logit2(p) = log2(p + eps) - log2(1 - p + eps)``;
- ``VIS``: the mean of ``d_j`` over every position of the window but the variant (the study's VIS);
- ``VIS_W``: the mean over the W positions with ``1 <= |j - i| <= W / 2`` (a symmetric window around
  the variant i, fix V10 of note 05; fewer where the window is clipped);
- ``loss_ref``/``loss_alt``: the mean ``-ln p`` of the observed bases of the window (N skipped),
  ``loss_diff = loss_alt - loss_ref``.

From the window embeddings (EMBED on the windows FASTA of the model's orientation), between the
reference and alternative window embeddings ``r`` and ``a`` (float64; ±inf become NaN, as the study):

- ``l1 = sum |r - a|``, ``l2 = ||r - a||``, ``dot = r . a``, ``cosine = 1 - r . a / (||r|| ||a||)``
  (the cosine *distance*; the study's column is the similarity ``1 - cosine``, which gives the same
  AUC with the opposite direction; NaN for a zero vector).

Alignment baselines at the variant: ``phylop`` (the score of the position), ``cadd`` (the score of
the substitution to that alternative allele, from the per-base CADD HDF5).
"""

import numpy as np
import pandas as pd

from utrbench.errors import UserError
from utrbench.tasks.variant_windows import paired_records, transcript_allele, transcript_offset

EPSILON = 1e-14
BASE_INDEX = {base: index for index, base in enumerate("ACGT")}
DEFAULT_VIS_WIDTHS = tuple(2 ** k for k in range(4, 13))  # 16, 32, ..., 4096


def renormalised(probs: np.ndarray) -> np.ndarray:
    """Rows divided by their sum over A/C/G/T (float64)."""
    probs = np.asarray(probs, dtype=np.float64)
    return probs / probs.sum(axis=-1, keepdims=True)


def logit2(p: np.ndarray) -> np.ndarray:
    return np.log2(p + EPSILON) - np.log2(1 - p + EPSILON)


def allele_scores(p_ref: np.ndarray, p_alt: np.ndarray) -> dict:
    """``pref``, ``palt_inv``, ``pratio`` from renormalised probabilities of the two alleles."""
    pref = np.log(p_ref + EPSILON)
    palt_inv = -np.log(p_alt + EPSILON)
    return {"pref": pref, "palt_inv": palt_inv, "pratio": pref + palt_inv}


def _transcript_positions(variants, utrs):
    """Transcript index and transcript-orientation ref/alt base indices of every variant row."""
    index, ref, alt = [], [], []
    for row in variants.itertuples(index=False):
        utr = utrs[row.utr_id]
        index.append(transcript_offset(utr, int(row.pos) - 1))
        ref.append(BASE_INDEX[transcript_allele(row.ref, utr.strand)])
        alt.append(BASE_INDEX[transcript_allele(row.alt, utr.strand)])
    return np.array(index, dtype=np.int64), np.array(ref), np.array(alt)


def _rows_at_variants(arrays: dict, variants, utrs, where: str) -> tuple:
    """The ``[n, 4]`` rows at each variant of the per-UTR arrays, and the base indices."""
    index, ref, alt = _transcript_positions(variants, utrs)
    rows = np.full((len(variants), 4), np.nan)
    for number, (utr_id, position) in enumerate(zip(variants["utr_id"], index)):
        values = arrays.get(utr_id)
        if values is None:
            raise UserError(f"{where}: has no UTR {utr_id} (variant {variants['variant_id'].iloc[number]}); "
                            "was it computed on the same dataset as the variant sets?")
        if position >= len(values):
            raise UserError(f"{where}: UTR {utr_id} has {len(values)} positions, fewer than the UTR BED says.")
        rows[number] = values[position]
    return rows, ref, alt


def utr_probability_scores(variants, utrs, arrays: dict, where: str) -> pd.DataFrame:
    """``pref palt_inv pratio`` per variant row from full-UTR probabilities (transcript orientation)."""
    rows, ref, alt = _rows_at_variants(arrays, variants, utrs, where)
    rows = renormalised(rows)
    take = np.arange(len(rows))
    return pd.DataFrame(allele_scores(rows[take, ref], rows[take, alt]), index=variants.index)


def phylop_score(variants, utrs, arrays: dict, where: str) -> pd.Series:
    rows, _, _ = _rows_at_variants(arrays, variants, utrs, where)
    return pd.Series(rows[:, 0], index=variants.index, name="phylop")


def cadd_score(variants, utrs, arrays: dict, where: str) -> pd.Series:
    """The CADD score of the substitution to the row's alternative allele."""
    rows, _, alt = _rows_at_variants(arrays, variants, utrs, where)
    return pd.Series(rows[np.arange(len(rows)), alt], index=variants.index, name="cadd")


def influence_profile(p_ref: np.ndarray, p_alt: np.ndarray) -> np.ndarray:
    """``d_j`` of every window position from renormalised ``[L, 4]`` probabilities of both windows."""
    return np.abs(logit2(p_ref) - logit2(p_alt)).max(axis=1)


def vis_scores(d: np.ndarray, offset: int, widths) -> dict:
    """``VIS`` (all positions but the variant) and ``VIS_W`` for each width W (W / 2 on each side)."""
    cumulative = np.concatenate([[0.0], np.cumsum(d)])
    length = len(d)
    scores = {"VIS": (cumulative[-1] - d[offset]) / (length - 1) if length > 1 else np.nan}
    for width in widths:
        half = width // 2
        low, high = max(offset - half, 0), min(offset + 1 + half, length)
        total = cumulative[offset] - cumulative[low] + cumulative[high] - cumulative[offset + 1]
        count = (offset - low) + (high - offset - 1)
        scores[f"VIS_{width}"] = total / count if count else np.nan
    return scores


def mean_loss(probs: np.ndarray, sequence: str) -> float:
    """Mean ``-ln p`` of the observed A/C/G/T bases of ``sequence`` under renormalised ``probs``."""
    codes = np.frombuffer(sequence.encode(), dtype=np.uint8)
    lookup = np.full(256, -1)
    for base, column in BASE_INDEX.items():
        lookup[ord(base)] = column
    columns = lookup[codes]
    known = columns >= 0
    return float(-np.log(probs[np.flatnonzero(known), columns[known]] + EPSILON).mean())


def window_scores(variants, index, orientation, probs: dict, sequences: dict, widths, where: str) -> pd.DataFrame:
    """``VIS``, ``VIS_W``, ``loss_ref``, ``loss_alt``, ``loss_diff`` per variant row.

    Computed once per variant id (the windows are shared by its rows in several splits).
    """
    pairs = paired_records(index, orientation)
    per_variant = {}
    for variant_id in variants["variant_id"].unique():
        if variant_id not in pairs.index:
            raise UserError(f"window index: no {orientation} windows for variant {variant_id}.")
        pair = pairs.loc[variant_id]
        arrays = []
        for record in (pair["ref_record"], pair["alt_record"]):
            if record not in probs:
                raise UserError(f"{where}: has no probabilities for window {record}; was ZEROSHOT run on the "
                                f"{orientation} windows FASTA?")
            if len(probs[record]) != int(pair["length"]):
                raise UserError(f"{where}: window {record} has {len(probs[record])} positions, not {pair['length']}.")
            arrays.append(renormalised(probs[record]))
        p_ref, p_alt = arrays
        scores = vis_scores(influence_profile(p_ref, p_alt), int(pair["offset"]), widths)
        scores["loss_ref"] = mean_loss(p_ref, sequences[pair["ref_record"]])
        scores["loss_alt"] = mean_loss(p_alt, sequences[pair["alt_record"]])
        scores["loss_diff"] = scores["loss_alt"] - scores["loss_ref"]
        per_variant[variant_id] = scores
    table = pd.DataFrame.from_dict(per_variant, orient="index")
    return table.loc[variants["variant_id"]].set_index(variants.index)


def embedding_distances(ref: np.ndarray, alt: np.ndarray) -> dict:
    """``l1 l2 dot cosine`` between the rows of two ``[n, d]`` embedding matrices."""
    ref, alt = np.asarray(ref, dtype=np.float64), np.asarray(alt, dtype=np.float64)
    difference = ref - alt
    dot = (ref * alt).sum(axis=1)
    norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(alt, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cosine = np.where(norms > 0, 1 - dot / norms, np.nan)
    scores = {"l1": np.abs(difference).sum(axis=1), "l2": np.linalg.norm(difference, axis=1), "dot": dot,
              "cosine": cosine}
    return {name: np.where(np.isfinite(values), values, np.nan) for name, values in scores.items()}


def window_embedding_pairs(variants, index, orientation, ids, embeddings, where: str) -> tuple:
    """The reference and alternative window embeddings ``([n, d], [n, d])`` of each variant row.

    ``index`` is the window index (variant_windows.py), ``ids``/``embeddings`` an embeddings HDF5 of
    the windows FASTA of ``orientation``; identical windows share one record and so one row.
    """
    pairs = paired_records(index, orientation)
    missing = sorted(set(variants["variant_id"]) - set(pairs.index))
    if missing:
        raise UserError(f"window index: no {orientation} windows for variant {missing[0]}.")
    rows = pd.Index(ids)
    if rows.has_duplicates:
        raise UserError(f"{where}: the embeddings hold duplicate window ids (e.g. {rows[rows.duplicated()][0]}).")
    pair = pairs.loc[variants["variant_id"]]
    found = {allele: rows.get_indexer(pair[f"{allele}_record"]) for allele in ("ref", "alt")}
    absent = sorted({record for allele, positions in found.items()
                     for record in pair[f"{allele}_record"].to_numpy()[positions < 0]})
    if absent:
        raise UserError(f"{where}: has no embedding for {len(absent)} window(s) (e.g. {absent[0]}); was EMBED run "
                        f"on the {orientation} windows FASTA?")
    embeddings = np.asarray(embeddings)
    return embeddings[found["ref"]], embeddings[found["alt"]]


def embedding_scores(variants, index, orientation, ids, embeddings, where: str) -> pd.DataFrame:
    """``l1 l2 dot cosine`` per variant row from the embeddings of its reference and alternative windows."""
    ref, alt = window_embedding_pairs(variants, index, orientation, ids, embeddings, where)
    return pd.DataFrame(embedding_distances(ref, alt), index=variants.index)


def check_widths(widths) -> tuple:
    """VIS widths: even integers >= 2, ascending, no repeats."""
    widths = tuple(widths)
    if not widths or any(w < 2 or w % 2 for w in widths) or len(set(widths)) != len(widths):
        raise UserError(f"VIS widths {','.join(map(str, widths))} must be distinct even integers >= 2.")
    return tuple(sorted(widths))
