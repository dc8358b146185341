#!/usr/bin/env python3
"""Speed, memory and agreement of per-nucleotide zero-shot scoring (utrbench.infer.zeroshot).

Part 1, speed on CPU for ``dnabert`` (k = 6) and ``ntv2`` at ``base`` and ``tiny`` size on one
random 508-nt chunk, three methods with identical output:

- ``exact``: the engine (masked copies built and batched on the device, head only where read);
- ``floor``: the encoder alone over the same masked copies, same batches (no head, no marginals):
  the exact method cannot do less than one encoder pass per masked copy;
- ``naive``: one masked copy per forward pass, LM head and a full-vocabulary softmax at every
  position, then the marginals (the original method's shape, without its batching of full logits).

Base-size DNABERT needs ~500 copies of ~500 tokens per chunk, minutes per method on two cores, so
the base runs time the first ``--copies`` masked copies of the chunk (the per-copy cost is the same
for all, and the batches are as large as for the full chunk); nucleotides/s is targets/second. Peak
memory is the peak resident set while one method runs minus the resident set before it (model
loaded), sampled by a thread. The methods run alternately ``--repeats`` times and the
fastest run counts, so machine load hits all alike.

Part 2, the speed lever: ``strided:S`` (S = 6, 24, 96) and ``unmasked`` against ``exact`` on tiny
``statespace`` and ``dnabert`` models trained briefly (``--steps``) on random sequences with a
planted motif (a random model predicts near-uniform letters, which would say nothing): speedup over
``exact``, mean |Δp|, Pearson r of log p_ref, and the AUC of p_ref for motif against background
positions (for each method; exact's own AUC is the reference).

The last line is ``exact_vs_floor: <min over dnabert and ntv2 at base size>`` (floor time / exact
time; 1.0 means exact costs nothing beyond the encoder).

Usage: ``python benchmarks/zeroshot_speed.py [--copies 6] [--steps 200] [--repeats 1]``
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bin"))

from utrbench.infer.zeroshot import ZeroShotScorer  # noqa: E402
from utrbench.infer.windows import pad_rows  # noqa: E402
from utrbench.models import init_model  # noqa: E402
from utrbench.train.masking import mask_batch  # noqa: E402

CHUNK = 508
MOTIF = "TGTAAATA"  # a Pumilio-like 3'UTR element


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


def timed_with_peak_memory(function):
    """Seconds and peak RSS increase (MB) of ``function()``, RSS sampled every 2 ms by a thread.

    Freed heap is handed back to the system first (``malloc_trim``) so that one method's cached
    memory does not hide the next one's. (A forked child would measure cleaner, but OpenMP thread
    pools do not survive ``fork``.)
    """
    import ctypes
    import threading

    ctypes.CDLL("libc.so.6").malloc_trim(0)
    baseline = rss_mb()
    peak, running = [baseline], [True]

    def sample():
        while running[0]:
            peak[0] = max(peak[0], rss_mb())
            time.sleep(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.perf_counter()
    function()
    elapsed = time.perf_counter() - start
    running[0] = False
    sampler.join()
    return elapsed, max(peak[0], rss_mb()) - baseline


def encoder_floor(scorer, plan, copies):
    """The encoder alone over the same masked copies and batches as ``exact``."""
    from utrbench.infer.windows import token_budget_batches

    tokenizer = scorer.tokenizer
    with torch.inference_mode():
        for batch in token_budget_batches([len(plan.tokens[c.window]) for c in copies], scorer.token_budget):
            batch = [copies[i] for i in batch]
            ids = pad_rows([plan.tokens[c.window].ids for c in batch], tokenizer.pad_id, "cpu")
            longest = ids.shape[1]
            masked = torch.zeros(len(batch), longest + 1, dtype=torch.bool)
            masked.scatter_(1, pad_rows([c.masked for c in batch], longest, "cpu"), True)
            scorer.model.encode(ids.masked_fill(masked[:, :longest], tokenizer.mask_id), ids != tokenizer.pad_id,
                                torch.zeros(len(batch), dtype=torch.long))


def naive(scorer, plan, copies):
    """One copy per pass, head and softmax over the whole vocabulary at every position."""
    tokenizer, tables = scorer.tokenizer, scorer.tables
    out = []
    with torch.inference_mode():
        for copy in copies:
            tokens = plan.tokens[copy.window]
            ids = torch.tensor(tokens.ids)
            ids[copy.masked] = tokenizer.mask_id
            hidden = scorer.model.encode(ids[None], torch.ones(1, len(ids), dtype=torch.bool), torch.zeros(1, dtype=torch.long))[-1]
            probs = torch.softmax(scorer.model.lm_logits(hidden)[0].float(), dim=-1)
            for token, offset in zip(copy.read_tokens, copy.read_offsets):
                length = int(tokens.spans[token, 1] - tokens.spans[token, 0])
                ids_m, one_hot = tables[length]
                selected = probs[token, ids_m]
                out.append((selected / selected.sum()) @ one_hot.view(len(ids_m), length, 4)[:, offset])
    return out


def speed_study(family, size, copies_limit, budget, repeats):
    loaded = init_model(family, size, seed=0)
    torch.set_grad_enabled(False)
    sequence = "".join(np.random.default_rng(0).choice(list("ACGT"), CHUNK))
    scorer = ZeroShotScorer(loaded, "exact", token_budget=budget)
    plan = scorer.plan([sequence], ["chunk"], [0])
    copies = plan.copies[:copies_limit] if copies_limit else plan.copies
    targets = len(np.unique(np.concatenate([c.read_rows for c in copies])))
    # identical output: engine and naive agree on these copies
    engine = scorer.run(plan, copies)
    rows = np.unique(np.concatenate([c.read_rows for c in copies]))
    engine = (engine[rows] / engine[rows].sum(1, keepdim=True)).numpy()
    reference = torch.stack(naive(scorer, plan, copies)).numpy()
    order = np.concatenate([c.read_rows for c in copies])
    summed = np.zeros((plan.offsets[-1], 4))
    np.add.at(summed, order, reference)
    summed = summed[rows] / summed[rows].sum(1, keepdims=True)
    max_diff = float(np.abs(summed - engine).max())
    methods = {"exact": lambda: scorer.run(plan, copies), "floor": lambda: encoder_floor(scorer, plan, copies),
               "naive": lambda: naive(scorer, plan, copies)}
    best = {name: (np.inf, 0.0) for name in methods}
    for _ in range(repeats):
        for name, function in methods.items():
            elapsed, peak = timed_with_peak_memory(function)
            best[name] = (min(best[name][0], elapsed), max(best[name][1], peak))
    print(f"\n{family} {size}: {targets} target nt in {len(copies)} masked copies of {len(plan.copies)} "
          f"({len(plan.tokens[0])} tokens each), token budget {budget}; max |exact - naive| = {max_diff:.1e}")
    for name, (elapsed, peak) in best.items():
        print(f"  {name:6s} {targets / elapsed:10.1f} nt/s   peak +{peak:8.1f} MB")
    floor_ratio = best["floor"][0] / best["exact"][0]
    print(f"  exact/floor speed: {floor_ratio:.3f}   exact/naive speed: {best['naive'][0] / best['exact'][0]:.2f}")
    return floor_ratio


def planted_sequences(count, length, rng):
    """Random sequences with the motif planted at random places; also the motif-position masks."""
    sequences, masks = [], []
    for _ in range(count):
        letters = rng.choice(list("ACGT"), length)
        mask = np.zeros(length, dtype=bool)
        for start in rng.choice(length - len(MOTIF), size=length // 60, replace=False):
            letters[start:start + len(MOTIF)] = list(MOTIF)
            mask[start:start + len(MOTIF)] = True
        sequences.append("".join(letters))
        masks.append(mask)
    return sequences, masks


def train_briefly(loaded, steps, rng):
    """A minimal masked-LM loop (15 % masking with the project's collator), AdamW, batch 16 x 200 nt."""
    model, tokenizer = loaded.model, loaded.tokenizer
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for step in range(steps):
        sequences, _ = planted_sequences(16, 200, rng)
        encoded = [tokenizer.encode(s).ids for s in sequences]
        ids = pad_rows(encoded, tokenizer.pad_id, "cpu").numpy()
        attention = ids != tokenizer.pad_id
        inputs, labels = mask_batch(ids, attention, tokenizer, loaded.family.tokenization, rng)
        loss = model(torch.tensor(inputs), torch.tensor(attention), torch.zeros(16, dtype=torch.long),
                     labels=torch.tensor(labels)).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    return loss.item()


def auc(scores, labels):
    from sklearn.metrics import roc_auc_score

    return roc_auc_score(labels, scores)


def agreement_study(family, steps):
    rng = np.random.default_rng(1)
    loaded = init_model(family, "tiny", seed=1)
    torch.set_grad_enabled(True)
    start = time.perf_counter()
    loss = train_briefly(loaded, steps, rng)
    torch.set_grad_enabled(False)
    sequences, masks = planted_sequences(8, CHUNK, np.random.default_rng(2))
    codes = np.concatenate([["ACGT".index(b) for b in s] for s in sequences])
    motif = np.concatenate(masks)
    print(f"\n{family} tiny trained {steps} steps ({time.perf_counter() - start:.0f} s, final loss {loss:.2f}); "
          f"8 x {CHUNK} nt, {motif.mean():.0%} motif positions")
    results = {}
    for strategy in ("exact", "strided:6", "strided:24", "strided:96", "unmasked"):
        scorer = ZeroShotScorer(loaded, strategy, token_budget=16384)
        start = time.perf_counter()
        probs = np.concatenate(scorer.score(sequences))
        results[strategy] = (time.perf_counter() - start, probs)
    exact_time, exact = results["exact"]
    exact_ref = exact[np.arange(len(codes)), codes]
    print(f"  {'strategy':11s} {'speedup':>8s} {'mean|dp|':>9s} {'r(log pref)':>11s} {'AUC motif':>9s}")
    for strategy, (elapsed, probs) in results.items():
        p_ref = probs[np.arange(len(codes)), codes]
        r = np.corrcoef(np.log(p_ref), np.log(exact_ref))[0, 1]
        print(f"  {strategy:11s} {exact_time / elapsed:8.1f} {np.abs(probs - exact).mean():9.4f} {r:11.4f} "
              f"{auc(p_ref, motif):9.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=6, help="masked copies timed per base-size chunk")
    parser.add_argument("--budget", type=int, default=8192, help="token budget of exact and floor batches")
    parser.add_argument("--steps", type=int, default=200, help="training steps of the tiny motif models")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"CPU, {torch.get_num_threads()} threads, torch {torch.__version__}")
    for family in ("dnabert", "ntv2"):
        speed_study(family, "tiny", 0, args.budget, args.repeats)
    for family in ("statespace", "dnabert"):
        agreement_study(family, args.steps)
    ratios = {family: speed_study(family, "base", args.copies, args.budget, args.repeats) for family in ("dnabert", "ntv2")}
    print(f"\nexact_vs_floor: {min(ratios.values()):.3f}")


if __name__ == "__main__":
    main()
