#!/usr/bin/env python3
"""Embedding throughput: token-budget batches of length-sorted windows against one at a time.

Sequences follow a 3'UTR-like length mix (log-normal, median ~1 kb, clipped to 50 nt - 10 kb).
For each model the same :class:`~utrbench.infer.embeddings.Embedder` runs with ``--budget`` tokens
per batch and with a budget of 1 (every window alone: one sequence at a time, long ones in their
windows); both give the same embeddings (the max abs difference is printed). The two settings run
alternately ``--repeats`` times and the fastest run of each counts. Tiny models show the overhead
that batching removes; at base size on a CPU the encoder's arithmetic dominates and batching can
gain little (on a GPU it is what fills the device).

The last line is ``speedup: <min over the models of one-at-a-time time / batched time>``.

Usage: ``python benchmarks/embed_speed.py [--sequences 200] [--base-sequences 12] [--budget 16384]``
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bin"))

from utrbench.infer.embeddings import Embedder  # noqa: E402
from utrbench.models import init_model  # noqa: E402


def utr_like_sequences(count, seed):
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(np.log(1000), 0.9, count), 50, 10000).astype(int)
    return ["".join(rng.choice(list("ACGT"), n)) for n in lengths]


def measure(family, size, sequences, budget, repeats):
    loaded = init_model(family, size, seed=0)
    batched, single = Embedder(loaded, token_budget=budget), Embedder(loaded, token_budget=1)
    times = {"batched": np.inf, "one_at_a_time": np.inf}
    outputs = {}
    for _ in range(repeats):
        for name, embedder in (("batched", batched), ("one_at_a_time", single)):
            start = time.perf_counter()
            outputs[name] = embedder.embed(sequences)
            times[name] = min(times[name], time.perf_counter() - start)
    difference = np.abs(outputs["batched"] - outputs["one_at_a_time"]).max()
    ratio = times["one_at_a_time"] / times["batched"]
    print(f"{family:10s} {size:5s} {len(sequences):4d} seq: batched {len(sequences) / times['batched']:8.2f} seq/s, "
          f"one at a time {len(sequences) / times['one_at_a_time']:8.2f} seq/s, speedup {ratio:5.2f}, "
          f"max |diff| {difference:.1e}")
    return ratio


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=200)
    parser.add_argument("--base-sequences", type=int, default=12)
    parser.add_argument("--budget", type=int, default=16384)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    sequences = utr_like_sequences(args.sequences, 0)
    lengths = np.array([len(s) for s in sequences])
    print(f"CPU, {torch.get_num_threads()} threads; {len(sequences)} sequences, median {np.median(lengths):.0f} nt, "
          f"max {lengths.max()} nt, {lengths.sum()} nt in all")
    ratios = [measure(family, "tiny", sequences, args.budget, args.repeats) for family in ("dnabert", "ntv2", "statespace")]
    ratios.append(measure("ntv2", "base", sequences[: args.base_sequences], args.budget, args.repeats))
    print(f"speedup: {min(ratios):.2f}")


if __name__ == "__main__":
    main()
