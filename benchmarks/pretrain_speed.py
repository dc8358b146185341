"""Pretraining data path per family, on its own and next to the model, at the ``base`` recipes' batch shapes.

For every trainable family, on a generated dataset of 3'UTR-like records (log-normal lengths,
median ~1.1 kb) in several shards:

1. the one-time tokenisation into the token store (``--workers`` processes over the shards), in
   nucleotides and tokens per second;
2. the data path alone, no model: the trainer's own ``Trainer.next_step_batches`` (what each
   training step waits for) on the base recipe's ``context_tokens`` and ``tokens_per_batch``:
   batches sliced from the store by the data worker process, moved to tensors and masked, in
   real tokens per second, against the reference a user
   would otherwise write: the text path of the study's loader (read the FASTA record by record,
   crop, tokenise, pad, mask), in the same run;
3. the model: a few optimiser steps of the ``base`` model on one CPU-sized micro-batch per step.

The last line is ``data_tokens_per_s: <min over families>`` (goal: >= 10 M on a 2-core machine).

    PYTHONPATH=bin python benchmarks/pretrain_speed.py [--records 2000] [--seconds 2] [--model-steps 2]
"""

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from utrbench.models import families, init_model
from utrbench.seq import iter_fasta
from utrbench.train.data import Layout
from utrbench.train.masking import mask_batch
from utrbench.train.recipe import read_recipe
from utrbench.train.token_store import TokenStore, build_token_store
from utrbench.train.trainer import Distributed, Trainer

RECIPES = Path(__file__).parents[1] / "conf" / "recipes"


def write_shards(folder, records, shards, seed=0):
    """Shards of ``>utr:Homo_sapiens`` records with 3'UTR-like lengths (log-normal, median ~1.1 kb)."""
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(np.log(1100), 0.8, records).astype(int), 60, 20000)
    paths = [Path(folder) / f"train_{k:03d}.fa" for k in range(shards)]
    handles = [open(path, "w") for path in paths]
    letters = np.array(list("ACGT"))
    for i, length in enumerate(lengths):
        handles[i % shards].write(f">utr{i}:Homo_sapiens\n{''.join(letters[rng.integers(0, 4, length)])}\n")
    for handle in handles:
        handle.close()
    return paths, int(lengths.sum())


def store_path_rate(trainer, seconds):
    """Real tokens/s of masked micro-batches from the token store: the trainer's own data path.

    ``Trainer.next_step_batches`` is what every training step waits for before its forward pass:
    the data worker's batches of the step from the store, moved to the device and masked there.
    """
    trainer.next_step_batches()  # warm-up: the worker starts, the first chunk of examples is computed
    tokens, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        tokens += sum(int(batch["attention_mask"].sum()) for batch in trainer.next_step_batches())
    return tokens / (time.perf_counter() - started)


def masked(batch, tokenizer, tokenization, generator, recipe):
    """Mask a text-path batch as the trainer does; its real tokens."""
    ids, attention, species = (torch.from_numpy(np.ascontiguousarray(a)) for a in batch)
    mask_batch(ids, attention, tokenizer, tokenization, generator, rate=recipe.mask_rate,
               mask_token_fraction=recipe.mask_token_fraction, random_token_fraction=recipe.random_token_fraction,
               edge_margin=recipe.edge_margin)
    return int(attention.sum())


def text_path_rate(paths, loaded, recipe, seconds):
    """The reference: records read from the FASTA, cropped, tokenised, padded and masked per batch."""
    tokenizer, tokenization = loaded.tokenizer, loaded.family.tokenization
    layout = Layout.of(tokenizer, tokenization, recipe.context_tokens)
    rng = np.random.default_rng(0)
    generator = torch.Generator().manual_seed(0)
    per_batch = max(1, recipe.tokens_per_batch // recipe.context_tokens)
    tokens, rows, started = 0, [], time.perf_counter()
    while time.perf_counter() - started < seconds:
        for path in paths:
            for _, sequence in iter_fasta(path):
                if len(sequence) > layout.crop_length:
                    start = int(rng.integers(0, len(sequence) - layout.crop_length + 1))
                    sequence = sequence[start:start + layout.crop_length]
                encoded = tokenizer.encode(sequence)
                content = encoded.ids[encoded.spans[:, 0] >= 0][:layout.content_tokens]
                rows.append(np.concatenate([layout.leading, content, layout.trailing]))
                if len(rows) == per_batch:
                    width = max(len(r) for r in rows)
                    ids = np.full((len(rows), width), tokenizer.pad_id, dtype=np.int64)
                    attention = np.zeros(ids.shape, dtype=bool)
                    for number, row in enumerate(rows):
                        ids[number, :len(row)], attention[number, :len(row)] = row, True
                    tokens += masked((ids, attention, np.zeros(len(rows), dtype=np.int64)), tokenizer, tokenization,
                                     generator, recipe)
                    rows = []
                if time.perf_counter() - started >= seconds:
                    break
            if time.perf_counter() - started >= seconds:
                break
    return tokens / (time.perf_counter() - started)


def model_rate(store, loaded, recipe, steps, tokens):
    """Real tokens/s of ``steps`` optimiser steps of the base model, one ``tokens`` micro-batch each."""
    context = min(recipe.context_tokens, tokens)
    recipe = dataclasses.replace(recipe, context_tokens=context, tokens_per_batch=tokens, tokens_per_step=tokens)
    trainer = Trainer(loaded, recipe, store, 0, Distributed(0, 1, torch.device("cpu")))
    trainer.train_step()  # warm-up: first-call allocations
    results = [trainer.train_step() for _ in range(steps)]
    trainer.close()
    return sum(r.tokens for r in results) / sum(r.data_seconds + r.compute_seconds for r in results)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="tokenising processes")
    parser.add_argument("--seconds", type=float, default=2.0, help="timing window per data path")
    parser.add_argument("--model-steps", type=int, default=2, help="0 skips the model")
    parser.add_argument("--model-tokens", type=int, default=2048, help="tokens per model micro-batch")
    options = parser.parse_args()
    torch.manual_seed(0)
    rates = {}
    with tempfile.TemporaryDirectory() as folder:
        paths, nucleotides = write_shards(folder, options.records, options.shards)
        print(f"dataset: {options.records} records, {nucleotides / 1e6:.2f} Mnt in {options.shards} shards")
        for name, family in families().items():
            if not (RECIPES / f"{name}_base.json").exists():
                continue
            recipe = read_recipe(RECIPES / f"{name}_base.json")
            loaded = init_model(name, "base", species=["Homo_sapiens"])
            tokenizer = loaded.tokenizer
            stats = build_token_store(paths, Path(folder) / name, tokenizer, family.tokenization,
                                      getattr(tokenizer, "k", 1), workers=options.workers)
            store = TokenStore(Path(folder) / name)
            # the data path's two cores: the worker process slices, the main process masks (one torch thread)
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            trainer = Trainer(loaded, recipe, store, 0, Distributed(0, 1, torch.device("cpu")))
            rates[name] = store_path_rate(trainer, options.seconds)
            trainer.close()
            reference = text_path_rate(paths, loaded, recipe, options.seconds)
            torch.set_num_threads(threads)
            line = (f"{name:11s} tokenise once {stats['nucleotides'] / stats['seconds'] / 1e6:6.2f} M nt/s "
                    f"({stats['tokens'] / stats['seconds'] / 1e6:6.2f} M tokens/s, {options.workers} workers)  "
                    f"data path {rates[name] / 1e6:7.2f} M tokens/s  text path {reference / 1e6:6.3f} M tokens/s  "
                    f"store_vs_text {rates[name] / reference:7.1f}x")
            if options.model_steps:
                line += f"  model (base, CPU) {model_rate(store, loaded, recipe, options.model_steps, options.model_tokens):8.1f} tokens/s"
            print(line, flush=True)
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"data_tokens_per_s: {min(rates.values()):.0f}")


if __name__ == "__main__":
    main()
