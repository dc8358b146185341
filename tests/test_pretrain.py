"""Pretraining: schedules, recipes, token store and batching, resume across attempts, selection, CLI errors."""

import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from utrbench.seq.fasta import read_fasta

from utrbench.errors import UserError
from utrbench.models import init_model
from utrbench.train.data import (CROP_DRAW, SHIFT_DRAW, BatchStream, ExampleSampler, Layout, assemble,
                                 length_grouped_batches, position_uniforms)
from utrbench.train.recipe import read_recipe
from utrbench.train.schedules import Cyclic, InverseSqrt, LinearWarmupDecay
from utrbench.train.selection import choose_checkpoint
from utrbench.train.token_store import TokenStore, build_token_store, species_of
from utrbench.train.trainer import CONTINUE_EXIT_STATUS, checkpoint_path, checkpoint_steps, pretrain

PROJECT = Path(__file__).parents[1]
RECIPES = PROJECT / "conf" / "recipes"
SPECIES = ["Homo_sapiens", "Mus_musculus"]


def write_dataset(folder, n=40, seed=0, species=SPECIES, motif=None):
    rng = np.random.default_rng(seed)
    path = Path(folder) / f"data{seed}.fa"
    with open(path, "w") as out:
        for i in range(n):
            length = int(rng.integers(60, 160))
            if motif:  # the motif repeated from a random phase, 10 % of letters mutated
                letters = np.array(list((motif * (length // len(motif) + 2))[rng.integers(len(motif)):][:length]))
                mutated = rng.random(length) < 0.1
                letters[mutated] = rng.choice(list("ACGT"), mutated.sum())
            else:
                letters = rng.choice(list("ACGT"), length)
            out.write(f">utr{i}:{species[i % len(species)]}\n{''.join(letters)}\n")
    return path


def tiny_recipe(family, **changes):
    return dataclasses.replace(read_recipe(RECIPES / f"{family}_tiny.json"), **changes)


def test_schedules_hand_values_and_cyclic_matches_torch():
    linear = LinearWarmupDecay(warmup_steps=4, decay_steps=10, final=0.1)
    assert [linear(s) for s in (0, 3, 4, 9, 14, 20)] == pytest.approx([0.25, 1.0, 1.0, 0.55, 0.1, 0.1])
    inverse = InverseSqrt(warmup_steps=4)
    assert [inverse(s) for s in (0, 3, 15)] == pytest.approx([0.25, 1.0, 0.5])
    cyclic = Cyclic(warmup_steps=3, decay_steps=5, final=0.2)
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=1.0)
    reference = torch.optim.lr_scheduler.CyclicLR(optimizer, base_lr=0.2, max_lr=1.0, step_size_up=3,
                                                  step_size_down=5, cycle_momentum=False)
    expected = []
    for _ in range(20):
        optimizer.step()
        reference.step()
        expected.append(reference.get_last_lr()[0])
    assert [cyclic(s) for s in range(20)] == pytest.approx(expected)


def test_recipe_errors_name_the_key(tmp_path):
    good = json.loads((RECIPES / "dnabert_tiny.json").read_text())
    for change, key in [({"lr": -1}, "lr"), ({"mask_rate": 1.5}, "mask_rate"), ({"steps": "ten"}, "steps"),
                        ({"schedule": "cosine"}, "schedule"), ({"tokens_per_batch": 8}, "tokens_per_batch"),
                        ({"learning_rate": 1}, "learning_rate")]:
        path = tmp_path / "recipe.json"
        path.write_text(json.dumps({**good, **change}))
        with pytest.raises(UserError, match=key):
            read_recipe(path)


def store_of(tmp_path, family, paths, name="store", workers=1):
    loaded = init_model(family, "tiny")
    tokenizer, tokenization = loaded.tokenizer, loaded.family.tokenization
    build_token_store(paths, tmp_path / name, tokenizer, tokenization, getattr(tokenizer, "k", 1), workers=workers)
    return loaded, TokenStore(tmp_path / name)


@pytest.mark.parametrize("family", ["dnabert", "ntv2", "dnabert2", "statespace"])
def test_token_store_round_trips_every_record(tmp_path, family):
    first, second = write_dataset(tmp_path, n=30, seed=0), write_dataset(tmp_path, n=20, seed=1)
    with open(second, "a") as out:  # an N run, and a record shorter than one k-mer (left out for k-mers)
        out.write(">withN:Homo_sapiens\nACGTACGTNNNNNNNNACGTAGGATTACAGATTACAGAT\n>short:Homo_sapiens\nACG\n")
    loaded, store = store_of(tmp_path, family, [first, second], workers=2)
    tokenizer, k = loaded.tokenizer, getattr(loaded.tokenizer, "k", 1)
    records = [seq for path in (first, second) for _, seq in read_fasta(path).items() if len(seq) >= k]
    assert store.n_records == len(records) and list(store.shard_records) == [30, len(records) - 30]
    for index, sequence in enumerate(records):
        assert store.lengths[index] == len(sequence)
        for phase in range(store.phases):
            encoded = tokenizer.encode(sequence[phase:])
            assert np.array_equal(store.record_tokens(index, phase), encoded.ids[encoded.spans[:, 0] >= 0])


def reference_example(tokenizer, layout, sequence, shift, u_crop):
    """The example the store must give: tokenise the shifted crop of the text, cut to the context."""
    k = getattr(tokenizer, "k", 1)
    if shift > 0:
        sequence = "N" * shift + sequence
    elif shift < 0 and len(sequence) + shift >= k:
        sequence = sequence[-shift:]
    if len(sequence) > layout.crop_length:
        start = int(np.floor(u_crop * (len(sequence) - layout.crop_length + 1)))
        sequence = sequence[start:start + layout.crop_length]
    encoded = tokenizer.encode(sequence)
    content = encoded.ids[encoded.spans[:, 0] >= 0][:layout.content_tokens]
    return np.concatenate([layout.leading, content, layout.trailing])


@pytest.mark.parametrize("family, shift_max", [("dnabert", 0), ("dnabert", 4), ("statespace", 0), ("ntv2", 9)])
def test_store_examples_equal_tokenising_the_crop(tmp_path, family, shift_max):
    data = write_dataset(tmp_path, n=60, seed=2)
    loaded, store = store_of(tmp_path, family, [data])
    tokenizer, tokenization = loaded.tokenizer, loaded.family.tokenization
    layout = Layout.of(tokenizer, tokenization, 24, shift_max)
    indices = np.arange(store.n_records)
    examples = ExampleSampler(store, layout, seed=7, shift_max=shift_max).examples(3, indices, indices)
    ids, attention, _ = assemble(store, layout, examples, slice(None), tokenizer.pad_id)
    shifts = np.floor(position_uniforms(7, 1, 3, SHIFT_DRAW, indices) * 2 * shift_max).astype(int) - shift_max
    crops = position_uniforms(7, 1, 3, CROP_DRAW, indices)
    sequences = list(read_fasta(data).values())
    for row, sequence in enumerate(sequences):
        expected = reference_example(tokenizer, layout, sequence, shifts[row] if shift_max else 0, crops[row])
        assert np.array_equal(ids[row, attention[row]], expected), row
        assert not attention[row, len(expected):].any()
    if shift_max:
        assert (shifts > 0).any() and (shifts < 0).any()


def test_batches_respect_budget_and_resume_from_position(tmp_path):
    data = write_dataset(tmp_path)
    loaded, store = store_of(tmp_path, "ntv2", [data])
    layout = Layout.of(loaded.tokenizer, "greedy_kmer", 16, shift_max=3)
    # chunks of 8 of the 40 records: resuming inside a chunk and crossing chunks and epochs
    stream_of = lambda position=(0, 0, 0), rank=0, world=1: BatchStream(  # noqa: E731
        store, layout, 3, 50, loaded.tokenizer.pad_id, rank=rank, world=world, shift_max=3, position=position, chunk=8)
    stream = stream_of()
    first = [stream.next_batch() for _ in range(5)]
    assert all(ids.size <= 50 and ids.shape[1] <= 16 for ids, _, _ in first)
    position = stream.position
    assert position[1:] != (0, 0)  # inside the epoch, after the first chunk or inside it
    following = [stream.next_batch() for _ in range(40)]  # crosses into the next epoch
    resumed = stream_of(position)
    for (ids, attention, _), (again, again_attention, _) in zip(following, [resumed.next_batch() for _ in range(40)]):
        assert np.array_equal(ids, again) and np.array_equal(attention, again_attention)
    assert stream.position[0] >= 1

    def epoch_rows(stream):
        """The examples of one epoch, as tuples of token ids."""
        found = []
        while stream.position[0] == 0:
            ids, attention, _ = stream.next_batch()
            found.extend(tuple(row[mask]) for row, mask in zip(ids, attention))
        return found

    # every example of the epoch exactly once
    single = epoch_rows(stream_of())
    sampler = ExampleSampler(store, layout, 3, shift_max=3)
    indices = np.arange(store.n_records)
    records = BatchStream(store, layout, 3, 50, loaded.tokenizer.pad_id).order.records(0, indices)
    examples = sampler.examples(0, indices, records)
    ids, attention, _ = assemble(store, layout, examples, slice(None), loaded.tokenizer.pad_id)
    expected = [tuple(row[mask]) for row, mask in zip(ids, attention)]
    assert sorted(single) == sorted(expected)
    # rank r of 2 gets the examples of the records at positions r, r + 2, ... of the single-device order
    for rank in (0, 1):
        assert sorted(epoch_rows(stream_of(rank=rank, world=2))) == sorted(expected[rank::2])


def test_length_grouped_batches_hand_case():
    # sorted widths 2 3 3 | 5 5 | 8 under 10 tokens: 3 x 3 = 9 fits, 4 x 5 does not; 2 x 5 = 10 fits
    batches = length_grouped_batches(np.array([5, 3, 8, 3, 5, 2]), 10)
    assert [b.tolist() for b in batches] == [[5, 1, 3], [0, 4], [2]]
    assert [b.tolist() for b in length_grouped_batches(np.array([12, 4]), 10)] == [[1], [0]]  # never empty


def test_species_from_headers():
    assert species_of("ENST0001.1_utr3:Homo_sapiens") == "Homo_sapiens"
    assert species_of("ENST0001") is None


def test_species_conditioning_changes_output():
    loaded = init_model("statespace", "tiny", species=SPECIES)
    torch.manual_seed(0)
    for parameter in loaded.model.parameters():  # move away from any zero initialisation
        parameter.data.add_(0.1 * torch.randn_like(parameter))
    ids = torch.from_numpy(loaded.tokenizer.encode("ACGTACGGTTACGATCGATCG" * 3).ids)[None]
    with torch.no_grad():
        human, mouse = (loaded.model.encode(ids, torch.ones_like(ids), torch.tensor([s]))[-1] for s in (0, 1))
    assert not torch.allclose(human, mouse)


def weights(run_dir, step):
    return load_file(checkpoint_path(run_dir, step) / "model.safetensors")


@pytest.mark.parametrize("family", ["statespace", "dnabert"])
def test_kill_and_resume_equals_uninterrupted(tmp_path, family):
    train, valid = write_dataset(tmp_path, seed=0), write_dataset(tmp_path, n=8, seed=1)
    recipe = tiny_recipe(family, steps=4)
    kwargs = dict(seed=5, valid_paths=[valid], species=SPECIES)
    pretrain(recipe, [train], tmp_path / "whole", **kwargs)
    pretrain(recipe, [train], tmp_path / "killed", max_steps_this_run=2, **kwargs)
    assert not checkpoint_path(tmp_path / "killed", 4).exists()
    with pytest.raises(UserError, match="--resume"):
        pretrain(recipe, [train], tmp_path / "killed", **kwargs)
    pretrain(recipe, [train], tmp_path / "killed", resume=True, **kwargs)
    whole, resumed = weights(tmp_path / "whole", 4), weights(tmp_path / "killed", 4)
    assert all(torch.equal(whole[name], resumed[name]) for name in whole)
    assert not all(torch.equal(whole[name], weights(tmp_path / "whole", 2)[name]) for name in whole)


def pretrain_cli(workdir, recipe, train, valid, checkpoint_dir, *extra, threads=2):
    """``pretrain.py`` as a scheduler runs it: a new process in its own (fresh) work directory, on ``threads`` cores."""
    Path(workdir).mkdir(parents=True)
    command = [sys.executable, str(PROJECT / "bin" / "pretrain.py"), "--recipe", str(recipe), "--valid", str(valid),
               "--seed", "5", "--out", "run", "--checkpoint-dir", str(checkpoint_dir), "--resume", "--no-progress",
               *extra, str(train)]
    return subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), OMP_NUM_THREADS=str(threads)))


@pytest.mark.slow
def test_sigkill_then_fresh_work_directory_ends_with_uninterrupted_weights(tmp_path):
    train, valid = write_dataset(tmp_path, seed=0, species=["Homo_sapiens"]), write_dataset(tmp_path, n=8, seed=1)
    recipe = tiny_recipe("dnabert", steps=40, checkpoint_every=5, valid_every=5, log_every=5)
    recipe_file = tmp_path / "recipe.json"
    recipe_file.write_text(json.dumps(recipe.to_dict()))
    # the uninterrupted run in a process of its own too: the weights depend on the number of torch
    # threads, which another test may have changed in this process
    whole = pretrain_cli(tmp_path / "whole", recipe_file, train, valid, tmp_path / "whole_checkpoints")
    _, stderr = whole.communicate()
    assert whole.returncode == 0, stderr

    checkpoints = tmp_path / "persistent"
    attempt = pretrain_cli(tmp_path / "work1", recipe_file, train, valid, checkpoints)
    while not checkpoint_steps(None, checkpoints) and attempt.poll() is None:
        time.sleep(0.005)
    attempt.send_signal(signal.SIGKILL)  # the scheduler's kill: no handler runs, nothing is flushed
    assert attempt.wait() == -signal.SIGKILL, attempt.communicate()
    done = checkpoint_steps(None, checkpoints)
    assert done and done[-1] < 40
    # what a kill can leave behind must never be taken for a checkpoint
    (checkpoints / f".step-{done[-1] + 5}.x1.tmp").mkdir()
    (checkpoints / "step-35").mkdir()  # no trainer_state.pt: incomplete

    # retried on a machine with another number of cores: it resumes with the checkpoint's thread count
    attempt = pretrain_cli(tmp_path / "work2", recipe_file, train, valid, checkpoints, threads=1)
    stdout, stderr = attempt.communicate()
    assert attempt.returncode == 0, stderr
    assert "step 40 of 40" in stderr
    whole, resumed = weights(tmp_path / "whole" / "run", 40), weights(tmp_path / "work2" / "run", 40)
    assert whole.keys() == resumed.keys() and all(torch.equal(whole[name], resumed[name]) for name in whole)
    assert (tmp_path / "work2" / "run" / "checkpoints" / "step-40").resolve() == checkpoints / "step-40"
    log = (tmp_path / "work2" / "run" / "train_log.tsv").read_text().splitlines()
    assert [row.split("\t")[0] for row in log[1:]] == [str(s) for s in range(5, 41, 5)]


def test_max_hours_exits_with_continue_status_and_next_attempt_finishes(tmp_path, cli_modules):
    train, valid = write_dataset(tmp_path, seed=0), write_dataset(tmp_path, n=8, seed=1)
    recipe = tiny_recipe("statespace", steps=6)
    recipe_file = tmp_path / "recipe.json"
    recipe_file.write_text(json.dumps(recipe.to_dict()))
    (tmp_path / "species.txt").write_text("\n".join(SPECIES) + "\n")
    pretrain(recipe, [train], tmp_path / "whole", seed=5, valid_paths=[valid], species=SPECIES)

    checkpoints = tmp_path / "persistent"
    common = ["--recipe", recipe_file, "--valid", valid, "--species", tmp_path / "species.txt", "--seed", 5,
              "--checkpoint-dir", checkpoints, "--resume", "--no-progress"]
    first = run_cli("pretrain", [*common, "--out", tmp_path / "attempt1", "--max-hours", 1e-9, train])
    assert first.exit_code == CONTINUE_EXIT_STATUS, first.output
    assert checkpoint_steps(None, checkpoints) == [1]  # one step, then the time was up
    assert not (tmp_path / "attempt1" / "checkpoints").exists()  # links only once the run is done
    second = run_cli("pretrain", [*common, "--out", tmp_path / "attempt2", train])
    assert second.exit_code == 0, second.output
    whole, resumed = weights(tmp_path / "whole", 6), weights(tmp_path / "attempt2", 6)
    assert all(torch.equal(whole[name], resumed[name]) for name in whole)


@pytest.mark.slow
def test_planted_motif_loss_falls_below_unigram_entropy(tmp_path):
    train = write_dataset(tmp_path, n=200, seed=0, motif="ACGGTCATTG")
    valid = write_dataset(tmp_path, n=20, seed=1, motif="ACGGTCATTG")
    counts = np.unique(list("".join(line.strip() for line in open(valid) if not line.startswith(">"))), return_counts=True)[1]
    unigram_entropy = -(counts / counts.sum() * np.log(counts / counts.sum())).sum()
    recipe = tiny_recipe("statespace", steps=60, lr=1e-2, tokens_per_batch=1024, tokens_per_step=1024,
                         context_tokens=128, valid_every=60, checkpoint_every=60, log_every=10, edge_margin=0)
    trainer = pretrain(recipe, [train], tmp_path / "run", seed=0, valid_paths=[valid], species=SPECIES)
    final = trainer.log_rows[-1]["valid_loss"]
    assert final < 0.7 * unigram_entropy


def test_choose_checkpoint_rules():
    import pandas as pd

    losses = pd.DataFrame({"step": [1, 2, 3, 4, 5, 6], "train_loss": [2.0, 1.5, 1.2, 1.1, 1.19, 1.095],
                           "valid_loss": [2.1, 1.6, 1.3, 1.25, 1.27, math.nan]})
    # step 5: |1.19 - 1.5| / 1.5 = 21 %; step 6: |1.095 - 1.2| / 1.2 = 8.75 %; no plateau at 1 %
    assert choose_checkpoint(losses)[0] == 6
    assert choose_checkpoint(losses, tolerance=0.1)[0] == 6
    assert choose_checkpoint(losses, tolerance=0.25)[0] == 5
    assert choose_checkpoint(losses, rule="valid")[0] == 4


def run_cli(module, args):
    import importlib

    return CliRunner().invoke(importlib.import_module(module).main, [str(a) for a in args])


@pytest.fixture(scope="module")
def cli_modules():
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "bin"))
    yield
    sys.path.remove(str(Path(__file__).parents[1] / "bin"))


def test_cli_errors_exit_2(tmp_path, cli_modules):
    train = write_dataset(tmp_path)
    (tmp_path / "empty.fa").write_text("")
    (tmp_path / "bad.json").write_text(json.dumps({**json.loads((RECIPES / "dnabert_tiny.json").read_text()), "lr": 0}))
    (tmp_path / "species.txt").write_text("Homo_sapiens\n")  # Mus_musculus is unknown to the model
    cases = [
        (["--recipe", tmp_path / "bad.json", train], "'lr'"),
        (["--recipe", RECIPES / "dnabert_tiny.json", tmp_path / "empty.fa"], "no sequence"),
        (["--recipe", RECIPES / "statespace_tiny.json", "--species", tmp_path / "species.txt", train], "Mus_musculus"),
    ]
    for args, message in cases:
        result = run_cli("pretrain", [*args, "--out", tmp_path / "run", "--no-progress"])
        assert result.exit_code == 2 and message in result.output, result.output
        assert not (tmp_path / "run").exists()


def test_select_checkpoint_cli_writes_model(tmp_path, cli_modules):
    train = write_dataset(tmp_path)
    pretrain(tiny_recipe("statespace", steps=4), [train], tmp_path / "run", species=SPECIES)
    result = run_cli("select_checkpoint", ["--run", tmp_path / "run", "--out", tmp_path / "model"])
    assert result.exit_code == 0, result.output
    info = json.loads((tmp_path / "model" / "utrbench.json").read_text())
    assert info["provenance"]["selection"]["step"] == 4 and info["provenance"]["step"] == 4
    assert info["species"] == SPECIES
    assert not (tmp_path / "model" / "trainer_state.pt").exists()
    assert run_cli("select_checkpoint", ["--run", tmp_path / "run", "--rule", "valid", "--out", tmp_path / "m2"]).exit_code == 2
