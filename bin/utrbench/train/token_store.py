"""A memory-mapped token store: the training shards tokenised once, sliced by every later batch.

Tokenising text costs far more than slicing integers, and a run reads its data many times
(epochs, and attempts that resume after a scheduler limit). So the FASTA shards are tokenised
once, one worker process per shard, into a folder of ``.npy`` arrays that every batch maps
read-only (``numpy.load(mmap_mode="r")``: the operating system pages in what is sliced, memory
stays flat in the dataset size):

- ``tokens.npy``: the content token ids (no special tokens) of every *segment*, concatenated;
- ``offsets.npy``: int64 ``[n_segments + 1]``, segment ``s`` is ``tokens[offsets[s]:offsets[s+1]]``;
- ``starts.npy``: int32 nucleotide start of each token within its record (only for tokenisations
  whose tokens are not one per position, where a crop start must be looked up);
- ``lengths.npy`` / ``species.npy``: nucleotide length and species id of every record;
- ``store.json``: the tokenisation, the number of phases, the records of each shard.

A record is one segment, except for ``greedy_kmer`` (NT): its tokenisation depends on where it
starts, so a record is stored in ``k`` phases, phase ``p`` being the tokens of ``sequence[p:]``,
and a crop starting at nucleotide ``q`` reads phase ``q mod k`` from the first token starting at
or after ``q``. Records shorter than ``min_length`` (one k-mer) cannot be trained on and are left
out.
"""

import hashlib
import json
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from utrbench.errors import UserError
from utrbench.io import atomic_output
from utrbench.seq import iter_fasta

FORMAT_VERSION = 1
SPECIES_SEPARATOR = ":"
# Tokenisations where token i of a record starts at nucleotide i: a crop needs no start lookup.
POSITIONAL = ("overlapping_kmer", "nucleotide")


def species_of(record_name: str):
    """The species of a ``utr_id:species`` header, or None when the header has no species."""
    utr_id, separator, species = record_name.rpartition(SPECIES_SEPARATOR)
    return species if separator and utr_id and species else None


def phases_of(tokenization: str, k: int) -> int:
    """Stored phases per record: k for greedy k-mers, whose tokens depend on the start, else 1."""
    return k if tokenization == "greedy_kmer" else 1


def token_dtype(vocab_size: int):
    return np.uint16 if vocab_size <= np.iinfo(np.uint16).max + 1 else np.int32


def fingerprint(paths, tokenization: str, tokenizer) -> str:
    """Content hash of the shards (names, bytes) and the tokenisation: the store's folder name."""
    digest = hashlib.blake2b(digest_size=12)
    digest.update(json.dumps([FORMAT_VERSION, tokenization, type(tokenizer).__name__, tokenizer.vocab_size,
                              getattr(tokenizer, "k", 1)]).encode())
    for path in paths:
        digest.update(Path(path).name.encode() + b"\0")
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 24):
                digest.update(chunk)
    return digest.hexdigest()


@dataclass
class ShardJob:
    """What one worker tokenises: a shard, written as raw arrays into ``part``."""

    path: str
    part: str
    tokenizer: object
    tokenization: str
    min_length: int
    species_ids: dict  # None: species-agnostic model (every record gets species 0)


def _content(tokens):
    """Content ids and nucleotide starts of a tokenised sequence (specials dropped)."""
    content = tokens.spans[:, 0] >= 0
    return tokens.ids[content], tokens.spans[content, 0]


def tokenize_shard(job: ShardJob) -> dict:
    """Tokenise one FASTA shard into raw arrays under ``job.part``; returns counts for the log.

    Streams record by record, appending to files, so a worker's memory does not grow with the
    shard.
    """
    k = getattr(job.tokenizer, "k", 1)
    phases = phases_of(job.tokenization, k)
    dtype = token_dtype(job.tokenizer.vocab_size)
    part = Path(job.part)
    part.mkdir(parents=True, exist_ok=True)
    n_records = n_tokens = n_nucleotides = 0
    files = {name: open(part / name, "wb") for name in ("tokens", "counts", "starts", "lengths", "species")}
    try:
        for name, sequence in iter_fasta(job.path):
            if len(sequence) < job.min_length:
                continue
            species = species_of(name)
            if job.species_ids is None:
                species_id = 0
            elif species is None:
                raise UserError(f"{job.path}: record {name!r} has no species; headers must be 'utr_id:species'.")
            elif species not in job.species_ids:
                raise UserError(f"{job.path}: record {name!r}: species {species!r} is not among the model's "
                                f"{len(job.species_ids)} species.")
            else:
                species_id = job.species_ids[species]
            for phase in range(phases):
                ids, starts = _content(job.tokenizer.encode(sequence[phase:] if phase else sequence))
                files["tokens"].write(ids.astype(dtype).tobytes())
                files["counts"].write(np.int64(len(ids)).tobytes())
                if job.tokenization not in POSITIONAL:
                    files["starts"].write((starts + phase).astype(np.int32).tobytes())
                n_tokens += len(ids)
            files["lengths"].write(np.int64(len(sequence)).tobytes())
            files["species"].write(np.int32(species_id).tobytes())
            n_records += 1
            n_nucleotides += len(sequence)
    finally:
        for handle in files.values():
            handle.close()
    return {"records": n_records, "tokens": n_tokens, "nucleotides": n_nucleotides}


def _concatenate(parts, name, dtype, target):
    """Copy the raw array ``name`` of every part, in order, into one ``.npy`` file."""
    sizes = [os.path.getsize(Path(part) / name) // np.dtype(dtype).itemsize for part in parts]
    out = np.lib.format.open_memmap(target, mode="w+", dtype=dtype, shape=(sum(sizes),))
    position = 0
    for part, size in zip(parts, sizes):
        if size:
            out[position:position + size] = np.memmap(Path(part) / name, dtype=dtype, mode="r", shape=(size,))
        position += size
    out.flush()
    del out


def build_token_store(paths, folder, tokenizer, tokenization, min_length, species_ids=None, workers=1) -> dict:
    """Tokenise ``paths`` (one worker per shard, up to ``workers`` at once) into the store ``folder``.

    Written atomically: a store folder that exists is complete. Returns the build's statistics
    (records, tokens, nucleotides, seconds) for the throughput report.
    """
    started = time.perf_counter()
    folder = Path(folder)
    dtype = token_dtype(tokenizer.vocab_size)
    k = getattr(tokenizer, "k", 1)
    with atomic_output(folder) as tmp:
        tmp.mkdir()
        parts = [str(tmp / f"part_{i:04d}") for i in range(len(paths))]
        jobs = [ShardJob(str(path), part, tokenizer, tokenization, min_length, species_ids)
                for path, part in zip(paths, parts)]
        if workers > 1 and len(jobs) > 1:
            # fork: the workers inherit the loaded tokenizer instead of re-importing torch
            with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=get_context("fork")) as pool:
                counts = list(pool.map(tokenize_shard, jobs))
        else:
            counts = [tokenize_shard(job) for job in jobs]
        _concatenate(parts, "tokens", dtype, tmp / "tokens.npy")
        _concatenate(parts, "lengths", np.int64, tmp / "lengths.npy")
        _concatenate(parts, "species", np.int32, tmp / "species.npy")
        if tokenization not in POSITIONAL:
            _concatenate(parts, "starts", np.int32, tmp / "starts.npy")
        _concatenate(parts, "counts", np.int64, tmp / "counts.npy")
        counts_array = np.load(tmp / "counts.npy", mmap_mode="r")
        offsets = np.lib.format.open_memmap(tmp / "offsets.npy", mode="w+", dtype=np.int64,
                                            shape=(len(counts_array) + 1,))
        offsets[0] = 0
        np.cumsum(counts_array, out=offsets[1:])
        offsets.flush()
        del offsets, counts_array
        os.unlink(tmp / "counts.npy")
        for part in parts:
            shutil.rmtree(part)
        n_records = sum(c["records"] for c in counts)
        if n_records == 0:
            names = ", ".join(str(p) for p in paths) or "(no files)"
            raise UserError(f"{names}: the dataset has no sequence of at least {min_length} nt to train on.")
        (tmp / "store.json").write_text(json.dumps({
            "format": FORMAT_VERSION, "tokenization": tokenization, "k": k, "phases": phases_of(tokenization, k),
            "shards": [{"name": Path(p).name, "records": c["records"]} for p, c in zip(paths, counts)],
        }, indent=1) + "\n")
    totals = {key: sum(c[key] for c in counts) for key in ("records", "tokens", "nucleotides")}
    return dict(totals, seconds=time.perf_counter() - started)


class TokenStore:
    """Read-only view of a built store; arrays are memory-mapped, nothing is loaded whole."""

    def __init__(self, folder):
        folder = Path(folder)
        meta = json.loads((folder / "store.json").read_text())
        self.folder = folder
        self.tokenization, self.k, self.phases = meta["tokenization"], meta["k"], meta["phases"]
        self.shard_records = np.array([shard["records"] for shard in meta["shards"]], dtype=np.int64)
        # plain arrays over the maps: slicing an np.memmap runs Python code per slice, a batch makes hundreds
        load = lambda name: np.asarray(np.load(folder / f"{name}.npy", mmap_mode="r"))  # noqa: E731
        self.tokens, self.offsets = load("tokens"), load("offsets")
        self.lengths, self.species = load("lengths"), load("species")
        self.starts = None if self.tokenization in POSITIONAL else load("starts")

    @property
    def n_records(self) -> int:
        return len(self.lengths)

    def record_tokens(self, record: int, phase: int = 0) -> np.ndarray:
        """Content token ids of one record in one phase (for tests and inspection)."""
        segment = record * self.phases + phase
        return np.asarray(self.tokens[self.offsets[segment]:self.offsets[segment + 1]])


def open_token_store(paths, folder_root, tokenizer, tokenization, min_length, species_ids=None, workers=1,
                     log=None) -> TokenStore:
    """The store of ``paths`` under ``folder_root``, built first if no complete one is there.

    ``log(message)`` receives the one-time tokenisation throughput.
    """
    folder = Path(folder_root) / fingerprint(paths, tokenization, tokenizer)
    if not (folder / "store.json").exists():
        created = [p for p in [folder.parent, *folder.parent.parents] if not p.exists()]
        try:
            stats = build_token_store(paths, folder, tokenizer, tokenization, min_length, species_ids, workers)
        except BaseException:  # bad data: leave no folder behind that this call created
            for parent in created:
                if parent.is_dir() and not any(parent.iterdir()):
                    parent.rmdir()
            raise
        if log:
            log(f"tokenised {stats['records']} records, {stats['nucleotides']} nt -> {stats['tokens']} tokens in "
                f"{stats['seconds']:.1f} s ({stats['nucleotides'] / max(stats['seconds'], 1e-9) / 1e6:.2f} M nt/s, "
                f"{workers} worker(s))")
    return TokenStore(folder)
