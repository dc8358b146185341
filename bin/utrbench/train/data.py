"""Streaming the dataset's FASTA shards into token-budget batches, resumably.

Records are read with pysam in a fixed order per epoch (the shard order is shuffled per epoch
from the seed; the shards themselves are pre-shuffled by the dataset step). Rank ``r`` of
``world`` devices takes the records whose index in the epoch is ``r`` modulo ``world``.

Every random choice about a record (shift, crop) comes from a generator seeded by
``(seed, epoch, index)``, so a record's example is a pure function of its position and a run
resumes exactly from a saved ``(epoch, index)`` without saving any generator state.
"""

from dataclasses import dataclass

import numpy as np

from utrbench.errors import UserError
from utrbench.seq import iter_fasta

SPECIES_SEPARATOR = ":"
TRAIN_STREAM, VALID_STREAM = 1, 2  # keep training and validation randomness apart

# Crop length in nucleotides for ``n`` content tokens. Greedy k-mers with a single-letter
# fallback and BPE tokens cover a variable number of letters, so their crop is an upper bound
# and the token ids are truncated to the context afterwards.
BPE_MAX_NT_PER_TOKEN = 8
CROP_NUCLEOTIDES = {
    "overlapping_kmer": lambda n, k: n + k - 1,
    "greedy_kmer": lambda n, k: n * k,
    "bpe": lambda n, k: n * BPE_MAX_NT_PER_TOKEN,
    "nucleotide": lambda n, k: n,
}


def species_of(record_name: str):
    """The species of a ``utr_id:species`` header, or None when the header has no species."""
    utr_id, separator, species = record_name.rpartition(SPECIES_SEPARATOR)
    return species if separator and utr_id and species else None


@dataclass
class DatasetSummary:
    """What a pass over the dataset found: usable record count and species id per species name."""

    n_records: int
    species_ids: dict


def scan_dataset(paths, info, species_aware: bool, min_length: int) -> DatasetSummary:
    """Check every record before training starts, so bad data fails fast with no output written.

    A species-aware model needs a known species in every header; records shorter than
    ``min_length`` are skipped during training, and a dataset without any usable record is an
    error.
    """
    n_records, species_ids = 0, {}
    for path in paths:
        for name, sequence in iter_fasta(path):
            species = species_of(name)
            if species_aware:
                if species is None:
                    raise UserError(f"{path}: record {name!r} has no species; headers must be 'utr_id:species'.")
                if species not in species_ids:
                    species_ids[species] = info.species_index(species, where=f"{path}: record {name!r}")
            n_records += len(sequence) >= min_length
    if n_records == 0:
        names = ", ".join(str(p) for p in paths) or "(no files)"
        raise UserError(f"{names}: the dataset has no sequence of at least {min_length} nt to train on.")
    return DatasetSummary(n_records, species_ids)


@dataclass
class Example:
    ids: np.ndarray  # int64 token ids, specials included, at most the context length
    species_id: int


class ExampleMaker:
    """Turn one record into a training example: shift, random crop, tokenize, truncate."""

    def __init__(self, tokenizer, tokenization, context_tokens, seed, species_ids, shift_max=0, stream=TRAIN_STREAM):
        self.tokenizer = tokenizer
        self.context_tokens = context_tokens
        self.seed, self.stream = seed, stream
        self.species_ids = species_ids
        self.shift_max = shift_max
        k = getattr(tokenizer, "k", 1)
        self.min_length = k
        self.n_special = int((tokenizer.encode("A" * k).spans[:, 0] < 0).sum())
        self.content_tokens = context_tokens - self.n_special
        self.crop_length = CROP_NUCLEOTIDES[tokenization](self.content_tokens, k)

    def __call__(self, epoch, index, name, sequence):
        """The example of record ``index`` of ``epoch``, or None when the record is too short."""
        if len(sequence) < self.min_length:
            return None
        rng = np.random.default_rng([self.seed, self.stream, epoch, index])
        if self.shift_max:
            shift = int(rng.integers(-self.shift_max, self.shift_max))
            # a positive shift pads with N (NT-v2's augmentation); a negative one drops letters
            sequence = "N" * shift + sequence if shift > 0 else sequence[-shift:] or sequence
        if len(sequence) > self.crop_length:
            start = int(rng.integers(0, len(sequence) - self.crop_length + 1))
            sequence = sequence[start:start + self.crop_length]
        tokens = self.tokenizer.encode(sequence)
        return Example(self.truncate(tokens), self.species_ids.get(species_of(name), 0))

    def truncate(self, tokens) -> np.ndarray:
        """Keep the leading specials, the first content tokens that fit, and the trailing specials."""
        ids = tokens.ids
        if len(ids) <= self.context_tokens:
            return ids
        special = tokens.spans[:, 0] < 0
        leading = int(np.argmin(special)) if not special.all() else len(ids)
        trailing = int(np.argmin(special[::-1]))
        kept = ids[:leading + self.content_tokens]
        return np.concatenate([kept, ids[len(ids) - trailing:]]) if trailing else kept


class RecordStream:
    """Endless stream of this rank's ``(epoch, index, name, sequence)``, starting at a position."""

    def __init__(self, paths, seed, rank=0, world=1):
        self.paths, self.seed, self.rank, self.world = list(paths), seed, rank, world

    def shard_order(self, epoch):
        order = np.random.default_rng([self.seed, TRAIN_STREAM, epoch]).permutation(len(self.paths))
        return [self.paths[i] for i in order]

    def records(self, epoch=0, index=0):
        while True:
            position = 0
            for path in self.shard_order(epoch):
                for name, sequence in iter_fasta(path):
                    if position >= index and position % self.world == self.rank:
                        yield epoch, position, name, sequence
                    position += 1
            epoch, index = epoch + 1, 0


def pad_batch(examples, pad_id):
    """``(ids [B, T], attention_mask [B, T], species_ids [B])`` as numpy arrays, right-padded."""
    width = max(len(e.ids) for e in examples)
    ids = np.full((len(examples), width), pad_id, dtype=np.int64)
    attention = np.zeros((len(examples), width), dtype=bool)
    for row, example in enumerate(examples):
        ids[row, :len(example.ids)] = example.ids
        attention[row, :len(example.ids)] = True
    species = np.array([e.species_id for e in examples], dtype=np.int64)
    return ids, attention, species


class BatchStream:
    """Token-budget batches from a record stream; ``position`` is where a resumed run starts.

    A batch holds as many examples as fit ``tokens_per_batch`` once padded to its longest
    example. The record that did not fit is kept for the next batch, and ``position`` points at
    it, so saving ``position`` after any batch and restarting there repeats nothing and skips
    nothing.
    """

    def __init__(self, records: RecordStream, make_example: ExampleMaker, tokens_per_batch, pad_id, position=(0, 0)):
        self.make_example, self.tokens_per_batch, self.pad_id = make_example, tokens_per_batch, pad_id
        self.position = tuple(position)
        self._records = records.records(*self.position)
        self._pending = None

    def _next_example(self):
        while True:
            epoch, index, name, sequence = next(self._records)
            example = self.make_example(epoch, index, name, sequence)
            if example is not None:
                return (epoch, index), example

    def next_batch(self):
        """The next padded batch ``(ids, attention_mask, species_ids)``."""
        examples, width = [], 0
        while True:
            if self._pending is None:
                self._pending = self._next_example()
            position, example = self._pending
            new_width = max(width, len(example.ids))
            if examples and new_width * (len(examples) + 1) > self.tokens_per_batch:
                self.position = position
                return pad_batch(examples, self.pad_id)
            examples.append(example)
            width, self._pending = new_width, None
