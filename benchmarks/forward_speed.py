#!/usr/bin/env python3
"""CPU inference speed of every registered model family at its base size, and DNABERT-2 against BERT.

For each family (``utrbench.models.families()``, so new families appear without changes here) the
script builds the base-size model, runs ``encode`` on a random batch under ``torch.inference_mode``
and reports tokens per second from the fastest run. Big models get fewer runs: runs continue until
``--budget`` seconds are spent (at least one, at most ``--max-runs``).

DNABERT-2 is also compared with transformers' ``BertModel`` of the same vocabulary, width, depth,
heads and FFN size (``attn_implementation='sdpa'``, same batch): the two run alternately ``--pairs``
times, so machine load affects both alike, and the ratio of their fastest runs is the last line::

    dnabert2_vs_bert: <DNABERT-2 time / BERT time>

Usage: ``python benchmarks/forward_speed.py [--batch 8] [--length 512] [--pairs 2] [--budget 60]``
"""

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bin"))

from utrbench.models import families, init_model  # noqa: E402

COMPARED_FAMILY = "dnabert2"


def random_batch(tokenizer, batch, length, generator):
    """``[CLS]`` (where the family has one) followed by random non-special token ids."""
    length = min(length, tokenizer.max_tokens)
    ordinary = torch.tensor(sorted(set(range(tokenizer.vocab_size)) - set(tokenizer.special_ids)))
    ids = ordinary[torch.randint(len(ordinary), (batch, length), generator=generator)]
    if tokenizer.cls_id is not None:
        ids[:, 0] = tokenizer.cls_id
    return ids


def model_forward(model, input_ids):
    """A no-argument callable running the model's ``encode`` on ``input_ids`` (all tokens real)."""
    attention_mask = torch.ones_like(input_ids)
    species_ids = torch.zeros(len(input_ids), dtype=torch.long)
    return lambda: model.encode(input_ids, attention_mask, species_ids)


def bert_reference(config, input_ids):
    """transformers' BertModel (SDPA attention) with DNABERT-2's sizes, as a no-argument callable."""
    from transformers import BertConfig, BertModel

    bert_config = BertConfig(
        vocab_size=config.vocab_size,
        hidden_size=config.hidden_size,
        num_hidden_layers=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads,
        intermediate_size=config.intermediate_size,
        max_position_embeddings=max(config.max_position_embeddings, input_ids.shape[1]),
        attn_implementation="sdpa",
    )
    bert = BertModel(bert_config, add_pooling_layer=False).eval()
    attention_mask = torch.ones_like(input_ids)
    return bert, lambda: bert(input_ids=input_ids, attention_mask=attention_mask)


def seconds(forward):
    start = time.perf_counter()
    forward()
    return time.perf_counter() - start


def timed_runs(forward, budget, max_runs):
    """Run times of ``forward``: repeated until ``budget`` seconds are spent (1 to ``max_runs`` runs)."""
    times = [seconds(forward)]
    while len(times) < max_runs and sum(times) + min(times) <= budget:
        times.append(seconds(forward))
    return times


def alternating_runs(first, second, pairs):
    """Run times of two callables run alternately ``pairs`` times (shared load affects both alike)."""
    times = ([], [])
    for _ in range(pairs):
        times[0].append(seconds(first))
        times[1].append(seconds(second))
    return times


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=8, help="sequences per forward pass")
    parser.add_argument("--length", type=int, default=512, help="tokens per sequence (capped at the model's context)")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds of timed runs per family")
    parser.add_argument("--max-runs", type=int, default=5, help="most timed runs per family")
    parser.add_argument("--pairs", type=int, default=2, help="alternating DNABERT-2 / BERT runs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    rows, ratio = [], None
    with torch.inference_mode():
        for name, family in families().items():
            if family.tokenization == "spectrum":  # no network to run
                continue
            print(f"{name}: building the base model", file=sys.stderr, flush=True)
            loaded = init_model(name, "base")
            input_ids = random_batch(loaded.tokenizer, args.batch, args.length, generator)
            forward = model_forward(loaded.model, input_ids)
            model_forward(loaded.model, input_ids[:1, :16])()  # warm-up: lazy initialisation
            if name == COMPARED_FAMILY:
                bert, bert_forward = bert_reference(loaded.model.config, input_ids)
                bert_forward()  # warm-up
                times, bert_times = alternating_runs(forward, bert_forward, args.pairs)
                rows.append(("bert (transformers, sdpa)", parameter_count(bert), input_ids.shape, bert_times))
                ratio = min(times) / min(bert_times)
                del bert, bert_forward
            else:
                times = timed_runs(forward, args.budget, args.max_runs)
            rows.append((name, parameter_count(loaded.model), input_ids.shape, times))
            del loaded, forward

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU, inference_mode, fp32")
    print(f"{'model':<28}{'params (M)':>11}{'batch x len':>13}{'runs':>6}{'best (s)':>10}{'tokens/s':>11}")
    for name, parameters, shape, times in sorted(rows):
        tokens = shape[0] * shape[1]
        print(
            f"{name:<28}{parameters / 1e6:>11.2f}{f'{shape[0]} x {shape[1]}':>13}{len(times):>6}"
            f"{min(times):>10.2f}{tokens / min(times):>11.0f}"
        )
    if ratio is not None:
        print(f"{COMPARED_FAMILY}_vs_bert: {ratio:.3f}")


if __name__ == "__main__":
    main()
