#!/usr/bin/env python3
"""Speed, planning cost, memory and agreement of per-nucleotide zero-shot scoring (utrbench.infer.zeroshot).

Part 1, speed on CPU for ``dnabert`` (k = 6) and ``ntv2`` at ``base`` (and ``tiny``) size on one
random 508-nt chunk (the study's DNABERT chunk), three methods with identical output, each timed
with everything the user waits for:

- ``exact``: the engine, planning included (windows, tokens, copy tables, batch index arrays,
  built on the fly per batch), then the encoder, the head at the read tokens and the marginals;
- ``floor``: the encoder alone over the same masked copies and batches, inputs built beforehand:
  the exact method cannot do less than one encoder pass per masked copy;
- ``naive``: the original study's scheme: all masked copies of the chunk in one batch, the LM
  head and a softmax over the whole vocabulary at every position, then the marginals.

Base-size DNABERT needs ~500 copies of ~500 tokens per chunk, minutes per method on two cores, and
the naive batch of all of them holds ~4 GB of logits, so the runs score the first ``--copies``
(base) or ``--tiny-copies`` (tiny) masked copies of the chunk (the per-copy cost is the same for
all three). ``plan_fraction`` is the engine's planning time over its total time; at base size
the whole window's copy table is built while only ``--copies`` copies run, so it is an upper bound.
Peak memory is the peak resident set while one method runs minus the resident set before it,
sampled by a thread. The methods run alternately ``--repeats`` times; the fastest run counts.

Part 2, memory flat in the number of sequences: ``zeroshot.py`` (exact, tiny dnabert) over 200 and
2,000 generated 3'UTR-like sequences (AT-rich composition, 8-16 nt to keep exact
scoring of 2,000 of them to minutes on two cores), each run in its own process, with its
peak resident set from the kernel (``wait4``) and its planning fraction.

Part 3 (``--agreement``): ``strided:S`` and ``unmasked`` against ``exact`` on tiny ``statespace``
and ``dnabert`` models trained briefly (``--steps``) on random sequences with a planted motif:
speedup over ``exact``, mean |dp|, Pearson r of log p_ref, AUC of p_ref for motif positions.

The last line is ``exact_vs_floor: <min over dnabert and ntv2 at base size>`` (floor time / exact
time with planning; 1.0 means exact costs nothing beyond the encoder).

Usage: ``python benchmarks/zeroshot_speed.py [--copies 6] [--repeats 1] [--agreement --steps 200]``
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bin"))

from utrbench.infer.windows import pad_rows  # noqa: E402
from utrbench.infer.zeroshot import ZeroShotScorer, copy_batches, copy_table  # noqa: E402
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


def first_copies(scorer, chunk, copies_limit):
    """The chunk's plan, cut to its first ``copies_limit`` masked copies (0: all)."""
    plan = scorer.plan([chunk], ["chunk"], [0])
    if copies_limit:
        plan.copy_counts = [min(copies_limit, plan.copy_counts[0])]
    return plan


def engine(scorer, chunk, copies_limit):
    """Plan and run, as zeroshot.py does; the summed marginals and the planning seconds."""
    scorer.plan_seconds = 0.0
    sums = scorer.run(first_copies(scorer, chunk, copies_limit))
    return sums, scorer.plan_seconds


def encoder_floor(scorer, batches):
    """The encoder alone over prebuilt masked copies (the same batches as ``exact``)."""
    with torch.inference_mode():
        for input_ids, attention, species in batches:
            scorer.model.encode(input_ids, attention, species)


def floor_inputs(scorer, chunk, copies_limit):
    plan = first_copies(scorer, chunk, copies_limit)
    tables = {0: copy_table(plan.windows[0], plan.tokens[0].spans, scorer.strategy, scorer.readout)}
    return [scorer._batch_inputs(plan, batch, tables)[:3]
            for batch in copy_batches([len(plan.tokens[0])], plan.copy_counts, scorer.token_budget)]


def naive(scorer, chunk, copies_limit):
    """The study's scheme: the copies in one batch, full head and softmax at every position.

    One copy per distinct set of tokens covering a nucleotide, in sequence order (per nucleotide
    for DNABERT, per token for NT, as the study's loops); each nucleotide reads the middle covering
    token of its copy, marginalised over that token length's vocabulary slice.
    """
    tokenizer, tables = scorer.tokenizer, scorer.tables
    tokenized = tokenizer.encode(chunk)
    spans = tokenized.spans
    masked_ranges, reads = [], []
    for position in range(len(chunk)):
        covering = np.flatnonzero((spans[:, 0] <= position) & (position < spans[:, 1]))
        if not masked_ranges or masked_ranges[-1] != (covering[0], covering[-1]):
            if len(masked_ranges) == copies_limit:
                break
            masked_ranges.append((covering[0], covering[-1]))
        lengths = spans[covering, 1] - spans[covering, 0]
        token = covering[np.argmin(np.abs(position - spans[covering, 0] - lengths // 2))]
        reads.append((len(masked_ranges) - 1, token, position - spans[token, 0], spans[token, 1] - spans[token, 0]))
    ids = torch.tensor(tokenized.ids).repeat(len(masked_ranges), 1)
    for row, (first, last) in enumerate(masked_ranges):
        ids[row, first:last + 1] = tokenizer.mask_id
    with torch.inference_mode():
        hidden = scorer.model.encode(ids, torch.ones_like(ids, dtype=torch.bool), torch.zeros(len(ids), dtype=torch.long))[-1]
        probs = torch.softmax(scorer.model.lm_logits(hidden).float(), dim=-1)  # [copies, tokens, vocabulary]
        out = []
        for row, token, offset, length in reads:
            ids_m, one_hot = tables[int(length)]
            selected = probs[row, token, ids_m]
            out.append((selected / selected.sum()) @ one_hot.view(len(ids_m), int(length), 4)[:, offset])
    return np.arange(len(reads)), torch.stack(out)


def speed_study(family, size, copies_limit, budget, repeats):
    loaded = init_model(family, size, seed=0)
    torch.set_grad_enabled(False)
    chunk = "".join(np.random.default_rng(0).choice(list("ACGT"), CHUNK))
    scorer = ZeroShotScorer(loaded, "exact", readout="middle", token_budget=budget)
    plan = first_copies(scorer, chunk, 0)
    total_copies, n_tokens = plan.copy_counts[0], len(plan.tokens[0])
    # identical output: engine and naive agree on the nucleotides both score
    sums, _ = engine(scorer, chunk, copies_limit)
    targets, reference = naive(scorer, chunk, copies_limit)
    scored = sums.sum(1) > 0
    common = np.intersect1d(np.flatnonzero(scored.numpy()), targets)
    engine_probs = (sums[common] / sums[common].sum(1, keepdim=True)).numpy()
    max_diff = float(np.abs(engine_probs - reference.numpy()[np.searchsorted(targets, common)]).max())
    batches = floor_inputs(scorer, chunk, copies_limit)
    copies = copies_limit or total_copies
    plan_share = []

    def run_exact():
        plan_share.append(engine(scorer, chunk, copies_limit)[1])

    methods = {"exact": run_exact, "floor": lambda: encoder_floor(scorer, batches),
               "naive": lambda: naive(scorer, chunk, copies_limit)}
    best = {name: (np.inf, 0.0) for name in methods}
    plan_fraction = 1.0
    for _ in range(repeats):
        for name, function in methods.items():
            elapsed, peak = timed_with_peak_memory(function)
            if name == "exact" and elapsed < best[name][0]:
                plan_fraction = plan_share[-1] / elapsed
            best[name] = (min(best[name][0], elapsed), max(best[name][1], peak))
    print(f"\n{family} {size}: {copies} of the chunk's {total_copies} masked copies ({n_tokens} tokens each), "
          f"token budget {budget}; max |exact - naive| = {max_diff:.1e} over {len(common)} nt")
    for name, (elapsed, peak) in best.items():
        print(f"  {name:6s} {copies / elapsed:10.2f} copies/s   peak +{peak:8.1f} MB")
    floor_ratio = best["floor"][0] / best["exact"][0]
    print(f"  exact/floor speed: {floor_ratio:.3f}   exact/naive speed: {best['naive'][0] / best['exact'][0]:.2f}   "
          f"plan_fraction: {plan_fraction:.4f}")
    return floor_ratio, plan_fraction


def utr_like_fasta(path, count, seed):
    rng = np.random.default_rng(seed)
    with open(path, "w") as handle:
        for n in range(count):
            length = int(rng.integers(8, 16))
            handle.write(f">utr{n}\n{''.join(rng.choice(list('ACGT'), length, p=[.3, .2, .2, .3]))}\n")


def memory_study(shard_nt):
    """zeroshot.py over 200 and 2,000 generated sequences, each in its own process."""
    import os
    import subprocess
    import tempfile

    from utrbench.models import save_model

    root = Path(__file__).resolve().parents[1]
    print(f"\nzeroshot.py exact, dnabert tiny, 3'UTR-like sequences of 8-16 nt, --shard-nt {shard_nt}")
    with tempfile.TemporaryDirectory() as tmp:
        save_model(init_model("dnabert", "tiny", seed=0), Path(tmp) / "model")
        peaks = {}
        for count in (200, 2000):
            fasta = Path(tmp) / f"{count}.fa"
            utr_like_fasta(fasta, count, count)
            command = [sys.executable, "-c", MEMORY_RUN, str(Path(tmp) / "model"), str(fasta), str(shard_nt)]
            start = time.perf_counter()
            process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True,
                                       env={**os.environ, "PYTHONPATH": str(root / "bin")})
            _, status, usage = os.wait4(process.pid, 0)
            elapsed = time.perf_counter() - start
            plan_seconds, total_nt = (float(x) for x in process.stdout.read().split())
            peaks[count] = usage.ru_maxrss / 1024
            print(f"  {count:5d} sequences, {int(total_nt):7d} nt: {elapsed:6.1f} s, {total_nt / elapsed:7.0f} nt/s, "
                  f"plan_fraction {plan_seconds / elapsed:.4f}, peak RSS {peaks[count]:6.0f} MB")
        print(f"  peak RSS 2,000 / 200 sequences: {peaks[2000] / peaks[200]:.3f}")


# One zeroshot.py run in a fresh interpreter, printing its planning seconds and nucleotides scored.
MEMORY_RUN = """
import sys
from utrbench.infer.records import iter_records
from utrbench.infer.shards import iter_blocks
from utrbench.infer.zeroshot import ZeroShotScorer
from utrbench.io import InferenceWriter
from utrbench.models import load_model
model, fasta, shard_nt = sys.argv[1], sys.argv[2], int(sys.argv[3])
scorer = ZeroShotScorer(load_model(model), "exact")
total = 0
with InferenceWriter(fasta + ".h5", "probs", {}) as writer:
    for block in iter_blocks(iter_records(fasta), shard_nt):
        ids, sequences = [n for n, _ in block], [s for _, s in block]
        writer.append(ids, scorer.score(sequences, ids))
        total += sum(map(len, sequences))
print(scorer.plan_seconds, total)
"""


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--copies", type=int, default=6, help="masked copies timed per base-size chunk")
    parser.add_argument("--tiny-copies", type=int, default=32,
                        help="masked copies timed per tiny chunk (the naive batch holds full logits: ~8 MB per copy)")
    parser.add_argument("--budget", type=int, default=8192, help="token budget of exact and floor batches")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--shard-nt", type=int, default=2000, help="block size of the memory runs")
    parser.add_argument("--agreement", action="store_true", help="also run part 3 (trains two tiny models)")
    parser.add_argument("--steps", type=int, default=200, help="training steps of the tiny motif models")
    args = parser.parse_args()
    torch.manual_seed(0)
    with open("/proc/loadavg") as load:
        print(f"CPU, {torch.get_num_threads()} threads, torch {torch.__version__}, load average {load.read().split()[0]}")
    for family in ("dnabert", "ntv2"):
        speed_study(family, "tiny", args.tiny_copies, args.budget, args.repeats)
    memory_study(args.shard_nt)
    if args.agreement:
        for family in ("statespace", "dnabert"):
            agreement_study(family, args.steps)
    results = {family: speed_study(family, "base", args.copies, args.budget, args.repeats) for family in ("dnabert", "ntv2")}
    print(f"\nplan_fraction (base, max): {max(fraction for _, fraction in results.values()):.4f}")
    print(f"exact_vs_floor: {min(ratio for ratio, _ in results.values()):.3f}")


if __name__ == "__main__":
    main()
