#!/usr/bin/env python3
"""Variant window scoring: shared windows in token-budget batches against each variant's two windows alone.

Generated set with the study's mix: 18,000 UTRs with 3'UTR-like lengths (log-normal, median 1.1 kb,
mean ~1.8 kb as the study's 32.5 Mnt / 18,134 UTRs, clipped to 50 nt - 20 kb) and 50,000 SNVs placed
with probability proportional to UTR length (2.8 per UTR on average). Windows are the RNA windows of
TASK_VARIANTS (``--window`` nt centred on the variant, clipped to the UTR).

- pipeline: :func:`utrbench.tasks.variant_windows.variant_windows` writes every distinct window once
  (the reference window of all variants of a UTR shorter than the window is one record), and one
  :class:`~utrbench.infer.zeroshot.ZeroShotScorer` call scores them all in token-budget batches of
  length-sorted windows, as ZEROSHOT does with the windows FASTA;
- reference: a per-variant loop scoring that variant's reference and alternative windows together
  (one call, a batch of two), what a user scripting VIS around a model would write.

Both run ``unmasked`` with one ``base`` model (statespace by default, the study's VIS for NT and the
state-space model is one unmasked pass), and must give the same VIS_W for every variant and W (the
max abs difference is printed and must stay below 1e-4). The full set would take hours on this CPU,
so both are timed on the variants of ``--utrs`` random UTRs at several sizes (keeping the variants
per UTR of the full set), a line ``time = a + b * variants`` is fitted per method (printed), and
the full-set times are extrapolated from it. The last line is ``speedup: <reference / pipeline>``
at 50,000 variants.

Usage: ``python benchmarks/variant_speed.py [--utrs 3,6,12] [--family statespace] [--window 4096]``
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bin"))

from utrbench.align.utrs import Utr  # noqa: E402
from utrbench.infer.zeroshot import ZeroShotScorer  # noqa: E402
from utrbench.models import init_model  # noqa: E402
from utrbench.seq.genome import Genome  # noqa: E402
from utrbench.tasks import variant_scores  # noqa: E402
from utrbench.tasks.variant_windows import paired_records, variant_windows  # noqa: E402
from utrbench.tasks.variants import VARIANT_COLUMNS  # noqa: E402

N_UTRS, N_VARIANTS = 18000, 50000
WIDTHS = tuple(2 ** k for k in range(4, 13))


def study_mix(seed):
    """UTR lengths and the number of variants in each, for the full generated set."""
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(np.log(1100), 0.95, N_UTRS), 50, 20000).astype(int)
    per_utr = np.bincount(rng.choice(N_UTRS, N_VARIANTS, p=lengths / lengths.sum()), minlength=N_UTRS)
    return lengths, per_utr


def subset(lengths, per_utr, n_utrs, folder, seed):
    """A genome of ``n_utrs`` random UTRs with variants (one contig each), their variants table."""
    rng = np.random.default_rng(seed)
    chosen = rng.choice(np.flatnonzero(per_utr > 0), n_utrs, replace=False)
    fasta, rows, utrs = [], [], {}
    for number, utr_index in enumerate(chosen):
        length, contig = int(lengths[utr_index]), f"u{number}"
        sequence = "".join(rng.choice(list("ACGT"), length))
        fasta.append(f">{contig}\n{sequence}\n")
        strand = "+" if number % 2 else "-"
        utrs[contig] = Utr(contig, contig, strand, [(0, length)])
        for position in sorted(rng.choice(length, min(per_utr[utr_index], length), replace=False)):
            ref = sequence[position]
            alt = "ACGT".replace(ref, "")[rng.integers(3)]
            rows.append((f"{contig}_{position + 1}_{ref}_{alt}", contig, position + 1, ref, alt, 1, "bench", contig, strand))
    path = Path(folder) / f"utrs_{n_utrs}.fa"
    path.write_text("".join(fasta))
    return path, utrs, pd.DataFrame(rows, columns=VARIANT_COLUMNS)


def vis_table(table, index, probs, sequences):
    return variant_scores.window_scores(table, index, "rna", probs, sequences, WIDTHS, "bench")


def pipeline(scorer, table, utrs, genome_path, window):
    start = time.perf_counter()
    with Genome(genome_path) as genome:
        fasta, index = variant_windows(table, utrs, genome, window, orientations=("rna",))
    names, sequences = zip(*fasta["rna"])
    probs = dict(zip(names, scorer.score(list(sequences))))
    elapsed = time.perf_counter() - start
    return elapsed, vis_table(table, index, probs, dict(fasta["rna"])), len(names)


def per_variant(scorer, table, utrs, genome_path, window):
    start = time.perf_counter()
    with Genome(genome_path) as genome:
        fasta, index = variant_windows(table, utrs, genome, window, orientations=("rna",))
    sequences = dict(fasta["rna"])
    probs = {}
    for variant_id, pair in paired_records(index, "rna").iterrows():
        ref, alt = scorer.score([sequences[pair["ref_record"]], sequences[pair["alt_record"]]])
        probs[f"{variant_id}.ref"], probs[f"{variant_id}.alt"] = ref, alt
    elapsed = time.perf_counter() - start
    # the same scores, keyed by the per-variant copies
    own = index.assign(record=index["variant_id"] + "." + index["allele"])
    own_sequences = {f"{v}.{a}": sequences[r] for v, a, r in zip(index["variant_id"], index["allele"], index["record"])}
    return elapsed, vis_table(table, own, probs, own_sequences), 2 * len(table)


def fit(sizes, times):
    slope, intercept = np.polyfit(sizes, times, 1)
    return intercept, slope


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utrs", default="3,6,12", help="numbers of UTRs (with all their variants) to time")
    parser.add_argument("--family", default="statespace")
    parser.add_argument("--size", default="base")
    parser.add_argument("--window", type=int, default=4096)
    parser.add_argument("--token-budget", type=int, default=16384)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    lengths, per_utr = study_mix(args.seed)
    shorter = (lengths < args.window).mean()
    print(f"generated set: {N_UTRS} UTRs (median {np.median(lengths):.0f} nt, mean {lengths.mean():.0f} nt, "
          f"{100 * shorter:.0f} % shorter than the {args.window}-nt window), {N_VARIANTS} variants "
          f"({N_VARIANTS / N_UTRS:.2f} per UTR)")
    scorer = ZeroShotScorer(init_model(args.family, args.size, seed=0), "unmasked", token_budget=args.token_budget,
                            device="cpu")
    sizes, times = [], {"pipeline": [], "per_variant": []}
    with tempfile.TemporaryDirectory() as folder:
        for n_utrs in (int(x) for x in args.utrs.split(",")):
            genome_path, utrs, table = subset(lengths, per_utr, n_utrs, folder, args.seed + n_utrs)
            shared_time, shared, windows = pipeline(scorer, table, utrs, genome_path, args.window)
            own_time, own, own_windows = per_variant(scorer, table, utrs, genome_path, args.window)
            difference = float(np.nanmax(np.abs(shared.to_numpy() - own.to_numpy())))
            if not difference < 1e-4:
                raise SystemExit(f"scores differ between the two methods by {difference:g}")
            sizes.append(len(table))
            times["pipeline"].append(shared_time)
            times["per_variant"].append(own_time)
            print(f"{n_utrs:3d} UTRs, {len(table):4d} variants: pipeline {windows} windows {shared_time:7.2f} s "
                  f"({len(table) / shared_time:6.2f} variants/s), per variant {own_windows} windows {own_time:7.2f} s "
                  f"({len(table) / own_time:6.2f} variants/s), ratio {own_time / shared_time:5.2f}, "
                  f"max |VIS difference| {difference:.2e}")
    projected = {}
    for name, measured in times.items():
        intercept, slope = fit(sizes, measured)
        projected[name] = intercept + slope * N_VARIANTS
        print(f"fit {name}: time = {intercept:.3f} s + {slope * 1000:.2f} ms x variants -> {N_VARIANTS} variants "
              f"{projected[name] / 3600:.2f} h ({N_VARIANTS / projected[name]:.2f} variants/s)")
    print(f"speedup: {projected['per_variant'] / projected['pipeline']:.2f}")


if __name__ == "__main__":
    main()
