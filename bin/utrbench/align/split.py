"""Pretraining dataset: by-UTR validation split, gene exclusion, seeded shuffle into shards.

Records are ``>utr_id:species``. All species of a UTR go to the same side of the split, so a
validation UTR is unseen in training in every species. The shuffle is exact and needs memory
for one shard only: each training record goes to a uniformly random shard, then each shard
is shuffled; reading the shards in order gives a uniformly random permutation.
"""

import os
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
        buckets = [open(tmp / f".bucket_{k:03d}", "w") for k in range(shards + 1)]  # last: validation
        try:
            for utr_id, species, sequence in records:
                if utr_id in skip_utrs:
                    counts["excluded"] += 1
                    continue
                species_seen.add(species)
                side = "valid" if utr_id in valid_utrs else "train"
                counts[side] += 1
                bucket = shards if side == "valid" else int(rng.integers(shards))
                buckets[bucket].write(f">{utr_id}:{species}\n{sequence}\n")
        finally:
            for bucket in buckets:
                bucket.close()
        names = [f"train_{k:03d}.fa" for k in range(shards)] + ["valid.fa"]
        for k, name in enumerate(names):
            _shuffle_bucket(tmp / f".bucket_{k:03d}", tmp / name, rng)
        (tmp / "species.txt").write_text("".join(f"{s}\n" for s in sorted(species_seen)))
    return counts


def _shuffle_bucket(bucket: Path, target: Path, rng) -> None:
    """Shuffle the two-line records of one bucket file into ``target``, then remove the bucket."""
    with open(bucket) as handle:
        lines = handle.read().splitlines()
    records = [lines[i] + "\n" + lines[i + 1] + "\n" for i in range(0, len(lines), 2)]
    with open(target, "w") as out:
        out.writelines(records[i] for i in rng.permutation(len(records)))
    os.unlink(bucket)
