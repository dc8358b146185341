"""Orthologous 3'UTRs as the study builds them from a HAL alignment (reference 01 §2).

For each human UTR:

1. Its stop codon is the 3 nt just upstream of the UTR in transcript direction (utr_annotation.py
   starts every UTR right after the stop codon). A UTR whose human codon, in transcript
   orientation, is not TAA, TAG or TGA is skipped.
2. hal2maf over the stop codons (``hal2maf_batch.py --stop-codons``) aligns each species to it.
   A species keeps the UTR when one of its rows covers all three codon positions in one block,
   without gaps or inserted bases between them, with the same three letters as the human row.
   Among several such rows (contigs) the first in the block wins.
3. The species UTR is the contiguous stretch of the human UTR's length right after its stop
   codon in the species' transcript direction (the human gene strand combined with the row's
   alignment strand), clipped at the contig ends; no species annotation is used.
   :func:`utrbench.align.hal.species_utr_sequences` cuts it with hal2fasta and
   reverse-complements it on '-', so every sequence is in transcript orientation.

A codon split over two blocks (an alignment breakpoint inside it) counts as unaligned.
"""

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utrbench.align.maf import GAP, UtrIndex, check_reference_row, overlapping_blocks
from utrbench.align.utrs import Utr

STOP_CODONS = ("TAA", "TAG", "TGA")


@dataclass(frozen=True, slots=True)
class OrthologRegion:
    """Where one species' UTR lies: ``[start, end)`` on ``contig`` (+ strand coordinates)."""

    utr_id: str
    species: str
    contig: str
    start: int
    end: int
    strand: str  # transcript direction on the species contig
    utr_length: int  # the human UTR's length; end - start is shorter when clipped

    @property
    def clipped(self) -> bool:
        return self.end - self.start < self.utr_length


def stop_codon(utr: Utr):
    """``(start, end)`` of the 3 nt upstream of the UTR in transcript direction (+ strand coordinates)."""
    if utr.strand == "+":
        start = utr.exons[0][0]
        return start - 3, start
    end = utr.exons[-1][1]
    return end, end + 3


class _CodonIndex:
    """What :func:`overlapping_blocks` reads of an extractor (``index``, ``prefix``, ``reference``),
    with the stop codons as one-exon intervals."""

    def __init__(self, utrs, reference, maf_name):
        codons = [Utr(utr.utr_id, utr.chrom, utr.strand, [stop_codon(utr)]) for utr in utrs]
        self.index = UtrIndex([c for c in codons if c.exons[0][0] >= 0])
        self.reference = reference
        self.prefix = reference + "."
        self.maf_name = maf_name


def _species_codon(block, row, columns):
    """The forward interval of row ``row``'s codon, or None where it is not 3 contiguous bases."""
    span = block.matrix[row, columns[0]:columns[-1] + 1]
    if np.count_nonzero(span != GAP) != 3 or (block.matrix[row, columns] == GAP).any():
        return None
    position = block.row_start(row) + int(np.count_nonzero(block.matrix[row, :columns[0]] != GAP))
    if block.keys[row][2] == "+":
        return position, position + 3
    src_size = block.row_src_size(row)
    return src_size - position - 3, src_size - position


def ortholog_outcomes(block, utr: Utr, genome, maf_name):
    """``{species: OrthologRegion or outcome name}`` for one UTR from the block holding its stop codon."""
    codon_start, codon_end = stop_codon(utr)
    reference_columns = np.flatnonzero(block.reference_text != GAP)
    columns = reference_columns[codon_start - block.start:codon_end - block.start]
    check_reference_row(block, columns, codon_start, codon_end, genome, maf_name)
    human = block.reference_text[columns]
    outcomes = {}
    for row, (species, contig, strand) in enumerate(block.keys):
        if isinstance(outcomes.get(species), OrthologRegion):
            continue  # an earlier row of this species already matched
        if not np.array_equal(block.matrix[row, columns], human):
            outcomes.setdefault(species, "codon_mismatch" if (block.matrix[row, columns] != GAP).any()
                                else "codon_unaligned")
            continue
        interval = _species_codon(block, row, columns)
        if interval is None:
            outcomes.setdefault(species, "codon_unaligned")
            continue
        transcript_strand = strand if utr.strand == "+" else ("+" if strand == "-" else "-")
        src_size = block.row_src_size(row)
        if transcript_strand == "+":
            start, end = interval[1], min(interval[1] + utr.length, src_size)
        else:
            start, end = max(interval[0] - utr.length, 0), interval[0]
        if end <= start:
            outcomes[species] = "clipped"  # the codon ends its contig: nothing after it
            continue
        outcomes[species] = OrthologRegion(utr.utr_id, species, contig, start, end, transcript_strand, utr.length)
    return outcomes


def human_stop_codon(utr: Utr, genome) -> str:
    """The human codon upstream of the UTR in transcript orientation ('' where the contig ends first)."""
    codon_start, codon_end = stop_codon(utr)
    if codon_start < 0 or codon_end > genome.length(utr.chrom):
        return ""
    return genome.fetch(utr.chrom, codon_start, codon_end, utr.strand)


def stop_codon_orthologs(maf_paths, utrs, genome, reference):
    """Yield ``(utr, human_codon, outcomes)`` per UTR in input order (rules in the module docstring).

    ``outcomes`` maps each species with a row over the stop codon to its :class:`OrthologRegion`
    or to the reason it has none; it is empty when the human codon is not a stop codon. Each block
    is resolved as it is read, so memory holds the outcomes, not the alignment.
    """
    utrs = list(utrs)
    codons = [human_stop_codon(utr, genome) for utr in utrs]
    position_of = {utr.utr_id: k for k, utr in enumerate(utrs)}
    resolved, partial = {}, defaultdict(set)  # utr index -> outcomes / species seen over part of the codon
    for maf_path in map(Path, maf_paths):
        index = _CodonIndex(utrs, reference, maf_path)
        for block in overlapping_blocks(maf_path, index):
            for segment in index.index.overlapping(block.chrom, block.start, block.end):
                number = position_of[index.index.utrs[segment.utr_index].utr_id]
                if codons[number] not in STOP_CODONS or number in resolved:
                    continue
                if block.start <= segment.start and segment.end <= block.end:
                    resolved[number] = ortholog_outcomes(block, utrs[number], genome, maf_path)
                else:
                    partial[number].update(species for species, _, _ in block.keys)
    for number, utr in enumerate(utrs):
        outcomes = dict(resolved.get(number, {}))
        for species in partial.get(number, ()):
            outcomes.setdefault(species, "codon_unaligned")
        yield utr, codons[number], dict(sorted(outcomes.items()))


def outcome_counts(results, reference) -> list:
    """Rows ``(species, outcome, utrs)`` summarising :func:`stop_codon_orthologs`, sorted.

    The reference species' rows count the UTRs whose human codon is a stop codon or not.
    """
    counts = defaultdict(int)
    for _, human_codon, outcomes in results:
        counts[(reference, "stop_codon" if human_codon in STOP_CODONS else "not_stop_codon")] += 1
        for species, outcome in outcomes.items():
            if isinstance(outcome, OrthologRegion):
                outcome = "clipped" if outcome.clipped else "ortholog"
            counts[(species, outcome)] += 1
    return [(species, outcome, number) for (species, outcome), number in sorted(counts.items())]
