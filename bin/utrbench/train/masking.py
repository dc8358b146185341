"""Masked-language-model corruption, chosen by how a family's tokens map to nucleotides.

Every function works on whole batches at once (torch, vectorised, on the batch's device, so
masking runs on the GPU next to the model; all micro-batches of an optimiser step in one pass) and
returns the corrupted input ids and the labels (the original id where a prediction is asked for,
``-100`` elsewhere).

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
import math

import numpy as np
import torch

from utrbench.errors import UserError
from utrbench.models.base import IGNORE_INDEX


def kmer_centre_rate(rate: float, k: int) -> float:
    """Centre probability that makes a token's chance of lying in some k-span equal ``rate``."""
    return 1.0 - (1.0 - rate) ** (1.0 / k)


def _uniform(shape, generator, device):
    return torch.rand(shape, generator=generator, device=device)


class Candidates:
    """The tokens of some rows that may be selected (real and not special), looked up where needed.

    The rows lie back to back in flat arrays (a padded ``[B, T]`` batch is ``B`` rows of ``T``;
    several batches of different widths are their rows one after another), so a whole optimiser
    step's micro-batches are masked in one pass. Selection works on flat positions; most
    selectors draw positions first and look up only those, so the tokens are not scanned one by
    one more than they must be.
    """

    def __init__(self, flat_ids, flat_attention, row_lengths, special_table):
        self.flat_ids, self.flat_attention, self.special = flat_ids, flat_attention, special_table
        self.row_lengths = row_lengths
        self.row_starts = torch.cumsum(row_lengths, dim=0) - row_lengths
        self.rows, self.size = len(row_lengths), len(flat_ids)

    def at(self, positions) -> torch.Tensor:
        """Whether each flat position is a candidate."""
        return self.flat_attention[positions] & ~self.special.take(self.flat_ids[positions])

    def row_of(self, positions) -> torch.Tensor:
        """The row of each flat position."""
        return torch.searchsorted(self.row_starts, positions, right=True) - 1

    def flat(self) -> torch.Tensor:
        """``[size]`` bool: every candidate."""
        return self.flat_attention & ~self.special.take(self.flat_ids)

    def positions_of_rows(self, rows) -> torch.Tensor:
        """The flat positions of some rows, row after row."""
        lengths = self.row_lengths[rows]
        first = torch.cumsum(lengths, dim=0) - lengths
        total = int(lengths.sum())
        return torch.repeat_interleave(self.row_starts[rows] - first, lengths, output_size=total) + torch.arange(
            total, device=lengths.device)


def bernoulli_positions(size, probability, generator, device) -> torch.Tensor:
    """The ascending indices of ``range(size)`` taken independently with ``probability`` each.

    The gaps between taken indices are geometric, so this draws about ``probability * size``
    numbers instead of one per index.
    """
    if probability <= 0 or size == 0:
        return torch.zeros(0, dtype=torch.int64, device=device)
    if probability >= 1:
        return torch.arange(size, device=device)
    found, last = [], -1
    while last < size:
        expected = (size - 1 - last) * probability
        count = int(expected + 6 * math.sqrt(expected) + 16)  # rarely too few: then draw on from the last
        gaps = torch.empty(count, dtype=torch.int64, device=device).geometric_(probability, generator=generator)
        found.append(torch.cumsum(gaps, dim=0).add_(last))
        last = int(found[-1][-1])
    positions = found[0] if len(found) == 1 else torch.cat(found)
    return positions[positions < size]


def select_tokens(candidates: Candidates, generator, rate, **_):
    """Each candidate independently with probability ``rate``, and one in each row that drew none: flat positions."""
    positions = bernoulli_positions(candidates.size, rate, generator, candidates.flat_ids.device)
    return _ensure_one_per_row(positions[candidates.at(positions)], candidates, generator)


def select_kmer_spans(candidates: Candidates, generator, rate, k, **_):
    """Union of k-token windows ``[c - (k-1)//2, c + k//2]`` around centres ``c``, clipped to a row's candidates.

    A row that drew no centre gets one, so it too has a whole span to predict.
    """
    centres = select_tokens(candidates, generator, kmer_centre_rate(rate, k))
    row = candidates.row_of(centres)
    row_start = candidates.row_starts[row]
    end = torch.minimum(centres + k // 2, row_start + candidates.row_lengths[row] - 1)
    # centres ascend, so do the window ends: a window starts after the previous one's end, which
    # lists every covered position once, in order
    previous_end = torch.cat([end.new_full((1,), -1), end[:-1]])
    start = torch.maximum(torch.maximum(centres - (k - 1) // 2, row_start), previous_end + 1)
    lengths = torch.clamp(end - start + 1, min=0)
    first = torch.cumsum(lengths, dim=0) - lengths
    total = int(lengths.sum())
    positions = torch.repeat_interleave(start - first, lengths, output_size=total) + torch.arange(
        total, device=centres.device)
    return positions[candidates.at(positions)]


def _keep_without_largest(keys, drop):
    """``[R, W]`` bool: the finite keys of each row except its ``drop[r]`` largest (``-inf`` marks no key)."""
    most = int(drop.max()) if len(drop) else 0
    kept = torch.isfinite(keys)
    if most:
        largest = torch.topk(keys, most, dim=1, largest=True, sorted=True).indices
        rank = torch.arange(most, device=keys.device)[None, :]
        kept.scatter_(1, largest, ~(rank < drop[:, None]) & kept.gather(1, largest))
    return kept


def uniform_subsets(sizes, wanted, generator):
    """``wanted[r]`` distinct indices of ``range(sizes[r])`` for each row ``r``, uniformly: ``(rows, indices)``.

    Each row first takes every index independently with a probability that gives a few standard
    deviations more than it wants (geometric gaps, so about ``wanted`` draws per row), then keeps
    the ``wanted`` of those with the smallest random keys: a uniform subset of a draw that treats
    all indices alike is uniform. Rows that want more than half their indices, or (rarely) took
    fewer than they want, draw a key for every index instead.
    """
    device = sizes.device
    target = wanted + 4 * torch.sqrt(wanted.to(torch.float64)) + 4  # expected takes: short with p ~ 3e-5
    sparse = (wanted > 0) & (target <= 0.5 * sizes)
    chosen_rows, chosen = [], []
    if sparse.any():
        rows = torch.nonzero(sparse).flatten()
        row_sizes, row_wanted, probability = sizes[rows], wanted[rows], target[rows] / sizes[rows]
        draws = (target[rows] + 6 * torch.sqrt(target[rows]) + 16).to(torch.int64)  # gaps enough to pass the end
        total = int(draws.sum())

        def per_draw(values):  # a value per row, repeated for each of its draws (cheaper than indexing)
            return torch.repeat_interleave(values, draws, output_size=total)

        owner = per_draw(torch.arange(len(rows), device=device))
        uniform = _uniform(total, generator, device)  # float32: gaps are short (about 1 / probability)
        gaps = torch.floor(torch.log1p(-uniform) / per_draw(torch.log1p(-probability).float())).to(torch.int64) + 1
        ends = torch.cumsum(gaps, dim=0)
        first_draw = torch.cumsum(draws, dim=0) - draws
        before = torch.cat([ends.new_zeros(1), ends])[first_draw]  # the running sum where each row starts
        index = ends - per_draw(before) - 1  # ascending within each row
        passed_end = index[first_draw + draws - 1] >= row_sizes
        taken = torch.nonzero(index < per_draw(row_sizes)).flatten()
        owner, index = owner[taken], index[taken]
        counts = torch.bincount(owner, minlength=len(rows))
        usable = passed_end & (counts >= row_wanted)
        if not bool(usable.all()):
            keep = usable[owner]
            owner, index, counts = owner[keep], index[keep], counts * usable
        row_first = torch.cumsum(counts, dim=0) - counts
        width = int(counts.max())
        # flat cell of each taken index in a [rows, width] key matrix: row, then rank in the row
        cell = owner * width + torch.arange(len(owner), device=device) - torch.repeat_interleave(
            row_first, counts, output_size=len(owner))
        keys = torch.full((len(rows) * width,), -math.inf, dtype=torch.float32, device=device)
        keys[cell] = _uniform(len(owner), generator, device)
        kept = _keep_without_largest(keys.view(len(rows), width), counts - torch.where(usable, row_wanted, 0)
                                     ).view(-1)[cell]
        chosen_rows.append(rows[owner[kept]])
        chosen.append(index[kept])
        sparse[rows[~usable]] = False
    dense = torch.nonzero((wanted > 0) & ~sparse).flatten()
    if len(dense):
        width = int(sizes[dense].max())
        valid = torch.arange(width, device=device)[None, :] < sizes[dense][:, None]
        keys = torch.where(valid, _uniform((len(dense), width), generator, device), -math.inf)
        row, index = torch.nonzero(_keep_without_largest(keys, sizes[dense] - wanted[dense]), as_tuple=True)
        chosen_rows.append(dense[row])
        chosen.append(index)
    if not chosen:
        return torch.zeros(0, dtype=torch.int64, device=device), torch.zeros(0, dtype=torch.int64, device=device)
    return torch.cat(chosen_rows), torch.cat(chosen)


def select_positions(candidates: Candidates, generator, rate, edge_margin=0, **_):
    """Exactly ``max(1, round(rate * n))`` of each row's ``n`` candidates, away from the ends if possible.

    A uniformly random subset of that size of the candidates at least ``edge_margin`` candidates
    from either end, or of all of them when there are too few of those.
    """
    flat_candidates = torch.nonzero(candidates.flat()).flatten()  # candidates in row order
    row_offsets = torch.searchsorted(flat_candidates, candidates.row_starts)  # each row's first candidate
    counts = torch.searchsorted(flat_candidates, candidates.row_starts + candidates.row_lengths) - row_offsets
    wanted = torch.where(counts > 0, torch.clamp(torch.round(rate * counts), min=1), 0).to(torch.int64)
    inner = torch.clamp(counts - 2 * edge_margin, min=0)
    enough_inner = inner >= wanted
    first = torch.where(enough_inner, edge_margin, 0)  # first eligible candidate of each row
    rows, index = uniform_subsets(torch.where(enough_inner, inner, counts), wanted, generator)
    return flat_candidates[row_offsets[rows] + first[rows] + index]


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


def _ensure_one_per_row(positions, candidates: Candidates, generator):
    """Give a row with candidates but no selected position one random candidate, so no batch has an empty loss.

    ``positions`` (flat, ascending) stay ascending.
    """
    taken = torch.bincount(candidates.row_of(positions), minlength=candidates.rows)
    if bool(taken.all()):
        return positions
    empty = torch.nonzero(taken == 0).flatten()  # rare (short rows): look at those rows only
    inside = candidates.positions_of_rows(empty)
    keys = torch.where(candidates.at(inside), _uniform(inside.shape, generator, inside.device), 2.0)
    row = torch.repeat_interleave(torch.arange(len(empty), device=inside.device), candidates.row_lengths[empty])
    lowest = torch.full((len(empty),), 2.0, device=inside.device).scatter_reduce(0, row, keys, "amin")
    # the first position of each row holding its lowest key, in rows that have a candidate
    first = torch.full((len(empty),), candidates.size, device=inside.device).scatter_reduce(
        0, row, torch.where(keys == lowest[row], inside, candidates.size), "amin")
    extra = first[lowest < 2.0]
    return torch.sort(torch.cat([positions, extra])).values


@functools.lru_cache(maxsize=16)
def random_token_ids(tokenizer) -> np.ndarray:
    """Ids a random replacement is drawn from: everything but special and unknown tokens."""
    excluded = set(tokenizer.special_ids) | ({tokenizer.unk_id} if tokenizer.unk_id is not None else set())
    return np.array([i for i in range(tokenizer.vocab_size) if i not in excluded], dtype=np.int64)


@functools.lru_cache(maxsize=16)
def _random_token_pool(tokenizer, device) -> torch.Tensor:
    return torch.as_tensor(random_token_ids(tokenizer), device=device)


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


def _joined(tensors):
    """One flat tensor of several; a single one as it is (a large micro-batch is masked alone: no copy)."""
    return tensors[0] if len(tensors) == 1 else torch.cat(tensors)


def mask_batches(batches, tokenizer, tokenization, rng, rate=0.15, mask_token_fraction=0.8,
                 random_token_fraction=0.1, edge_margin=0):
    """Corrupt padded batches ``[(ids [B, T], attention_mask [B, T])]`` for masked-LM training, in one pass.

    Returns ``[(input_ids, labels)]``, one pair per batch. ``attention_mask`` marks real tokens;
    special tokens are never selected. The batches may differ in shape (a step's micro-batches):
    their rows are masked together, so the per-call cost is paid once. Runs on the device of the
    ids; ``rng`` is a torch Generator on that device (or a numpy Generator, which seeds one).
    """
    ids = [torch.as_tensor(batch_ids, dtype=torch.int64) for batch_ids, _ in batches]
    device = ids[0].device
    flat_ids = _joined([batch_ids.reshape(-1) for batch_ids in ids])
    flat_attention = _joined([torch.as_tensor(attention, dtype=torch.bool, device=device).reshape(-1)
                              for _, attention in batches])
    row_lengths = torch.cat([torch.full((rows,), width, dtype=torch.int64, device=device)
                             for rows, width in (batch_ids.shape for batch_ids in ids)])
    generator = as_generator(rng, device)
    candidates = Candidates(flat_ids, flat_attention, row_lengths, _special_table(tokenizer, device))
    positions = SELECTORS[tokenization](candidates, generator, rate, k=getattr(tokenizer, "k", 1),
                                        edge_margin=edge_margin)
    labels = torch.full_like(flat_ids, IGNORE_INDEX)
    labels[positions] = flat_ids[positions]
    # the 80/10/10 draw only at the selected tokens (about 15 %), not one per token
    draw = _uniform(positions.shape, generator, device)
    corrupted = flat_ids.clone()
    corrupted[positions[draw < mask_token_fraction]] = tokenizer.mask_id
    to_random = positions[(draw >= mask_token_fraction) & (draw < mask_token_fraction + random_token_fraction)]
    pool = _random_token_pool(tokenizer, device)
    corrupted[to_random] = pool[torch.randint(len(pool), to_random.shape, generator=generator, device=device)]
    sizes = [batch_ids.numel() for batch_ids in ids]
    return [(inputs.view(batch_ids.shape), batch_labels.view(batch_ids.shape)) for inputs, batch_labels, batch_ids
            in zip(corrupted.split(sizes), labels.split(sizes), ids)]


def mask_batch(ids, attention_mask, tokenizer, tokenization, rng, **recipe):
    """:func:`mask_batches` of one padded batch: ``(input_ids, labels)``."""
    return mask_batches([(ids, attention_mask)], tokenizer, tokenization, rng, **recipe)[0]
