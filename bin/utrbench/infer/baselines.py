"""Alignment baselines as per-position "models": PhyloP (bigWig) and CADD (tabix TSV).

They are written in the per-nucleotide HDF5 layout of the language models (``ids``, ``offsets``,
``probs`` [total, 4], ACGT columns, rows in transcript order) so that the variant task reads every
predictor the same way; the ``kind`` attribute says that the values are scores, not probabilities:

- PhyloP: the conservation score of the position, the same in all four columns (it does not depend
  on the allele);
- CADD: the raw score (``RawScore``, as the study; ``PHRED`` on request) of the substitution to each
  base; the reference base's column, and positions CADD does not list, are NaN.

UTRs on the minus strand are read 3' to 5' in genome coordinates, with columns complemented, so that
row i is nucleotide i of the UTR sequence.
"""

import numpy as np

from utrbench.errors import UserError

BASES = "ACGT"
COMPLEMENT_COLUMNS = [3, 2, 1, 0]


def _in_transcript_order(utr, exon_arrays, complement=False):
    values = np.concatenate(exon_arrays)
    if utr.strand == "-":
        values = values[::-1]
        if complement:
            values = values[:, COMPLEMENT_COLUMNS]
    return np.ascontiguousarray(values, dtype=np.float32)


def phylop_scores(bigwig_path, utrs) -> list:
    """PhyloP ``[L, 4]`` per UTR from a bigWig (pyBigWig); positions without data are NaN."""
    import pyBigWig

    try:
        bigwig = pyBigWig.open(str(bigwig_path))
    except RuntimeError:
        bigwig = None
    if bigwig is None or not bigwig.isBigWig():
        raise UserError(f"{bigwig_path}: not a readable bigWig file.")
    chroms = bigwig.chroms()
    results = []
    with bigwig:
        for utr in utrs:
            if utr.chrom not in chroms:
                raise UserError(f"{bigwig_path}: has no chromosome {utr.chrom!r} (needed by UTR {utr.utr_id}).")
            exons = []
            for start, end in utr.exons:
                if end > chroms[utr.chrom]:
                    raise UserError(f"{bigwig_path}: UTR {utr.utr_id} exon {utr.chrom}:{start}-{end} lies past the chromosome end.")
                exons.append(np.repeat(np.asarray(bigwig.values(utr.chrom, start, end, numpy=True))[:, None], 4, axis=1))
            results.append(_in_transcript_order(utr, exons))
    return results


def cadd_scores(tsv_path, utrs, column="RawScore") -> list:
    """CADD ``[L, 4]`` per UTR from its bgzipped, tabix-indexed TSV (pysam); alt base = column."""
    import pysam

    try:
        tabix = pysam.TabixFile(str(tsv_path))
    except (OSError, ValueError) as error:
        raise UserError(f"{tsv_path}: not a bgzipped TSV with a tabix index ({error}).") from None
    header = [line for line in tabix.header if line.startswith("#Chrom") or line.startswith("#chrom")]
    names = header[-1].lstrip("#").split("\t") if header else ["Chrom", "Pos", "Ref", "Alt", "RawScore", "PHRED"]
    if column not in names:
        raise UserError(f"{tsv_path}: no column {column!r}; columns are {', '.join(names)}.")
    position_at, alt_at, value_at = names.index("Pos"), names.index("Alt"), names.index(column)
    contigs = set(tabix.contigs)
    results = []
    with tabix:
        for utr in utrs:
            # CADD names chromosomes without 'chr'; accept either spelling
            contig = next((c for c in (utr.chrom, utr.chrom.removeprefix("chr"), "chr" + utr.chrom) if c in contigs), None)
            if contig is None:
                raise UserError(f"{tsv_path}: has no chromosome {utr.chrom!r} (needed by UTR {utr.utr_id}).")
            exons = []
            for start, end in utr.exons:
                values = np.full((end - start, 4), np.nan)
                for number, row in enumerate(tabix.fetch(contig, start, end, parser=pysam.asTuple())):
                    try:
                        offset, base, value = int(row[position_at]) - 1 - start, row[alt_at], float(row[value_at])
                    except (ValueError, IndexError):
                        raise UserError(f"{tsv_path}: record {number + 1} in {contig}:{start}-{end} is not 'Chrom Pos Ref Alt ... {column}'.") from None
                    if base in BASES and 0 <= offset < end - start:
                        values[offset, BASES.index(base)] = value
                exons.append(values)
            results.append(_in_transcript_order(utr, exons, complement=True))
    return results
