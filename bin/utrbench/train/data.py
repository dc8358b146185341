"""Token-budget batches sliced from the token store, resumably, by a prefetching worker process.

Records are visited in a fixed order per epoch: the shard order is shuffled per epoch from the
seed (the shards themselves are pre-shuffled by the dataset step), records keep their order
inside a shard. Rank ``r`` of ``world`` devices takes the records whose index in the epoch is
``r`` modulo ``world``, in chunks of ``CHUNK`` examples; inside a chunk, examples of similar
length are batched together (little padding) and the batches visited in a seeded order.

Every random choice about a record (shift, crop start) is a counter-based hash of
``(seed, stream, epoch, index)``, so a record's example is a pure function of its position, a
whole chunk of examples is computed with numpy at once, and a chunk's batches are a pure function
of ``(seed, epoch, chunk)``: a run resumes exactly from a saved ``(epoch, chunk, batch)`` without
saving any generator state.

An example is what tokenising a random crop of the record gives, read from the store:

- shift (``shift_max`` > 0, NT-v2's augmentation): ``s`` uniform in ``[-shift_max, shift_max)``;
  a positive shift pads ``s`` N in front, a negative one drops ``-s`` letters (not below one k-mer);
- crop: ``CROP_NUCLEOTIDES`` letters from a uniform start when the (shifted) record is longer;
- the content tokens from the crop start, at most ``context_tokens`` minus the specials, wrapped
  in the tokenizer's leading and trailing special tokens.

For overlapping k-mers and nucleotides this is exactly the tokenisation of the crop. For greedy
k-mers it is exact unless an N lies between the record start and the crop (the greedy grid
restarts after an N); for BPE the window starts at the first token of the whole-record
tokenisation at or after the crop start (the study also cut DNABERT-2 chunks from the whole
tokenisation).
"""

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset

from utrbench.train.token_store import POSITIONAL, TokenStore

TRAIN_STREAM, VALID_STREAM, DROPOUT_STREAM = 1, 2, 3  # keep training, validation and dropout randomness apart
SHIFT_DRAW, CROP_DRAW = 0, 1
CHUNK = 4096  # examples computed per vectorised call and grouped by length into batches

# Crop length in nucleotides for ``n`` content tokens. Greedy k-mers with a single-letter
# fallback and BPE tokens cover a variable number of letters, so their crop is an upper bound
# and the tokens are cut at the context afterwards.
BPE_MAX_NT_PER_TOKEN = 8
CROP_NUCLEOTIDES = {
    "overlapping_kmer": lambda n, k: n + k - 1,
    "greedy_kmer": lambda n, k: n * k,
    "bpe": lambda n, k: n * BPE_MAX_NT_PER_TOKEN,
    "nucleotide": lambda n, k: n,
}

_MASK64 = (1 << 64) - 1


def _splitmix64(values: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser on uint64 arrays (wrapping arithmetic)."""
    z = values.astype(np.uint64, copy=True)
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z


def position_uniforms(seed: int, stream: int, epoch: int, draw: int, indices) -> np.ndarray:
    """Uniform floats in [0, 1), one per record index: a hash of (seed, stream, epoch, draw, index)."""
    key = 0
    for part in (seed, stream, epoch, draw):
        key = int(_splitmix64(np.array([(key ^ part) & _MASK64], dtype=np.uint64))[0])
        key = (key + 0x9E3779B97F4A7C15) & _MASK64
    indices = np.asarray(indices, dtype=np.uint64)
    hashed = _splitmix64(indices * np.uint64(0x9E3779B97F4A7C15) ^ np.uint64(key))
    return (hashed >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def first_at_or_after(starts: np.ndarray, begin, end, position) -> np.ndarray:
    """For each ``i``, the first index in ``[begin[i], end[i])`` with ``starts >= position[i]`` (or ``end[i]``).

    ``starts`` ascends within each range: a binary search of all ranges at once, one vectorised
    step per halving.
    """
    low, high = np.array(begin, dtype=np.int64), np.array(end, dtype=np.int64)
    while (open_ := low < high).any():
        middle = (low + high) // 2
        before = open_ & (starts[np.minimum(middle, len(starts) - 1)] < position)
        low = np.where(before, middle + 1, low)
        high = np.where(open_ & ~before, middle, high)
    return low


@dataclass
class Layout:
    """How a family's examples are laid out: specials around the content, the crop length."""

    leading: np.ndarray  # ids of the special tokens before the content
    trailing: np.ndarray  # and after it
    content_tokens: int
    crop_length: int
    pad_tokens: np.ndarray  # [shift_max + 1, max pad tokens]: the tokens of s leading N
    pad_counts: np.ndarray  # [shift_max + 1]

    @classmethod
    def of(cls, tokenizer, tokenization, context_tokens, shift_max=0):
        k = getattr(tokenizer, "k", 1)
        probe = tokenizer.encode("A" * k)
        special = probe.spans[:, 0] < 0
        leading = int(np.argmin(special)) if not special.all() else len(special)
        trailing = int(np.argmin(special[::-1]))
        content = context_tokens - int(special.sum())
        # the tokens of an N padding: what tokenising "N" * s + a k-mer adds in front of it
        base = int((probe.spans[:, 0] >= 0).sum())
        pads = []
        for s in range(shift_max + 1):
            ids = tokenizer.encode("N" * s + "A" * k)
            ids = ids.ids[ids.spans[:, 0] >= 0]
            pads.append(ids[:len(ids) - base])
        width = max(1, max(len(p) for p in pads))
        table = np.zeros((shift_max + 1, width), dtype=np.int64)
        for s, ids in enumerate(pads):
            table[s, :len(ids)] = ids
        return cls(probe.ids[:leading].astype(np.int64), probe.ids[len(special) - trailing:].astype(np.int64),
                   content, CROP_NUCLEOTIDES[tokenization](content, k), table,
                   np.array([len(p) for p in pads], dtype=np.int64))


@dataclass
class Examples:
    """A chunk of examples as arrays: where each one's tokens are and how many."""

    records: np.ndarray  # record index in the store
    epochs: np.ndarray
    indices: np.ndarray  # position in the epoch
    first_token: np.ndarray  # index into store.tokens of the first content token
    n_pad: np.ndarray  # leading N-padding tokens (row of Layout.pad_tokens: pad_row)
    pad_row: np.ndarray
    n_content: np.ndarray  # content tokens from the store after the padding
    species: np.ndarray

    @property
    def widths(self) -> np.ndarray:
        return self.n_pad + self.n_content


class ExampleSampler:
    """Computes examples of record positions from the store, vectorised over a chunk."""

    def __init__(self, store: TokenStore, layout: Layout, seed: int, shift_max: int = 0, stream=TRAIN_STREAM):
        self.store, self.layout, self.seed, self.shift_max, self.stream = store, layout, seed, shift_max, stream

    def examples(self, epoch: int, indices: np.ndarray, records: np.ndarray) -> Examples:
        store, layout, k = self.store, self.layout, self.store.k
        lengths = np.asarray(store.lengths[records], dtype=np.int64)
        if self.shift_max:
            u = position_uniforms(self.seed, self.stream, epoch, SHIFT_DRAW, indices)
            shift = np.floor(u * 2 * self.shift_max).astype(np.int64) - self.shift_max
        else:
            shift = np.zeros(len(records), dtype=np.int64)
        pad = np.maximum(shift, 0)
        drop = np.where(lengths + np.minimum(shift, 0) >= k, -np.minimum(shift, 0), 0)
        shifted = lengths + pad - drop
        u = position_uniforms(self.seed, self.stream, epoch, CROP_DRAW, indices)
        start = np.where(shifted > layout.crop_length,
                         np.floor(u * (shifted - layout.crop_length + 1)).astype(np.int64), 0)
        pad_left = np.maximum(pad - start, 0)  # N letters of the padding inside the crop
        position = np.maximum(start - pad, 0) + drop  # first record letter of the crop
        phase = position % k if store.phases > 1 else np.zeros_like(position)
        segment = records * store.phases + phase
        begin, end = store.offsets[segment], store.offsets[segment + 1]
        if store.tokenization in POSITIONAL:
            first = begin + np.minimum(position, end - begin)
        else:
            first = first_at_or_after(store.starts, begin, end, position)
        n_pad = np.minimum(layout.pad_counts[pad_left], layout.content_tokens)
        n_content = np.minimum(end - first, layout.content_tokens - n_pad)
        return Examples(records, np.full(len(records), epoch), indices, first, n_pad, pad_left, n_content,
                        np.asarray(store.species[records], dtype=np.int64))


def assemble(store: TokenStore, layout: Layout, examples: Examples, rows, pad_id: int):
    """``(ids [B, T] int64, attention_mask [B, T] bool, species_ids [B])`` of some examples.

    One slice copy per row for the content (a batch has at most a few hundred rows, each a
    contiguous run of the store, so this costs a memory copy per token; a gather through an index
    matrix costs several); the special and padding tokens are placed for all rows at once.
    """
    rows = np.arange(len(examples.records))[rows]
    lead, trail = len(layout.leading), len(layout.trailing)
    n_pad, n_content = examples.n_pad[rows], examples.n_content[rows]
    lengths = lead + n_pad + n_content + trail
    ids = np.full((len(rows), int(lengths.max())), pad_id, dtype=np.int64)
    ids[:, :lead] = layout.leading
    padded = np.flatnonzero(n_pad)
    if len(padded):  # the leading N tokens of shifted examples, from the layout's table
        columns = np.arange(int(n_pad.max()))
        inside = columns[None, :] < n_pad[padded, None]
        table = layout.pad_tokens[examples.pad_row[rows[padded]]][:, :len(columns)]
        ids[np.repeat(padded, inside.sum(axis=1)), lead + np.nonzero(inside)[1]] = table[inside]
    content_start = lead + n_pad
    tokens = store.tokens
    for out, (start, count, first) in enumerate(zip(content_start.tolist(), n_content.tolist(),
                                                    examples.first_token[rows].tolist())):
        ids[out, start:start + count] = tokens[first:first + count]
    if trail:
        ids[np.arange(len(rows))[:, None], (content_start + n_content)[:, None] + np.arange(trail)] = layout.trailing
    attention = np.arange(ids.shape[1])[None, :] < lengths[:, None]
    return ids, attention, examples.species[rows]


class EpochOrder:
    """Record index of each position of an epoch: shards in a seeded per-epoch order."""

    def __init__(self, shard_records: np.ndarray, seed: int):
        self.shard_records, self.seed = np.asarray(shard_records, dtype=np.int64), seed
        self.shard_starts = np.concatenate([[0], np.cumsum(self.shard_records)[:-1]])
        self.size = int(self.shard_records.sum())
        self._cached = None

    def records(self, epoch: int, indices: np.ndarray) -> np.ndarray:
        if self._cached is None or self._cached[0] != epoch:
            order = np.random.default_rng([self.seed, TRAIN_STREAM, epoch]).permutation(len(self.shard_records))
            ends = np.cumsum(self.shard_records[order])
            self._cached = (epoch, order, ends)
        _, order, ends = self._cached
        shard = np.searchsorted(ends, indices, side="right")
        return self.shard_starts[order[shard]] + indices - (ends[shard] - self.shard_records[order[shard]])


def length_grouped_batches(widths: np.ndarray, tokens_per_batch: int) -> list[np.ndarray]:
    """Rows of each batch: sorted by width, cut greedily so that ``rows * widest <= tokens_per_batch``.

    Examples of similar length share a batch, so little of it is padding (a batch is padded to its
    widest example); a batch always holds at least one example.
    """
    order = np.argsort(widths, kind="stable")
    ordered = widths[order]
    batches, start = [], 0
    while start < len(order):
        most = max(1, tokens_per_batch // int(ordered[start]))  # no batch can hold more than this
        window = ordered[start:start + most]
        count = max(1, int(np.searchsorted(window * np.arange(1, len(window) + 1), tokens_per_batch, side="right")))
        batches.append(order[start:start + count])
        start += count
    return batches


class BatchStream:
    """Token-budget batches of this rank's records; ``position`` is where a resumed run starts.

    This rank's examples of an epoch are taken in chunks of ``chunk`` on a fixed grid, so a run
    resumed anywhere sees the same chunks as an uninterrupted one. A chunk's examples are grouped
    by length into batches (:func:`length_grouped_batches`), visited in an order shuffled from
    ``(seed, epoch, chunk)``. ``position`` is the ``(epoch, chunk, batch)`` of the next batch, so
    saving it after any batch and restarting there repeats nothing and skips nothing.
    """

    def __init__(self, store, layout, seed, tokens_per_batch, pad_id, rank=0, world=1, shift_max=0,
                 position=(0, 0, 0), chunk=CHUNK):
        self.store, self.layout, self.seed, self.tokens_per_batch, self.pad_id = store, layout, seed, tokens_per_batch, pad_id
        self.rank, self.world, self.chunk = rank, world, chunk
        self.sampler = ExampleSampler(store, layout, seed, shift_max)
        self.order = EpochOrder(store.shard_records, seed)
        self.position = tuple(int(p) for p in position)
        self.per_epoch = len(range(rank, self.order.size, world))  # this rank's examples per epoch
        self._plan = None  # (epoch, chunk, examples, batches) of the current chunk

    def _chunk_plan(self, epoch, chunk):
        """This rank's examples of one chunk and its batches, in visiting order."""
        if self._plan is None or self._plan[:2] != (epoch, chunk):
            start = chunk * self.chunk
            indices = self.rank + self.world * np.arange(start, min(self.per_epoch, start + self.chunk))
            examples = self.sampler.examples(epoch, indices, self.order.records(epoch, indices))
            extra = len(self.layout.leading) + len(self.layout.trailing)
            batches = length_grouped_batches(examples.widths + extra, self.tokens_per_batch)
            shuffle = np.random.default_rng([self.seed, TRAIN_STREAM, epoch, chunk]).permutation(len(batches))
            self._plan = (epoch, chunk, examples, [batches[i] for i in shuffle])
        return self._plan[2:]

    def next_batch(self):
        """The next padded batch ``(ids, attention_mask, species_ids)``."""
        epoch, chunk, number = self.position
        examples, batches = self._chunk_plan(epoch, chunk)
        batch = assemble(self.store, self.layout, examples, batches[number], self.pad_id)
        number += 1
        if number == len(batches):
            chunk, number = chunk + 1, 0
            if chunk * self.chunk >= self.per_epoch:
                epoch, chunk = epoch + 1, 0
        self.position = (epoch, chunk, number)
        return batch


def validation_batches(store, layout, seed, max_sequences, per_batch, pad_id, rank=0, world=1):
    """Fixed examples of the first ``max_sequences`` records of the validation store (this rank's share)."""
    sampler = ExampleSampler(store, layout, seed, stream=VALID_STREAM)
    indices = np.arange(min(max_sequences, store.n_records))
    examples = sampler.examples(0, indices, indices)
    mine = np.flatnonzero(indices % world == rank)
    return [assemble(store, layout, examples, mine[start:start + per_batch], pad_id)
            for start in range(0, len(mine), per_batch)]


PASS_TOKENS = 1 << 18  # smallest masking pass: below it the per-call cost dominates, above it joining costs more


class StepPacks(IterableDataset):
    """The training stream as packs of consecutive micro-batches, for a ``DataLoader`` worker process.

    A pack is one masking pass of the trainer: micro-batches of one optimiser step (``count`` per
    step; the stream starts at a step boundary) joined until they hold ``PASS_TOKENS`` tokens, or
    the step ends: the ids and attention masks flattened into one array each, with their shapes,
    species ids and the stream position after the last. Slicing and padding run in the worker,
    beside the training process instead of competing with it for the interpreter (a thread does:
    measured slower than none), and a few large messages cost less to pass than many small ones.
    """

    def __init__(self, stream: BatchStream, count: int):
        self.stream, self.count = stream, count

    def __iter__(self):
        while True:
            left = self.count
            while left:
                batches, tokens = [], 0
                while left and tokens < PASS_TOKENS:
                    batches.append(self.stream.next_batch())
                    tokens += batches[-1][0].size
                    left -= 1
                ids, attention, species = zip(*batches)
                yield {"ids": np.concatenate([a.ravel() for a in ids]),
                       "attention_mask": np.concatenate([a.ravel() for a in attention]),
                       "species_ids": np.concatenate(species),
                       "shapes": np.array([a.shape for a in ids], dtype=np.int64),
                       "position": np.array(self.stream.position, dtype=np.int64),
                       "step_done": left == 0}


def step_loader(stream: BatchStream, count: int, pin_memory: bool, seed: int, depth: int = 4):
    """An iterator of :class:`StepPacks` messages, ``depth`` of them prepared ahead by one worker process."""
    # the worker draws nothing random; a generator of its own keeps the loader off the global one
    loader = DataLoader(StepPacks(stream, count), batch_size=None, num_workers=1, prefetch_factor=depth,
                        pin_memory=pin_memory, generator=torch.Generator().manual_seed(seed))
    return iter(loader)


def unpack(pack: dict):
    """``(batches, position after them)`` of a :class:`StepPacks` message, each batch
    ``[ids, attention_mask, species_ids]`` as views of its tensors."""
    batches, offset, row = [], 0, 0
    for rows, width in pack["shapes"].tolist():
        size = rows * width
        batches.append([pack["ids"][offset:offset + size].view(rows, width),
                        pack["attention_mask"][offset:offset + size].view(rows, width),
                        pack["species_ids"][row:row + rows]])
        offset, row = offset + size, row + rows
    return batches, tuple(pack["position"].tolist())
