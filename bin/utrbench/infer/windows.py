"""Overlapping windows over sequences longer than a model's context, and token-budget batches.

A window is a stretch ``[start, end)`` of a sequence that the model sees at once; of its output
only ``[keep_start, keep_end)`` is kept. Kept stretches partition the sequence and each ends in the
middle of the overlap with the next window, so every kept position has context on both sides
(pitfall 14 of reference note 01: no predictions at bare chunk edges).
"""

import contextlib
from dataclasses import dataclass

import numpy as np
import torch

from utrbench.errors import UserError


@dataclass(frozen=True)
class Window:
    """One model input: sequence ``record``, nucleotides ``[start, end)``, output kept on ``[keep_start, keep_end)``."""

    record: int
    start: int
    end: int
    keep_start: int
    keep_end: int


def plan_windows(record: int, length: int, window: int, overlap: int) -> list:
    """Windows of ``window`` nt overlapping by ``overlap`` nt; the last one is aligned to the end."""
    if length <= window:
        return [Window(record, 0, length, 0, length)]
    step = window - overlap
    starts = list(range(0, length - window, step)) + [length - window]
    # keep boundaries in the middle of each overlap: [next start, this end)
    bounds = [0] + [(starts[n + 1] + starts[n] + window) // 2 for n in range(len(starts) - 1)] + [length]
    return [Window(record, s, s + window, bounds[n], bounds[n + 1]) for n, s in enumerate(starts)]


def default_window(tokenizer, tokenization: str) -> int:
    """Longest window (nt) whose tokens always fit the context: one token per nucleotide at worst.

    Overlapping k-mers add ``k - 1`` nucleotides (n tokens cover ``n + k - 1`` nt).
    """
    specials = int((tokenizer.encode("A" * getattr(tokenizer, "k", 1)).spans[:, 0] < 0).sum())
    extra = tokenizer.k - 1 if tokenization == "overlapping_kmer" else 0
    return tokenizer.max_tokens - specials + extra


def check_window(window: int, overlap: int) -> None:
    if window < 1 or not 0 <= overlap < window:
        raise UserError(f"window {window} nt with overlap {overlap} nt: need window >= 1 and 0 <= overlap < window.")


def token_budget_batches(lengths, budget: int) -> list:
    """Index batches over items sorted by length (longest first) with ``count * longest <= budget``.

    An item longer than the budget forms a batch of its own.
    """
    order = np.argsort(-np.asarray(lengths), kind="stable")
    batches, current, longest = [], [], 0
    for index in order.tolist():
        longest_if_added = max(longest, lengths[index])
        if current and (len(current) + 1) * longest_if_added > budget:
            batches.append(current)
            current, longest_if_added = [], lengths[index]
        current.append(index)
        longest = longest_if_added
    if current:
        batches.append(current)
    return batches


def tokenize_window(tokenizer, sequence: str, window: Window, where: str):
    """Tokens of one window; UserError when they exceed the model's context."""
    tokens = tokenizer.encode(sequence[window.start:window.end])
    if len(tokens) > tokenizer.max_tokens:
        raise UserError(
            f"{where}: window {window.start}-{window.end} gives {len(tokens)} tokens, more than the model's "
            f"{tokenizer.max_tokens}; use a smaller --window."
        )
    return tokens


def check_lengths(sequences, names, tokenizer, tokenization: str) -> None:
    """Every sequence must hold at least one token's worth of nucleotides (k for overlapping k-mers)."""
    shortest = tokenizer.k if tokenization == "overlapping_kmer" else 1
    for name, sequence in zip(names, sequences):
        if len(sequence) < shortest:
            raise UserError(f"record {name}: {len(sequence)} nt is shorter than the {shortest} nt one token of this model needs.")


def autocast(device: str, precision: str):
    """bf16 autocast on CUDA when asked (``auto`` = bf16 on CUDA, fp32 on CPU); otherwise a no-op."""
    use_bf16 = precision == "bf16" or (precision == "auto" and device.startswith("cuda"))
    if use_bf16 and device.startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if use_bf16:
        raise UserError("--precision bf16 needs a CUDA device; use fp32 or auto on the CPU.")
    return contextlib.nullcontext()


def token_coverage(spans: np.ndarray):
    """``(token, position)`` pairs of every nucleotide a non-special token covers, sorted by position."""
    real = np.flatnonzero(spans[:, 0] >= 0)
    lengths = spans[real, 1] - spans[real, 0]
    tokens = np.repeat(real, lengths)
    positions = np.repeat(spans[real, 0], lengths) + (np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths))
    order = np.lexsort((tokens, positions))
    return tokens[order], positions[order]


def pad_rows(arrays, fill, device):
    """Ragged int arrays as one ``[n, longest]`` LongTensor padded with ``fill``."""
    longest = max((len(a) for a in arrays), default=0)
    out = np.full((len(arrays), max(longest, 1)), fill, dtype=np.int64)
    for row, values in enumerate(arrays):
        out[row, : len(values)] = values
    return torch.from_numpy(out).to(device)
