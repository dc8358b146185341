"""Sequences: alphabet checks, reverse complement, FASTA reading (pysam)."""

from utrbench.seq.fasta import iter_fasta, read_fasta, write_fasta
from utrbench.seq.alphabet import check_sequence, reverse_complement

__all__ = ["check_sequence", "iter_fasta", "read_fasta", "reverse_complement", "write_fasta"]
