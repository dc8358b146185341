#!/usr/bin/env python3
"""MAF throughput of the streaming UTR extraction against a straightforward per-UTR bx-python scan.

Generates (into a temporary directory, not the repository) a sorted MAF of at least 200 MB with
a reference and 15 other species along one chromosome, and 1,000 UTRs of 1 kb in the aligned stretch. Then, in the
same run:

* streaming: :func:`utrbench.align.maf.stream_alignments` over the whole MAF, once;
* reference: what a straightforward script does for each UTR: read the MAF with
  ``bx.align.maf.Reader``, ``slice_by_component`` every overlapping block to the UTR and join
  each species' bases. It is timed on a few UTRs and extrapolated to all UTRs (its cost per UTR
  is one full read of the file, independent of the UTR).

Each side runs in a fresh interpreter so its peak memory (VmHWM) is its own. Prints MB/s and
peak memory of both; the last line is ``speedup: <ratio>`` (extrapolated reference time /
streaming time). Usage: ``python benchmarks/maf_speed.py [--size-mb 200] [--reference-utrs 2]``.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bin"))

SPECIES = [f"Species{i:02d}" for i in range(15)]
CHROM_LENGTH = 20_000_000
N_UTRS, UTR_LENGTH = 1000, 1000


def generate(directory: Path, size_mb: float, seed: int = 0):
    """Write genome.fa, utrs.bed and aln.maf (blocks of 150-250 columns) of about ``size_mb`` MB."""
    rng = np.random.default_rng(seed)
    chrom = rng.choice(np.frombuffer(b"ACGT", dtype=np.uint8), CHROM_LENGTH).tobytes().decode()
    (directory / "genome.fa").write_text(f">chr1\n{chrom}\n")
    target = size_mb * 1e6
    written, position = 0, 0
    offsets = {name: 0 for name in SPECIES}
    with open(directory / "aln.maf", "w") as maf:
        maf.write("##maf version=1\n\n")
        while written < target and position < CHROM_LENGTH:
            length = int(rng.integers(150, 250))
            length = min(length, CHROM_LENGTH - position)
            human = np.frombuffer(chrom[position:position + length].encode(), dtype=np.uint8)
            rows = [f"s Homo_sapiens.chr1 {position} {length} + {CHROM_LENGTH} {human.tobytes().decode()}\n"]
            for name in SPECIES:
                text = human.copy()
                text[rng.random(length) < 0.1] = ord("T")
                text[rng.random(length) < 0.05] = ord("-")
                size = int((text != ord("-")).sum())
                rows.append(f"s {name}.scaffold1 {offsets[name]} {size} + 100000000 {text.tobytes().decode()}\n")
                offsets[name] += size
            block = "a score=0\n" + "".join(rows) + "\n"
            maf.write(block)
            written += len(block)
            position += length
    # UTRs inside the aligned stretch, at least 1 kb apart
    starts = np.sort(rng.choice(np.arange(0, position - UTR_LENGTH, UTR_LENGTH * 2), N_UTRS, replace=False))
    with open(directory / "utrs.bed", "w") as bed:
        for k, start in enumerate(starts):
            bed.write(f"chr1\t{start}\t{start + UTR_LENGTH}\tUTR{k:04d}\t0\t{'+-'[k % 2]}\n")
    return directory / "aln.maf"


def stream(directory: Path) -> dict:
    """The streaming extraction over the whole MAF; returns seconds and sequence count."""
    from utrbench.align.maf import stream_alignments
    from utrbench.align.utrs import read_utr_bed
    from utrbench.seq.genome import Genome

    utrs = read_utr_bed(directory / "utrs.bed")
    started = time.perf_counter()
    count = sum(len(a.species) for a in stream_alignments([directory / "aln.maf"], utrs,
                                                           Genome(directory / "genome.fa"), "Homo_sapiens"))
    return {"seconds": time.perf_counter() - started, "sequences": count}


def per_utr_scan(directory: Path, n_utrs: int) -> dict:
    """The straightforward extraction for ``n_utrs`` UTRs spread over the file: one full bx read each."""
    import bx.align.maf

    from utrbench.align.utrs import read_utr_bed
    from utrbench.seq.alphabet import reverse_complement

    utrs = read_utr_bed(directory / "utrs.bed")
    chosen = [utrs[i] for i in np.linspace(0, len(utrs) - 1, n_utrs).astype(int)]
    started = time.perf_counter()
    count = 0
    for utr in chosen:
        (start, end), = utr.exons
        pieces = {}
        with open(directory / "aln.maf") as handle:
            for block in bx.align.maf.Reader(handle):
                reference = block.get_component_by_src(f"Homo_sapiens.{utr.chrom}")
                if reference is None or reference.end <= start or reference.start >= end:
                    continue
                sliced = block.slice_by_component(reference, max(start, reference.start), min(end, reference.end))
                for component in sliced.components[1:]:
                    pieces.setdefault(component.src.split(".")[0], []).append(component.text.replace("-", ""))
        sequences = {s: "".join(p) for s, p in pieces.items()}
        if utr.strand == "-":
            sequences = {s: reverse_complement(seq) for s, seq in sequences.items()}
        count += len(sequences)
    return {"seconds": time.perf_counter() - started, "sequences": count, "utrs": n_utrs}


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM restarts at exec; ru_maxrss would still count the
    parent's memory at fork time, so it is only the fallback where /proc is absent."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(mode: str, directory: str, n_utrs: int) -> dict:
    """Run one side in a fresh interpreter; add its peak RSS."""
    output = subprocess.run([sys.executable, __file__, "--child", mode, "--dir", directory,
                             "--reference-utrs", str(n_utrs)], capture_output=True, text=True, check=True)
    return json.loads(output.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=200)
    parser.add_argument("--reference-utrs", type=int, default=2)
    parser.add_argument("--child", choices=["stream", "reference"])
    parser.add_argument("--dir")
    args = parser.parse_args()
    if args.child:
        result = stream(Path(args.dir)) if args.child == "stream" else per_utr_scan(Path(args.dir), args.reference_utrs)
        result["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory(prefix="maf_speed.") as directory:
        maf = generate(Path(directory), args.size_mb)
        size_mb = maf.stat().st_size / 1e6
        print(f"MAF: {size_mb:.1f} MB, {len(SPECIES) + 1} species, {N_UTRS} UTRs of {UTR_LENGTH} nt")
        streamed = child("stream", directory, args.reference_utrs)
        reference = child("reference", directory, args.reference_utrs)
    per_utr = reference["seconds"] / reference["utrs"]
    reference_total = per_utr * N_UTRS
    print(f"streaming: {streamed['seconds']:.1f} s, {size_mb / streamed['seconds']:.1f} MB/s, "
          f"peak RSS {streamed['peak_rss_mb']:.0f} MB, {streamed['sequences']} sequences")
    print(f"per-UTR bx scan: {per_utr:.1f} s per UTR ({size_mb / per_utr:.1f} MB/s), measured on "
          f"{reference['utrs']} UTRs, extrapolated to {N_UTRS} UTRs: {reference_total:.0f} s, "
          f"peak RSS {reference['peak_rss_mb']:.0f} MB")
    print(f"speedup: {reference_total / streamed['seconds']:.1f}")


if __name__ == "__main__":
    main()
