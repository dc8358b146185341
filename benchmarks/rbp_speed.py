#!/usr/bin/env python3
"""Speed and memory of the RBP task (site extraction + scoring) at the study's size.

Generated data of the study's shape: ``--utrs`` UTRs (default 18,000) with 3'UTR lengths drawn
log-normally (median ~1.2 kb, ~32 Mnt in all), 20 RBPs with 4 RBNS 5-mers each (77 distinct,
as the study), IDR peaks over ~10 % and replicate-level peaks over another ~5 % of the sequence
(~2 M candidate sites: positives plus peak-free occurrences of the positive k-mers), and
``--models`` (default 10) probability HDF5s (float16, written by ``InferenceWriter`` in blocks of
1,000 records as ZEROSHOT writes them: chunked datasets).

- ``utrbench``: ``rbp_sites`` (one vectorised scan) and ``score_sites`` per file (the sites' rows read
  through a file mapping), on
  the full set, in a fresh interpreter so that its peak memory (``ru_maxrss``) is its own; run
  once with 1 model and once with all, to show memory flat in the number of models.
- ``study``: the study's scheme (note 05 §2.3-2.4): for every UTR, a Python loop over every start
  position with look-ups in the UTR's merged intervals of each RBP and in its peak-free regions,
  then per site and model the 5 x 4 block of the UTR's array (loaded per model as a dict of
  per-UTR arrays, as its pickles were) renormalised and averaged. Measured on three subsets of
  the UTRs (``--subsets``) and extrapolated to the full length along the least-squares line
  CPU seconds = a + b x nucleotides (the loop is linear in positions; printed with its fit).

Both sides time everything from reading the inputs to the last score; wall seconds are printed
too. Last line: ``speedup: <extrapolated study CPU seconds / utrbench CPU seconds>``.

Usage: ``python benchmarks/rbp_speed.py [--utrs 18000] [--models 10] [--subsets 300,600,1200] [--workdir DIR]``
"""

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bin"))

from utrbench.align.utrs import Utr, read_utr_bed, write_utr_bed  # noqa: E402
from utrbench.io import InferenceWriter  # noqa: E402
from utrbench.seq import read_fasta  # noqa: E402
from utrbench.seq.fasta import write_fasta  # noqa: E402
from utrbench.tasks import rbp  # noqa: E402

RBPS = 20
KMERS_PER_RBP = 4
K = 5
RECORDS_PER_BLOCK = 1000
# Each side is one single-threaded process, so on an idle machine its CPU time is its wall time;
# the fit and the ratio use CPU time, which other jobs on a shared machine do not inflate.
CLOCK = "cpu_s"
LAYOUT = "inference-writer"  # in the 'done' marker: files of an older layout are generated again


def generate(workdir: Path, n_utrs: int, n_models: int, seed: int = 1) -> None:
    """UTR BED + FASTA, two peak BEDs, the RBNS table and the probability files."""
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(np.log(1200), 0.9, n_utrs), 60, 20000).astype(int)
    utrs, sequences, idr, replicate = [], {}, [], []
    position = 0
    for n, length in enumerate(lengths):
        strand = "+" if n % 2 else "-"
        utr = Utr(f"U{n:05d}", f"chr{n % 22 + 1}", strand, [(position, position + int(length))])
        utrs.append(utr)
        sequences[utr.utr_id] = "".join(rng.choice(list("ACGT"), int(length)))
        for _ in range(max(int(length) // 1500, 1)):  # peaks of ~150 nt (~10 % IDR, ~5 % replicate)
            start = position + int(rng.integers(0, max(int(length) - 150, 1)))
            line = (utr.chrom, start, start + 150, strand)
            idr.append((*line, f"R{int(rng.integers(RBPS)):02d}_K562_IDR"))
            if rng.random() < 0.5:
                other = position + int(rng.integers(0, max(int(length) - 150, 1)))
                replicate.append((utr.chrom, other, other + 150, strand, f"R{int(rng.integers(RBPS)):02d}_HepG2_rep1"))
        position += int(length) + 1000
    write_utr_bed(utrs, workdir / "utrs.bed")
    write_fasta(sequences.items(), workdir / "utrs.fa")
    for name, peaks in (("idr.bed", idr), ("replicate.bed", replicate)):
        (workdir / name).write_text("".join(f"{c}\t{s}\t{e}\t{n}\t1000\t{st}\t5\t5\t-1\t-1\n" for c, s, e, st, n in peaks))
    kmers = ["".join(rng.choice(list("ACGU"), K)) for _ in range(RBPS * KMERS_PER_RBP)]
    rows = ["RBP\ta\tb\tc\td\t" + "\t".join(f"k{n}" for n in range(KMERS_PER_RBP))]
    rows += [f"R{r:02d}\t\t\t\t\t" + "\t".join(f"{kmers[r * KMERS_PER_RBP + j]}_1_0.5" for j in range(KMERS_PER_RBP))
             for r in range(RBPS)]
    (workdir / "rbns.tsv").write_text("\n".join(rows) + "\n")
    total = int(lengths.sum())
    ids = list(sequences)
    for m in range(n_models):
        probs = rng.random((total, 4), dtype=np.float32)
        arrays = np.split(probs, np.cumsum(lengths)[:-1])
        with InferenceWriter(workdir / f"model{m}.h5", "probs", {"model": f"m{m}", "strategy": "exact"},
                             dtype=np.float16) as writer:
            for first in range(0, n_utrs, RECORDS_PER_BLOCK):
                writer.append(ids[first:first + RECORDS_PER_BLOCK], arrays[first:first + RECORDS_PER_BLOCK])
    (workdir / "done").write_text(f"{n_utrs} {n_models} {LAYOUT}\n")


def load_inputs(workdir: Path, n_utrs=None):
    utrs = read_utr_bed(workdir / "utrs.bed")
    sequences = read_fasta(workdir / "utrs.fa")
    if n_utrs:
        keep = list(sequences)[:n_utrs]
        sequences = {name: sequences[name] for name in keep}
        utrs = [u for u in utrs if u.utr_id in sequences]
    peaks = rbp.read_eclip_peaks([workdir / "idr.bed", workdir / "replicate.bed"])
    motifs = rbp.read_rbns_motifs(workdir / "rbns.tsv")
    return utrs, sequences, peaks, motifs


def run_utrbench(workdir: Path, n_models: int) -> dict:
    start, cpu_start = time.perf_counter(), time.process_time()
    utrs, sequences, peaks, motifs = load_inputs(workdir)
    sites, counts = rbp.rbp_sites(utrs, sequences, peaks, motifs, seed=1)
    extracted = time.perf_counter()
    lengths = {name: len(s) for name, s in sequences.items()}
    for m in range(n_models):
        rbp.score_sites(workdir / f"model{m}.h5", sites, lengths)
    scored, cpu_scored = time.perf_counter(), time.process_time()
    counts = dict(counts)
    candidates = counts["RBNS k-mer occurrences inside a merged peak of their RBP"] + \
        counts["negative candidates (positive k-mers outside every peak)"]
    return {"extract_s": extracted - start, "score_s": scored - extracted, "cpu_s": cpu_scored - cpu_start,
            "sites": len(sites), "candidates": candidates, "nt": sum(lengths.values()),
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_study(workdir: Path, n_utrs: int, n_models: int) -> dict:
    """The study's scheme on the first ``n_utrs`` UTRs (see the module docstring)."""
    import h5py

    start, cpu_start = time.perf_counter(), time.process_time()
    utrs, sequences, peaks, motifs = load_inputs(workdir, n_utrs)
    layout = rbp.UtrLayout(utrs, sequences, "subset")
    positive = rbp.merge_intervals(layout.peaks_in_transcript(peaks[peaks["idr"]], True), ["utr", "rbp"])
    free = rbp._complement(rbp.merge_intervals(layout.peaks_in_transcript(peaks, False), ["utr"]), layout)
    by_rbp = motifs.groupby("rbp")["motif"].apply(set).to_dict()
    intervals = {}  # utr -> rbp -> [(start, end)] relative to the UTR
    for utr, name, s, e in positive[["utr", "rbp", "start", "end"]].itertuples(index=False):
        intervals.setdefault(utr, {}).setdefault(name, []).append((s - layout.starts[utr], e - layout.starts[utr]))
    free_of = {}
    for utr, s, e in free[["utr", "start", "end"]].itertuples(index=False):
        free_of.setdefault(utr, []).append((s - layout.starts[utr], e - layout.starts[utr]))
    positives, candidates = [], []
    for index, name in enumerate(layout.ids):
        sequence = sequences[name]
        rbp_intervals, gaps = intervals.get(index, {}), free_of.get(index, [])
        for p in range(len(sequence) - K + 1):
            kmer = sequence[p:p + K]
            bound = [r for r, spans in rbp_intervals.items() if kmer in by_rbp.get(r, ())
                     and any(s <= p and p + K <= e for s, e in spans)]
            if bound:
                positives.append((name, p, kmer, ",".join(sorted(bound))))
            elif any(s <= p and p + K <= e for s, e in gaps):
                candidates.append((name, p, kmer))
    wanted, pools = {}, {}
    for _, _, kmer, _ in positives:
        wanted[kmer] = wanted.get(kmer, 0) + 1
    for candidate in candidates:
        if candidate[2] in wanted:
            pools.setdefault(candidate[2], []).append(candidate)
    candidates = [c for pool in pools.values() for c in pool]
    rng = np.random.default_rng(1)
    negatives = []
    for kmer in sorted(pools):
        pool = pools[kmer]
        negatives += [pool[i] for i in sorted(rng.choice(len(pool), min(wanted[kmer], len(pool)), replace=False))]
    sites = [(n, p, kmer) for n, p, kmer, _ in positives] + negatives
    extracted = time.perf_counter()
    for m in range(n_models):
        with h5py.File(workdir / f"model{m}.h5", "r") as handle:  # one "pickle": a dict of per-UTR arrays
            ids = [x.decode() for x in handle["ids"][()]]
            offsets, probs = handle["offsets"][()], handle["probs"]
            arrays = {i: probs[offsets[n]:offsets[n + 1]].astype(np.float64) for n, i in enumerate(ids) if i in sequences}
        for name, p, kmer in sites:
            block = arrays[name][p:p + K, :4]
            block = block / block.sum(axis=1, keepdims=True)
            float(np.mean([block[j, "ACGT".index(kmer[j])] for j in range(K)]))
        del arrays
    scored, cpu_scored = time.perf_counter(), time.process_time()
    return {"extract_s": extracted - start, "score_s": scored - extracted, "cpu_s": cpu_scored - cpu_start,
            "sites": len(sites),
            "candidates": len(positives) + len(candidates), "nt": sum(len(s) for s in sequences.values()),
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def in_fresh_interpreter(workdir, *args) -> dict:
    """Run one measurement in a new Python process, so that its peak memory is its own."""
    out = subprocess.run([sys.executable, __file__, "--workdir", str(workdir), "--worker", *map(str, args)],
                         capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"worker {args} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utrs", type=int, default=18000)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--subsets", default="300,600,1200", help="UTR counts of the study-scheme runs")
    parser.add_argument("--workdir", default="/tmp/rbp_speed")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    workdir = Path(args.workdir)
    if args.worker:
        kind, *numbers = args.worker
        result = run_utrbench(workdir, int(numbers[0])) if kind == "utrbench" else \
            run_study(workdir, int(numbers[0]), int(numbers[1]))
        print(json.dumps(result))
        return
    workdir.mkdir(parents=True, exist_ok=True)
    if not (workdir / "done").exists() or (workdir / "done").read_text().split() != [str(args.utrs), str(args.models), LAYOUT]:
        start = time.perf_counter()
        generate(workdir, args.utrs, args.models)
        print(f"generated {args.utrs} UTRs and {args.models} probability files in {time.perf_counter() - start:.0f} s")

    ours = {m: in_fresh_interpreter(workdir, "utrbench", m) for m in (1, args.models)}
    full = ours[args.models]
    print(f"utrbench, {full['nt'] / 1e6:.1f} Mnt, {full['candidates']:,} candidate sites, {full['sites']:,} sites:")
    for m, result in ours.items():
        print(f"  {m:2d} model(s): extraction {result['extract_s']:.1f} s, scoring {result['score_s']:.1f} s "
              f"(wall), {result['cpu_s']:.1f} CPU s, peak {result['peak_mb']:.0f} MB")

    sizes = [int(n) for n in args.subsets.split(",")]
    study = [in_fresh_interpreter(workdir, "study", n, args.models) for n in sizes]
    print(f"study scheme ({args.models} models), measured:")
    for n, result in zip(sizes, study):
        print(f"  {n:5d} UTRs, {result['nt']:,} nt, {result['candidates']:,} candidates: extraction "
              f"{result['extract_s']:.1f} s, scoring {result['score_s']:.1f} s (wall), {result['cpu_s']:.1f} CPU s, "
              f"peak {result['peak_mb']:.0f} MB")
    nt = np.array([r["nt"] for r in study], dtype=float)
    seconds = np.array([r[CLOCK] for r in study])
    slope, intercept = np.polyfit(nt, seconds, 1)
    fitted = slope * nt + intercept
    r2 = 1 - ((seconds - fitted) ** 2).sum() / ((seconds - seconds.mean()) ** 2).sum()
    extrapolated = slope * full["nt"] + intercept
    total = full[CLOCK]
    print(f"fit: CPU seconds = {intercept:.2f} + {slope * 1e6:.2f} x Mnt (R^2 {r2:.4f}); at {full['nt'] / 1e6:.1f} Mnt "
          f"{extrapolated / 60:.1f} min")
    print(f"utrbench {total:.1f} CPU s ({full['extract_s'] + full['score_s']:.1f} s wall); "
          f"memory 1 -> {args.models} models: {ours[1]['peak_mb']:.0f} -> {full['peak_mb']:.0f} MB")
    print(f"speedup: {extrapolated / total:.1f}")


if __name__ == "__main__":
    main()
