"""Per-nucleotide A/C/G/T probabilities from a masked language model (zero-shot).

One method for every tokenizer, driven by the nucleotide span of each token (reference note 03 §3):

- To predict nucleotide i, mask every token whose span covers i: the k overlapping k-mers of
  DNABERT, the one 6-mer or single letter of NT, the one BPE token of DNABERT-2, the one base of a
  nucleotide model. A *masked copy* of a window masks the tokens of a group of target nucleotides.
- At a masked token t of span length m, the LM head's logits are restricted to the vocabulary
  tokens made of m letters A/C/G/T (4**k k-mers; the four single letters; for BPE the tokens of
  the same length m) and soft-maxed there; the probability of base b at offset j of t is the
  total probability of those tokens with letter b at j. This is the published k-mer
  marginalisation, and for BPE it is our own method (no published one): a masked BPE token is
  assumed to keep its length, and each of its letters is read as a marginal over the
  same-length tokens. Each marginal sums to 1 by construction.
- Readout ``middle`` (default, the study's estimator: Vilov & Heinig read offset 3 of token
  i - 3 for 6-mers) reads only the covering token whose offset is nearest ``m // 2``; ``mean``
  (ours, after SpeciesLM) averages the marginals of all masked tokens covering i, each at its own
  offset, and renormalises. For tokenizers with one token per position the two are the same.

Strategies (which nucleotides share a masked copy):

- ``exact``: one target nucleotide per copy (copies masking the same tokens are merged, so NT
  needs one copy per token, not per nucleotide);
- ``strided:S``: exact's copies of a window, in order, dealt round robin into S copies: copy c
  merges exact copies c, c + S, c + 2S, ... So a nucleotide model or DNABERT's k-mers (one exact
  copy per position) mask every S-th nucleotide, NT and DNABERT-2 every S-th token: S copies per
  window, each masking about 1/S of its targets; with S >= exact's copy count it equals ``exact``;
- ``unmasked``: one pass without masking, every token read as is (biased to the reference letter).

Streaming and efficiency (note 03 §6): records are scored one block at a time
(:mod:`utrbench.infer.shards`); a block's windows are sorted by length and their masked copies
cut into token-budget batches by counting copies per window, never listing them. A window's
*copy table* (which tokens each copy masks, which (token, offset) each copy reads into which
output row) is numpy index arithmetic, made when the window's first copy enters a batch and
dropped after its last. Copies are built on the device from one row of ids per window (index
select, then the mask id where the copy's mask is set); the LM head runs only at the tokens read,
and the marginals are one matrix product per token length.
"""

import functools
import time
from dataclasses import dataclass

import numpy as np
import torch

from utrbench.errors import UserError
from utrbench.infer.windows import (
    autocast,
    check_lengths,
    sequence_windows,
    token_coverage,
    window_settings,
)
from utrbench.progress import SILENT
from utrbench.seq import reverse_complement

BASES = "ACGT"
# Reversing rows and taking columns in this order maps ACGT probabilities to the other strand.
COMPLEMENT_COLUMNS = [3, 2, 1, 0]
READOUTS = ("middle", "mean")
ORIENTATIONS = ("forward", "reverse", "both")


@dataclass(frozen=True)
class Strategy:
    """``exact``, ``strided`` (with ``stride``) or ``unmasked``."""

    kind: str
    stride: int = 0

    def __str__(self):
        return f"strided:{self.stride}" if self.kind == "strided" else self.kind


def parse_strategy(text: str) -> Strategy:
    """``exact``, ``unmasked`` or ``strided:S`` with an integer S >= 1."""
    if text in ("exact", "unmasked"):
        return Strategy(text)
    kind, _, stride = text.partition(":")
    if kind == "strided" and stride.isdigit() and int(stride) >= 1:
        return Strategy("strided", int(stride))
    raise UserError(f"strategy {text!r} is not 'exact', 'unmasked' or 'strided:S' with an integer S >= 1.")


def letter_tables(tokenizer, device="cpu") -> dict:
    """For each token length m: vocabulary ids of the A/C/G/T-only tokens of that length (a slice
    when they are consecutive, as the k-mers of DNABERT and NT are: a view instead of a gather),
    and their letters one-hot ``[n_tokens, m * 4]`` (ACGT order), read off the tokenizer's own decoding."""
    tables = {}
    for length, (ids, one_hot) in _letter_tables(tokenizer).items():
        consecutive = bool((ids == torch.arange(int(ids[0]), int(ids[0]) + len(ids))).all())
        columns = slice(int(ids[0]), int(ids[0]) + len(ids)) if consecutive else ids.to(device)
        tables[length] = (columns, one_hot.to(device))
    return tables


@functools.lru_cache(maxsize=8)
def _letter_tables(tokenizer) -> dict:
    # decoding the vocabulary id by id takes seconds for 4**6 k-mers; a tokenizer never changes
    by_length = {}
    special = set(tokenizer.special_ids)
    for token_id in range(tokenizer.vocab_size):
        if token_id in special:
            continue
        letters = tokenizer.decode([token_id])
        if letters and set(letters) <= set(BASES):
            by_length.setdefault(len(letters), []).append((token_id, letters))
    tables = {}
    for length, entries in sorted(by_length.items()):
        ids = torch.tensor([token_id for token_id, _ in entries], dtype=torch.long)
        codes = torch.tensor([[BASES.index(b) for b in letters] for _, letters in entries])
        one_hot = torch.nn.functional.one_hot(codes, 4).to(torch.float32).reshape(len(entries), length * 4)
        tables[length] = (ids, one_hot)
    return tables




@dataclass
class CopyTable:
    """The masked copies of one window.

    Copy c masks tokens ``lo[c]..hi[c]`` (``exact``) or the tokens of row c of ``masks``
    (``strided``; ``unmasked``: no token). Reads sorted by copy: copy ``read_copy``, token
    ``read_token``, letter ``read_offset`` of it, into output row ``read_row`` (relative to the
    record start); ``read_start[c]:read_start[c + 1]`` are copy c's reads.
    """

    count: int
    lo: np.ndarray | None
    hi: np.ndarray | None
    masks: np.ndarray | None
    read_copy: np.ndarray
    read_token: np.ndarray
    read_offset: np.ndarray
    read_row: np.ndarray
    read_start: np.ndarray

    def mask_rows(self, first: int, stop: int, n_tokens: int) -> np.ndarray:
        """``[stop - first, n_tokens]`` true at the tokens copies ``first..stop-1`` mask."""
        if self.masks is not None:
            return self.masks[first:stop]
        if self.lo is None:
            return np.zeros((stop - first, n_tokens), dtype=bool)
        token = np.arange(n_tokens)
        return (token >= self.lo[first:stop, None]) & (token <= self.hi[first:stop, None])


def copy_table(window, spans, strategy, readout) -> CopyTable:
    """Masked copies for the kept nucleotides of one window (spans relative to its start)."""
    tokens, positions = token_coverage(spans)  # (token, position) pairs, sorted by position
    keep_from, keep_to = window.keep_start - window.start, window.keep_end - window.start
    kept = (positions >= keep_from) & (positions < keep_to)
    tokens, positions = tokens[kept], positions[kept]
    offsets = positions - spans[tokens, 0]
    if readout == "middle":
        lengths = spans[tokens, 1] - spans[tokens, 0]
        # per position, the covering token nearest the middle (ties: the first token)
        order = np.lexsort((tokens, np.abs(offsets - lengths // 2), positions))
        first = np.ones(len(order), dtype=bool)
        first[1:] = positions[order][1:] != positions[order][:-1]
        chosen = np.sort(order[first])
        read_tokens, read_offsets, read_positions = tokens[chosen], offsets[chosen], positions[chosen]
    else:
        read_tokens, read_offsets, read_positions = tokens, offsets, positions
    lo = hi = masks = None
    if strategy.kind == "unmasked":
        count, read_copy = 1, np.zeros(len(read_tokens), dtype=np.int64)
    else:
        # exact's copies: the tokens covering one position are consecutive, a copy is the range
        # lo..hi, and positions with the same range (the letters of one NT 6-mer or BPE token)
        # share one copy; ranges sort in position order
        unique_positions, first_pair = np.unique(positions, return_index=True)
        position_lo = tokens[first_pair]
        position_hi = np.maximum.reduceat(tokens, first_pair)
        keys, copy_of_position = np.unique(position_lo * len(spans) + position_hi, return_inverse=True)
        if strategy.kind == "exact":
            lo, hi, count = keys // len(spans), keys % len(spans), len(keys)
        else:
            # exact's copies dealt round robin: copy c merges exact copies c, c + S, c + 2S, ...
            copy_of_position = copy_of_position % strategy.stride
            count = min(len(keys), strategy.stride)
            masks = np.zeros((count, len(spans)), dtype=bool)
            masks[copy_of_position[np.searchsorted(unique_positions, positions)], tokens] = True
        read_copy = copy_of_position[np.searchsorted(unique_positions, read_positions)]
    order = np.argsort(read_copy, kind="stable")
    read_copy = read_copy[order]
    return CopyTable(count, lo, hi, masks, read_copy, read_tokens[order], read_offsets[order],
                     read_positions[order] + window.start,
                     np.searchsorted(read_copy, np.arange(count + 1)))


def copy_batches(window_lengths, copy_counts, budget: int):
    """Token-budget batches of masked copies, as lists of ``(window, first_copy, stop_copy)``.

    Windows longest first; a batch holds ``count * longest <= budget`` tokens (a window longer
    than the budget: one copy per batch). The copies are counted, never listed.
    """
    batch, used, capacity = [], 0, 0
    for window in np.argsort(-np.asarray(window_lengths), kind="stable").tolist():
        first = 0
        while first < copy_counts[window]:
            if not batch:
                capacity = max(budget // window_lengths[window], 1)
            take = min(copy_counts[window] - first, capacity - used)
            batch.append((window, first, first + take))
            used += take
            first += take
            if used == capacity:
                yield batch
                batch, used = [], 0
    if batch:
        yield batch


@dataclass
class BlockPlan:
    """The windows of one block of records, their tokens and copy counts, and output row offsets."""

    windows: list
    tokens: list
    copy_counts: list
    species_ids: list
    offsets: np.ndarray


class ZeroShotScorer:
    """Per-nucleotide probabilities of one loaded model; see the module docstring for the method.

    ``plan_seconds`` accumulates the time spent planning (windows, tokens, copy tables and batch
    index arrays), so that a caller can report it against the total.
    """

    def __init__(self, loaded, strategy="exact", readout="middle", window=None, overlap=None,
                 token_budget=16384, device="cpu", precision="auto", progress=SILENT):
        if readout not in READOUTS:
            raise UserError(f"readout {readout!r} is not one of {', '.join(READOUTS)}.")
        self.loaded = loaded
        self.model = loaded.model.to(device).eval()
        self.tokenizer = loaded.tokenizer
        self.strategy = parse_strategy(strategy) if isinstance(strategy, str) else strategy
        self.readout = readout
        self.window, self.overlap = window_settings(window, overlap)
        self.token_budget = token_budget
        self.device = device
        self.precision = precision
        self.tables = letter_tables(self.tokenizer, device)
        self.plan_seconds = 0.0
        self.progress = progress  # counts masked copies scored

    def score(self, sequences, names=None, species_ids=None, orientation="forward") -> list:
        """Probabilities ``[L, 4]`` (float32, ACGT, rows sum to 1) for each sequence, as one block.

        ``orientation``: ``forward`` scores the sequences as given; ``reverse`` scores their reverse
        complements and maps the result back to the given orientation; ``both`` averages the two.
        """
        if orientation not in ORIENTATIONS:
            raise UserError(f"orientation {orientation!r} is not one of {', '.join(ORIENTATIONS)}.")
        names = names or [f"#{n + 1}" for n in range(len(sequences))]
        check_lengths(sequences, names, self.tokenizer, self.loaded.family.tokenization)
        species_ids = species_ids if species_ids is not None else [0] * len(sequences)
        results = []
        if orientation in ("forward", "both"):
            results.append(self._score_strand(sequences, names, species_ids))
        if orientation in ("reverse", "both"):
            reverse = self._score_strand([reverse_complement(s) for s in sequences], names, species_ids)
            results.append([p[::-1, COMPLEMENT_COLUMNS] for p in reverse])
        if len(results) == 1:
            return [np.ascontiguousarray(p) for p in results[0]]
        return [(a + b) / 2 for a, b in zip(*results)]

    def plan(self, sequences, names, species_ids) -> BlockPlan:
        """Windows, their tokens and their numbers of masked copies (no copy listed, nothing run)."""
        started = time.perf_counter()
        plan = BlockPlan([], [], [], list(species_ids), np.concatenate([[0], np.cumsum([len(s) for s in sequences])]))
        for record, sequence in enumerate(sequences):
            for window, tokenized in sequence_windows(self.tokenizer, record, sequence, self.window, self.overlap,
                                                      f"record {names[record]}"):
                plan.windows.append(window)
                plan.tokens.append(tokenized)
                plan.copy_counts.append(self._table(window, tokenized).count)
        self.plan_seconds += time.perf_counter() - started
        return plan

    @torch.inference_mode()
    def run(self, plan) -> torch.Tensor:
        """Summed letter marginals ``[block length, 4]`` over all masked copies of the plan."""
        sums = torch.zeros(int(plan.offsets[-1]), 4, dtype=torch.float32, device=self.device)
        lengths = [len(t) for t in plan.tokens]
        tables, remaining = {}, list(plan.copy_counts)
        self.progress.extend(int(sum(plan.copy_counts)))
        started = time.perf_counter()
        for batch in copy_batches(lengths, plan.copy_counts, self.token_budget):
            for window, first, stop in batch:
                if window not in tables:
                    tables[window] = self._table(plan.windows[window], plan.tokens[window])
            inputs = self._batch_inputs(plan, batch, tables)
            for window, first, stop in batch:
                remaining[window] -= stop - first
                if not remaining[window]:
                    del tables[window]
            self.plan_seconds += time.perf_counter() - started
            self._score_batch(*inputs, sums)
            self.progress.update(sum(stop - first for _, first, stop in batch))
            started = time.perf_counter()
        self.plan_seconds += time.perf_counter() - started
        return sums

    def _table(self, window, tokenized) -> CopyTable:
        return copy_table(window, tokenized.spans, self.strategy, self.readout)

    def _score_strand(self, sequences, names, species_ids):
        plan = self.plan(sequences, names, species_ids)
        sums = self.run(plan)
        probs = (sums / sums.sum(1, keepdim=True)).cpu().numpy()
        return [probs[plan.offsets[n]:plan.offsets[n + 1]] for n in range(len(sequences))]

    def _batch_inputs(self, plan, batch, tables):
        """Masked input ids, attention, species, read positions and read targets of one batch."""
        tokenizer, device = self.tokenizer, self.device
        longest = max(len(plan.tokens[w]) for w, _, _ in batch)
        rows = sum(stop - first for _, first, stop in batch)
        input_ids = np.full((rows, longest), tokenizer.pad_id, dtype=np.int64)
        masked = np.zeros((rows, longest), dtype=bool)
        span_lengths = np.zeros((rows, longest), dtype=np.int64)
        species = np.zeros(rows, dtype=np.int64)
        read_copy, read_token, read_offset, read_row = [], [], [], []
        row = 0
        for window, first, stop in batch:
            tokens, table, count = plan.tokens[window], tables[window], stop - first
            input_ids[row:row + count, : len(tokens)] = tokens.ids
            masked[row:row + count, : len(tokens)] = table.mask_rows(first, stop, len(tokens))
            span_lengths[row:row + count, : len(tokens)] = np.diff(tokens.spans, axis=1)[:, 0]
            species[row:row + count] = plan.species_ids[plan.windows[window].record]
            reads = slice(table.read_start[first], table.read_start[stop])
            read_copy.append(table.read_copy[reads] - first + row)
            read_token.append(table.read_token[reads])
            read_offset.append(table.read_offset[reads])
            read_row.append(table.read_row[reads] + plan.offsets[plan.windows[window].record])
            row += count
        read_copy, read_token = np.concatenate(read_copy), np.concatenate(read_token)
        read = np.zeros((rows, longest), dtype=bool)
        read[read_copy, read_token] = True
        # row of each (copy, token) read in the head's row-major output over `read`
        head_row = (np.cumsum(read.ravel()) - 1).reshape(read.shape)[read_copy, read_token]
        to_device = functools.partial(torch.as_tensor, device=device)
        input_ids = np.where(masked, tokenizer.mask_id, input_ids)
        return (to_device(input_ids), to_device(input_ids != tokenizer.pad_id), to_device(species), to_device(read),
                to_device(span_lengths[read]), to_device(head_row), to_device(np.concatenate(read_offset)),
                to_device(np.concatenate(read_row)))

    def _score_batch(self, input_ids, attention, species, read, read_lengths, head_row, read_offset, read_row, sums):
        device = self.device
        with autocast(device, self.precision):
            hidden = self.model.encode(input_ids, attention, species)[-1]
            logits = self.model.lm_logits(hidden, positions=read)
        logits = logits.float()
        # letter marginals of every read token, one matrix product per token length
        marginals = torch.zeros(len(logits), max(self.tables) if self.tables else 1, 4, device=device)
        for length in torch.unique(read_lengths).tolist():
            if length not in self.tables:
                raise UserError(f"the vocabulary has no A/C/G/T tokens of length {length} to marginalise a masked token over.")
            columns, one_hot = self.tables[length]
            rows = torch.nonzero(read_lengths == length).squeeze(1)
            probs = torch.softmax((logits if len(rows) == len(logits) else logits[rows])[:, columns], dim=1)
            marginals[rows, :length] = (probs @ one_hot).view(len(rows), length, 4)
        sums.index_add_(0, read_row, marginals[head_row, read_offset])
