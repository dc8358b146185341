"""Overlapping windows over sequences longer than a model's context, and token-budget batches.

A window is a stretch ``[start, end)`` of a sequence that the model sees at once; of its output
only ``[keep_start, keep_end)`` is kept. Kept stretches partition the sequence and each ends in the
middle of the overlap with the next window, so every kept position has context on both sides
(pitfall 14 of reference note 01: no predictions at bare chunk edges).

A sequence is tokenized once; a window's tokens are the sequence's tokens that lie inside it (for
overlapping k-mers, nucleotides and greedy 6-mers cut at a token boundary this is the window's own
tokenization). By default a window is the model's context *in tokens* (``max_tokens`` less the
special tokens), overlapping the next by a quarter of it, so its length in nucleotides follows the
tokenizer's real nucleotides per token on that sequence (about 5 nt per DNABERT-2 token, 6 per
NT 6-mer). A window given in nucleotides (``--window``, ``--overlap``) is used as given.
"""

import contextlib
from dataclasses import dataclass

import numpy as np
import torch

from utrbench.errors import UserError
from utrbench.models.base import TokenizedSequence


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
    starts = list(range(0, length - window, window - overlap)) + [length - window]
    return _with_kept_parts(record, starts, [s + window for s in starts], length)


def _with_kept_parts(record, starts, ends, length) -> list:
    # keep boundaries in the middle of each overlap: [next start, this end)
    bounds = [0] + [(starts[n + 1] + ends[n]) // 2 for n in range(len(starts) - 1)] + [length]
    return [Window(record, s, e, bounds[n], bounds[n + 1]) for n, (s, e) in enumerate(zip(starts, ends))]


def plan_token_windows(record: int, spans: np.ndarray, length: int, context: int) -> list:
    """Windows of ``context`` consecutive tokens (``spans`` of the real tokens, in order)
    overlapping by ``context // 4`` tokens; the last one is aligned to the end."""
    if len(spans) <= context:
        return [Window(record, 0, length, 0, length)]
    first_tokens = list(range(0, len(spans) - context, context - context // 4)) + [len(spans) - context]
    return _with_kept_parts(record, [int(spans[t, 0]) for t in first_tokens],
                            [int(spans[t + context - 1, 1]) for t in first_tokens], length)


def sequence_windows(tokenizer, record: int, sequence: str, window=None, overlap=None, where="") -> list:
    """``(Window, TokenizedSequence)`` of every window of one sequence (see the module docstring).

    ``window``/``overlap`` in nt, or ``None``: the model's context in tokens. A window's tokens are
    the special tokens of the sequence's tokenization around the real tokens inside the window,
    with spans relative to the window start.
    """
    tokenized = tokenizer.encode(sequence)
    real = np.flatnonzero(tokenized.spans[:, 0] >= 0)
    leading, trailing = tokenized.ids[: real[0]], tokenized.ids[real[-1] + 1:]
    ids, spans = tokenized.ids[real], tokenized.spans[real]
    context = tokenizer.max_tokens - len(leading) - len(trailing)
    if window is None:
        windows = plan_token_windows(record, spans, len(sequence), context)
    else:
        windows = plan_windows(record, len(sequence), window, overlap)
    result = []
    for window_ in windows:
        first = int(np.searchsorted(spans[:, 0], window_.start))
        stop = int(np.searchsorted(spans[:, 1], window_.end, side="right"))
        if stop - first > context:
            raise UserError(f"{where}: window {window_.start}-{window_.end} gives {stop - first} tokens, more than the "
                            f"model's {context}; use a smaller --window.")
        if stop <= first or spans[first, 0] > window_.keep_start or spans[stop - 1, 1] < window_.keep_end:
            raise UserError(f"{where}: window {window_.start}-{window_.end} leaves kept nucleotides without a token "
                            "(tokens longer than half the overlap); use a larger --overlap.")
        window_spans = np.concatenate([np.full((len(leading), 2), -1), spans[first:stop] - window_.start,
                                       np.full((len(trailing), 2), -1)])
        result.append((window_, TokenizedSequence(np.concatenate([leading, ids[first:stop], trailing]), window_spans)))
    return result


def window_settings(window, overlap) -> tuple:
    """``(window, overlap)`` in nt as the engines use them: an explicit window overlaps by a quarter by
    default; no window means the model's context in tokens (then an overlap alone is an error)."""
    if window is None:
        if overlap is not None:
            raise UserError("--overlap needs --window: the default window overlaps by a quarter of the context.")
        return None, None
    overlap = window // 4 if overlap is None else overlap
    if window < 1 or not 0 <= overlap < window:
        raise UserError(f"window {window} nt with overlap {overlap} nt: need window >= 1 and 0 <= overlap < window.")
    return window, overlap


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
