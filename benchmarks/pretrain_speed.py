"""Training throughput per family at ``base`` size on the CPU, and the share of data loading.

For every trainable family a fresh ``base`` model trains a few steps on a generated dataset with
its base recipe (batch shrunk to one CPU-sized micro-batch per step). Prints tokens/s and the
fraction of step time spent outside forward/backward/optimiser (reading, tokenizing, batching,
masking); the last line is ``data_fraction: <max over families>`` (goal < 0.05).

    PYTHONPATH=bin python benchmarks/pretrain_speed.py [--steps 3] [--tokens 2048]
"""

import argparse
import dataclasses
import tempfile
from pathlib import Path

import numpy as np
import torch

from utrbench.models import families, init_model
from utrbench.train.recipe import read_recipe
from utrbench.train.trainer import Distributed, Trainer

RECIPES = Path(__file__).parents[1] / "conf" / "recipes"


def write_dataset(path, n=200, seed=0):
    rng = np.random.default_rng(seed)
    with open(path, "w") as out:
        for i in range(n):
            out.write(f">utr{i}:Homo_sapiens\n{''.join(rng.choice(list('ACGT'), int(rng.integers(500, 3000))))}\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=2048, help="tokens per micro-batch (one per step)")
    options = parser.parse_args()
    torch.manual_seed(0)
    fractions = {}
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "train.fa"
        write_dataset(data)
        for name, family in families().items():
            if not (RECIPES / f"{name}_base.json").exists():
                continue
            recipe = read_recipe(RECIPES / f"{name}_base.json")
            context = min(recipe.context_tokens, options.tokens)
            recipe = dataclasses.replace(recipe, context_tokens=context, tokens_per_batch=options.tokens,
                                         tokens_per_step=options.tokens)
            loaded = init_model(name, "base", species=["Homo_sapiens"])
            trainer = Trainer(loaded, recipe, [data], 0, Distributed(0, 1, torch.device("cpu")))
            trainer.train_step()  # warm-up: first-call allocations
            results = [trainer.train_step() for _ in range(options.steps)]
            data_s = sum(r.data_seconds for r in results)
            total_s = data_s + sum(r.compute_seconds for r in results)
            tokens = sum(r.tokens for r in results)
            fractions[name] = data_s / total_s
            print(f"{name:11s} context {context:5d}  tokens/s {tokens / total_s:9.1f}  data_fraction {fractions[name]:.4f}")
    print(f"data_fraction: {max(fractions.values()):.4f}")


if __name__ == "__main__":
    main()
