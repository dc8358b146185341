"""Variant-task metrics: signed ROC AUC and PR-AUC with a seeded bootstrap interval per split, model, score.

Direction (fixed here, before looking at any data; 01 pitfall 9): every score is oriented so that
a *higher* value means *functional* (label 1), and the AUC is computed on ``direction * score``.

- ``pref`` (+1): the model is confident in the reference base, the position is constrained;
- ``palt_inv``, ``pratio`` (+1): the alternative base is unlikely;
- ``VIS``, ``VIS_W`` (+1): the variant changes the predictions around it;
- ``loss_alt``, ``loss_diff`` (+1): the alternative window is surprising (``loss_ref`` likewise);
- ``phylop``, ``cadd`` (+1): conserved / deleterious;
- embedding distances ``l1``, ``l2``, ``cosine`` (the cosine distance) (+1) and the similarity
  ``dot`` (-1): the variant moves the window's embedding;
- ``mlp``/``logistic`` out-of-fold probabilities of variant_classify.py (+1).

Rows (the shared metrics format): ``task`` = variants, ``dataset`` = split, ``subset`` = ``signed``
(the AUC of the fixed direction) or ``direction_free`` (the study's max(AUC, 1 - AUC), interval
flipped with it; ROC AUC only), ``model``, ``predictor`` = score, ``metric`` = roc_auc / pr_auc.
The interval is the 2.5-97.5 % percentile range of ``n_resamples`` bootstrap resamples of the rows
(not stratified, as the study; resamples with one class are skipped). Rows with a NaN score are
dropped for that score only.

The bootstrap is vectorised: one sort per score, then every resample is a row of multinomial
weights summed per tie group, so 1,000 resamples cost a few array passes instead of 1,000 sorts.
"""

import numpy as np
import pandas as pd

from utrbench.errors import UserError
from utrbench.tasks.variants import VARIANT_COLUMNS

TASK = "variants"
DIRECTIONS = {"pref": 1, "palt_inv": 1, "pratio": 1, "VIS": 1, "loss_ref": 1, "loss_alt": 1, "loss_diff": 1,
              "phylop": 1, "cadd": 1, "l1": 1, "l2": 1, "cosine": 1, "dot": -1, "mlp": 1, "logistic": 1}
SUPERVISED = ("mlp", "logistic")  # out-of-fold predictions of variant_classify.py, not zero-shot scores
LEVEL = 0.95


def direction(score: str) -> int:
    """The fixed direction of a score column (``VIS_<W>`` as ``VIS``)."""
    key = "VIS" if score.startswith("VIS_") else score
    if key not in DIRECTIONS:
        raise UserError(f"score column {score!r} has no documented direction; known: {', '.join(DIRECTIONS)}, VIS_<W>.")
    return DIRECTIONS[key]


def _tie_groups(scores):
    """Order by ascending score and the start of each run of equal scores."""
    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    starts = np.flatnonzero(np.concatenate([[True], sorted_scores[1:] != sorted_scores[:-1]]))
    return order, starts


def weighted_roc_auc(labels, scores, weights) -> np.ndarray:
    """ROC AUC (ties count one half) for each row of ``weights`` [B, n] (row = one resample)."""
    order, starts = _tie_groups(scores)
    positive = labels[order].astype(bool)
    w = weights[:, order]
    pos = np.add.reduceat(np.where(positive, w, 0), starts, axis=1)
    neg = np.add.reduceat(np.where(positive, 0, w), starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    total_pos, total_neg = pos.sum(axis=1), neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (pos * (below + 0.5 * neg)).sum(axis=1) / (total_pos * total_neg)


def weighted_average_precision(labels, scores, weights) -> np.ndarray:
    """Average precision (sklearn's step definition, tied scores one threshold) per weight row."""
    order, starts = _tie_groups(-scores)
    positive = labels[order].astype(bool)
    w = weights[:, order]
    pos = np.add.reduceat(np.where(positive, w, 0), starts, axis=1)
    every = np.add.reduceat(w, starts, axis=1)
    true_positives, predicted = np.cumsum(pos, axis=1), np.cumsum(every, axis=1)
    total_pos = true_positives[:, -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, true_positives / predicted, 0.0)
        return (precision * pos).sum(axis=1) / total_pos[:, 0]


def bootstrap_weights(n: int, n_resamples: int, seed: int) -> np.ndarray:
    """Multinomial counts [B, n] of resampling ``n`` rows with replacement, seeded."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_resamples).astype(np.float64)


def score_metrics(labels, scores, sign: int, n_resamples: int, seed: int) -> dict:
    """``{metric: (value, ci_low, ci_high, n)}`` for ROC AUC and PR-AUC of ``sign * scores``."""
    keep = np.isfinite(scores)
    labels, scores = labels[keep].astype(int), sign * scores[keep].astype(np.float64)
    n = len(labels)
    if n == 0 or labels.min() == labels.max():
        return {}
    ones = np.ones((1, n))
    weights = bootstrap_weights(n, n_resamples, seed)
    # resamples drawing a single class have no AUC
    positives = weights[:, labels == 1].sum(axis=1)
    weights = weights[(positives > 0) & (positives < n)]
    out = {}
    for metric, function in (("roc_auc", weighted_roc_auc), ("pr_auc", weighted_average_precision)):
        value = float(function(labels, scores, ones)[0])
        resampled = function(labels, scores, weights)
        low, high = np.quantile(resampled, [(1 - LEVEL) / 2, (1 + LEVEL) / 2]) if len(resampled) else (np.nan, np.nan)
        out[metric] = (value, float(low), float(high), n)
    return out


def score_columns(table: pd.DataFrame, fixed_columns) -> list:
    return [c for c in table.columns if c not in fixed_columns]


def join_score_tables(first: pd.DataFrame, second: pd.DataFrame, model: str, where: str) -> pd.DataFrame:
    """One model's score columns from two tables of the same variant rows (zero-shot scores, classifier)."""
    shared = sorted(set(score_columns(first, [*VARIANT_COLUMNS, "model"])) & set(second.columns))
    if shared:
        raise UserError(f"{where}: score column(s) {', '.join(shared)} of model {model} are in another file too.")
    keys = ["variant_id", "split"]
    if first.duplicated(keys).any() or second.duplicated(keys).any() or \
            not first[keys].sort_values(keys).reset_index(drop=True).equals(second[keys].sort_values(keys).reset_index(drop=True)):
        raise UserError(f"{where}: its variant rows (variant_id, split) differ from the other table of model {model}.")
    added = second.drop(columns=[c for c in second.columns if c in first.columns and c not in keys])
    return first.merge(added, on=keys, how="left", validate="one_to_one")


def metric_rows(table: pd.DataFrame, model: str, scores, n_resamples=1000, seed=1) -> list:
    """Metrics rows of one model's scores table for every split and score."""
    rows = []
    for split, part in table.groupby("split", sort=True):
        labels = part["label"].to_numpy()
        for score in scores:
            sign = direction(score)
            results = score_metrics(labels, part[score].to_numpy(dtype=np.float64), sign, n_resamples, seed)
            for metric, (value, low, high, n) in results.items():
                rows.append((TASK, split, "signed", model, score, metric, value, low, high, n))
                if metric == "roc_auc":
                    flipped = value < 0.5
                    rows.append((TASK, split, "direction_free", model, score, metric,
                                 1 - value if flipped else value, 1 - high if flipped else low,
                                 1 - low if flipped else high, n))
    return rows
