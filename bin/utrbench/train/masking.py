"""Masked-language-model corruption, chosen by how a family's tokens map to nucleotides.

Every function works on a padded batch at once (torch, vectorised, on the batch's device, so
masking runs on the GPU next to the model) and returns the corrupted input ids and the labels (the
original id where a prediction is asked for, ``-100`` elsewhere).

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

import functools

import numpy as np
import torch

from utrbench.errors import UserError
from utrbench.models.base import IGNORE_INDEX


def kmer_centre_rate(rate: float, k: int) -> float:
    """Centre probability that makes a token's chance of lying in some k-span equal ``rate``."""
    return 1.0 - (1.0 - rate) ** (1.0 / k)


def _uniform(shape, generator, device):
    return torch.rand(shape, generator=generator, device=device)


def select_tokens(candidates, generator, rate, **_):
    """Each candidate independently with probability ``rate``."""
    return candidates & (_uniform(candidates.shape, generator, candidates.device) < rate)


def select_kmer_spans(candidates, generator, rate, k, **_):
    """Union of k-token windows ``[c - (k-1)//2, c + k//2]`` around centres ``c``, clipped to candidates."""
    centres = candidates & (_uniform(candidates.shape, generator, candidates.device) < kmer_centre_rate(rate, k))
    # token t is masked when a centre lies in [t - k//2, t + (k-1)//2]: a windowed sum of centres
    before, after = k // 2, (k - 1) // 2
    padded = torch.nn.functional.pad(centres.to(torch.int32), (before + 1, after))
    cumulative = torch.cumsum(padded, dim=1)
    width = candidates.shape[1]
    covering = cumulative[:, k:k + width] - cumulative[:, :width]
    return candidates & (covering > 0)


def select_positions(candidates, generator, rate, edge_margin=0, **_):
    """Exactly ``max(1, round(rate * n))`` of each row's ``n`` candidates, away from the ends if possible.

    The chosen positions are the ``wanted`` smallest of uniform keys over the eligible ones: a
    uniformly random subset of that size.
    """
    counts = candidates.sum(dim=1)
    wanted = torch.where(counts > 0, torch.clamp(torch.round(rate * counts), min=1), 0).to(torch.int64)
    index = torch.cumsum(candidates, dim=1) - 1  # position among the row's candidates
    inner = candidates & (index >= edge_margin) & (index < (counts - edge_margin)[:, None])
    enough_inner = inner.sum(dim=1) >= wanted
    eligible = torch.where(enough_inner[:, None], inner, candidates)
    keys = torch.where(eligible, _uniform(candidates.shape, generator, candidates.device), 2.0)
    most = int(wanted.max()) if len(wanted) else 0
    if most == 0:
        return torch.zeros_like(candidates)
    # the `most` smallest keys per row (a partial selection, cheaper than sorting all); rows that want
    # fewer (shorter rows) sort just those to keep their smallest `wanted`
    smallest = torch.topk(keys, most, dim=1, largest=False, sorted=False).indices
    fewer = torch.nonzero(wanted < most).flatten()
    if len(fewer):
        order = torch.argsort(keys[fewer].gather(1, smallest[fewer]), dim=1)
        smallest[fewer] = smallest[fewer].gather(1, order)
    rank = torch.arange(most, device=candidates.device)[None, :]
    selected = torch.zeros_like(candidates)
    selected.scatter_(1, smallest, rank < wanted[:, None])
    return selected


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


def _ensure_one_per_row(selected, candidates, generator):
    """Give a row with candidates but no selection one random candidate, so no batch has an empty loss."""
    empty = torch.nonzero(candidates.any(dim=1) & ~selected.any(dim=1)).flatten()
    if len(empty):  # rare (short rows): draw keys for those rows only
        keys = torch.where(candidates[empty], _uniform((len(empty), candidates.shape[1]), generator, candidates.device), 2.0)
        selected[empty, keys.argmin(dim=1)] = True
    return selected


@functools.lru_cache(maxsize=16)
def random_token_ids(tokenizer) -> np.ndarray:
    """Ids a random replacement is drawn from: everything but special and unknown tokens."""
    excluded = set(tokenizer.special_ids) | ({tokenizer.unk_id} if tokenizer.unk_id is not None else set())
    return np.array([i for i in range(tokenizer.vocab_size) if i not in excluded], dtype=np.int64)


@functools.lru_cache(maxsize=16)
def _special_table(tokenizer, device) -> torch.Tensor:
    """``table[id]`` is True for special token ids (a lookup is cheaper than ``isin`` on large batches)."""
    table = torch.zeros(tokenizer.vocab_size, dtype=torch.bool)
    table[list(tokenizer.special_ids)] = True
    return table.to(device)


def as_generator(rng, device) -> torch.Generator:
    """A torch generator on ``device``: ``rng`` itself, or one seeded from a numpy Generator."""
    if isinstance(rng, torch.Generator):
        return rng
    return torch.Generator(device=device).manual_seed(int(rng.integers(2**63 - 1)))


def mask_batch(ids, attention_mask, tokenizer, tokenization, rng, rate=0.15, mask_token_fraction=0.8,
               random_token_fraction=0.1, edge_margin=0):
    """Corrupt a padded batch ``ids [B, T]`` for masked-LM training; returns ``(input_ids, labels)`` tensors.

    ``attention_mask [B, T]`` marks real tokens; special tokens are never selected. Runs on the
    device of ``ids`` (tensors, or arrays taken as CPU tensors); ``rng`` is a torch Generator on
    that device (or a numpy Generator, which seeds one).
    """
    ids = torch.as_tensor(ids, dtype=torch.int64)
    device = ids.device
    attention_mask = torch.as_tensor(attention_mask, dtype=torch.bool, device=device)
    generator = as_generator(rng, device)
    candidates = attention_mask & ~_special_table(tokenizer, device)[ids]
    selected = SELECTORS[tokenization](candidates, generator, rate, k=getattr(tokenizer, "k", 1),
                                       edge_margin=edge_margin)
    selected = _ensure_one_per_row(selected, candidates, generator)
    labels = torch.where(selected, ids, IGNORE_INDEX)
    # the 80/10/10 draw only at the selected tokens (about 15 %), not one per token
    rows, columns = torch.nonzero(selected, as_tuple=True)
    draw = _uniform(rows.shape, generator, device)
    corrupted = ids.clone()
    to_mask = draw < mask_token_fraction
    corrupted[rows[to_mask], columns[to_mask]] = tokenizer.mask_id
    to_random = (draw >= mask_token_fraction) & (draw < mask_token_fraction + random_token_fraction)
    pool = torch.as_tensor(random_token_ids(tokenizer), device=device)
    n_random = int(to_random.sum())
    corrupted[rows[to_random], columns[to_random]] = pool[torch.randint(len(pool), (n_random,), generator=generator,
                                                                        device=device)]
    return corrupted, labels
