#!/usr/bin/env python3
"""MAF -> per-species UTR sequences: the project's streaming extraction against plain bx-python.

Generates (in a temporary directory, not the repository) sorted MAFs of several sizes: a reference
and 15 other species along two chromosomes, blocks of 150-250 columns, and 1-kb UTRs covering a
fixed fraction of the aligned reference, so every size has the same UTR density. Two densities:

* ``genome``: UTRs cover 1.1 % of the reference, as the 32.5 Mnt of human 3'UTRs do in a
  whole-genome MAF (e.g. UCSC's multiz or a full hal2maf export);
* ``targets``: UTRs cover 90 % of it, as in a MAF that hal2maf exported over the UTRs only.

Per MAF, in the same run and each in a fresh interpreter (so its peak memory, VmHWM, is its own):

* ``ours``: :func:`utrbench.align.maf.stream_alignments` over the MAF (which also checks every
  reference row against the genome and builds the per-position columns Zoo-AL needs);
* ``bx single pass`` (the reference): what a competent bx-python user writes: one
  ``bx.align.maf.Reader`` pass over the blocks, the UTRs overlapping each block found by bisection
  in a sorted list, ``slice_by_component`` to the UTR, each species' gap-free bases joined, minus
  strand UTRs reverse-complemented;
* ``bx indexed``: ``bx.align.maf.Indexed`` random access per UTR, timed as index build plus queries.

All three must give the same ``(UTR, species) -> sequence`` records (asserted by digest). Prints
wall and CPU seconds, MB/s and peak RSS per side and size, a linear fit ``CPU seconds = a + b x MB`` per side
and density over the measured sizes, and the per-MB speedup ``b_reference / b_ours`` (what a
study-size MAF, gigabytes, converges to), for each density.

Which density is the real input: the study's route (``--utr_hal``) runs hal2maf over the UTRs,
one MAF per chromosome, and ZOOAL reads those: the ``targets`` case. The MAF route
(``--utr_maf``, UTR_ORTHOLOGS and ZOOAL) reads an alignment the user downloads, whole-genome
MAFs one per chromosome as UCSC's multiz sets are: the ``genome`` case. The line
``speedup_genome: <ratio>`` gives the MAF route's case; the last line, ``speedup: <ratio>``, is
the ``targets`` case, the study's.
Usage: ``python benchmarks/maf_speed.py [--sizes-mb 15,30,60]``.
"""

import argparse
import bisect
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bin"))

REFERENCE = "Homo_sapiens"
SPECIES = [f"Species{i:02d}" for i in range(15)]
CHROMS = ["chr1", "chr2"]
UTR_LENGTH = 1000
DENSITIES = {"genome": 0.011, "targets": 0.9}
# Every side is one single-threaded process, so on an idle machine its CPU time is its wall time;
# ratios use CPU time, which other jobs on a shared machine do not inflate.
CLOCK = "cpu_seconds"
BYTES_PER_REFERENCE_BASE = 19.5  # 16 rows of ~200 columns plus their 's' line fields, per 200 reference bases


def generate(directory: Path, size_mb: float, utr_fraction: float, seed: int = 0) -> Path:
    """Write genome.fa, utrs.bed and aln.maf of about ``size_mb`` MB; return the MAF path."""
    rng = np.random.default_rng(seed)
    chrom_length = int(size_mb * 1e6 / BYTES_PER_REFERENCE_BASE / len(CHROMS)) + 1
    bases = np.frombuffer(b"ACGT", dtype=np.uint8)
    chroms = {name: rng.choice(bases, chrom_length) for name in CHROMS}
    with open(directory / "genome.fa", "w") as fasta:
        for name, sequence in chroms.items():
            fasta.write(f">{name}\n{sequence.tobytes().decode()}\n")
    offsets = {name: 0 for name in SPECIES}
    with open(directory / "aln.maf", "w") as maf:
        maf.write("##maf version=1\n\n")
        for name, human in chroms.items():
            # each species: the human chromosome with 10 % substitutions and 5 % deletions
            rows = {}
            for species in SPECIES:
                text = human.copy()
                text[rng.random(chrom_length) < 0.1] = ord("T")
                text[rng.random(chrom_length) < 0.05] = ord("-")
                rows[species] = (text, np.concatenate([[0], np.cumsum(text != ord("-"))]))
            human_text = human.tobytes().decode()
            texts = {species: text.tobytes().decode() for species, (text, _) in rows.items()}
            position = 0
            while position < chrom_length:
                end = min(position + int(rng.integers(150, 250)), chrom_length)
                lines = [f"a score=0\ns {REFERENCE}.{name} {position} {end - position} + {chrom_length} "
                         f"{human_text[position:end]}\n"]
                for species, (_, aligned) in rows.items():
                    size = int(aligned[end] - aligned[position])
                    lines.append(f"s {species}.scaffold1 {offsets[species]} {size} + 100000000 "
                                 f"{texts[species][position:end]}\n")
                    offsets[species] += size
                maf.write("".join(lines) + "\n")
                position = end
    n_utrs = max(1, int(utr_fraction * chrom_length / UTR_LENGTH))
    slots = chrom_length // UTR_LENGTH - 1
    with open(directory / "utrs.bed", "w") as bed:
        for name in CHROMS:
            starts = np.sort(rng.choice(slots, min(n_utrs, slots), replace=False)) * UTR_LENGTH
            for k, start in enumerate(starts):
                bed.write(f"{name}\t{start}\t{start + UTR_LENGTH}\t{name}_UTR{k:05d}\t0\t{'+-'[k % 2]}\n")
    return directory / "aln.maf"


def read_bed(path: Path) -> list:
    """``(utr_id, chrom, start, end, strand)`` per line of the single-exon UTR BED."""
    rows = []
    for line in path.read_text().splitlines():
        chrom, start, end, name, _, strand = line.split("\t")
        rows.append((name, chrom, int(start), int(end), strand))
    return rows


class Digest:
    """An order-independent hash of ``(utr_id, species, sequence)`` records, so a streaming side
    need not hold its records to be compared (the sum of the records' SHA-256 values)."""

    def __init__(self):
        self.total, self.count = 0, 0

    def add(self, utr_id, species, sequence):
        self.total = (self.total + int(hashlib.sha256(f"{utr_id}\t{species}\t{sequence}".encode()).hexdigest(), 16)) % 2**256
        self.count += 1


def ours(directory: Path, digest: Digest):
    """The project's streaming extraction; records go to ``digest`` as they stream out."""
    from utrbench.align.maf import stream_alignments
    from utrbench.align.utrs import read_utr_bed
    from utrbench.seq.genome import Genome

    utrs = read_utr_bed(directory / "utrs.bed")
    with Genome(directory / "genome.fa") as genome:
        for alignment in stream_alignments([directory / "aln.maf"], utrs, genome, REFERENCE):
            for species, found in alignment.species.items():
                digest.add(alignment.utr_id, species, found.sequence)


def _join(pieces: dict, utrs: list, digest: Digest):
    """Each UTR's species sequences from its fragment lists, in transcript orientation, into ``digest``."""
    from bx.seq.core import reverse_complement

    for index, by_species in pieces.items():
        utr_id, _, _, _, strand = utrs[index]
        for species, parts in by_species.items():
            sequence = "".join(parts).upper()
            digest.add(utr_id, species, reverse_complement(sequence) if strand == "-" else sequence)


def _add_slice(block, reference, start, end, fragments):
    """Append each non-reference species' gap-free bases of ``block`` over reference ``[start, end)``."""
    sliced = block.slice_by_component(reference, max(start, reference.start), min(end, reference.end))
    for component in sliced.components:
        if component.src == reference.src:
            continue
        bases = component.text.replace("-", "")
        if bases:
            fragments[component.src.split(".", 1)[0]].append(bases)


def bx_single_pass(directory: Path, digest: Digest):
    """One bx Reader pass; overlapping UTRs of each block by bisection in a sorted interval list."""
    import bx.align.maf

    utrs = read_bed(directory / "utrs.bed")
    by_chrom = defaultdict(list)
    for index, (_, chrom, start, end, _) in enumerate(utrs):
        by_chrom[chrom].append((start, end, index))
    lookup = {}
    for chrom, intervals in by_chrom.items():
        intervals.sort()
        lookup[chrom] = (intervals, [start for start, _, _ in intervals], max(e - s for s, e, _ in intervals))
    prefix = REFERENCE + "."
    pieces = defaultdict(lambda: defaultdict(list))
    with open(directory / "aln.maf") as handle:
        for block in bx.align.maf.Reader(handle):
            reference = block.get_component_by_src_start(prefix)
            if reference is None or reference.src[len(prefix):] not in lookup:
                continue
            if reference.strand == "-":
                block = block.reverse_complement()
                reference = block.get_component_by_src(reference.src)
            intervals, starts, longest = lookup[reference.src[len(prefix):]]
            low = bisect.bisect_left(starts, reference.start - longest)
            high = bisect.bisect_left(starts, reference.end)
            for start, end, index in intervals[low:high]:
                if end > reference.start:
                    _add_slice(block, reference, start, end, pieces[index])
    _join(pieces, utrs, digest)


def bx_indexed(directory: Path, digest: Digest) -> float:
    """``bx.align.maf.Indexed``: build the interval index of the reference rows, then one query per UTR.

    Returns the seconds the index build took."""
    import bx.align.maf
    from bx import interval_index_file

    maf, index_path = directory / "aln.maf", directory / "aln.maf.index"
    started = time.perf_counter()
    indexes = interval_index_file.Indexes()
    with open(maf) as handle:
        reader = bx.align.maf.Reader(handle)
        while True:
            offset = handle.tell()
            block = next(reader)
            if block is None:
                break
            for component in block.components:
                if component.src.startswith(REFERENCE + "."):
                    indexes.add(component.src, component.forward_strand_start, component.forward_strand_end,
                                offset, max=component.src_size)
    with open(index_path, "wb") as out:
        indexes.write(out)
    build_seconds = time.perf_counter() - started
    utrs = read_bed(directory / "utrs.bed")
    access = bx.align.maf.Indexed(str(maf), str(index_path), keep_open=True)
    pieces = defaultdict(lambda: defaultdict(list))
    for index, (_, chrom, start, end, _) in enumerate(utrs):
        for block in access.get(f"{REFERENCE}.{chrom}", start, end):
            reference = block.get_component_by_src(f"{REFERENCE}.{chrom}")
            if reference.strand == "-":
                block = block.reverse_complement()
                reference = block.get_component_by_src(reference.src)
            _add_slice(block, reference, start, end, pieces[index])
    access.close()
    _join(pieces, utrs, digest)
    return build_seconds


SIDES = {"ours": ours, "bx_single_pass": bx_single_pass, "bx_indexed": bx_indexed}


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM restarts at exec; ru_maxrss would still count the
    parent's memory at fork time, so it is only the fallback where /proc is absent."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_side(name: str, directory: Path) -> dict:
    """Time one side in this process (its imports apart); its records go into the digest."""
    started = time.perf_counter()
    if name == "ours":
        import utrbench.align.maf  # noqa: F401  (numpy, pysam, bx)
    else:
        import bx.align.maf  # noqa: F401
    import_seconds = time.perf_counter() - started
    started, cpu_started = time.perf_counter(), time.process_time()
    digest = Digest()
    build_seconds = SIDES[name](directory, digest)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "import_seconds": import_seconds, "build_seconds": build_seconds,
            "records": digest.count, "digest": f"{digest.total:064x}", "peak_rss_mb": peak_rss_mb()}


def child(name: str, directory: Path) -> dict:
    """Run one side in a fresh interpreter."""
    output = subprocess.run([sys.executable, __file__, "--child", name, "--dir", str(directory)],
                            capture_output=True, text=True, check=True)
    return json.loads(output.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mb", default="15,30,60", help="Comma-separated MAF sizes (MB), at least two.")
    parser.add_argument("--child", choices=sorted(SIDES))
    parser.add_argument("--dir")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_side(args.child, Path(args.dir))))
        return
    sizes = [float(size) for size in args.sizes_mb.split(",")]
    print(f"{len(SPECIES) + 1} species, {len(CHROMS)} chromosomes, UTRs of {UTR_LENGTH} nt; "
          "seconds exclude the imports (reported apart); ratios and fits on CPU seconds")
    slope_ratios = {}
    for density, fraction in DENSITIES.items():
        measured = defaultdict(list)  # side -> [(MB, seconds)]
        for size in sizes:
            with tempfile.TemporaryDirectory(prefix="maf_speed.") as directory:
                maf = generate(Path(directory), size, fraction)
                size_mb = maf.stat().st_size / 1e6
                n_utrs = sum(1 for _ in open(Path(directory) / "utrs.bed"))
                results = {name: child(name, Path(directory)) for name in SIDES}
            digests = {result["digest"] for result in results.values()}
            assert len(digests) == 1, f"outputs differ: { {n: r['digest'][:12] for n, r in results.items()} }"
            print(f"[{density}] MAF {size_mb:.1f} MB, {n_utrs} UTRs, {results['ours']['records']} sequences (all sides equal)")
            for name, result in results.items():
                extra = f" (index build {result['build_seconds']:.2f} s)" if result["build_seconds"] is not None else ""
                print(f"  {name:15s} {result['seconds']:7.2f} s wall, {result['cpu_seconds']:7.2f} s CPU{extra}, "
                      f"{size_mb / result['cpu_seconds']:6.1f} MB/s (CPU), imports {result['import_seconds']:.2f} s, "
                      f"peak RSS {result['peak_rss_mb']:.0f} MB")
                measured[name].append((size_mb, result[CLOCK]))
            print(f"  ours vs bx single pass: {results['bx_single_pass'][CLOCK] / results['ours'][CLOCK]:.2f}x, "
                  f"vs bx indexed: {results['bx_indexed'][CLOCK] / results['ours'][CLOCK]:.2f}x ({CLOCK})")
        slopes = {}
        for name, points in measured.items():
            slope, intercept = np.polyfit(*zip(*points), 1)
            slopes[name] = slope
            print(f"  fit [{density}] {name}: CPU seconds = {intercept:.2f} + {slope * 1000:.1f} ms/MB x MB")
        slope_ratios[density] = slopes["bx_single_pass"] / slopes["ours"]
        print(f"  per-MB speedup [{density}] over bx single pass: {slope_ratios[density]:.2f}, "
              f"over bx indexed: {slopes['bx_indexed'] / slopes['ours']:.2f}")
    print(f"speedup_genome: {slope_ratios['genome']:.2f}")
    print(f"speedup: {slope_ratios['targets']:.2f}")


if __name__ == "__main__":
    main()
