#!/usr/bin/env python3
"""The zero-shot engine's approximations judged on the RBP task: AUC under each strategy vs ``exact``.

A planted RBP study: ``--utrs`` random UTRs whose lengths are evenly spaced quantiles of a
3'UTR-like log-normal mix (median ``--median-length``, sigma 0.9: mean ~1.5 kb; the study's 3'UTRs
average 1.8 kb), or all of ``--length`` nt. In the 5' half of each, inside IDR peaks of one RBP:
copies of the element TGTAAATA at random gaps of 30-90 nt. In the peak-free 3' half, at random gaps
of 7-22 nt, a decoy: the element's 5-mer GTAAA (a third of them; the negative sites) or GTAAA with
one base changed. A model that knows the element predicts the 5-mer's bases with certainty inside
it, but at a bare GTAAA only as well as the decoys allow (p(T) at G?AAA is 5/7), so positives score
higher and the margin measures what the model learnt. The gaps are random so that the element
falls on every token phase of NT's 6-mers and a model cannot find it by its spacing alone. The
length mix matters for the cost ratios: ``exact`` costs grow with the square of a UTR's length up
to the model's context, a strided copy's only linearly.

Tiny models of every family with an LM head are pretrained with the project's trainer on
``--train-utrs`` other UTRs of the same mix and planting (held out from the scored ones): the
family's tiny recipe (``--hidden-size`` and ``--layers`` widen the transformers) with
``--tokens-per-step`` tokens per step in crops of ``--context-tokens`` (by default the 512
positions scoring windows use: DNABERT's learned position embeddings beyond the training crops
would stay random), constant learning rate ``--lr``, for up to ``--max-steps`` steps or until the
training loss stays below ``--target-loss`` (the loss reached is printed). Then for each strategy
(``exact``, ``strided:S`` for S = 6, 12, 24, 96, ``unmasked``) the scored UTRs are scored
(planning included in the time), the sites scored by mean p(reference) (``utrbench.tasks.rbp``)
and the ROC AUC computed.

Last line: ``cheapest_within_0.005: <speedup>``: per family the speedup over ``exact`` of the
cheapest strategy whose AUC is within 0.005 of exact's; the smallest over the families.

Usage: ``python benchmarks/zeroshot_fidelity.py [--families dnabert,ntv2,dnabert2,statespace] [--utrs 48]``
"""

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bin"))

from sklearn.metrics import roc_auc_score  # noqa: E402

from utrbench.align.utrs import Utr  # noqa: E402
from utrbench.infer.zeroshot import ZeroShotScorer  # noqa: E402
from utrbench.io import write_probabilities  # noqa: E402
from utrbench.models import init_model  # noqa: E402
from utrbench.seq.fasta import write_fasta  # noqa: E402
from utrbench.tasks.rbp import rbp_sites, read_eclip_peaks, score_sites  # noqa: E402
from utrbench.train.recipe import read_recipe  # noqa: E402
from utrbench.train.trainer import Distributed, Trainer, open_stores  # noqa: E402

ELEMENT, KMER = "TGTAAATA", "GTAAA"
STRATEGIES = ("exact", "strided:6", "strided:12", "strided:24", "strided:96", "unmasked")


def utr_lengths(count, median, length=None):
    """``count`` evenly spaced quantiles of the log-normal 3'UTR mix, or ``count`` times ``length``."""
    if length:
        return [length] * count
    quantiles = scipy.stats.norm.ppf((np.arange(count) + 0.5) / count)
    return np.round(median * np.exp(0.9 * quantiles)).astype(int).tolist()


def planting_slots(start, stop, mean_gap, rng):
    """Positions from ``start`` to before ``stop`` at gaps drawn evenly from 0.5 to 1.5 times ``mean_gap``."""
    slots, slot = [], start
    while slot < stop:
        slots.append(slot)
        slot += int(rng.integers(mean_gap // 2, mean_gap * 3 // 2 + 1))
    return slots


def planted_utr(length, rng):
    """A UTR of ``length`` nt: elements in its 5' half, decoys in its 3' half (see the module docstring)."""
    letters = rng.choice(list("ACG"), length)  # T only where planted: GTAAA occurs nowhere else
    for slot in planting_slots(20, length // 2 - len(ELEMENT), 60, rng):
        letters[slot:slot + len(ELEMENT)] = list(ELEMENT)
    for slot in planting_slots(length // 2 + 20, length - len(KMER), 15, rng):
        letters[slot:slot + len(KMER)] = list(KMER)
        if rng.random() >= 1 / 3:  # a decoy: one base of GTAAA changed
            changed = rng.integers(len(KMER))
            letters[slot + changed] = rng.choice([b for b in "ACGT" if b != KMER[changed]])
    return "".join(letters)


def planted_study(lengths, workdir, rng):
    """Sequences of planted UTRs, each with a peak over its 5' half, and their site table."""
    utrs, sequences, lines = [], {}, []
    for n, length in enumerate(lengths):
        start = n * 100_000  # UTRs far apart on chr1
        name = f"P{n:03d}"
        utrs.append(Utr(name, "chr1", "+", [(start, start + length)]))
        sequences[name] = planted_utr(length, rng)
        lines.append(f"chr1\t{start}\t{start + length // 2}\tPUM2_K562_IDR\t0\t+\n")
    (workdir / "peaks.bed").write_text("".join(lines))
    motifs = pd.DataFrame({"rbp": ["PUM2"], "motif": [KMER], "stepwise_r_minus1": [1.0]})
    sites, _ = rbp_sites(utrs, sequences, read_eclip_peaks([workdir / "peaks.bed"], 0), motifs, seed=1)
    return sequences, sites


def model_size(family, args):
    """Overrides of the tiny config: ``--hidden-size`` and ``--layers`` for the transformer families."""
    if family == "statespace" or not args.hidden_size:
        return {}
    return dict(hidden_size=args.hidden_size, num_hidden_layers=args.layers,
                num_attention_heads=args.hidden_size // 32, intermediate_size=4 * args.hidden_size)


def train(family, fasta, args):
    """The family's tiny recipe at a constant learning rate until the loss of 5 steps in a row is below target."""
    recipe = read_recipe(ROOT / "conf" / "recipes" / f"{family}_tiny.json")
    recipe = dataclasses.replace(recipe, steps=args.max_steps, lr=args.lr, schedule="constant", warmup_steps=0,
                                 context_tokens=args.context_tokens, tokens_per_batch=args.tokens_per_step,
                                 tokens_per_step=args.tokens_per_step)
    loaded = init_model(family, "tiny", seed=1, species=["Homo_sapiens"], **model_size(family, args))
    dist = Distributed.from_environment("cpu")
    store, _ = open_stores(loaded, [fasta], [], fasta.parent / f"{family}_store", dist, workers=1, log=None)
    trainer = Trainer(loaded, recipe, store, seed=1, dist=dist)
    losses = []
    while trainer.step < args.max_steps:
        losses.append(trainer.train_step().loss)
        if len(losses) >= 5 and max(losses[-5:]) < args.target_loss:
            break
    loaded.model.eval()
    return loaded, trainer.step, float(np.mean(losses[-5:]))


def fidelity(family, sequences, sites, workdir, args):
    start = time.perf_counter()
    with torch.enable_grad():
        loaded, steps, loss = train(family, workdir / "train.fa", args)
    uniform = np.log(loaded.tokenizer.vocab_size)  # cross-entropy of a model that knows nothing
    size = f"tiny widened: hidden {args.hidden_size}, {args.layers} layers" if model_size(family, args) else "tiny"
    print(f"\n{family} ({size}): {steps} steps, loss {loss:.3f} (uniform over the vocabulary {uniform:.3f}), "
          f"{time.perf_counter() - start:.0f} s", flush=True)
    lengths = {name: len(s) for name, s in sequences.items()}
    results = {}
    with torch.inference_mode():
        for strategy in STRATEGIES:
            begin = time.perf_counter()
            probs = ZeroShotScorer(loaded, strategy, token_budget=args.token_budget).score(list(sequences.values()))
            elapsed = time.perf_counter() - begin
            path = workdir / f"{family}.{strategy.replace(':', '')}.h5"
            write_probabilities(path, list(sequences), probs, {"model": family, "strategy": strategy})
            _, scores = score_sites(path, sites, lengths)
            results[strategy] = (elapsed, roc_auc_score(sites["label"], scores))
    exact_time, exact_auc = results["exact"]
    print(f"  {'strategy':11s} {'seconds':>8s} {'speedup':>8s} {'AUC':>7s} {'dAUC':>8s}")
    for strategy, (elapsed, auc) in results.items():
        print(f"  {strategy:11s} {elapsed:8.2f} {exact_time / elapsed:8.1f} {auc:7.3f} {auc - exact_auc:+8.4f}")
    close = [exact_time / elapsed for elapsed, auc in results.values() if abs(auc - exact_auc) <= 0.005]
    return max(close)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default="dnabert,ntv2,dnabert2,statespace")
    parser.add_argument("--utrs", type=int, default=48)
    parser.add_argument("--train-utrs", type=int, default=192, help="planted UTRs the models are trained on")
    parser.add_argument("--median-length", type=int, default=1000)
    parser.add_argument("--length", type=int, default=None, help="one length for all UTRs instead of the mix")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--max-steps", type=int, default=4000)
    parser.add_argument("--tokens-per-step", type=int, default=4096)
    parser.add_argument("--context-tokens", type=int, default=512)
    parser.add_argument("--target-loss", type=float, default=0.9)
    parser.add_argument("--hidden-size", type=int, default=None, help="transformer width (default: the tiny config's)")
    parser.add_argument("--layers", type=int, default=2, help="transformer layers with --hidden-size")
    parser.add_argument("--token-budget", type=int, default=16384)
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"CPU, {torch.get_num_threads()} threads, torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        lengths = utr_lengths(args.utrs, args.median_length, args.length)
        sequences, sites = planted_study(lengths, workdir, np.random.default_rng(1))
        # held-out training UTRs of the same mix and planting; the trainer reads '>utr_id:species' headers
        train_rng = np.random.default_rng(2)
        train_lengths = utr_lengths(args.train_utrs, args.median_length, args.length)
        write_fasta(((f"T{n:04d}:Homo_sapiens", planted_utr(length, train_rng)) for n, length in enumerate(train_lengths)),
                    workdir / "train.fa")
        print(f"{len(sequences)} UTRs of {min(lengths)}-{max(lengths)} nt (median {np.median(lengths):.0f}, "
              f"{sum(lengths)} nt in all); {int(sites['label'].sum())} positive, "
              f"{int((sites['label'] == 0).sum())} negative sites; models trained on {args.train_utrs} other "
              f"UTRs of the mix ({sum(train_lengths)} nt)")
        speedups = {family: fidelity(family, sequences, sites, workdir, args) for family in args.families.split(",")}
    print(f"\ncheapest_within_0.005: {min(speedups.values()):.1f}")


if __name__ == "__main__":
    main()
