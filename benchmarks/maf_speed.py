#!/usr/bin/env python3
"""MAF -> per-species UTR sequences: the project's streaming extraction against plain bx-python.

Generates (in a temporary directory, not the repository) sorted MAFs of several sizes: a reference
and 15 other species, blocks of 150-250 columns, and 1-kb UTRs covering a fixed fraction of the
aligned reference, so every size has the same UTR density. Three cases:

* ``genome``: one MAF over two chromosomes, UTRs over 1.1 % of the reference, as the 32.5 Mnt of
  human 3'UTRs are in a whole-genome MAF (e.g. UCSC's multiz or a full hal2maf export);
* ``targets``: the same with UTRs over 90 % of it, as in a MAF that hal2maf exported over the UTRs;
* ``per_chromosome``: the ``targets`` density in one MAF per chromosome (four), the layout
  hal2maf and UCSC give and ``--maf-dir`` reads.

Per case and size, in the same run and each side in a fresh interpreter (so its peak memory,
VmHWM, is its own):

* ``ours``: :func:`utrbench.align.maf.stream_alignments` over the MAFs (which also checks every
  reference row against the genome and builds the per-position columns Zoo-AL needs), one
  process; ``ours_2_workers`` (``per_chromosome`` only): the same with ``workers=2``, one MAF per
  worker process, as UTR_ORTHOLOGS and ZOOAL run with ``--workers ${task.cpus}``;
* ``bx single pass`` (the reference): what a competent bx-python user writes: one
  ``bx.align.maf.Reader`` pass over the blocks of each MAF in turn, the UTRs overlapping each block
  found by bisection in a sorted list, ``slice_by_component`` to the UTR, each species' gap-free
  bases joined, minus strand UTRs reverse-complemented;
* ``bx indexed`` (single-MAF cases): ``bx.align.maf.Indexed`` random access per UTR, timed as
  index build plus queries.

All sides must give the same ``(UTR, species) -> sequence`` records (asserted by digest). Prints
wall and CPU seconds (CPU of the workers included), MB/s and peak RSS per side and size, the load
average, and per side a linear fit ``seconds = a + b x MB`` over the measured sizes with the per-MB
speedup ``b_reference / b_side`` (what a study-size MAF, gigabytes, converges to). The single-MAF
cases use CPU seconds, which other jobs on a shared machine do not inflate; workers save only wall
time, so ``per_chromosome`` is fitted on both clocks, and its wall figures mean something only
with free cores: the load average and the ``parallel capacity`` (throughput of two busy processes
over one's, measured at the start and the end) say whether there were.

Last lines: ``speedup_genome`` (one whole-genome MAF, CPU), ``speedup_targets`` (one UTR-only MAF,
CPU), ``speedup_per_chromosome_cpu``, and ``speedup: <ratio>``: the ``per_chromosome`` case, two
workers against the single-process bx reference, in wall seconds. That case is what ZOOAL reads on
the study's route (``--utr_hal``: hal2maf over the UTRs, one MAF per chromosome).
Usage: ``python benchmarks/maf_speed.py [--sizes-mb 15,30,60] [--cases genome,targets,per_chromosome]``.
"""

import argparse
import bisect
import functools
import hashlib
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bin"))

REFERENCE = "Homo_sapiens"
SPECIES = [f"Species{i:02d}" for i in range(15)]
CHROMS = ["chr1", "chr2"]
PER_CHROMOSOME = ["chr1", "chr2", "chr3", "chr4"]
UTR_LENGTH = 1000
DENSITIES = {"genome": 0.011, "targets": 0.9}
# Single-process sides: on an idle machine their CPU time is their wall time, and CPU time is what
# other jobs on a shared machine do not inflate, so their ratios use it. The per-chromosome case's
# workers save wall time only: its headline ratio is on wall seconds.
BYTES_PER_REFERENCE_BASE = 19.5  # 16 rows of ~200 columns plus their 's' line fields, per 200 reference bases


def generate(directory: Path, size_mb: float, utr_fraction: float, names=CHROMS, per_chromosome=False,
             seed: int = 0) -> list:
    """Write genome.fa, utrs.bed and MAFs of about ``size_mb`` MB in all over the chromosomes ``names``:
    aln.maf, or ``<chromosome>.maf`` each with ``per_chromosome``; return the MAF paths."""
    rng = np.random.default_rng(seed)
    chrom_length = int(size_mb * 1e6 / BYTES_PER_REFERENCE_BASE / len(names)) + 1
    bases = np.frombuffer(b"ACGT", dtype=np.uint8)
    chroms = {name: rng.choice(bases, chrom_length) for name in names}
    with open(directory / "genome.fa", "w") as fasta:
        for name, sequence in chroms.items():
            fasta.write(f">{name}\n{sequence.tobytes().decode()}\n")
    offsets = {name: 0 for name in SPECIES}
    maf_of = {name: directory / (f"{name}.maf" if per_chromosome else "aln.maf") for name in names}
    for path in set(maf_of.values()):
        path.write_text("##maf version=1\n\n")
    for name, human in chroms.items():
        with open(maf_of[name], "a") as maf:
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
        for name in names:
            starts = np.sort(rng.choice(slots, min(n_utrs, slots), replace=False)) * UTR_LENGTH
            for k, start in enumerate(starts):
                bed.write(f"{name}\t{start}\t{start + UTR_LENGTH}\t{name}_UTR{k:05d}\t0\t{'+-'[k % 2]}\n")
    return sorted(set(maf_of.values()))


def maf_paths(directory: Path) -> list:
    """The generated MAFs of ``directory``, in sorted order (as ``--maf-dir`` reads them)."""
    return sorted(directory.glob("*.maf"))


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


def ours(directory: Path, digest: Digest, workers: int = 1):
    """The project's streaming extraction by ``workers`` processes (one MAF each); records go to
    ``digest`` as they stream out."""
    from utrbench.align.maf import stream_alignments
    from utrbench.align.utrs import read_utr_bed
    from utrbench.seq.genome import Genome

    utrs = read_utr_bed(directory / "utrs.bed")
    with Genome(directory / "genome.fa") as genome:
        for alignment in stream_alignments(maf_paths(directory), utrs, genome, REFERENCE, workers=workers):
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
    """One bx Reader pass over each MAF in turn; overlapping UTRs of each block by bisection in a
    sorted interval list."""
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
    for maf in maf_paths(directory):
        with open(maf) as handle:
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


WORKERS = 2
SIDES = {"ours": functools.partial(ours, workers=1), f"ours_{WORKERS}_workers": functools.partial(ours, workers=WORKERS),
         "bx_single_pass": bx_single_pass, "bx_indexed": bx_indexed}


@dataclass
class Case:
    """One benchmark case: UTR density, chromosomes, one MAF or one per chromosome, the sides timed,
    and the clock its ratios use."""

    utr_fraction: float
    chroms: list
    per_chromosome: bool
    sides: list  # the first is ours, the last the reference
    clock: str


CASES = {
    "genome": Case(0.011, CHROMS, False, ["ours", "bx_indexed", "bx_single_pass"], "cpu_seconds"),
    "targets": Case(0.9, CHROMS, False, ["ours", "bx_indexed", "bx_single_pass"], "cpu_seconds"),
    # one MAF per chromosome (hal2maf's and UCSC's layout): parallelism shows only in wall time
    "per_chromosome": Case(0.9, PER_CHROMOSOME, True, [f"ours_{WORKERS}_workers", "ours", "bx_single_pass"],
                           "seconds"),
}


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM restarts at exec; ru_maxrss would still count the
    parent's memory at fork time, so it is only the fallback where /proc is absent."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds(times) -> float:
    """User and system CPU time of this process and of its finished children (the workers)."""
    return times.user + times.system + times.children_user + times.children_system


def run_side(name: str, directory: Path) -> dict:
    """Time one side in this process (its imports apart); its records go into the digest."""
    started = time.perf_counter()
    if name.startswith("ours"):
        import utrbench.align.maf  # noqa: F401  (numpy, pysam, bx)
    else:
        import bx.align.maf  # noqa: F401
    import_seconds = time.perf_counter() - started
    started, cpu_started = time.perf_counter(), os.times()
    digest = Digest()
    build_seconds = SIDES[name](directory, digest)
    seconds, cpu = time.perf_counter() - started, cpu_seconds(os.times()) - cpu_seconds(cpu_started)
    return {"seconds": seconds, "cpu_seconds": cpu, "import_seconds": import_seconds, "build_seconds": build_seconds,
            "records": digest.count, "digest": f"{digest.total:064x}", "peak_rss_mb": peak_rss_mb(),
            "worker_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def _burn(cpu_seconds: float) -> None:
    """Spin for ``cpu_seconds`` of CPU time."""
    started = time.process_time()
    while time.process_time() - started < cpu_seconds:
        pass


def parallel_capacity(cpu_seconds: float = 0.5) -> float:
    """How many cores this run's processes get together: the throughput of WORKERS busy processes
    over that of one (WORKERS on an idle machine with that many cores, 1 where the scheduler gives
    all of them one share, as Linux autogroups do with other sessions' jobs running)."""
    walls = []
    for processes in (1, WORKERS):
        with multiprocessing.Pool(processes) as pool:
            started = time.perf_counter()
            pool.map(_burn, [cpu_seconds] * processes)
            walls.append(time.perf_counter() - started)
    return WORKERS * walls[0] / walls[1]


def child(name: str, directory: Path) -> dict:
    """Run one side in a fresh interpreter."""
    output = subprocess.run([sys.executable, __file__, "--child", name, "--dir", str(directory)],
                            capture_output=True, text=True, check=True)
    return json.loads(output.stdout)


def run_case(name: str, case: Case, sizes: list) -> dict:
    """Measure every side of ``case`` at every size, print the results and fits; return the per-MB
    speedup (on the case's clock and on CPU seconds) of each side over the reference, the last side."""
    reference = case.sides[-1]
    measured = defaultdict(lambda: defaultdict(list))  # clock -> side -> [(MB, seconds)]
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="maf_speed.") as directory:
            mafs = generate(Path(directory), size, case.utr_fraction, case.chroms, case.per_chromosome)
            size_mb = sum(maf.stat().st_size for maf in mafs) / 1e6
            n_utrs = sum(1 for _ in open(Path(directory) / "utrs.bed"))
            results = {side: child(side, Path(directory)) for side in case.sides}
        digests = {result["digest"] for result in results.values()}
        assert len(digests) == 1, f"outputs differ: { {n: r['digest'][:12] for n, r in results.items()} }"
        print(f"[{name}] {len(mafs)} MAF(s), {size_mb:.1f} MB, {n_utrs} UTRs, {results[case.sides[0]]['records']} "
              f"sequences (all sides equal); load average {os.getloadavg()[0]:.1f}")
        for side, result in results.items():
            extra = f" (index build {result['build_seconds']:.2f} s)" if result["build_seconds"] is not None else ""
            workers = f", largest worker {result['worker_peak_rss_mb']:.0f} MB" if "workers" in side else ""
            print(f"  {side:15s} {result['seconds']:7.2f} s wall, {result['cpu_seconds']:7.2f} s CPU{extra}, "
                  f"{size_mb / result['cpu_seconds']:6.1f} MB/s (CPU), imports {result['import_seconds']:.2f} s, "
                  f"peak RSS {result['peak_rss_mb']:.0f} MB{workers}")
            for clock in {case.clock, "cpu_seconds"}:
                measured[clock][side].append((size_mb, result[clock]))
        print("  " + ", ".join(f"{side} {results[reference][case.clock] / results[side][case.clock]:.2f}x"
                               for side in case.sides[:-1]) + f" over {reference} ({case.clock})")
    speedups = {}
    for clock, by_side in measured.items():
        slopes = {}
        for side, points in by_side.items():
            slope, intercept = np.polyfit(*zip(*points), 1)
            slopes[side] = slope
            print(f"  fit [{name}] {side}: {clock} = {intercept:.2f} + {slope * 1000:.1f} ms/MB x MB")
        speedups[clock] = {side: slopes[reference] / slopes[side] for side in case.sides[:-1]}
        print(f"  per-MB speedup [{name}] over {reference} ({clock}): "
              + ", ".join(f"{side} {ratio:.2f}" for side, ratio in speedups[clock].items()))
    return speedups


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mb", default="15,30,60", help="Comma-separated MAF sizes (MB), at least two.")
    parser.add_argument("--cases", default=",".join(CASES), help="Comma-separated cases to run.")
    parser.add_argument("--child", choices=sorted(SIDES))
    parser.add_argument("--dir")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_side(args.child, Path(args.dir))))
        return
    sizes = [float(size) for size in args.sizes_mb.split(",")]
    print(f"{len(SPECIES) + 1} species, UTRs of {UTR_LENGTH} nt, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}; seconds exclude the imports (reported apart); fits and ratios on CPU "
          "seconds, and for per_chromosome also on wall seconds (parallel workers show only there)")
    print(f"parallel capacity: {WORKERS} busy processes ran {parallel_capacity():.2f}x as fast in all as one "
          f"({WORKERS} where {WORKERS} cores are free)")
    speedups = {name: run_case(name, CASES[name], sizes) for name in args.cases.split(",")}
    print(f"load average at the end {os.getloadavg()[0]:.1f}, parallel capacity {parallel_capacity():.2f}x")
    if "genome" in speedups:
        print(f"speedup_genome: {speedups['genome']['cpu_seconds']['ours']:.2f}  (one whole-genome MAF, CPU seconds)")
    if "targets" in speedups:
        print(f"speedup_targets: {speedups['targets']['cpu_seconds']['ours']:.2f}  (one UTR-only MAF, CPU seconds)")
    if "per_chromosome" in speedups:
        ours_side = f"ours_{WORKERS}_workers"
        print(f"speedup_per_chromosome_cpu: {speedups['per_chromosome']['cpu_seconds'][ours_side]:.2f}  "
              f"({len(PER_CHROMOSOME)} UTR-only MAFs, {WORKERS} workers, CPU seconds of all processes)")
        print(f"speedup below: {len(PER_CHROMOSOME)} UTR-only MAFs, {WORKERS} workers, wall seconds")
        print(f"speedup: {speedups['per_chromosome']['seconds'][ours_side]:.2f}")


if __name__ == "__main__":
    main()
