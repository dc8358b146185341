#!/usr/bin/env python3
"""DExTER speed: our vectorised run on 22,000 x 4,001 bp against a Python-loop reference.

Generates planted-signal windows (tests/data/synthetic_expression.py), runs the full DExTER here
(exploration on the 2/3 training genes, features for all genes, 10-fold LassoCV) and reports wall
time and peak memory. The reference implementation works as the original does: a Python loop over
genes and k-mer occurrences (str.find) per k-mer, bin and region counts in loops, and one
scipy.stats.spearmanr call per (k-mer, region). It is timed on a subset of genes and k-mers in
the same run and extrapolated to the k-mers and genes our full run scored. Last line:
``full_run_minutes: <value>``.

    python benchmarks/dexter_speed.py [--genes 22000] [--reference-genes 300]
"""

import argparse
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bin"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "data"))

from utrbench.expression import dexter  # noqa: E402
from utrbench.expression.dataset import split_genes  # noqa: E402
from synthetic_expression import decode, planted_windows  # noqa: E402


def reference_bin_counts(sequence, kmer, edges):
    """Occurrences of ``kmer`` per bin, found one by one with str.find (overlapping)."""
    counts = [0] * (len(edges) - 1)
    position = sequence.find(kmer)
    while position != -1 and position < len(sequence) - len(kmer):
        bin_index = 0
        while edges[bin_index + 1] <= position:
            bin_index += 1
        counts[bin_index] += 1
        position = sequence.find(kmer, position + 1)
    return counts


def reference_scores(sequences, y, kmer, lattice):
    """|Spearman| per region with Python loops and one scipy call per region, as the original."""
    edges = lattice.edges.tolist()
    per_gene = [reference_bin_counts(s, kmer, edges) for s in sequences]
    scores = []
    for first, last in zip(lattice.first_bin.tolist(), lattice.last_bin.tolist()):
        counts = [sum(row[first:last + 1]) for row in per_gene]
        with warnings.catch_warnings():  # constant counts: NaN, scored 0 as in DExTER
            warnings.simplefilter("ignore")
            rho = spearmanr(counts, y)[0]
        scores.append(0.0 if np.isnan(rho) else abs(rho))
    return np.array(scores)


def peak_rss_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genes", type=int, default=22000)
    parser.add_argument("--length", type=int, default=4001)
    parser.add_argument("--reference-genes", type=int, default=300)
    args = parser.parse_args()

    planted = planted_windows(args.genes, length=args.length, tss_index=args.length // 2, seed=0)
    split = dict(split_genes(range(args.genes), dev_fraction=0))
    is_train = np.array([split[i] != "test" for i in range(args.genes)])
    print(f"data: {args.genes} genes x {args.length} bp, {is_train.sum()} training genes; "
          f"peak RSS after generation {peak_rss_gb():.2f} GB")

    # The steps of dexter.run_dexter, timed one by one.
    y = planted.log10_tpm
    start = time.perf_counter()
    lattice = dexter.Lattice(dexter.make_bins(args.length, args.length // 2), args.length // 2)
    exploration = dexter.explore(planted.codes[is_train], y[is_train], lattice)
    explored = time.perf_counter()
    features = dexter.feature_matrix(planted.codes, exploration.variables, lattice)
    featured = time.perf_counter()
    model = dexter.fit_lasso(features[is_train], y[is_train])
    test_r = np.corrcoef(model.predict(features[~is_train]), y[~is_train])[0, 1]
    ours = time.perf_counter() - start
    n_scored = len(exploration.scores)
    n_variables = len(exploration.variables)
    ours_without_lasso = featured - start
    print(f"ours: {ours:.1f} s wall ({ours / 60:.2f} min): exploration {explored - start:.1f} s, features "
          f"{featured - explored:.1f} s, LassoCV {ours - (featured - start):.1f} s; {n_scored} k-mers scored, "
          f"{n_variables} variables, test r {test_r:.3f}; peak RSS {peak_rss_gb():.2f} GB")

    # Reference on a subset: the same k-mers must give the same scores (a correctness check too).
    train_rows = np.flatnonzero(is_train)[:args.reference_genes]
    sequences = decode(planted.codes[train_rows])
    y_subset = planted.log10_tpm[train_rows]
    sample = ["CG", "TA", "TAC", "ACG", "TACG"]
    start = time.perf_counter()
    reference = {kmer: reference_scores(sequences, y_subset, kmer, lattice) for kmer in sample}
    reference_subset = time.perf_counter() - start
    fast = dexter.score_kmers(planted.codes[train_rows], y_subset, sample, lattice)
    worst = max(np.abs(reference[k] - fast[k]).max() for k in sample)
    print(f"reference on {len(train_rows)} genes x {len(sample)} k-mers: {reference_subset:.2f} s "
          f"(max |score difference| vs ours {worst:.1e})")

    # Extrapolate: counting is linear in genes; spearmanr is timed at the full training size.
    count_start = time.perf_counter()
    for kmer in sample:
        [reference_bin_counts(s, kmer, lattice.edges.tolist()) for s in sequences]
    count_per_kmer_gene = (time.perf_counter() - count_start) / (len(sample) * len(sequences))
    full_counts = np.random.default_rng(0).integers(0, 20, size=is_train.sum())
    spearman_start = time.perf_counter()
    for _ in range(20):
        spearmanr(full_counts, planted.log10_tpm[is_train])
    spearman_full = (time.perf_counter() - spearman_start) / 20
    exploration_reference = n_scored * (count_per_kmer_gene * is_train.sum() + lattice.n_regions * spearman_full)
    features_reference = n_variables * count_per_kmer_gene * args.genes
    reference_total = exploration_reference + features_reference
    print(f"reference extrapolated to the full run: {reference_total / 60:.1f} min "
          f"({n_scored} k-mers x ({count_per_kmer_gene * 1e3:.2f} ms/gene x {is_train.sum()} genes + "
          f"{lattice.n_regions} x {spearman_full * 1e3:.1f} ms spearmanr) + features), LassoCV excluded")
    print(f"speed-up ours vs reference (exploration + features, LassoCV excluded on both sides): "
          f"{reference_total / ours_without_lasso:.1f}x")
    print(f"peak_rss_gb: {peak_rss_gb():.2f}")
    print(f"full_run_minutes: {ours / 60:.2f}")


if __name__ == "__main__":
    main()
