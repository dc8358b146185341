"""Pretraining dataset: by-UTR validation split, gene exclusion, seeded shuffle into shards.

Records are ``>utr_id:species``. All species of a UTR go to the same side of the split, so a
validation UTR is unseen in training in every species. The shuffle is exact and streams: each
training record goes to a uniformly random shard (a bucket file on disk, with the byte length of
every record kept as one int64), then each bucket is written out in a random permutation of its
records, read through a memory map. Reading the shards in order gives a uniformly random
permutation; memory holds 16 bytes per record of the largest bucket (lengths and the
permutation) and one record at a time, never the sequences of a shard (the study's training set
is 3.8 M records, 6.6 Gbp).
"""

import mmap
import os
from array import array
from pathlib import Path

import numpy as np

from utrbench.errors import UserError
from utrbench.io import atomic_output
from utrbench.seq.fasta import iter_fasta


def split_id(record_id: str, path) -> tuple:
    """``utr_id:species`` -> ``(utr_id, species)``; anything else is a UserError."""
    utr_id, sep, species = record_id.partition(":")
    if not sep or not utr_id or not species or ":" in species:
        raise UserError(f"{path}: record {record_id!r} is not named 'utr_id:species'.")
    return utr_id, species


def read_excluded_genes(path) -> set:
    """Gene ids (version optional), gene names or UTR ids, one per line; '#' starts a comment."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: file not found.")
    names = set()
    with open(path) as handle:
        for line in handle:
            name = line.split("#", 1)[0].strip()
            if name:
                names.add(name)
    return names


def excluded_utrs(utr_table, excluded: set) -> set:
    """UTR ids whose UTR id, gene id (with or without version) or gene name is in ``excluded``."""
    return {
        utr_id
        for utr_id, gene_id, gene_name in zip(utr_table["utr_id"], utr_table["gene_id"], utr_table["gene_name"])
        if {str(utr_id), str(gene_id), str(gene_id).split(".")[0], str(gene_name)} & excluded
    }


def validation_utrs(utr_ids, fraction: float, seed: int) -> set:
    """A seeded random ``fraction`` of the UTR ids (rounded), independent of input order."""
    if not 0 <= fraction < 1:
        raise UserError(f"--valid-fraction {fraction} must be at least 0 and below 1.")
    ordered = np.array(sorted(set(utr_ids)), dtype=object)
    chosen = np.random.default_rng(seed).permutation(len(ordered))[: int(round(fraction * len(ordered)))]
    return set(ordered[chosen])


def iter_dataset_records(human_fasta, ortholog_fastas, reference):
    """Yield ``(utr_id, species, sequence)``: the human UTRs (as ``reference``), then the orthologs."""
    for utr_id, sequence in iter_fasta(human_fasta):
        if ":" in utr_id:
            raise UserError(f"{human_fasta}: human record {utr_id!r} must be a bare UTR id without ':'.")
        yield utr_id, reference, sequence
    for path in ortholog_fastas:
        for record_id, sequence in iter_fasta(path):
            utr_id, species = split_id(record_id, path)
            yield utr_id, species, sequence


def write_dataset(records, out_dir, valid_utrs: set, skip_utrs: set, shards: int, seed: int) -> dict:
    """Write ``train_NNN.fa`` shards, ``valid.fa`` and ``species.txt`` into ``out_dir`` atomically.

    Returns counts for the log: records and UTRs on each side, records skipped.
    """
    if shards < 1:
        raise UserError(f"--shards {shards} must be at least 1.")
    rng = np.random.default_rng(seed)
    counts = {"train": 0, "valid": 0, "excluded": 0}
    species_seen = set()
    with atomic_output(out_dir) as tmp:
        tmp.mkdir()
        buckets = [open(tmp / f".bucket_{k:03d}", "wb") for k in range(shards + 1)]  # last: validation
        record_bytes = [array("q") for _ in buckets]
        try:
            for utr_id, species, sequence in records:
                if utr_id in skip_utrs:
                    counts["excluded"] += 1
                    continue
                species_seen.add(species)
                side = "valid" if utr_id in valid_utrs else "train"
                counts[side] += 1
                bucket = shards if side == "valid" else int(rng.integers(shards))
                record = f">{utr_id}:{species}\n{sequence}\n".encode("ascii")
                buckets[bucket].write(record)
                record_bytes[bucket].append(len(record))
        finally:
            for bucket in buckets:
                bucket.close()
        names = [f"train_{k:03d}.fa" for k in range(shards)] + ["valid.fa"]
        for k, name in enumerate(names):
            _shuffle_bucket(tmp / f".bucket_{k:03d}", np.frombuffer(record_bytes[k], dtype=np.int64), tmp / name, rng)
            record_bytes[k] = None
        (tmp / "species.txt").write_text("".join(f"{s}\n" for s in sorted(species_seen)))
    return counts


def _shuffle_bucket(bucket: Path, record_bytes: np.ndarray, target: Path, rng) -> None:
    """Write the records of one bucket file (byte lengths given) to ``target`` in a random order, then remove it."""
    starts = np.concatenate([[0], np.cumsum(record_bytes)[:-1]]).astype(np.int64)
    order = rng.permutation(len(record_bytes))
    with open(bucket, "rb") as handle, open(target, "wb") as out:
        if len(order):  # an empty file cannot be memory-mapped
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                for i in order:
                    out.write(data[starts[i]:starts[i] + record_bytes[i]])
    os.unlink(bucket)
