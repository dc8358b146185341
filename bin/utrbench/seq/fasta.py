"""FASTA reading (pysam) and writing."""

from pathlib import Path

import pysam

from utrbench.errors import UserError
from utrbench.io import atomic_output
from utrbench.seq.alphabet import check_sequence


def iter_fasta(path, validate=True):
    """Yield ``(id, sequence)`` per record; sequences uppercased and checked for ACGTN."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: file not found.")
    try:
        with pysam.FastxFile(str(path)) as handle:
            for number, record in enumerate(handle, start=1):
                if record.sequence is None:
                    raise UserError(f"{path}: record {number} ({record.name}) has no sequence.")
                sequence = record.sequence
                if validate:
                    sequence = check_sequence(sequence, f"{path}: record {record.name}")
                yield record.name, sequence
    except OSError as error:
        raise UserError(f"{path}: not a readable FASTA file ({error}).") from None


def read_fasta(path, validate=True) -> dict:
    """All records of a FASTA as an ordered ``{id: sequence}``; duplicate ids are an error."""
    records = {}
    for name, sequence in iter_fasta(path, validate=validate):
        if name in records:
            raise UserError(f"{path}: record id {name!r} occurs more than once.")
        records[name] = sequence
    return records


def write_fasta(records, path, width=0) -> None:
    """Write ``(id, sequence)`` pairs atomically; ``width`` 0 writes one line per sequence."""
    with atomic_output(path) as tmp, open(tmp, "w") as out:
        for name, sequence in records:
            out.write(f">{name}\n")
            if width:
                for start in range(0, len(sequence), width):
                    out.write(sequence[start:start + width] + "\n")
            else:
                out.write(sequence + "\n")
