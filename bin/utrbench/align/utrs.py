"""Human 3'UTRs from a gene annotation: one per gene, from its canonical transcript.

Rules (documented for the README and the report):

* A transcript's 3'UTR is its ``three_prime_utr``/``three_prime_UTR`` features (Ensembl) or,
  for GENCODE's undirected ``UTR`` features, the UTR pieces downstream of the CDS in
  transcript direction. The stop codon is removed from the UTR where a file includes it
  (GENCODE's ``UTR`` covers the stop codon; Ensembl's ``three_prime_utr`` does not), so the
  UTR always starts right after the stop codon, as in the study.
* One transcript per gene: the one tagged ``Ensembl_canonical``. Fallback for a gene without
  that tag among its transcripts that have a 3'UTR: prefer ``MANE_Select``, then ``basic``,
  then the longest CDS, then the longest 3'UTR, then the smallest transcript id (so the choice
  never depends on file order).
* Contigs must match ``contig_pattern`` (main chromosomes; the study dropped names with ``_``).
* ``single_exon_only`` keeps only UTRs made of one exon (the study's filter); otherwise a
  spliced UTR is kept and its exons are joined in transcript order downstream.
* ``min_length`` applies to the total UTR length.

A UTR is written as BED6, one line per exon: name = UTR id (the transcript id), score =
exon rank in transcript order (0 = closest to the stop codon), sorted by contig and start.
"""

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from utrbench.errors import UserError
from utrbench.io import atomic_output
from utrbench.seq.gtf import iter_gtf

DEFAULT_CONTIG_PATTERN = r"^(chr)?([0-9]+|X|Y)$"
_THREE_PRIME = {"three_prime_utr", "three_prime_UTR", "3UTR"}
_FEATURES = {"transcript", "CDS", "stop_codon", "UTR", *_THREE_PRIME}


@dataclass
class Utr:
    """One 3'UTR: exons are 0-based half-open ``(start, end)`` sorted by genomic start."""

    utr_id: str
    chrom: str
    strand: str
    exons: list
    gene_id: str = ""
    gene_name: str = ""

    @property
    def length(self) -> int:
        return sum(end - start for start, end in self.exons)

    def exons_in_transcript_order(self) -> list:
        return self.exons if self.strand == "+" else self.exons[::-1]


@dataclass
class _Transcript:
    transcript_id: str
    gene_id: str
    gene_name: str
    chrom: str
    strand: str
    tags: list = field(default_factory=list)
    cds: list = field(default_factory=list)
    stop_codons: list = field(default_factory=list)
    utr_pieces: list = field(default_factory=list)  # (start, end, is_three_prime or None if undirected)


def _subtract(intervals, holes):
    """Intervals minus holes (all 0-based half-open), pieces sorted by start."""
    pieces = []
    for start, end in intervals:
        current = [(start, end)]
        for hole_start, hole_end in holes:
            current = [
                part
                for s, e in current
                for part in ((s, min(e, hole_start)), (max(s, hole_end), e))
                if part[1] > part[0]
            ]
        pieces.extend(current)
    return sorted(pieces)


def _merge_adjacent(intervals):
    """Join touching intervals, e.g. a UTR split only by how a file cut its features."""
    merged = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _three_prime_exons(transcript: _Transcript) -> list:
    """The transcript's 3'UTR exons (0-based half-open, sorted), stop codon excluded."""
    if not transcript.cds:
        return []
    cds_start = min(s for s, _ in transcript.cds)
    cds_end = max(e for _, e in transcript.cds)
    pieces = []
    for start, end, three_prime in transcript.utr_pieces:
        if three_prime is None:  # GENCODE 'UTR': 3' when downstream of the CDS
            three_prime = start >= cds_end if transcript.strand == "+" else end <= cds_start
        if three_prime:
            pieces.append((start, end))
    return _merge_adjacent(_subtract(pieces, transcript.stop_codons))


def _fallback_rank(transcript: _Transcript, utr_length: int):
    """Sort key for a gene without an Ensembl_canonical transcript; smallest wins."""
    cds_length = sum(e - s for s, e in transcript.cds)
    return ("MANE_Select" not in transcript.tags, "basic" not in transcript.tags,
            -cds_length, -utr_length, transcript.transcript_id)


def read_transcripts(gtf_path) -> dict:
    """Collect coding transcripts from a GTF: ``{transcript_id: _Transcript}`` in file order."""
    transcripts = {}
    for record in iter_gtf(gtf_path, features=_FEATURES):
        attributes = record.attributes
        transcript_id = attributes.get("transcript_id")
        if transcript_id is None:
            raise UserError(f"{gtf_path}: line {record.line_number}: {record.feature} has no transcript_id.")
        transcript = transcripts.get(transcript_id)
        if transcript is None:
            if record.strand not in ("+", "-"):
                raise UserError(f"{gtf_path}: line {record.line_number}: transcript {transcript_id} has no strand.")
            transcript = transcripts[transcript_id] = _Transcript(
                transcript_id, attributes.get("gene_id", ""), attributes.get("gene_name", ""),
                record.seqname, record.strand)
        interval = (record.start - 1, record.end)
        if record.feature == "transcript":
            transcript.tags = attributes.get("tag", [])
        elif record.feature == "CDS":
            transcript.cds.append(interval)
        elif record.feature == "stop_codon":
            transcript.stop_codons.append(interval)
        else:
            transcript.utr_pieces.append((*interval, True if record.feature in _THREE_PRIME else None))
    return transcripts


def select_utrs(transcripts: dict, contig_pattern=DEFAULT_CONTIG_PATTERN, single_exon_only=True,
                min_length=0):
    """Apply the rules in the module docstring; return ``(utrs, counts)``.

    ``counts`` is a list of ``(step, number)`` pairs, one per filter step, for the report.
    """
    by_gene = defaultdict(list)
    for transcript in transcripts.values():
        exons = _three_prime_exons(transcript)
        if exons:
            by_gene[transcript.gene_id].append((transcript, exons))
    counts = [("coding transcripts", sum(1 for t in transcripts.values() if t.cds)),
              ("genes with a 3'UTR", len(by_gene))]

    chosen, fallback = [], 0
    for gene_id, candidates in by_gene.items():
        canonical = [c for c in candidates if "Ensembl_canonical" in c[0].tags]
        if canonical:
            transcript, exons = canonical[0]
        else:
            fallback += 1
            transcript, exons = min(candidates, key=lambda c: _fallback_rank(c[0], sum(e - s for s, e in c[1])))
        chosen.append(Utr(transcript.transcript_id, transcript.chrom, transcript.strand, exons,
                          gene_id, transcript.gene_name))
    counts.append(("genes using the fallback rule (no Ensembl_canonical)", fallback))

    pattern = re.compile(contig_pattern)
    chosen = [u for u in chosen if pattern.search(u.chrom)]
    counts.append((f"on contigs matching {contig_pattern}", len(chosen)))
    if single_exon_only:
        chosen = [u for u in chosen if len(u.exons) == 1]
        counts.append(("single-exon UTRs", len(chosen)))
    chosen = [u for u in chosen if u.length >= min_length]
    counts.append((f"length >= {min_length}", len(chosen)))
    chosen.sort(key=lambda u: (u.chrom, u.exons[0][0], u.utr_id))
    return chosen, counts


def write_utr_bed(utrs, path) -> None:
    """BED6, one line per exon, score = exon rank in transcript order; sorted by contig, start."""
    lines = []
    for utr in utrs:
        ranks = {exon: rank for rank, exon in enumerate(utr.exons_in_transcript_order())}
        lines.extend((utr.chrom, start, end, utr.utr_id, ranks[(start, end)], utr.strand)
                     for start, end in utr.exons)
    lines.sort(key=lambda row: (row[0], row[1], row[3]))
    with atomic_output(path) as tmp, open(tmp, "w") as out:
        for row in lines:
            out.write("\t".join(map(str, row)) + "\n")


def write_utr_table(utrs, path) -> None:
    """TSV ``utr_id gene_id gene_name chrom strand length n_exons`` (genes for exclusion lists)."""
    with atomic_output(path) as tmp, open(tmp, "w") as out:
        out.write("utr_id\tgene_id\tgene_name\tchrom\tstrand\tlength\tn_exons\n")
        for utr in utrs:
            out.write(f"{utr.utr_id}\t{utr.gene_id}\t{utr.gene_name}\t{utr.chrom}\t{utr.strand}\t"
                      f"{utr.length}\t{len(utr.exons)}\n")


def read_utr_bed(path) -> list:
    """Read the BED6 written by :func:`write_utr_bed` back into :class:`Utr` records (file order)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: file not found.")
    utrs = {}
    with open(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            columns = line.rstrip("\n").split("\t")
            if len(columns) < 6:
                raise UserError(f"{path}: line {number} has {len(columns)} columns, BED6 needs 6.")
            chrom, start, end, name, _score, strand = columns[:6]
            try:
                start, end = int(start), int(end)
            except ValueError:
                raise UserError(f"{path}: line {number}: start {start!r} or end {end!r} is not an integer.") from None
            if start < 0 or end <= start or strand not in ("+", "-"):
                raise UserError(f"{path}: line {number}: {chrom}:{start}-{end} ({strand}) is not a valid stranded interval.")
            if ":" in name:
                raise UserError(f"{path}: line {number}: UTR id {name!r} contains ':', which separates id and species.")
            utr = utrs.get(name)
            if utr is None:
                utrs[name] = Utr(name, chrom, strand, [(start, end)])
            elif (utr.chrom, utr.strand) != (chrom, strand):
                raise UserError(f"{path}: line {number}: exons of UTR {name} lie on different contigs or strands.")
            else:
                utr.exons.append((start, end))
    for utr in utrs.values():
        utr.exons.sort()
        for (_, end), (start, _) in zip(utr.exons, utr.exons[1:]):
            if start < end:
                raise UserError(f"{path}: exons of UTR {utr.utr_id} overlap.")
    return list(utrs.values())


def utr_sequence(genome, utr: Utr, where: str) -> str:
    """The UTR's sequence in transcript orientation (exons joined 5'->3'), uppercase."""
    if utr.chrom not in genome.contigs:
        raise UserError(f"{where}: UTR {utr.utr_id} lies on contig {utr.chrom!r}, which {genome.path} does not have.")
    return "".join(genome.fetch(utr.chrom, start, end, utr.strand) for start, end in utr.exons_in_transcript_order())
