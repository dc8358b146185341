"""Reference and alternative sequence windows around each variant (note 05 §3.3), both orientations.

- ``dna``: the genome's forward strand, ``window`` nt with the variant at index ``window // 2``
  (2,048 of 4,096: 2,048 nt upstream, 2,047 downstream, as the study), clipped at contig ends.
- ``rna``: the variant's UTR in transcript orientation (exons joined), the same window in
  transcript coordinates clipped to the UTR; on minus-strand UTRs the sequence and the alleles are
  the reverse complement.

The variant's offset in each window is carried in the index table, not through letter case (fix
V7 of note 05), so sequences stay uppercase as every model reader expects. Identical windows (the
reference window of every variant of a UTR shorter than the window; the shared reference window
of several alternatives at one position) are written once: the index maps each (variant,
orientation, allele) to its record, named ``<variant_id>.<allele>.<orientation>`` after the first
variant that uses it.
"""

import pandas as pd

from utrbench.errors import UserError

ORIENTATIONS = ("dna", "rna")
ALLELES = ("ref", "alt")
INDEX_COLUMNS = ["variant_id", "orientation", "allele", "record", "offset", "length", "start"]
_COMPLEMENT = str.maketrans("ACGT", "TGCA")


def transcript_offset(utr, position0: int) -> int:
    """0-based index in the UTR's transcript-orientation sequence of genomic position ``position0``."""
    passed = 0
    for start, end in utr.exons_in_transcript_order():
        if start <= position0 < end:
            return passed + (position0 - start if utr.strand == "+" else end - 1 - position0)
        passed += end - start
    raise UserError(f"position {position0 + 1} of {utr.chrom} is not in UTR {utr.utr_id}.")


def transcript_allele(base: str, strand: str) -> str:
    """A genomic forward-strand base as read in the transcript."""
    return base.translate(_COMPLEMENT) if strand == "-" else base


def centred_interval(centre: int, window: int, length: int) -> tuple:
    """``[centre - window // 2, + window)`` clipped to ``[0, length)``."""
    start = centre - window // 2
    return max(start, 0), min(start + window, length)


def _substitute(sequence: str, offset: int, base: str) -> str:
    return sequence[:offset] + base + sequence[offset + 1:]


def variant_windows(variants: pd.DataFrame, utrs: dict, genome, window: int, orientations=ORIENTATIONS):
    """FASTA records per orientation ``{orientation: [(id, sequence)]}`` and the index table.

    ``variants`` has ``variant_id chrom pos ref alt utr_id strand`` (duplicates of a variant id in
    several splits are one variant); ``utrs`` maps UTR ids to :class:`~utrbench.align.utrs.Utr`.
    """
    if window < 2:
        raise UserError(f"--variant-window {window} is too small; give at least 2 nt.")
    unique = variants.drop_duplicates("variant_id").sort_values("variant_id", kind="stable")
    records = {orientation: {} for orientation in orientations}  # sequence -> record id
    rows = []
    utr_sequences = {}
    for variant in unique.itertuples(index=False):
        utr = utrs.get(variant.utr_id)
        if utr is None:
            raise UserError(f"variant {variant.variant_id}: UTR {variant.utr_id!r} is not in the UTR BED.")
        position0 = int(variant.pos) - 1
        for orientation in orientations:
            if orientation == "dna":
                start, end = centred_interval(position0, window, genome.length(variant.chrom))
                reference = genome.fetch(variant.chrom, start, end)
                offset, ref, alt = position0 - start, variant.ref, variant.alt
            else:
                if utr.utr_id not in utr_sequences:
                    utr_sequences[utr.utr_id] = "".join(genome.fetch(utr.chrom, s, e, utr.strand)
                                                        for s, e in utr.exons_in_transcript_order())
                full = utr_sequences[utr.utr_id]
                index = transcript_offset(utr, position0)
                start, end = centred_interval(index, window, len(full))
                reference = full[start:end]
                offset = index - start
                ref, alt = transcript_allele(variant.ref, utr.strand), transcript_allele(variant.alt, utr.strand)
            if reference[offset] != ref:
                raise UserError(f"variant {variant.variant_id}: the genome has {reference[offset]} at the variant "
                                f"({orientation} window), not the reference allele {ref}; was the variant table made "
                                "with another genome?")
            for allele, sequence in (("ref", reference), ("alt", _substitute(reference, offset, alt))):
                record = records[orientation].setdefault(sequence, f"{variant.variant_id}.{allele}.{orientation}")
                rows.append((variant.variant_id, orientation, allele, record, offset, len(sequence), start))
    fasta = {orientation: [(name, sequence) for sequence, name in seen.items()] for orientation, seen in records.items()}
    index = pd.DataFrame(rows, columns=INDEX_COLUMNS)
    return fasta, index


def paired_records(index: pd.DataFrame, orientation: str) -> pd.DataFrame:
    """Per variant of one orientation: ``ref_record alt_record offset length``."""
    part = index[index["orientation"] == orientation]
    ref = part[part["allele"] == "ref"].set_index("variant_id")
    alt = part[part["allele"] == "alt"].set_index("variant_id")
    if not ref.index.equals(alt.index):
        raise UserError(f"window index: the {orientation} reference and alternative windows do not pair up.")
    return pd.DataFrame({"ref_record": ref["record"], "alt_record": alt["record"], "offset": ref["offset"],
                         "length": ref["length"]})


def check_offsets(index) -> None:
    """Offsets lie inside their windows (a malformed index is user error)."""
    bad = (index["offset"] < 0) | (index["offset"] >= index["length"])
    if bad.any():
        row = index[bad].iloc[0]
        raise UserError(f"window index: variant {row['variant_id']} has offset {row['offset']} outside its "
                        f"{row['length']}-nt window.")

