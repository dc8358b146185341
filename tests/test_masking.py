"""Masking statistics against the recipe: fraction, k-mer span alignment, 80/10/10, edges."""

import numpy as np
import pytest

from utrbench.errors import UserError
from utrbench.models import families, init_model
from utrbench.models.base import IGNORE_INDEX
from utrbench.train import masking
from utrbench.train.masking import check_trainable, kmer_centre_rate, random_token_ids


def tokenizer_of(tokenization):
    name = next(n for n, f in families().items() if f.tokenization == tokenization)
    return init_model(name, "tiny").tokenizer


def batch(tokenizer, rows, length, seed=0):
    rng = np.random.default_rng(seed)
    rows = [tokenizer.encode("".join(rng.choice(list("ACGT"), length))).ids for _ in range(rows)]
    ids = np.full((len(rows), max(map(len, rows))), tokenizer.pad_id, dtype=np.int64)
    attention = np.zeros(ids.shape, dtype=bool)
    for row, row_ids in enumerate(rows):
        ids[row, :len(row_ids)], attention[row, :len(row_ids)] = row_ids, True
    return ids, attention


def mask_batch(*args, **kwargs):
    """The masking under test (torch, on the CPU here), as numpy arrays."""
    return tuple(tensor.numpy() for tensor in masking.mask_batch(*args, **kwargs))


def sigma(p, n):
    return np.sqrt(p * (1 - p) / n)


def test_kmer_centre_rate_gives_target_fraction():
    # DNABERT's own recipe: centre rate 0.025 for ~15 % of 6-mer tokens; 0.15 as centre rate masks ~62 %
    assert kmer_centre_rate(0.15, 6) == pytest.approx(0.02672, abs=1e-5)
    assert 1 - (1 - 0.15) ** 6 == pytest.approx(0.6229, abs=1e-4)


def test_overlapping_kmer_spans_fraction_and_alignment():
    tokenizer = tokenizer_of("overlapping_kmer")
    k = tokenizer.k
    ids, attention = batch(tokenizer, 200, 300)
    inputs, labels = mask_batch(ids, attention, tokenizer, "overlapping_kmer", np.random.default_rng(1))
    selected = labels != IGNORE_INDEX
    content = ~np.isin(ids, tokenizer.special_ids)
    assert not (selected & ~content).any()
    # exact expectation per position: 1 - (1 - p)^(number of content centres whose span covers it)
    p = kmer_centre_rate(0.15, k)
    n_content = content.sum(axis=1)[0]
    position = np.arange(n_content)
    covering = np.minimum(position + k // 2, n_content - 1) - np.maximum(position - (k - 1) // 2, 0) + 1
    expected = (1 - (1 - p) ** covering).mean()
    observed = selected[content].mean()
    assert abs(observed - expected) < 4 * sigma(0.15, content.sum() / k)
    assert abs(expected - 0.15) < 0.005
    # every run of masked content tokens that does not touch an end is at least k tokens long
    for row in selected[:, 1:-1]:
        edges = np.flatnonzero(np.diff(np.concatenate([[0], row.astype(int), [0]])))
        for start, end in zip(edges[::2], edges[1::2]):
            if start > 0 and end < len(row):
                assert end - start >= k


@pytest.mark.parametrize("tokenization", ["greedy_kmer", "bpe"])
def test_token_masking_fraction_and_80_10_10(tokenization):
    tokenizer = tokenizer_of(tokenization)
    ids, attention = batch(tokenizer, 400, 240)
    attention[:50, -20:] = False  # padded tails are never selected
    inputs, labels = mask_batch(ids, attention, tokenizer, tokenization, np.random.default_rng(2))
    selected = labels != IGNORE_INDEX
    candidates = attention & ~np.isin(ids, tokenizer.special_ids)
    assert not (selected & ~candidates).any()
    assert abs(selected[candidates].mean() - 0.15) < 4 * sigma(0.15, candidates.sum())
    assert (labels[selected] == ids[selected]).all()
    n = selected.sum()
    masked = inputs[selected] == tokenizer.mask_id
    unchanged = inputs[selected] == ids[selected]
    assert abs(masked.mean() - 0.8) < 4 * sigma(0.8, n)
    # a random replacement equals the original with probability 1/len(pool); correct for it
    pool = random_token_ids(tokenizer)
    assert abs(unchanged.mean() - (0.1 + 0.1 / len(pool))) < 4 * sigma(0.1, n)
    replaced = inputs[selected & (inputs != tokenizer.mask_id)]
    assert np.isin(replaced, pool).all()
    assert (inputs[~selected] == ids[~selected]).all()


def test_nucleotide_positions_exact_count_and_edges():
    tokenizer = tokenizer_of("nucleotide")
    ids, attention = batch(tokenizer, 300, 200)
    attention[0, 150:] = False
    inputs, labels = mask_batch(ids, attention, tokenizer, "nucleotide", np.random.default_rng(3), edge_margin=30)
    selected = labels != IGNORE_INDEX
    assert selected[1:].sum(axis=1).tolist() == [30] * 299  # exactly 15 % of 200
    assert selected[0].sum() == round(0.15 * 150)
    assert not selected[:, :30].any() and not selected[1:, 170:].any() and not selected[0, 120:].any()
    n = selected.sum()
    assert abs((inputs[selected] == tokenizer.mask_id).mean() - 0.8) < 4 * sigma(0.8, n)
    # short sequences that cannot keep the margin still get their positions
    short_ids, short_attention = batch(tokenizer, 4, 40)
    _, short_labels = mask_batch(short_ids, short_attention, tokenizer, "nucleotide", np.random.default_rng(4), edge_margin=30)
    assert ((short_labels != IGNORE_INDEX).sum(axis=1) == 6).all()


def test_every_row_gets_a_masked_token():
    tokenizer = tokenizer_of("greedy_kmer")
    ids, attention = batch(tokenizer, 50, 6)  # one 6-mer token per row
    _, labels = mask_batch(ids, attention, tokenizer, "greedy_kmer", np.random.default_rng(5))
    assert ((labels != IGNORE_INDEX).sum(axis=1) == 1).all()


def test_spectrum_family_is_not_trainable():
    with pytest.raises(UserError, match="no learned weights"):
        check_trainable("spectrum", "kmer")


def test_uniform_subsets_exact_distinct_and_uniform():
    import torch

    # 1000-index rows take the geometric-gap path, 40-index rows wanting 30 the all-keys path
    sizes = torch.tensor([1000] * 400 + [40] * 200 + [5, 7])
    wanted = torch.tensor([150] * 400 + [30] * 200 + [5, 0])
    rows, indices = masking.uniform_subsets(sizes, wanted, torch.Generator().manual_seed(6))
    chosen = np.zeros((len(sizes), 1000), dtype=int)
    np.add.at(chosen, (rows.numpy(), indices.numpy()), 1)
    assert chosen.max() == 1 and (chosen.sum(axis=1) == wanted.numpy()).all()  # distinct, exactly as many
    assert not chosen[400:, 40:].any() and not chosen[600:, 5:].any()  # within each row's range
    for block, size, rate in [(slice(0, 400), 1000, 0.15), (slice(400, 600), 40, 0.75)]:
        # every index equally likely (a bias to early or late indices inflates the variance)
        counts = chosen[block, :size].sum(axis=0)
        n = block.stop - block.start
        z = (counts - n * rate) / np.sqrt(n * rate * (1 - rate))
        assert 0.7 < z.var() < 1.3 and abs(z).max() < 5


@pytest.mark.parametrize("tokenization", ["overlapping_kmer", "greedy_kmer", "bpe", "nucleotide"])
def test_batches_masked_in_one_pass(tokenization):
    """A step's micro-batches masked together: batches of one width give what their stack gives, and
    batches of other widths keep each row's own rules (spans and exact counts do not cross rows)."""
    import torch

    tokenizer = tokenizer_of(tokenization)
    first, second = batch(tokenizer, 30, 120, seed=1), batch(tokenizer, 20, 120, seed=2)
    together = masking.mask_batches([first, second], tokenizer, tokenization, torch.Generator().manual_seed(7))
    stacked = masking.mask_batch(np.concatenate([first[0], second[0]]), np.concatenate([first[1], second[1]]),
                                 tokenizer, tokenization, torch.Generator().manual_seed(7))
    for number, part in enumerate((slice(0, 30), slice(30, 50))):
        assert torch.equal(together[number][0], stacked[0][part])
        assert torch.equal(together[number][1], stacked[1][part])

    narrow, wide = batch(tokenizer, 40, 60, seed=3), batch(tokenizer, 10, 400, seed=4)
    masked = masking.mask_batches([narrow, wide], tokenizer, tokenization, torch.Generator().manual_seed(8))
    for (ids, attention), (inputs, labels) in zip([narrow, wide], masked):
        assert inputs.shape == ids.shape and labels.shape == ids.shape
        selected = labels.numpy() != IGNORE_INDEX
        candidates = attention & ~np.isin(ids, tokenizer.special_ids)
        assert not (selected & ~candidates).any() and selected.any(axis=1).all()
        assert (labels.numpy()[selected] == ids[selected]).all()
        if tokenization == "nucleotide":
            assert (selected.sum(axis=1) == np.round(0.15 * candidates.sum(axis=1))).all()
        if tokenization == "overlapping_kmer":  # spans are clipped by their own row's ends only
            for row in selected:
                edges = np.flatnonzero(np.diff(np.concatenate([[0], row[1:-1].astype(int), [0]])))
                for start, end in zip(edges[::2], edges[1::2]):
                    if start > 0 and end < len(row) - 2:
                        assert end - start >= tokenizer.k
