"""Masked-language-model corruption, chosen by how a family's tokens map to nucleotides.

Every function works on a padded batch at once (numpy, vectorised) and returns the corrupted
input ids and the labels (the original id where a prediction is asked for, ``-100`` elsewhere).

- ``overlapping_kmer``: whole k-token spans. Neighbouring overlapping k-mers share k - 1 letters,
  so a lone masked token is trivially recovered from its neighbours; DNABERT masks k consecutive
  tokens around sampled centres (offsets ``-((k-1)//2) … k//2``, i.e. -2 … +3 for 6-mers). Centres are drawn at rate
  ``1 - (1 - rate)**(1/k)`` so the *masked fraction* is ``rate`` (away from the ends) - the
  study's code used ``rate`` as the centre rate and masked about 62 % of tokens.
- ``greedy_kmer`` and ``bpe``: each real token independently with probability ``rate``.
- ``nucleotide``: exactly ``round(rate * length)`` positions per sequence, none within
  ``edge_margin`` of either end when the sequence is long enough (the state-space recipe).

The selected tokens are then replaced by the mask id (``mask_token_fraction``), by a random
non-special token (``random_token_fraction``) or kept, independently per token (80/10/10).
"""

import numpy as np

from utrbench.errors import UserError
from utrbench.models.base import IGNORE_INDEX


def kmer_centre_rate(rate: float, k: int) -> float:
    """Centre probability that makes a token's chance of lying in some k-span equal ``rate``."""
    return 1.0 - (1.0 - rate) ** (1.0 / k)


def select_tokens(candidates, rng, rate, **_):
    """Each candidate independently with probability ``rate``."""
    return candidates & (rng.random(candidates.shape) < rate)


def select_kmer_spans(candidates, rng, rate, k, **_):
    """Union of k-token windows ``[c - (k-1)//2, c + k//2]`` around centres ``c``, clipped to candidates."""
    centres = candidates & (rng.random(candidates.shape) < kmer_centre_rate(rate, k))
    # token t is masked when a centre lies in [t - k//2, t + (k-1)//2]: a windowed sum of centres
    before, after = k // 2, (k - 1) // 2
    padded = np.pad(centres.astype(np.int32), ((0, 0), (before + 1, after)))
    cumulative = np.cumsum(padded, axis=1)
    width = candidates.shape[1]
    covering = cumulative[:, k:k + width] - cumulative[:, :width]
    return candidates & (covering > 0)


def select_positions(candidates, rng, rate, edge_margin=0, **_):
    """Exactly ``max(1, round(rate * n))`` of each row's ``n`` candidates, away from the ends if possible."""
    counts = candidates.sum(axis=1)
    wanted = np.where(counts > 0, np.maximum(1, np.rint(rate * counts)), 0).astype(np.int64)
    index = np.cumsum(candidates, axis=1) - 1  # position among the row's candidates
    inner = candidates & (index >= edge_margin) & (index < (counts - edge_margin)[:, None])
    enough_inner = inner.sum(axis=1) >= wanted
    eligible = np.where(enough_inner[:, None], inner, candidates)
    keys = np.where(eligible, rng.random(candidates.shape), 2.0)
    ranks = np.argsort(np.argsort(keys, axis=1, kind="stable"), axis=1, kind="stable")
    return ranks < wanted[:, None]


SELECTORS = {
    "overlapping_kmer": select_kmer_spans,
    "greedy_kmer": select_tokens,
    "bpe": select_tokens,
    "nucleotide": select_positions,
}


def check_trainable(tokenization: str, family_name: str) -> None:
    """A family whose tokens cannot be masked (the k-mer spectrum baseline) cannot be pretrained."""
    if tokenization not in SELECTORS:
        raise UserError(
            f"model family {family_name!r} has no learned weights to pretrain (tokenization {tokenization!r}); "
            f"pretrain one of the families with tokenization {', '.join(SELECTORS)}."
        )


def _ensure_one_per_row(selected, candidates, rng):
    """Give a row with candidates but no selection one random candidate, so no batch has an empty loss."""
    empty = candidates.any(axis=1) & ~selected.any(axis=1)
    if empty.any():
        keys = np.where(candidates[empty], rng.random(candidates[empty].shape), 2.0)
        rows = np.flatnonzero(empty)
        selected[rows, keys.argmin(axis=1)] = True
    return selected


def random_token_ids(tokenizer) -> np.ndarray:
    """Ids a random replacement is drawn from: everything but special and unknown tokens."""
    excluded = set(tokenizer.special_ids) | ({tokenizer.unk_id} if tokenizer.unk_id is not None else set())
    return np.array([i for i in range(tokenizer.vocab_size) if i not in excluded], dtype=np.int64)


def mask_batch(ids, attention_mask, tokenizer, tokenization, rng, rate=0.15, mask_token_fraction=0.8,
               random_token_fraction=0.1, edge_margin=0):
    """Corrupt a padded batch ``ids [B, T]`` for masked-LM training; returns ``(input_ids, labels)``.

    ``attention_mask [B, T]`` marks real tokens; special tokens are never selected.
    """
    ids = np.asarray(ids, dtype=np.int64)
    candidates = np.asarray(attention_mask, dtype=bool) & ~np.isin(ids, tokenizer.special_ids)
    selected = SELECTORS[tokenization](candidates, rng, rate, k=getattr(tokenizer, "k", 1), edge_margin=edge_margin)
    selected = _ensure_one_per_row(selected, candidates, rng)
    labels = np.where(selected, ids, IGNORE_INDEX)
    draw = rng.random(ids.shape)
    to_mask = selected & (draw < mask_token_fraction)
    to_random = selected & (draw >= mask_token_fraction) & (draw < mask_token_fraction + random_token_fraction)
    replacements = rng.choice(random_token_ids(tokenizer), size=ids.shape)
    corrupted = np.where(to_mask, tokenizer.mask_id, np.where(to_random, replacements, ids))
    return corrupted, labels
