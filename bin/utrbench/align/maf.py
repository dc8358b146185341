"""Per-species 3'UTR sequences and alignment columns from a MAF.

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
* A block whose reference row is on the minus strand is reverse-complemented first.
* The reference row must equal the genome over the UTR (case-insensitive); otherwise the
  alignment belongs to another assembly and the step stops naming the block.

Streaming (:func:`stream_alignments`) reads the MAF once, in order, and holds only the UTRs
whose blocks are still arriving: a UTR is finished when a block on its contig starts past its
end or another contig begins, so the MAF must be sorted by reference position (hal2maf and
UCSC MAFs are); blocks that overlap no UTR are skipped from their reference 's' line without
being parsed. Several MAFs (one per chromosome) are read by a pool of worker processes, one
MAF each, their UTRs merged in input order so the output does not depend on the number of
workers. Indexed access (:func:`indexed_alignments`) reads only the UTRs' blocks through a
bx-python interval index (:func:`build_maf_index`) instead. Both read a block's rows with
:func:`parse_block`.
"""

import bisect
import functools
import heapq
import multiprocessing
import pickle
import re
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import bx.align.maf
import numpy as np
import pysam
from bx import interval_index_file

from utrbench.align.utrs import read_utr_bed
from utrbench.errors import UserError
from utrbench.seq.genome import Genome
from utrbench.seq.gtf import open_text

GAP = ord("-")
_COMPLEMENT_TABLE = np.arange(256, dtype=np.uint8)  # uint8 letter -> its complement; others unchanged
_COMPLEMENT_TABLE[list(b"ACGTNacgtn")] = list(b"TGCANtgcan")
_COMPLEMENT_BYTES = _COMPLEMENT_TABLE.tobytes()  # the same for bytes.translate
_NO_GAP = bytes(0 if letter == GAP else letter for letter in range(256))
_COMPLEMENT_NO_GAP = bytes(0 if letter == GAP else letter for letter in _COMPLEMENT_TABLE.tolist())


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


@dataclass
class Block:
    """A MAF block's 's' rows as the extraction needs them, flipped so the reference row is on '+'.

    ``keys`` (``(species, contig, strand)``, a tuple) and ``matrix`` (uint8 uppercase letters)
    are the other species' rows, only the first row of each key.
    """

    src: str  # the reference row's src, e.g. 'Homo_sapiens.chr1'
    chrom: str
    start: int  # reference + strand
    end: int
    reference_text: np.ndarray  # uint8 letters of the reference row
    reference_gapless: bool  # the reference row has no gap column
    keys: tuple
    matrix: np.ndarray  # uint8 [len(keys), columns]
    lines: list  # the fields of every 's' line, as in the file
    numbers: list  # the line in ``lines`` of each row of ``keys``
    where: str  # the block, for error messages

    def row_start(self, row: int) -> int:
        """Start of row ``row`` on its strand in ``keys`` (after the block's flip), 0-based.

        The row's size is checked here, where it is used: :func:`parse_block` checks only the sum.
        """
        _, src, start, size, strand, src_size, _ = self.lines[self.numbers[row]]
        bases = int(np.count_nonzero(self.matrix[row] != GAP))
        if int(size) != bases:
            raise UserError(f"{self.where} is not valid MAF: the row of {src} has {bases} bases but size {size!r}.")
        flipped = strand != self.keys[row][2]
        return int(src_size) - int(start) - int(size) if flipped else int(start)

    def row_src_size(self, row: int) -> int:
        """Length of the contig of row ``row``."""
        return int(self.lines[self.numbers[row]][5])


def parse_block(text: str, prefix: str, where: str):
    """A :class:`Block` from one block's text, or None when no row belongs to the reference.

    Only 's' lines matter here ('a', 'i', 'e', 'q' lines carry nothing the UTR sequences use).
    The rows go straight into one letter matrix and are checked as a whole: a bx ``Component``,
    or a Python check, per row costs as much as all the rest of the extraction. A row is looked
    at on its own only to name what is wrong with it.
    """
    rows = [line.split() for line in text.split("\n") if line.startswith("s")]
    names = tuple([row[1] for row in rows])
    reference_index = _reference_row(names, prefix)
    if reference_index is None:
        return None
    reference = rows[reference_index]
    width = len(reference[-1])
    if set(map(len, rows)) != {7}:
        _raise_bad_row(rows, reference, where)
    _, _, _, sizes, strands, _, texts = zip(*rows)
    strands, texts = "".join(strands), "".join(texts)
    try:
        letters = np.frombuffer(texts.upper().encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError:
        raise UserError(f"{where} is not valid MAF: a row holds a non-ASCII letter.") from None
    if (len(texts) != width * len(rows) or strands.strip("+-") or not "".join(sizes).isdigit()
            or sum(map(int, sizes)) != len(texts) - texts.count("-")):
        _raise_bad_row(rows, reference, where)
    letters = letters.reshape(len(rows), width)
    try:
        start, size, src_size = int(reference[2]), int(reference[3]), int(reference[5])
    except ValueError:
        raise UserError(f"{where} is not valid MAF: the 's' line of {reference[1]} has a non-integer start "
                        "or srcSize.") from None
    flipped = strands[reference_index] == "-"
    if flipped:  # reverse-complement the block so the reference row reads along its + strand
        letters = _COMPLEMENT_TABLE[letters[:, ::-1]]
        start = src_size - start - size
    keys, numbers, selection = _other_rows(names, strands, prefix)
    return Block(reference[1], reference[1][len(prefix):], start, start + size, letters[reference_index],
                 "-" not in reference[6], keys, letters[selection], rows, numbers, where)


@functools.lru_cache(maxsize=4096)
def _reference_row(names: tuple, prefix: str):
    """Index of the first row whose src is the reference's, or None."""
    return next((number for number, name in enumerate(names) if name.startswith(prefix)), None)


@functools.lru_cache(maxsize=4096)
def _other_rows(names: tuple, strands: str, prefix: str):
    """``(keys, numbers, selection)``: the ``(species, contig, strand)`` of a block's non-reference
    rows, strand after the block's flip (when its reference row is on '-'), the first row of each
    key, and those rows as a slice where they are contiguous (a view instead of a copy).

    Consecutive blocks mostly repeat their rows' srcs and strands, so this runs once per distinct
    layout, and blocks sharing one share the same ``keys`` tuple.
    """
    flipped = strands[_reference_row(names, prefix)] == "-"
    first_rows = {}
    for number, (name, strand) in enumerate(zip(names, strands)):
        if not name.startswith(prefix):
            species, _, contig = name.partition(".")
            first_rows.setdefault((species, contig, ("+" if strand == "-" else "-") if flipped else strand), number)
    numbers = list(first_rows.values())
    contiguous = numbers == list(range(numbers[0], numbers[0] + len(numbers))) if numbers else False
    return tuple(first_rows), numbers, slice(numbers[0], numbers[-1] + 1) if contiguous else numbers


def _raise_bad_row(rows, reference, where):
    """Name the first 's' row that is not valid MAF: field count, width, strand or size."""
    width = len(reference[-1])
    for row in rows:
        if len(row) != 7:
            raise UserError(f"{where} is not valid MAF: an 's' line has {len(row) - 1} fields, not the 6 "
                            "src, start, size, strand, srcSize, text.")
        if len(row[6]) != width:
            raise UserError(f"{where} is not valid MAF: row {row[1]} has {len(row[6])} columns, "
                            f"{reference[1]} has {width}.")
        if row[4] not in ("+", "-"):
            raise UserError(f"{where} is not valid MAF: the strand of {row[1]} is not '+' or '-'.")
        if not row[3].isdigit() or width - row[6].count("-") != int(row[3]):
            raise UserError(f"{where} is not valid MAF: the row of {row[1]} has "
                            f"{width - row[6].count('-')} bases but size {row[3]!r}.")


class _Fragments:
    """Per-UTR accumulator of what each block adds, resolved into species in :meth:`_Extractor.finish`.

    ``entries`` holds, per block and exon, ``(forward_start, keys, window, letters)``: the rows
    over the exon's column range (gaps and insertions included) and their letters at its
    reference positions.
    """

    def __init__(self):
        self.entries = []

    def add(self, forward_start, keys, window, letters):
        self.entries.append((forward_start, keys, window, letters))


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


def check_reference_row(block, columns, start, end, genome, maf_name):
    """Stop, naming the block, where the reference row (``columns``: indices or a slice) differs from
    the genome over ``[start, end)``."""
    aligned = block.reference_text[columns].tobytes().decode()
    expected = genome.fetch(block.chrom, start, end)
    if aligned != expected:
        where = next(i for i, (a, b) in enumerate(zip(aligned, expected)) if a != b)
        raise UserError(
            f"{maf_name}: block at {block.src}:{block.start}-{block.end} has "
            f"{aligned[where]!r} at {block.chrom}:{start + where + 1} where {genome.path} has "
            f"{expected[where]!r}; the alignment does not match the genome.")


class _Extractor:
    """Turns blocks into fragments and finished UTRs into :class:`UtrAlignment` records."""

    def __init__(self, utrs, genome, reference, maf_name):
        self.index = UtrIndex(utrs)
        self.genome = genome
        self.reference = reference
        self.maf_name = maf_name
        self.prefix = reference + "."

    def add_block(self, block: Block, accumulators, only_utr=None):
        """Add the block's fragments to ``accumulators[utr_index]``; return the touched indices."""
        segments = self.index.overlapping(block.chrom, block.start, block.end)
        if only_utr is not None:
            segments = [s for s in segments if s.utr_index == only_utr]
        if not segments:
            return []
        reference_columns = None if block.reference_gapless else np.flatnonzero(block.reference_text != GAP)
        touched = []
        for segment in segments:
            start, end = max(segment.start, block.start), min(segment.end, block.end)
            if reference_columns is None:  # column = reference position: slices, no index arrays
                first, last = start - block.start, end - block.start
                columns = slice(first, last)
            else:
                columns = reference_columns[start - block.start:end - block.start]
                first, last = int(columns[0]), int(columns[-1]) + 1
            check_reference_row(block, columns, start, end, self.genome, self.maf_name)
            window = block.matrix[:, first:last]
            letters = window if reference_columns is None else block.matrix[:, columns]
            fragments = accumulators.setdefault(segment.utr_index, _Fragments())
            fragments.add(segment.offset + start - segment.start, block.keys, window, letters)
            touched.append(segment.utr_index)
        return touched

    def finish(self, utr_index, fragments):
        """Resolve contigs per species and build the UTR's :class:`UtrAlignment`.

        The per-row work is done on bytes (``translate``, ``replace``, ``count``): with a few
        dozen species rows per UTR, numpy's per-call cost would dominate.
        """
        utr = self.index.utrs[utr_index]
        result = UtrAlignment(utr.utr_id, utr.length)
        if fragments is None:
            return result
        entries = fragments.entries  # arrival order
        layouts = list(dict.fromkeys(keys for _, keys, _, _ in entries))
        if len(layouts) == 1:  # the usual case: every block with the same rows, matrix rows = keys
            rows = dict(zip(layouts[0], range(len(layouts[0]))))
            rows_of_layout = {layouts[0]: slice(None)}
        else:
            rows = {}  # key -> matrix row
            rows_of_layout = {keys: np.array([rows.setdefault(key, len(rows)) for key in keys], dtype=np.int64)
                              for keys in layouts}
        # the letter at each UTR position: where blocks overlap on the reference, the first to arrive wins
        spans = sorted((start, start + letters.shape[1]) for start, _, _, letters in entries)
        overlapping = any(previous[1] > following[0] for previous, following in zip(spans, spans[1:]))
        covered = np.zeros((len(rows), utr.length), dtype=np.uint8)
        for forward_start, keys, _, letters in entries:
            where = (rows_of_layout[keys], slice(forward_start, forward_start + letters.shape[1]))
            if overlapping:
                previous = covered[where]
                letters = np.where((previous == 0) & (letters != GAP), letters, previous)
            covered[where] = letters
        # the rows joined in reference order, gaps kept
        in_order = sorted(entries, key=lambda entry: entry[0])  # stable
        if len(layouts) == 1:
            joined = np.concatenate([window for _, _, window, _ in in_order], axis=1)
        else:
            joined = np.full((len(rows), sum(entry[2].shape[1] for entry in in_order)), GAP, dtype=np.uint8)
            offset = 0
            for _, keys, window, _ in in_order:
                joined[rows_of_layout[keys], offset:offset + window.shape[1]] = window
                offset += window.shape[1]
        # transcript orientation; gaps in the per-position letters become 0
        if utr.strand == "-":
            covered = covered[:, ::-1].tobytes().translate(_COMPLEMENT_NO_GAP)
            joined = joined[:, ::-1].tobytes().translate(_COMPLEMENT_BYTES)
        else:
            covered, joined = covered.tobytes().translate(_NO_GAP), joined.tobytes()
        length, width = utr.length, len(joined) // len(rows)
        sequences = [joined[row * width:(row + 1) * width].replace(b"-", b"") for row in range(len(rows))]
        # per species the (contig, strand) with the most aligned bases; ties: smaller contig, then '+'
        best, candidates = {}, defaultdict(int)
        for key, row in rows.items():
            if sequences[row]:
                species = key[0]
                candidates[species] += 1
                rank = (-len(sequences[row]), key[1], key[2])
                if species not in best or rank < best[species][0]:
                    best[species] = (rank, key, row)
        columns = np.frombuffer(bytearray(covered), dtype=np.uint8).reshape(len(rows), length)
        strand_in_transcript = {"+": "-", "-": "+"} if utr.strand == "-" else {"+": "+", "-": "-"}
        for species in sorted(best):
            _, (_, contig, strand), row = best[species]
            result.columns[species] = columns[row]
            result.species[species] = SpeciesAlignment(
                species, contig, strand_in_transcript[strand], sequences[row].decode(),
                length - covered.count(0, row * length, (row + 1) * length), candidates[species])
        return result


class _Lines:
    """The ``readline``/``tell``/``seek`` that bx's MAF reader and index need, over plain or BGZF bytes.

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

    def paragraph(self, offset) -> str:
        """The block at ``offset`` (blank lines before it skipped): its lines up to the next blank line."""
        self.seek(offset)
        while (line := self.readline()) and not line.strip():
            pass
        lines = []
        while line.strip():
            lines.append(line.rstrip("\n"))  # pysam's BGZFile.readline drops the newline, open() keeps it
            line = self.readline()
        return "\n".join(lines) + "\n"


def _reference_interval(text, at, prefix):
    """``(chrom, start, end)`` on the reference + strand from the reference 's' line at ``text[at + 1:]``,
    or None when its fields are not numbers."""
    line_end = text.find("\n", at + 1)
    fields = text[at + 1:line_end if line_end > 0 else None].split(maxsplit=6)
    chrom = fields[1][len(prefix):]
    try:
        start, size = int(fields[2]), int(fields[3])
        if fields[4] == "-":
            start = int(fields[5]) - start - size
    except (ValueError, IndexError):
        return None  # malformed: the block is parsed, and parse_block names the problem
    return chrom, start, start + size


def _paragraph_chunks(handle, path, lines_before, pending, chunk_size=1 << 22):
    """Yield ``(lines_before, text)``: ``pending`` and the rest of the file in pieces of about
    ``chunk_size`` characters, each ending at a blank line (whole paragraphs); ``lines_before``
    counts the lines of the file before ``text``. A file whose last line has no newline was cut
    off while being written: that is an error."""
    while True:
        chunk = handle.read(chunk_size)
        text = pending + chunk
        if not chunk:
            if text.strip() and not text.endswith("\n"):
                raise UserError(f"{path}: line {lines_before + text.count(chr(10))} ends without a newline; "
                                "the MAF is truncated.")
            if text:
                yield lines_before, text
            return
        cut = text.rfind("\n\n") + 2
        if cut > 1:
            yield lines_before, text[:cut]
            lines_before += text.count("\n", 0, cut)
        pending = text[cut:] if cut > 1 else text


class _BlockCount:
    """Blocks seen (until one has a reference row), blocks with a reference row, and the first
    row's src: what the error for a MAF without reference rows says."""

    def __init__(self):
        self.blocks, self.with_reference, self.example = 0, 0, None


def _overlapping_by_find(text, lines_before, path, extractor, count):
    """The blocks of a comment-free piece of well-formed paragraphs whose first reference row
    overlaps a UTR, as ``(line, block text)``.

    Jumps from one reference 's' line to the next with ``str.find`` (C): the rows of the other
    species, most of a block's text, are never looked at in a block outside every UTR.
    """
    needle = "\ns " + extractor.prefix
    if not count.with_reference:  # the count only goes into the error for a MAF without reference rows
        count.blocks += text.count("\na") + text.startswith("a")
    line, counted = lines_before, 0
    at = text.find(needle)
    while at >= 0:
        previous_blank = text.rfind("\n\n", 0, at)
        start = previous_blank + 2 if previous_blank >= 0 else len(text) - len(text.lstrip("\n"))
        end = text.find("\n\n", at)
        end = len(text) if end < 0 else end + 1
        count.with_reference += 1
        interval = _reference_interval(text, at, extractor.prefix)
        if interval is None or extractor.index.overlapping(*interval):
            line += text.count("\n", counted, start)
            counted = start
            yield line + 1, text[start:end]
        at = text.find(needle, end)


def _overlapping_by_paragraph(text, lines_before, path, extractor, count):
    """The same as :func:`_overlapping_by_find`, one paragraph at a time: for pieces holding
    comment lines ('#', dropped) or a paragraph that does not start with an 'a' line (an error)."""
    line = lines_before
    for paragraph in text.split("\n\n"):
        stripped = paragraph.lstrip("\n")
        first_line = line + len(paragraph) - len(stripped)
        line += paragraph.count("\n") + 2
        if "#" in stripped:  # '#' only starts comment lines
            stripped = "".join(row + "\n" for row in stripped.split("\n") if row and not row.startswith("#"))
        if not stripped.strip():
            continue
        if not stripped.startswith("a"):
            raise UserError(f"{path}: line {first_line + 1} starts a block without an 'a' line.")
        count.blocks += 1
        at = ("\n" + stripped).find("\ns " + extractor.prefix)
        if at < 0:
            continue
        count.with_reference += 1
        interval = _reference_interval(stripped, at - 1, extractor.prefix)
        if interval is None or extractor.index.overlapping(*interval):
            yield first_line + 1, stripped


_NOT_A_BLOCK_START = re.compile(r"\n\n+[^a\n]")


def overlapping_blocks(path: Path, extractor):
    """Yield a :class:`Block` for every block whose reference row overlaps a UTR, in file order.

    Blocks are parsed only when the coordinates of their first reference row (read from its 's'
    line) overlap a UTR: in a whole-genome alignment almost all blocks lie outside 3'UTRs, and
    those are skipped without being split into lines. A MAF none of whose blocks has a reference
    row is an error (a wrong ``--reference``).
    """
    count = _BlockCount()
    with open_text(path) as handle:
        try:
            if not handle.readline().startswith("##maf"):
                raise UserError(f"{path}: line 1 is not a '##maf' header; not a MAF file.")
            lines_before, line = 1, handle.readline()
            while line.startswith("#") or line == "\n":  # comments before the first block (hal2maf's tree)
                lines_before, line = lines_before + 1, handle.readline()
            for lines_before, text in _paragraph_chunks(handle, path, lines_before, line):
                if count.example is None and "\ns " in text:
                    count.example = text[text.find("\ns ") + 3:].split(maxsplit=1)[0]
                plain = "#" not in text and text.lstrip("\n")[:1] in ("a", "") and not _NOT_A_BLOCK_START.search(text)
                scan = _overlapping_by_find if plain else _overlapping_by_paragraph
                for line, block in scan(text, lines_before, path, extractor, count):
                    yield parse_block(block, extractor.prefix, f"{path}: block at line {line}")
        except (UnicodeDecodeError, EOFError, OSError) as error:
            raise UserError(f"{path}: not a readable MAF file, or a truncated one ({error}).") from None
    if count.blocks and not count.with_reference:
        raise UserError(f"{path}: none of its {count.blocks} blocks has a row of the reference "
                        f"{extractor.reference!r} (rows are named like {count.example!r}); check --reference.")


def _file_alignments(maf_path: Path, utrs: list, genome, reference):
    """Yield ``(utr_index, first_block, UtrAlignment)`` for every UTR the blocks of one MAF touch, as
    soon as the stream has passed it; ``first_block`` (``src:start``) names the block that opened it.

    Memory holds only the UTRs still open, not the MAF.
    """
    extractor = _Extractor(utrs, genome, reference, maf_path)
    open_utrs, first_blocks, ends, finished, current_chrom = {}, {}, [], set(), None

    def close(until):
        while ends and ends[0][0] <= until:
            _, index = heapq.heappop(ends)
            finished.add(index)
            yield index, first_blocks.pop(index), extractor.finish(index, open_utrs.pop(index))

    for block in overlapping_blocks(maf_path, extractor):
        if block.chrom != current_chrom:
            yield from close(float("inf"))
            current_chrom = block.chrom
        yield from close(block.start)
        for index in dict.fromkeys(extractor.add_block(block, open_utrs)):
            if index in finished:
                raise UserError(
                    f"{maf_path}: block at {block.src}:{block.start} comes after blocks "
                    f"past UTR {utrs[index].utr_id}; the MAF must be sorted by reference position.")
            if index not in first_blocks:
                first_blocks[index] = f"{block.src}:{block.start}"
                heapq.heappush(ends, (utrs[index].exons[-1][1], index))
    yield from close(float("inf"))


def _spill_file_alignments(job) -> Path:
    """Worker of :func:`_alignments_in_workers`: :func:`_file_alignments` of one MAF, pickled one
    record after another to ``spill_path``, so neither the worker nor the parent holds a whole
    chromosome's records."""
    maf_path, utrs, genome_path, reference, spill_path = job
    with Genome(genome_path) as genome, open(spill_path, "wb") as spill:
        for index, first_block, alignment in _file_alignments(maf_path, utrs, genome, reference):
            pickle.dump((index, first_block, *_pack(alignment)), spill, protocol=pickle.HIGHEST_PROTOCOL)
    return spill_path


def _pack(alignment: UtrAlignment) -> tuple:
    """``alignment`` as plain tuples and one bytes matrix of its columns: pickling dataclasses and
    one array per species would cost a third of the extraction's time. Its species and columns share
    one key order (:meth:`_Extractor.finish` fills both in one loop)."""
    species = tuple((found.species, found.contig, found.strand, found.sequence, found.covered_positions,
                     found.candidates) for found in alignment.species.values())
    columns = b"".join(column.tobytes() for column in alignment.columns.values())
    return alignment.utr_id, alignment.length, species, columns


def _unpack(utr_id, length, species, columns) -> UtrAlignment:
    """The :class:`UtrAlignment` that :func:`_pack` took apart."""
    alignment = UtrAlignment(utr_id, length)
    matrix = np.frombuffer(bytearray(columns), dtype=np.uint8).reshape(len(species), length)
    for row, fields in enumerate(species):
        alignment.species[fields[0]] = SpeciesAlignment(*fields)
        alignment.columns[fields[0]] = matrix[row]
    return alignment


def _read_spill(spill_path: Path):
    """The records :func:`_spill_file_alignments` wrote, in order; the file is removed once read."""
    with open(spill_path, "rb") as spill:
        while True:
            try:
                index, first_block, *packed = pickle.load(spill)
            except EOFError:
                break
            yield index, first_block, _unpack(*packed)
    spill_path.unlink()


def _alignments_in_workers(maf_paths: list, utrs: list, genome, reference, workers: int):
    """Yield ``(maf_path, records)`` in input order, the MAFs read by a pool of ``workers`` processes,
    one MAF each at a time. A worker's error (a ``UserError`` naming the file and line) is raised
    here when its MAF's turn comes; leaving early terminates the pool."""
    with tempfile.TemporaryDirectory(prefix="utrbench_maf.") as spill_dir, \
            multiprocessing.Pool(min(workers, len(maf_paths))) as pool:
        jobs = [(path, utrs, genome.path, reference, Path(spill_dir) / f"{number}.pickle")
                for number, path in enumerate(maf_paths)]
        for maf_path, spill_path in zip(maf_paths, pool.imap(_spill_file_alignments, jobs)):
            yield maf_path, _read_spill(spill_path)


def stream_alignments(maf_paths, utrs, genome, reference, workers: int = 1):
    """Yield a :class:`UtrAlignment` for every UTR, reading each MAF once.

    Several MAFs (e.g. one per chromosome from hal2maf) are read by ``workers`` processes, one MAF
    per worker, and their UTRs yielded in the order of ``maf_paths``, each MAF's in stream order:
    the order, so the output, is the same for any number of workers. Then the UTRs that no block
    touched (in input order). A UTR whose blocks lie in two MAFs is an error, as a block that comes
    after the stream passed its UTR is within one.
    """
    utrs, maf_paths = list(utrs), list(map(Path, maf_paths))
    if workers > 1 and len(maf_paths) > 1:
        per_file = _alignments_in_workers(maf_paths, utrs, genome, reference, workers)
    else:
        per_file = ((path, _file_alignments(path, utrs, genome, reference)) for path in maf_paths)
    file_of = {}  # UTR index -> the MAF that aligned it
    for maf_path, records in per_file:
        for index, first_block, alignment in records:
            if index in file_of:
                raise UserError(
                    f"{maf_path}: block at {first_block} overlaps UTR {utrs[index].utr_id}, which "
                    f"{file_of[index]} also aligns; the MAFs must be sorted by reference position, "
                    "each UTR's blocks in one file.")
            file_of[index] = maf_path
            yield alignment
    extractor = _Extractor(utrs, genome, reference, "")
    for index in range(len(utrs)):
        if index not in file_of:
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
    try:
        index = interval_index_file.Indexes(str(index_path))
    except Exception as error:  # bx raises a bare Exception for a file that is not an index
        raise UserError(f"{index_path}: not a bx MAF index ({error}).") from None
    lines = _Lines(maf_path)
    try:
        for utr_index, utr in enumerate(utrs):
            offsets = sorted({offset for start, end in utr.exons
                              for _, _, offset in index.find(extractor.prefix + utr.chrom, start, end)})
            accumulators = {}
            for offset in offsets:
                block = parse_block(lines.paragraph(offset), extractor.prefix, f"{maf_path}: block at offset {offset}")
                if block is not None:
                    extractor.add_block(block, accumulators, only_utr=utr_index)
            yield extractor.finish(utr_index, accumulators.get(utr_index))
    finally:
        lines.close()


def resolve_maf_paths(maf_paths, maf_dir) -> list:
    """The MAFs given by ``--maf`` and ``--maf-dir`` in sorted path order (outputs must not depend
    on how files were listed); none at all is an error, so a failed hal2maf cannot pass silently."""
    maf_paths = list(maf_paths)
    if maf_dir:
        maf_dir = Path(maf_dir)
        in_dir = [*maf_dir.glob("*.maf"), *maf_dir.glob("*.maf.gz")]
        if not in_dir:
            raise UserError(f"{maf_dir}: the MAF folder holds no *.maf or *.maf.gz file "
                            "(did the hal2maf step fail?).")
        maf_paths += in_dir
    if not maf_paths:
        raise UserError("no MAF given: pass --maf or a --maf-dir holding *.maf or *.maf.gz files.")
    return sorted(map(str, maf_paths))


def read_utrs_on_genome(bed, genome) -> list:
    """The UTRs of ``bed``; an empty BED or a UTR on a contig the genome lacks is an error."""
    utrs = read_utr_bed(bed)
    if not utrs:
        raise UserError(f"{bed}: the BED holds no UTR.")
    for utr in utrs:
        if utr.chrom not in genome.contigs:
            raise UserError(f"{bed}: UTR {utr.utr_id} lies on contig {utr.chrom!r}, which {genome.path} does not have.")
    return utrs


def utr_alignments(bed, genome, maf_paths, maf_dir, maf_index, reference, workers=1):
    """The UTRs of ``bed`` and an iterator of their alignments (indexed, or streamed by ``workers``
    processes, one MAF each)."""
    maf_paths = resolve_maf_paths(maf_paths, maf_dir)
    utrs = read_utrs_on_genome(bed, genome)
    if maf_index:
        if len(maf_paths) != 1:
            raise UserError("--maf-index indexes one MAF; give exactly one --maf with it.")
        return utrs, indexed_alignments(maf_paths[0], maf_index, utrs, genome, reference)
    return utrs, stream_alignments(maf_paths, utrs, genome, reference, workers)
