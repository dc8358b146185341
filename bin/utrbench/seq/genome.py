"""Random access to a genome FASTA (plain or bgzip) through pysam.FastaFile."""

from pathlib import Path

import pysam

from utrbench.errors import UserError
from utrbench.seq.alphabet import reverse_complement


class Genome:
    """A genome FASTA with a ``.fai`` index (created by pysam when absent).

    Coordinates are 0-based half-open; :meth:`fetch` returns uppercase sequence,
    reverse-complemented for ``strand='-'``.
    """

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.exists():
            raise UserError(f"{self.path}: file not found.")
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
