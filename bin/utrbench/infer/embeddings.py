"""Sequence and per-nucleotide embeddings of any model family (reference note 03 §5).

- Layer: one entry of the model's hidden states (``-1``, the final representation after any
  final norm, by default) or the mean of a range ``A:B`` (Python slice, e.g. ``8:13``).
- Pooling ``mean`` (default): mean over real tokens, i.e. attended and not special (``[CLS]``,
  ``[SEP]``, padding, ``[UNK]`` are left out); ``max``: element-wise maximum over the same tokens;
  ``cls``: the first token of the first window (models with a ``[CLS]`` token only).
- Long sequences: overlapping windows (:mod:`utrbench.infer.windows`; by default the model's
  context in tokens); a token counts in the window
  that keeps its first nucleotide, and the mean runs over all counted tokens of all windows (a
  length-weighted mean, not a mean of window means).
- Per-nucleotide embeddings: the mean of the tokens covering the nucleotide (the k overlapping
  k-mers of DNABERT; the one token of NT and BPE, repeated over its letters; the base itself).
- Batches: windows sorted by length and packed to a token budget; bf16 autocast on CUDA.
- Streaming: callers embed one block of records at a time (:mod:`utrbench.infer.shards`), so
  memory holds one block.
"""

import numpy as np
import torch

from utrbench.errors import UserError
from utrbench.infer.windows import (
    autocast,
    check_lengths,
    pad_rows,
    sequence_windows,
    token_budget_batches,
    token_coverage,
    window_settings,
)
from utrbench.progress import SILENT

POOLINGS = ("mean", "max", "cls")


def parse_layers(text) -> slice:
    """``-1`` (one layer) or ``A:B`` (mean of hidden states A..B-1) as a slice of the hidden states."""
    text = str(text)
    try:
        if ":" in text:
            first, last = (int(part) for part in text.split(":"))
            return slice(first, last)
        index = int(text)
        return slice(index, index + 1 if index != -1 else None)
    except ValueError:
        raise UserError(f"layer {text!r} is not an integer or a range 'A:B' of integers.") from None


class Embedder:
    """Embeddings of one loaded model; see the module docstring for what is computed."""

    def __init__(self, loaded, layer="-1", pooling="mean", window=None, overlap=None, token_budget=16384,
                 device="cpu", precision="auto", progress=SILENT):
        if pooling not in POOLINGS:
            raise UserError(f"pooling {pooling!r} is not one of {', '.join(POOLINGS)}.")
        if pooling == "cls" and getattr(loaded.tokenizer, "cls_id", None) is None:
            raise UserError(f"model family {loaded.family.name!r} has no [CLS] token; use --pooling mean or max.")
        self.loaded = loaded
        self.model = loaded.model.to(device).eval()
        self.tokenizer = loaded.tokenizer
        self.layer_text = str(layer)
        self.layers = parse_layers(layer)
        self.pooling = pooling
        self.window, self.overlap = window_settings(window, overlap)
        self.token_budget = token_budget
        self.device = device
        self.precision = precision
        self.progress = progress  # counts windows encoded

    def embed(self, sequences, names=None, species_ids=None) -> np.ndarray:
        """Pooled embeddings ``[n, d]`` (float32)."""
        sums = counts = None
        for windows, tokens, hidden in self._hidden_batches(sequences, names, species_ids):
            if sums is None:
                fill = -torch.inf if self.pooling == "max" else 0.0
                sums = torch.full((len(sequences), hidden.shape[-1]), fill, device=self.device)
                counts = torch.zeros(len(sequences), device=self.device)
            records = torch.tensor([w.record for w in windows], device=self.device)
            if self.pooling == "cls":
                first = torch.tensor([w.start == 0 for w in windows], device=self.device)
                sums.index_add_(0, records[first], hidden[first, 0])
                counts.index_add_(0, records[first], torch.ones(int(first.sum()), device=self.device))
                continue
            counted = self._counted_tokens(windows, tokens, hidden.shape[1])
            if self.pooling == "mean":
                sums.index_add_(0, records, (hidden * counted[..., None]).sum(1))
            else:
                batch_max = hidden.masked_fill(~counted[..., None], -torch.inf).amax(1)
                sums.scatter_reduce_(0, records[:, None].expand_as(batch_max), batch_max, "amax")
            counts.index_add_(0, records, counted.sum(1).float())
        if self.pooling == "max":
            return torch.where(counts[:, None] > 0, sums, 0.0).cpu().numpy()
        return (sums / counts.clamp(min=1)[:, None]).cpu().numpy()

    def embed_per_nucleotide(self, sequences, names=None, species_ids=None) -> list:
        """Embeddings ``[L, d]`` (float32) of every nucleotide of every sequence."""
        offsets = np.concatenate([[0], np.cumsum([len(s) for s in sequences])])
        sums = counts = None
        for windows, tokens, hidden in self._hidden_batches(sequences, names, species_ids):
            if sums is None:
                sums = torch.zeros(offsets[-1], hidden.shape[-1], device=self.device)
                counts = torch.zeros(offsets[-1], device=self.device)
            rows, token_index, targets = [], [], []
            for row, (window, tokenized) in enumerate(zip(windows, tokens)):
                covering, positions = token_coverage(tokenized.spans)
                kept = (positions >= window.keep_start - window.start) & (positions < window.keep_end - window.start)
                rows.append(np.full(kept.sum(), row))
                token_index.append(covering[kept])
                targets.append(offsets[window.record] + window.start + positions[kept])
            target = torch.from_numpy(np.concatenate(targets)).to(self.device)
            values = hidden[torch.from_numpy(np.concatenate(rows)).to(self.device),
                            torch.from_numpy(np.concatenate(token_index)).to(self.device)]
            sums.index_add_(0, target, values)
            counts.index_add_(0, target, torch.ones(len(target), device=self.device))
        result = (sums / counts.clamp(min=1)[:, None]).cpu().numpy()
        return [result[offsets[n]:offsets[n + 1]] for n in range(len(sequences))]

    def _counted_tokens(self, windows, tokens, longest):
        """``[B, T]`` true at real tokens whose first nucleotide lies in the window's kept part."""
        special = np.array(self.tokenizer.special_ids)
        counted = np.zeros((len(windows), longest), dtype=bool)
        for row, (window, tokenized) in enumerate(zip(windows, tokens)):
            start = tokenized.spans[:, 0] + window.start
            real = ~np.isin(tokenized.ids, special) & (tokenized.spans[:, 0] >= 0)
            counted[row, : len(tokenized)] = real & (start >= window.keep_start) & (start < window.keep_end)
        return torch.from_numpy(counted).to(self.device)

    @torch.inference_mode()
    def _hidden_batches(self, sequences, names, species_ids):
        """Yield ``(windows, tokenized, hidden [B, T, H] float32)`` per token-budget batch."""
        names = names or [f"#{n + 1}" for n in range(len(sequences))]
        species_ids = species_ids if species_ids is not None else [0] * len(sequences)
        check_lengths(sequences, names, self.tokenizer, self.loaded.family.tokenization)
        windows, tokens = [], []
        for record, sequence in enumerate(sequences):
            for window, tokenized in sequence_windows(self.tokenizer, record, sequence, self.window, self.overlap,
                                                      f"record {names[record]}"):
                windows.append(window)
                tokens.append(tokenized)
        self.progress.extend(len(windows))
        for batch in token_budget_batches([len(t) for t in tokens], self.token_budget):
            batch_windows, batch_tokens = [windows[i] for i in batch], [tokens[i] for i in batch]
            input_ids = pad_rows([t.ids for t in batch_tokens], self.tokenizer.pad_id, self.device)
            attention = torch.zeros_like(input_ids, dtype=torch.bool)
            for row, tokenized in enumerate(batch_tokens):
                attention[row, : len(tokenized)] = True
            species = torch.tensor([species_ids[w.record] for w in batch_windows], device=self.device)
            with autocast(self.device, self.precision):
                states = self.model.encode(input_ids, attention, species)
            selected = states[self.layers]
            if not selected:
                raise UserError(f"layer {self.layer_text} selects none of the model's {len(states)} hidden states.")
            hidden = torch.stack([s.float() for s in selected]).mean(0)
            self.progress.update(len(batch))
            yield batch_windows, batch_tokens, hidden
