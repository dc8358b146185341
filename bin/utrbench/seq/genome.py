"""Random access to a genome FASTA (plain or bgzip) through pysam.FastaFile."""

from pathlib import Path

import pysam

from utrbench.errors import UserError
from utrbench.seq.alphabet import reverse_complement


def check_index_is_current(path: Path) -> None:
    """A ``.fai`` whose records do not start where its FASTA's headers end indexes another file
    (the FASTA changed after indexing): pysam would return wrong sequence without a word, so it
    is an error. Checked for plain FASTA (a bgzip FASTA's offsets are in the uncompressed stream)."""
    index = Path(f"{path}.fai")
    if not index.exists():
        return
    with open(path, "rb") as fasta:
        if fasta.read(2) == b"\x1f\x8b":
            return
        size = path.stat().st_size
        for number, line in enumerate(index.read_text().splitlines(), start=1):
            fields = line.split("\t")
            try:
                name, length, offset, line_bases, line_bytes = fields[0], *map(int, fields[1:5])
            except ValueError:
                raise UserError(f"{index}: line {number} is not a .fai line (name, length, offset, bases, bytes).") from None
            end = offset + (length // line_bases) * line_bytes + length % line_bases if line_bases else offset
            if end > size or not _header_line_before(fasta, offset, name):
                raise UserError(f"{index}: contig {name} is not where the index says in {path}; the index is stale "
                                "(the FASTA changed after indexing), delete it so it is rebuilt.")


def _header_line_before(fasta, offset, name) -> bool:
    """Whether the line just before byte ``offset`` is the FASTA header of ``name``."""
    fasta.seek(max(0, offset - 4096))
    lines = fasta.read(offset - max(0, offset - 4096)).split(b"\n")
    return len(lines) >= 2 and lines[-1] == b"" and lines[-2].split()[:1] == [b">" + name.encode()]


class Genome:
    """A genome FASTA with a ``.fai`` index (created by pysam when absent).

    Coordinates are 0-based half-open; :meth:`fetch` returns uppercase sequence,
    reverse-complemented for ``strand='-'``.
    """

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.exists():
            raise UserError(f"{self.path}: file not found.")
        check_index_is_current(self.path)
        try:
            self._fasta = pysam.FastaFile(str(self.path))
        except (OSError, ValueError) as error:
            raise UserError(f"{self.path}: not an indexable FASTA (plain or bgzip) ({error}).") from None
        self._lengths = dict(zip(self._fasta.references, self._fasta.lengths))

    @property
    def contigs(self) -> list:
        """Contig names in file order."""
        return list(self._fasta.references)

    def length(self, contig: str) -> int:
        """Length of ``contig``; UserError when the genome has no such contig."""
        try:
            return self._lengths[contig]
        except KeyError:
            raise UserError(f"{self.path}: contig {contig!r} is not in the genome.") from None

    def fetch(self, contig: str, start: int, end: int, strand: str = "+") -> str:
        """Sequence of ``contig[start:end)``, uppercase, reverse complement on ``'-'``."""
        size = self.length(contig)
        if not 0 <= start <= end <= size:
            raise UserError(
                f"{self.path}: interval {contig}:{start}-{end} lies outside the contig (length {size})."
            )
        if strand not in ("+", "-"):
            raise UserError(f"strand {strand!r} for {contig}:{start}-{end} is not '+' or '-'.")
        sequence = self._fasta.fetch(contig, start, end).upper()
        return reverse_complement(sequence) if strand == "-" else sequence

    def close(self) -> None:
        self._fasta.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
