"""Fig S2: how closely a model's per-nucleotide probabilities follow the alignment's column frequencies.

Pearson r between a model's [L, 4] probability matrices and Zoo-AL's, flattened over every UTR both
files hold, in one streaming pass of running sums (memory flat in the number of UTRs). Rows are
renormalised over ACGT first (reference 05, pitfall R7: the study correlated unnormalised rows).
The 95 % interval is Fisher's, as ``scipy.stats.pearsonr(...).confidence_interval``.
"""

import numpy as np

from utrbench.errors import UserError


def _renormalised(block):
    block = np.asarray(block, dtype=np.float64)
    total = block.sum(axis=1, keepdims=True)
    return np.divide(block, total, out=np.zeros_like(block), where=total > 0)


def probability_agreement(model_probs: dict, alignment_probs: dict, where: str = "") -> tuple:
    """``(r, ci_low, ci_high, n)`` over the flattened probabilities of the UTRs both dicts hold."""
    sums = np.zeros(5)  # x, y, xx, yy, xy
    n = 0
    for utr in sorted(set(model_probs) & set(alignment_probs)):
        x, y = _renormalised(model_probs[utr]), _renormalised(alignment_probs[utr])
        if x.shape != y.shape:
            raise UserError(f"{where}: {utr} has {len(x)} positions in the model's probabilities and {len(y)} in "
                            "the alignment's; they come from different FASTA files.")
        x, y = x.ravel(), y.ravel()
        sums += [x.sum(), y.sum(), x @ x, y @ y, x @ y]
        n += len(x)
    if n < 4:
        raise UserError(f"{where}: fewer than 4 shared probabilities between the model and the alignment.")
    sx, sy, sxx, syy, sxy = sums
    r = (n * sxy - sx * sy) / np.sqrt((n * sxx - sx * sx) * (n * syy - sy * sy))
    half = 1.959963984540054 / np.sqrt(n - 3)
    z = np.arctanh(np.clip(r, -1 + 1e-15, 1 - 1e-15))
    return float(r), float(np.tanh(z - half)), float(np.tanh(z + half)), n
