"""Blocks and shards: how inference streams over a FASTA and splits it into parallel tasks.

A *block* is a run of consecutive records of at most ``shard_nt`` nucleotides (a record longer
than that is a block of its own), cut greedily in file order. Inference works one block at a
time (windows, batches and results of one block in memory, then written), so memory is bounded
by the block size, not by the number or total length of the records.

A *shard* is one block written to its own FASTA by :func:`split_fasta`: one task per shard, and
:func:`merge_shards` appends the shards' results in shard order. The greedy cut starts afresh at
every block boundary, so a shard run with the same ``shard_nt`` is one block, batched exactly as
in a run over the whole FASTA: the merged file equals that run's file byte for byte.
"""

import ctypes
from pathlib import Path

import h5py

from utrbench.errors import UserError
from utrbench.io import InferenceWriter, atomic_output
from utrbench.infer.records import iter_records

SHARD_NAME = "shard_{:05d}.fa"


def iter_blocks(records, shard_nt: int):
    """Lists of ``(id, sequence)``, consecutive, at most ``shard_nt`` nt each (see module docstring).

    Between blocks the heap freed by the previous block is handed back to the system: glibc keeps
    freed memory of the varying batch tensors otherwise, and the resident set would creep up
    block after block although nothing is held.
    """
    if shard_nt < 1:
        raise UserError(f"shard size {shard_nt} nt: need at least 1.")
    block, block_nt = [], 0
    for name, sequence in records:
        if block and block_nt + len(sequence) > shard_nt:
            yield block
            _release_freed_heap()
            block, block_nt = [], 0
        block.append((name, sequence))
        block_nt += len(sequence)
    if block:
        yield block


def _release_freed_heap() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:  # not glibc: nothing to hand back this way
        pass


def split_fasta(fasta, shard_nt: int, out_dir) -> int:
    """Write the blocks of ``fasta`` as ``out_dir/shard_00000.fa``, ...; the number of shards."""
    count = 0
    with atomic_output(out_dir) as tmp:
        Path(tmp).mkdir()
        for block in iter_blocks(iter_records(fasta), shard_nt):
            with open(Path(tmp) / SHARD_NAME.format(count), "w") as handle:
                handle.writelines(f">{name}\n{sequence}\n" for name, sequence in block)
            count += 1
    return count


def _shard_contents(path):
    """``(kind, attrs, ids, values, dtype)`` of one shard's inference HDF5."""
    try:
        with h5py.File(path, "r") as handle:
            name = "probs" if "probs" in handle else "embeddings"
            kind = "probs" if name == "probs" else ("nucleotide_embeddings" if "offsets" in handle else "embeddings")
            ids = [x.decode() if isinstance(x, bytes) else x for x in handle["ids"][()]]
            values = handle[name][()]
            if kind != "embeddings":
                offsets = handle["offsets"][()]
                values = [values[offsets[k]:offsets[k + 1]] for k in range(len(ids))]
            # the writer records utrbench_version itself
            attrs = {key: value for key, value in handle.attrs.items() if key != "utrbench_version"}
            return kind, attrs, ids, values, handle[name].dtype
    except (OSError, KeyError) as error:
        raise UserError(f"{path}: not an inference HDF5 with 'ids' and 'probs' or 'embeddings' ({error}).") from None


def merge_shards(paths, out) -> None:
    """Append the shards' results, in the order given, into one HDF5 of the same layout.

    The shards must come from one model and one set of options: their attributes must agree.
    """
    if not paths:
        raise UserError("no shard files to merge.")
    first_path = paths[0]
    kind, attrs, ids, values, dtype = _shard_contents(first_path)
    with atomic_output(out, suffix=".h5") as tmp, InferenceWriter(tmp, kind, attrs, dtype) as writer:
        writer.append(ids, values)
        for path in paths[1:]:
            shard_kind, shard_attrs, ids, values, _ = _shard_contents(path)
            if (shard_kind, shard_attrs) != (kind, attrs):
                raise UserError(f"{path}: its layout or attributes differ from those of {first_path}; "
                                "the shards of one result must come from one model and one set of options.")
            writer.append(ids, values)
