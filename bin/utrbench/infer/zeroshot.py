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
- Readout ``mean`` (default) averages the marginals of all masked tokens covering i, each at its
  own offset, and renormalises (SpeciesLM); ``middle`` reads only the covering token whose offset
  is nearest ``m // 2`` (offset 3 of token i - 3 for 6-mers: Vilov & Heinig). For tokenizers with
  one token per position the two are the same.

Strategies (which nucleotides share a masked copy):

- ``exact``: one target nucleotide per copy (copies masking the same tokens are merged, so NT
  needs one copy per token, not per nucleotide);
- ``strided:S``: copy c targets the nucleotides at c, c + S, c + 2S, ... (S copies per window);
  with S = sequence length it equals ``exact``;
- ``unmasked``: one pass without masking, every token read as is (biased to the reference letter).

Efficiency (note 03 §6): copies are built on the device from one row of ids per window (index
select, then scatter of the mask id), batched by a token budget over length-sorted windows; the LM
head runs only at the tokens read, and the marginals are one matrix product per token length.
"""

import functools
from dataclasses import dataclass

import numpy as np
import torch

from utrbench.errors import UserError
from utrbench.infer.windows import (
    autocast,
    check_lengths,
    check_window,
    default_window,
    pad_rows,
    plan_windows,
    token_budget_batches,
    token_coverage,
    tokenize_window,
)
from utrbench.seq import reverse_complement

BASES = "ACGT"
# Reversing rows and taking columns in this order maps ACGT probabilities to the other strand.
COMPLEMENT_COLUMNS = [3, 2, 1, 0]
READOUTS = ("mean", "middle")
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
    """For each token length m: vocabulary ids of the A/C/G/T-only tokens of that length, and their
    letters one-hot ``[n_tokens, m * 4]`` (ACGT order), read off the tokenizer's own decoding."""
    return {length: (ids.to(device), one_hot.to(device)) for length, (ids, one_hot) in _letter_tables(tokenizer).items()}


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
class _Copy:
    """A masked copy of a window: masked token indices and (token, offset, output row) readouts."""

    window: int
    masked: np.ndarray
    read_tokens: np.ndarray
    read_offsets: np.ndarray
    read_rows: np.ndarray


def _copies_of_window(window_index, window, spans, strategy, readout, first_row):
    """Masked copies for the kept nucleotides of one window; output row = ``first_row`` + kept offset."""
    tokens, positions = token_coverage(spans)  # positions relative to the window start
    keep_from, keep_to = window.keep_start - window.start, window.keep_end - window.start
    kept = (positions >= keep_from) & (positions < keep_to)
    tokens, positions = tokens[kept], positions[kept]
    offsets = positions - spans[tokens, 0]
    if readout == "middle":
        lengths = spans[tokens, 1] - spans[tokens, 0]
        distance = np.abs(offsets - lengths // 2)
        # per position, the covering token nearest the middle (ties: the first token)
        order = np.lexsort((tokens, distance, positions))
        first = np.ones(len(order), dtype=bool)
        first[1:] = positions[order][1:] != positions[order][:-1]
        chosen = np.sort(order[first])
        read_tokens, read_offsets, read_positions = tokens[chosen], offsets[chosen], positions[chosen]
    else:
        read_tokens, read_offsets, read_positions = tokens, offsets, positions
    rows = first_row + read_positions - keep_from
    if strategy.kind == "unmasked":
        return [_Copy(window_index, np.zeros(0, np.int64), read_tokens, read_offsets, rows)]
    # group target nucleotides: one per copy (exact) or by global position modulo the stride
    global_positions = positions + window.start
    group_of_pair = global_positions if strategy.kind == "exact" else global_positions % strategy.stride
    group_of_read = (read_positions + window.start) if strategy.kind == "exact" else (read_positions + window.start) % strategy.stride
    merged = {}
    for group in np.unique(group_of_pair):
        masked = np.unique(tokens[group_of_pair == group])
        reads = group_of_read == group
        key = masked.tobytes()
        if key in merged:  # same masked tokens (e.g. the six letters of one NT 6-mer): one copy
            merged[key].append(reads)
        else:
            merged[key] = [masked, reads]
    copies = []
    for masked, *reads in merged.values():
        selected = np.logical_or.reduce(reads)
        copies.append(_Copy(window_index, masked, read_tokens[selected], read_offsets[selected], rows[selected]))
    return copies


@dataclass
class ScoringPlan:
    """The windows of a set of sequences, their tokens, the masked copies, and output row offsets."""

    windows: list
    tokens: list
    copies: list
    species_ids: list
    offsets: np.ndarray


class ZeroShotScorer:
    """Per-nucleotide probabilities of one loaded model; see the module docstring for the method."""

    def __init__(self, loaded, strategy="exact", readout="mean", window=None, overlap=None,
                 token_budget=16384, device="cpu", precision="auto"):
        if readout not in READOUTS:
            raise UserError(f"readout {readout!r} is not one of {', '.join(READOUTS)}.")
        self.loaded = loaded
        self.model = loaded.model.to(device).eval()
        self.tokenizer = loaded.tokenizer
        self.strategy = parse_strategy(strategy) if isinstance(strategy, str) else strategy
        self.readout = readout
        self.window = window or default_window(self.tokenizer, loaded.family.tokenization)
        self.overlap = self.window // 4 if overlap is None else overlap
        check_window(self.window, self.overlap)
        self.token_budget = token_budget
        self.device = device
        self.precision = precision
        self.tables = letter_tables(self.tokenizer, device)

    def score(self, sequences, names=None, species_ids=None, orientation="forward") -> list:
        """Probabilities ``[L, 4]`` (float32, ACGT, rows sum to 1) for each sequence.

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

    def plan(self, sequences, names, species_ids) -> "ScoringPlan":
        """Windows, their tokens and the masked copies that score ``sequences`` (nothing run yet)."""
        plan = ScoringPlan([], [], [], list(species_ids), np.concatenate([[0], np.cumsum([len(s) for s in sequences])]))
        for record, sequence in enumerate(sequences):
            for window in plan_windows(record, len(sequence), self.window, self.overlap):
                tokenized = tokenize_window(self.tokenizer, sequence, window, f"record {names[record]}")
                plan.copies += _copies_of_window(len(plan.windows), window, tokenized.spans, self.strategy, self.readout,
                                                 plan.offsets[record] + window.keep_start)
                plan.windows.append(window)
                plan.tokens.append(tokenized)
        return plan

    @torch.inference_mode()
    def run(self, plan, copies=None) -> torch.Tensor:
        """Summed letter marginals ``[total_length, 4]`` of ``copies`` (default: all of the plan's)."""
        copies = plan.copies if copies is None else copies
        sums = torch.zeros(int(plan.offsets[-1]), 4, dtype=torch.float32, device=self.device)
        window_lengths = [len(plan.tokens[c.window]) for c in copies]
        for batch in token_budget_batches(window_lengths, self.token_budget):
            self._score_batch([copies[i] for i in batch], plan.tokens, plan.windows, plan.species_ids, sums)
        return sums

    def _score_strand(self, sequences, names, species_ids):
        plan = self.plan(sequences, names, species_ids)
        sums = self.run(plan)
        probs = (sums / sums.sum(1, keepdim=True)).cpu().numpy()
        return [probs[plan.offsets[n]:plan.offsets[n + 1]] for n in range(len(sequences))]

    def _score_batch(self, batch, tokens, windows, species_ids, sums):
        device, tokenizer = self.device, self.tokenizer
        used = sorted({c.window for c in batch})
        slot = {w: n for n, w in enumerate(used)}
        longest = max(len(tokens[w]) for w in used)
        window_ids = pad_rows([tokens[w].ids for w in used], tokenizer.pad_id, device)
        span_lengths = pad_rows([np.diff(tokens[w].spans, axis=1)[:, 0] for w in used], 0, device)
        copy_slot = torch.tensor([slot[c.window] for c in batch], device=device)
        # masked copies built on the device: one row per window, expanded and scattered
        input_ids = window_ids.index_select(0, copy_slot)
        attention = input_ids != tokenizer.pad_id
        masked = torch.zeros(len(batch), longest + 1, dtype=torch.bool, device=device)
        masked.scatter_(1, pad_rows([c.masked for c in batch], longest, device), True)
        input_ids = input_ids.masked_fill(masked[:, :longest], tokenizer.mask_id)
        read = torch.zeros(len(batch), longest + 1, dtype=torch.bool, device=device)
        read.scatter_(1, pad_rows([c.read_tokens for c in batch], longest, device), True)
        read = read[:, :longest]
        species = torch.tensor([species_ids[windows[c.window].record] for c in batch], device=device)
        with autocast(device, self.precision):
            hidden = self.model.encode(input_ids, attention, species)[-1]
            logits = self.model.lm_logits(hidden, positions=read)
        logits = logits.float()
        # letter marginals of every read token, one matrix product per token length
        row_length = span_lengths.index_select(0, copy_slot)[read]
        marginals = torch.zeros(len(logits), max(self.tables) if self.tables else 1, 4, device=device)
        for length in torch.unique(row_length).tolist():
            if length not in self.tables:
                raise UserError(f"the vocabulary has no A/C/G/T tokens of length {length} to marginalise a masked token over.")
            ids, one_hot = self.tables[length]
            rows = torch.nonzero(row_length == length).squeeze(1)
            probs = torch.softmax(logits.index_select(0, rows).index_select(1, ids), dim=1)
            marginals[rows, :length] = (probs @ one_hot).view(len(rows), length, 4)
        # row of the read (copy, token) pairs in the head's row-major output, then accumulate
        row_of = (torch.cumsum(read.flatten(), 0) - 1).view(read.shape)
        copy_index = np.concatenate([np.full(len(c.read_tokens), n) for n, c in enumerate(batch)])
        token_index = np.concatenate([c.read_tokens for c in batch])
        offset = torch.from_numpy(np.concatenate([c.read_offsets for c in batch])).to(device)
        target = torch.from_numpy(np.concatenate([c.read_rows for c in batch])).to(device)
        rows = row_of[torch.from_numpy(copy_index).to(device), torch.from_numpy(token_index).to(device)]
        sums.index_add_(0, target, marginals[rows, offset])
