"""Per-species 3'UTR sequences and alignment columns from a MAF (bx-python).

The reference species' rows (``species.contig`` in the MAF ``src``) place each block on the
reference genome. For every UTR the blocks overlapping its exons are sliced to the UTR's
reference columns; each other species contributes the bases of its row in those columns.

Rules:

* Gaps are removed; bases a species has in columns where the reference has a gap (insertions)
  inside the UTR's column range belong to its sequence but not to per-position columns.
* A species whose rows for one UTR lie on several contigs or strands keeps only the
  ``(contig, strand)`` with the most aligned bases (ties: the smaller contig name, then '+').
  Within one block only the first row of that contig and strand counts.
* Fragments are joined in reference order and reverse-complemented for a minus-strand UTR,
  so every sequence is in transcript orientation.
* Reference rows on the minus strand are flipped with bx's ``reverse_complement`` first.
* The reference row must equal the genome over the UTR (case-insensitive); otherwise the
  alignment belongs to another assembly and the step stops naming the block.

Streaming (:func:`stream_alignments`) reads the MAF once, in order, and holds only the UTRs
whose blocks are still arriving: a UTR is finished when a block on its contig starts past its
end or another contig begins, so the MAF must be sorted by reference position (hal2maf and
UCSC MAFs are). Indexed access (:func:`indexed_alignments`) uses a bx interval index instead.
"""

import bisect
import heapq
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import bx.align.maf
import numpy as np
import pysam
from bx import interval_index_file

from utrbench.align.utrs import read_utr_bed
from utrbench.errors import UserError
from utrbench.seq.alphabet import reverse_complement
from utrbench.seq.gtf import open_text

GAP = ord("-")
_COMPLEMENT_BYTES = bytes.maketrans(b"ACGTNacgtn", b"TGCANtgcan")


@dataclass
class SpeciesAlignment:
    """One species' sequence for one UTR (transcript orientation, no gaps)."""

    species: str
    contig: str
    strand: str  # strand of the sequence on the species contig, in transcript orientation
    sequence: str
    covered_positions: int  # reference UTR positions aligned to a base of this species
    candidates: int  # number of (contig, strand) pairs the species had for this UTR


@dataclass
class UtrAlignment:
    """Everything the alignment says about one UTR.

    ``columns[species]`` is a uint8 array over the UTR positions in transcript orientation:
    the species' letter (uppercase) aligned to each reference position, 0 where none.
    """

    utr_id: str
    length: int
    species: dict = field(default_factory=dict)
    columns: dict = field(default_factory=dict)


class _Segment:
    """One UTR exon; ``offset`` is its first position in the UTR's forward-strand concatenation."""

    __slots__ = ("utr_index", "start", "end", "offset")

    def __init__(self, utr_index, start, end, offset):
        self.utr_index, self.start, self.end, self.offset = utr_index, start, end, offset


class _Fragments:
    """Per-UTR accumulator: fragments per (species, contig, strand) in arrival order."""

    def __init__(self):
        # key -> [(forward_start, bases, letters)]; letters[i] is aligned to forward_start + i
        self.by_key = defaultdict(list)

    def add(self, key, forward_start, bases, letters):
        self.by_key[key].append((forward_start, bases, letters))


class UtrIndex:
    """UTR exons by contig, for finding the exons a block overlaps."""

    def __init__(self, utrs):
        self.utrs = list(utrs)
        by_chrom = defaultdict(list)
        for index, utr in enumerate(self.utrs):
            offset = 0
            for start, end in utr.exons:
                by_chrom[utr.chrom].append(_Segment(index, start, end, offset))
                offset += end - start
        self.segments = {}
        for chrom, segments in by_chrom.items():
            segments.sort(key=lambda s: (s.start, s.end))
            starts = [s.start for s in segments]
            longest = max(s.end - s.start for s in segments)
            self.segments[chrom] = (segments, starts, longest)

    def overlapping(self, chrom, start, end):
        """Exon segments on ``chrom`` overlapping ``[start, end)``."""
        entry = self.segments.get(chrom)
        if entry is None:
            return []
        segments, starts, longest = entry
        low = bisect.bisect_left(starts, start - longest)
        high = bisect.bisect_left(starts, end)
        return [s for s in segments[low:high] if s.end > start]


class _Extractor:
    """Turns blocks into fragments and finished UTRs into :class:`UtrAlignment` records."""

    def __init__(self, utrs, genome, reference, maf_name):
        self.index = UtrIndex(utrs)
        self.genome = genome
        self.reference = reference
        self.maf_name = maf_name
        self.prefix = reference + "."

    def reference_component(self, block):
        """The block's first reference row on the + strand (flipping the block if needed)."""
        for component in block.components:
            if component.src.startswith(self.prefix):
                if component.strand == "-":
                    block = block.reverse_complement()
                    component = next(c for c in block.components if c.src == component.src)
                return block, component
        return block, None

    def add_block(self, block, accumulators, only_utr=None):
        """Add the block's fragments to ``accumulators[utr_index]``; return the touched indices."""
        block, reference = self.reference_component(block)
        if reference is None:
            return []
        chrom = reference.src[len(self.prefix):]
        block_start, block_end = reference.start, reference.end
        segments = self.index.overlapping(chrom, block_start, block_end)
        if only_utr is not None:
            segments = [s for s in segments if s.utr_index == only_utr]
        if not segments:
            return []
        reference_text = reference.text.encode("ascii")
        reference_columns = np.flatnonzero(np.frombuffer(reference_text, dtype=np.uint8) != GAP)
        others = [c for c in block.components if not c.src.startswith(self.prefix) and not c.empty]
        # all rows as one uppercase letter matrix, so each segment takes its columns in one step
        matrix = np.frombuffer("".join(c.text for c in others).upper().encode("ascii"), dtype=np.uint8)
        matrix = matrix.reshape(len(others), len(reference_text)) if others else matrix
        touched = []
        for segment in segments:
            start, end = max(segment.start, block_start), min(segment.end, block_end)
            columns = reference_columns[start - block_start:end - block_start]
            self.check_reference(reference, reference_text, columns, chrom, start, end)
            first, last = int(columns[0]), int(columns[-1]) + 1
            forward_start = segment.offset + start - segment.start
            fragments = accumulators.setdefault(segment.utr_index, _Fragments())
            letters = matrix[:, columns] if others else None
            seen = set()
            for row, component in enumerate(others):
                species, _, contig = component.src.partition(".")
                key = (species, contig, component.strand)
                if key in seen:
                    continue
                seen.add(key)
                bases = component.text[first:last].replace("-", "")
                if not bases:
                    continue
                fragments.add(key, forward_start, bases, letters[row])
            touched.append(segment.utr_index)
        return touched

    def check_reference(self, reference, reference_text, columns, chrom, start, end):
        """Stop, naming the block, where the reference row differs from the genome over a UTR."""
        aligned = bytes(np.frombuffer(reference_text, dtype=np.uint8)[columns]).decode().upper()
        expected = self.genome.fetch(chrom, start, end)
        if aligned != expected:
            where = next(i for i, (a, b) in enumerate(zip(aligned, expected)) if a != b)
            raise UserError(
                f"{self.maf_name}: block at {reference.src}:{reference.start}-{reference.end} has "
                f"{aligned[where]!r} at {chrom}:{start + where + 1} where {self.genome.path} has "
                f"{expected[where]!r}; the alignment does not match the genome.")

    def finish(self, utr_index, fragments):
        """Resolve contigs per species and build the UTR's :class:`UtrAlignment`."""
        utr = self.index.utrs[utr_index]
        result = UtrAlignment(utr.utr_id, utr.length)
        if fragments is None:
            return result
        by_species = defaultdict(list)
        for key, pieces in fragments.by_key.items():
            by_species[key[0]].append((sum(len(p[1]) for p in pieces), key))
        for species in sorted(by_species):
            options = by_species[species]
            _, key = min(options, key=lambda option: (-option[0], option[1][1], option[1][2]))
            pieces = sorted(fragments.by_key[key], key=lambda piece: piece[0])
            sequence = "".join(piece[1] for piece in pieces).upper()
            covered = np.zeros(utr.length, dtype=np.uint8)
            for forward_start, _, letters in pieces:
                window = covered[forward_start:forward_start + len(letters)]  # a view: writes go to covered
                free = (window == 0) & (letters != GAP)
                window[free] = letters[free]
            strand = key[2]
            if utr.strand == "-":
                sequence = reverse_complement(sequence)
                strand = "+" if strand == "-" else "-"
                covered = np.frombuffer(bytes(covered[::-1]).translate(_COMPLEMENT_BYTES), dtype=np.uint8).copy()
            result.columns[species] = covered
            result.species[species] = SpeciesAlignment(species, key[1], strand, sequence,
                                                       int(np.count_nonzero(covered)), len(options))
        return result


class _Lines:
    """The ``readline``/``tell``/``seek`` that bx's MAF parser needs, over plain or BGZF bytes.

    For a bgzip file, ``tell`` and ``seek`` use BGZF virtual offsets, so a bx interval index
    built through this class gives random access into the compressed file.
    """

    def __init__(self, path: Path):
        with open(path, "rb") as probe:
            compressed = probe.read(2) == b"\x1f\x8b"
        self.raw = pysam.BGZFile(str(path), "rb") if compressed else open(path, "rb")

    def readline(self):
        return self.raw.readline().decode("ascii")

    def tell(self):
        return self.raw.tell()

    def seek(self, offset):
        self.raw.seek(offset)

    def close(self):
        self.raw.close()


class _IndexedMaf(bx.align.maf.MAFIndexedAccess):
    """bx's indexed MAF access, reading plain or bgzip MAFs through :class:`_Lines`."""

    def open_data(self):
        return _Lines(Path(self.data_filename))


def _reference_interval(block_text, prefix):
    """``(chrom, start, end)`` on the reference + strand from a block's first reference 's' line."""
    at = block_text.find("\ns " + prefix)
    if at < 0:
        return None
    line_end = block_text.find("\n", at + 1)
    _, src, start, size, strand, src_size = block_text[at + 1:line_end if line_end > 0 else None].split(maxsplit=6)[:6]
    start, size = int(start), int(size)
    if strand == "-":
        start = int(src_size) - start - size
    return src[len(prefix):], start, start + size


def _block_texts(handle, chunk_size=1 << 22):
    """Yield ``(first_line_number, text)`` per paragraph (blank-line separated), read in large chunks.

    Splitting big chunks in C is what makes skipping the blocks outside every UTR cheap.
    """
    line_number, pending = 1, ""
    while True:
        chunk = handle.read(chunk_size)
        text = pending + chunk
        paragraphs = text.split("\n\n")
        pending = paragraphs.pop() if chunk else ""
        for paragraph in paragraphs:
            stripped = paragraph.lstrip("\n")
            yield line_number + len(paragraph) - len(stripped), stripped
            line_number += paragraph.count("\n") + 2
        if not chunk:
            if pending.strip():
                yield line_number, pending
            return


def _overlapping_blocks(path: Path, extractor):
    """Yield the bx blocks whose reference row overlaps a UTR, in file order.

    Blocks are split off as text and handed to bx's parser only when the coordinates of their
    reference row (read from its 's' line) overlap a UTR: in a whole-genome alignment almost all
    blocks lie outside 3'UTRs, and parsing them would dominate the run time.
    """
    with open_text(path) as handle:
        try:
            if not handle.readline().startswith("##maf"):
                raise UserError(f"{path}: line 1 is not a '##maf' header; not a MAF file.")
            for first_line, text in _block_texts(handle):
                if "#" in text:  # '#' only starts comment lines, which bx skips too
                    text = "".join(line + "\n" for line in text.split("\n") if line and not line.startswith("#"))
                if not text.strip():
                    continue
                if not text.startswith("a"):
                    raise UserError(f"{path}: line {first_line + 1} starts a block without an 'a' line.")
                try:
                    interval = _reference_interval(text, extractor.prefix)
                    if interval is None or not extractor.index.overlapping(*interval):
                        continue
                    block = bx.align.maf.from_string(text)
                except Exception as error:  # bx raises bare Exception/AssertionError/ValueError on bad rows
                    raise UserError(f"{path}: block at line {first_line + 1} is not valid MAF ({error!r}).") from None
                yield block
        except (UnicodeDecodeError, EOFError, OSError) as error:
            raise UserError(f"{path}: not a readable MAF file ({error}).") from None


def stream_alignments(maf_paths, utrs, genome, reference):
    """Yield a :class:`UtrAlignment` for every UTR, reading each MAF once in order.

    UTRs are yielded as soon as the stream has passed them, then the UTRs that no block
    touched (in input order). Memory holds only the UTRs still open, not the MAF.
    Several MAFs (e.g. one per chromosome from hal2maf) are read one after another.
    """
    utrs = list(utrs)
    finished = set()
    for maf_path in map(Path, maf_paths):
        extractor = _Extractor(utrs, genome, reference, maf_path)
        open_utrs, ends, current_chrom = {}, [], None

        def close(until):
            while ends and ends[0][0] <= until:
                _, index = heapq.heappop(ends)
                finished.add(index)
                yield extractor.finish(index, open_utrs.pop(index))

        for block in _overlapping_blocks(maf_path, extractor):
            block, reference_row = extractor.reference_component(block)
            if reference_row is None:
                continue
            chrom = reference_row.src[len(extractor.prefix):]
            if chrom != current_chrom:
                yield from close(float("inf"))
                current_chrom = chrom
            yield from close(reference_row.start)
            already_open = set(open_utrs)
            for index in dict.fromkeys(extractor.add_block(block, open_utrs)):
                if index in finished:
                    raise UserError(
                        f"{maf_path}: block at {reference_row.src}:{reference_row.start} comes after blocks "
                        f"past UTR {utrs[index].utr_id}; the MAF must be sorted by reference position.")
                if index not in already_open:
                    heapq.heappush(ends, (utrs[index].exons[-1][1], index))
        yield from close(float("inf"))
    extractor = _Extractor(utrs, genome, reference, "")
    for index in range(len(utrs)):
        if index not in finished:
            yield extractor.finish(index, None)


def build_maf_index(maf_path, index_path, reference) -> None:
    """Write a bx interval index of the reference rows of a plain or bgzip MAF."""
    maf_path = Path(maf_path)
    indexes = interval_index_file.Indexes()
    prefix = reference + "."
    handle = _Lines(maf_path)
    try:
        reader = bx.align.maf.Reader(handle)
        while True:
            offset = handle.tell()
            block = next(reader)
            if block is None:
                break
            for component in block.components:
                if component.src.startswith(prefix):
                    indexes.add(component.src, component.forward_strand_start, component.forward_strand_end,
                                offset, max=component.src_size)
    except Exception as error:
        raise UserError(f"{maf_path}: not a readable MAF file ({error}).") from None
    finally:
        handle.close()
    with open(index_path, "wb") as out:
        indexes.write(out)


def indexed_alignments(maf_path, index_path, utrs, genome, reference):
    """Yield a :class:`UtrAlignment` per UTR in input order, reading only its blocks via the index."""
    maf_path, index_path = Path(maf_path), Path(index_path)
    if not index_path.exists():
        raise UserError(f"{index_path}: MAF index not found.")
    utrs = list(utrs)
    extractor = _Extractor(utrs, genome, reference, maf_path)
    access = _IndexedMaf(str(maf_path), str(index_path), keep_open=True)
    try:
        for index, utr in enumerate(utrs):
            blocks = {}
            for start, end in utr.exons:
                for block, _, offset in access.get_as_iterator_with_index_and_offset(
                        extractor.prefix + utr.chrom, start, end):
                    blocks.setdefault(offset, block)
            accumulators = {}
            for offset in sorted(blocks):
                extractor.add_block(blocks[offset], accumulators, only_utr=index)
            yield extractor.finish(index, accumulators.get(index))
    finally:
        access.close()


def utr_alignments(bed, genome, maf_paths, maf_dir, maf_index, reference):
    """The UTRs of ``bed`` and an iterator of their alignments (indexed or streamed).

    MAFs are read in sorted path order, so outputs do not depend on how files were listed.
    """
    if maf_dir:
        maf_paths = [*maf_paths, *Path(maf_dir).glob("*.maf"), *Path(maf_dir).glob("*.maf.gz")]
    maf_paths = sorted(map(str, maf_paths))
    if not maf_paths:
        raise UserError("no MAF given: pass --maf or a --maf-dir holding *.maf or *.maf.gz files.")
    utrs = read_utr_bed(bed)
    for utr in utrs:
        if utr.chrom not in genome.contigs:
            raise UserError(f"{bed}: UTR {utr.utr_id} lies on contig {utr.chrom!r}, which {genome.path} does not have.")
    if maf_index:
        if len(maf_paths) != 1:
            raise UserError("--maf-index indexes one MAF; give exactly one --maf with it.")
        return utrs, indexed_alignments(maf_paths[0], maf_index, utrs, genome, reference)
    return utrs, stream_alignments(maf_paths, utrs, genome, reference)
