#!/usr/bin/env python3
"""Outer-CV wall time of the variant MLP (variant_classify.py) at the study's size, with and without pruning.

Target: ``--variants`` (20,000) variants x ``2 x --dim`` (2 x 768) features, ``--trials`` (20) Optuna
trials in each of 10 outer folds, 5 inner folds, 300 epochs of batch 1024 (the study's training), on
this machine's CPU with ``--threads`` torch threads. That run takes days on 2 cores, so the time is
built from measured parts:

1. ``epoch``: seconds of one training epoch of each hidden-size preset at ``--rows`` (512, 1024,
   2048) rows, fitted per preset by least squares ``t = a + b x rows`` (printed with the fit) and
   evaluated at the rows of an inner fit (0.9 x 0.8 x variants) and of an outer refit (0.9 x variants).
2. ``search``: the real search (``classify.out_of_fold``, one outer fold's worth: ``tune`` on the
   training rows of a ``--proxy-variants`` (1,000) variant synthetic set with a planted signal) with
   ``--proxy-epochs`` (3) epochs, once without and once with pruning; every fit is recorded (preset,
   rows), which gives the fits per trial that pruning leaves and the presets TPE chose.
   The proxy's measured wall time is compared with the cost model's prediction for it (``model_check``).
3. Extrapolation: per outer fold, the recorded fits of the search at 300 epochs and the inner-fit
   rows, plus one refit at the outer-fit rows with the most common best preset; times 10 folds;
   plus logistic regression (measured at ``--rows``, fitted linearly, one fit per outer fold).

Reference, in the same run: the study's scheme (200 trials on the first outer fold only, reused),
from the same cost model; ``pruning_speedup`` = no pruning / pruning, ``every_fold_vs_study`` =
every-fold search (no pruning) / the study's scheme.

Usage: ``nice python benchmarks/classify_speed.py [--variants 20000] [--dim 768] [--trials 20] [--threads 1]``
"""

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bin"))

from utrbench.tasks import classify  # noqa: E402

OUTER, INNER, EPOCHS, BATCH, LR = 10, 5, 300, 1024, 1e-4
STUDY_TRIALS = 200


def synthetic(n_variants: int, dim: int, seed: int = 0):
    """[ref, alt] features with a planted direction of alt - ref, 10 variants per UTR."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_variants // 10 + 1), 10)[:n_variants].astype(str)
    ref = rng.normal(size=(n_variants, dim)).astype(np.float32)
    alt = ref + rng.normal(0, 0.5, size=(n_variants, dim)).astype(np.float32)
    direction = rng.normal(size=dim)
    labels = ((alt - ref) @ direction + rng.normal(0, 2, n_variants) > 0).astype(np.int64)
    return np.concatenate([ref, alt], axis=1), labels, groups


def epoch_seconds(features, labels, hidden_sizes) -> float:
    """Seconds of one epoch (the median of three one-epoch fits after a warm-up)."""
    model = classify.MLPClassifier(hidden_sizes, 0.1, 1e-2, classify.Training(epochs=1, learning_rate=LR,
                                                                             batch_size=BATCH))
    model.fit(features[:64], labels[:64])
    times = []
    for _ in range(3):
        start = time.perf_counter()
        model.fit(features, labels)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def linear_fit(x, y):
    """Least-squares ``y = a + b x``, and R²."""
    b, a = np.polyfit(x, y, 1)
    predicted = a + b * np.asarray(x)
    r2 = 1 - ((y - predicted) ** 2).sum() / ((y - np.mean(y)) ** 2).sum()
    return a, b, r2


def recorded_search(features, labels, groups, trials: int, epochs: int, pruning: bool):
    """Run one outer fold's search; return (wall seconds, [(preset, rows)] of every fit, best preset)."""
    fits = []
    original = classify.MLPClassifier.fit

    def recording(self, X, y):
        fits.append((tuple(self.hidden_sizes), len(X)))
        return original(self, X, y)

    classify.MLPClassifier.fit = recording
    try:
        start = time.perf_counter()
        params, _, complete, pruned = classify.tune(features, labels, groups, trials, INNER,
                                                    classify.Training(epochs=epochs, learning_rate=LR,
                                                                      batch_size=BATCH, seed=1), pruning, "proxy")
        seconds = time.perf_counter() - start
    finally:
        classify.MLPClassifier.fit = original
    return seconds, fits, tuple(params["hidden_sizes"]), complete, pruned


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=20000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--rows", default="512,1024,2048")
    parser.add_argument("--proxy-variants", type=int, default=1000)
    parser.add_argument("--proxy-epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    classify.deterministic_torch(args.threads)
    rows = [int(r) for r in args.rows.split(",")]
    features, labels, groups = synthetic(max(rows), args.dim)

    print(f"# epoch seconds per preset (rows {rows}, {2 * args.dim} features, batch {BATCH}, {args.threads} thread(s))")
    per_preset = {}
    for preset in classify.HIDDEN_PRESETS:
        seconds = [epoch_seconds(features[:n], labels[:n], preset) for n in rows]
        a, b, r2 = linear_fit(rows, seconds)
        per_preset[preset] = (a, b)
        print(f"epoch {preset}: {' '.join(f'{s:.3f}' for s in seconds)} s; fit {a:.4f} + {b * 1e3:.4f} ms/row, R² {r2:.4f}")

    def fit_seconds(preset, n, epochs):
        a, b = per_preset[preset]
        return epochs * (a + b * n)

    logistic = []
    for n in rows:
        start = time.perf_counter()
        classify.logistic_pipeline(1).fit(features[:n], labels[:n])
        logistic.append(time.perf_counter() - start)
    la, lb, lr2 = linear_fit(rows, logistic)
    print(f"logistic: {' '.join(f'{s:.3f}' for s in logistic)} s; fit {la:.4f} + {lb * 1e3:.4f} ms/row, R² {lr2:.4f}")

    proxy_x, proxy_y, proxy_groups = synthetic(args.proxy_variants, args.dim, seed=1)
    train = slice(0, int(0.9 * args.proxy_variants))  # one outer fold's training rows
    n_inner = int(0.9 * 0.8 * args.variants)
    n_outer = int(0.9 * args.variants)
    totals = {}
    for pruning in (False, True):
        seconds, fits, best, complete, pruned = recorded_search(proxy_x[train], proxy_y[train], proxy_groups[train],
                                                                args.trials, args.proxy_epochs, pruning)
        predicted = sum(fit_seconds(p, n, args.proxy_epochs) for p, n in fits)
        per_fold = sum(fit_seconds(p, n_inner, EPOCHS) for p, _ in fits) + fit_seconds(best, n_outer, EPOCHS)
        total = OUTER * (per_fold + la + lb * n_outer)
        totals[pruning] = total
        presets = Counter(p for p, _ in fits)
        print(f"search pruning={pruning}: {len(fits)} fits ({complete} complete, {pruned} pruned trials), "
              f"presets {dict(presets)}; proxy {seconds:.1f} s measured vs {predicted:.1f} s modelled "
              f"(model_check {seconds / predicted:.2f}); per outer fold {per_fold / 3600:.2f} h")
        print(f"outer CV, {args.variants} variants x 2 x {args.dim}, {args.trials} trials, pruning={pruning}: "
              f"{total / 3600:.1f} h extrapolated")
        if not pruning:
            mean_fit = sum(fit_seconds(p, n_inner, EPOCHS) for p, _ in fits) / len(fits)
            study = STUDY_TRIALS * INNER * mean_fit + OUTER * (fit_seconds(best, n_outer, EPOCHS) + la + lb * n_outer)
            print(f"study scheme ({STUDY_TRIALS} trials on the first fold only, same mean fit): {study / 3600:.1f} h")
            totals["study"] = study
    print(f"every_fold_vs_study: {totals[False] / totals['study']:.2f}")
    print(f"pruning_speedup: {totals[False] / totals[True]:.2f}")


if __name__ == "__main__":
    main()
