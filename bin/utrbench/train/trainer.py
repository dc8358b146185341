"""The masked-language-model training loop, checkpoints and exact resume.

One code path serves the CPU (tests), one GPU and several GPUs under ``torchrun``: the
distributed pieces (process group, DDP wrapper, gathering data positions) reduce to no-ops when
``WORLD_SIZE`` is 1, and bf16 autocast is simply disabled off CUDA.

Checkpoints go to a checkpoint directory (default ``<run dir>/checkpoints``; under Nextflow a
persistent folder outside the work directory): ``step-N/`` (a full model directory plus
``trainer_state.pt`` with optimiser, scheduler, data positions and the log so far), each written
under a temporary name and renamed, so a folder ``step-N`` with its state file is complete and a
killed write leaves nothing that looks like a checkpoint. The token store of the shards is kept
there too (``token_store/``), so it is built once per run, not per attempt.

No generator state is saved, because none carries over from one step to the next: every random
draw of a step is a function of the seed and the step alone. The data order and crops are a hash
of each record's position (:mod:`utrbench.train.data`), the masks come from a generator seeded
with ``(seed, rank, step, first micro-batch of a masking pass)``, and dropout from the global
generator re-seeded with ``(seed, rank, step, micro-batch)`` before each forward pass. So how far
the data worker has read ahead, and where an attempt was killed, cannot change a later step. A
resumed run continues exactly where the checkpoint was taken, and on the CPU in deterministic mode
it ends with the same weights as an uninterrupted run, whichever work directory or machine each
attempt runs on: the order of floating-point sums depends on the number of torch threads, so a CPU
run resumes with the thread count its checkpoint was taken with. ``max_hours`` ends an attempt
cleanly: when the next step and a checkpoint might not fit in the time left, it
checkpoints and returns unfinished; the CLI then exits with ``CONTINUE_EXIT_STATUS`` so the
scheduler retries and the next attempt resumes. When the run is finished the run directory gets
``train_log.tsv`` and ``checkpoints/step-N`` links to the checkpoint directory (when that lies
elsewhere).
"""

import contextlib
import hashlib
import math
import os
import random
import struct
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from utrbench.errors import UserError
from utrbench.io import atomic_output, write_tsv
from utrbench.models import init_model, load_model, save_model
from utrbench.models.base import IGNORE_INDEX
from utrbench.train.data import (DROPOUT_STREAM, TRAIN_STREAM, VALID_STREAM, BatchStream, Layout, step_loader,
                                 unpack, validation_batches)
from utrbench.train.masking import check_trainable, mask_batches
from utrbench.train.schedules import build_optimizer, build_scheduler
from utrbench.train.token_store import open_token_store

# Exit status of an attempt that stopped at --max-hours with a checkpoint and wants to be run
# again (EX_TEMPFAIL of sysexits.h: "temporary failure, retry"); modules/local/pretrain retries it.
CONTINUE_EXIT_STATUS = 75
CHECKPOINT_DIR = "checkpoints"
TOKEN_STORE_DIR = "token_store"
PREFETCH_PACKS = 4  # packs of micro-batches the data worker prepares ahead (held in shared memory)
STATE_FILE = "trainer_state.pt"
LOG_FILE = "train_log.tsv"
LOG_COLUMNS = ["step", "epoch", "tokens", "loss", "lr", "tokens_per_s", "valid_loss"]


@dataclass
class Distributed:
    """This process's place among ``world`` data-parallel processes (1 without torchrun)."""

    rank: int
    world: int
    device: torch.device

    @classmethod
    def from_environment(cls, device: str) -> "Distributed":
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if device == "cuda":
            torch.cuda.set_device(local_rank)
        if world > 1:
            torch.distributed.init_process_group("nccl" if device == "cuda" else "gloo")
        return cls(rank, world, torch.device(f"cuda:{local_rank}" if device == "cuda" else "cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wrap(self, model):
        if self.world == 1:
            return model
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)

    def gather(self, value) -> list:
        if self.world == 1:
            return [value]
        gathered = [None] * self.world
        torch.distributed.all_gather_object(gathered, value)
        return gathered

    def sum(self, *values) -> list:
        if self.world == 1:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        torch.distributed.all_reduce(tensor)
        return tensor.tolist()

    def barrier(self):
        if self.world > 1:
            torch.distributed.barrier()

    def close(self):
        if self.world > 1:
            torch.distributed.destroy_process_group()


def configure_determinism(deterministic: bool) -> None:
    """Deterministic kernels (needed for kill-and-resume equality); CUDA also needs a cuBLAS workspace."""
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(deterministic)


def checkpoint_steps(run_dir, checkpoint_dir=None) -> list[int]:
    """Steps of the complete checkpoints (``step-N`` with its state file), ascending.

    In ``checkpoint_dir``, or by default in ``<run_dir>/checkpoints``.
    """
    folder = Path(checkpoint_dir) if checkpoint_dir else Path(run_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    return sorted(int(p.name[5:]) for p in folder.glob("step-*") if p.name[5:].isdigit() and (p / STATE_FILE).exists())


def checkpoint_path(run_dir, step: int, checkpoint_dir=None) -> Path:
    return (Path(checkpoint_dir) if checkpoint_dir else Path(run_dir) / CHECKPOINT_DIR) / f"step-{step}"


def generator_seed(*key) -> int:
    """A torch seed from a tuple of integers (independent streams per step, micro-batch, rank).

    BLAKE2b of the key: well mixed, and cheap enough to call per micro-batch (numpy's SeedSequence
    costs tens of microseconds).
    """
    digest = hashlib.blake2b(struct.pack(f"<{len(key)}q", *key), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


@dataclass
class StepResult:
    loss: float  # mean cross-entropy over all masked tokens of the step (all devices)
    lr: float  # learning rate of this update
    tokens: int  # real tokens processed (all devices)
    data_seconds: float  # waiting for the prefetched batches, moving them to the device, masking
    compute_seconds: float  # forward, backward, optimiser step


class Trainer:
    """Holds model, optimiser, scheduler and data streams; one call of :meth:`train_step` = one update."""

    def __init__(self, loaded, recipe, store, seed, dist: Distributed, valid_store=None):
        family, tokenizer = loaded.family, loaded.tokenizer
        check_trainable(family.tokenization, family.name)
        if recipe.context_tokens > tokenizer.max_tokens:
            raise UserError(
                f"recipe context_tokens {recipe.context_tokens} exceeds the {family.name} model's "
                f"context of {tokenizer.max_tokens} tokens."
            )
        if store.n_records < dist.world:
            raise UserError(f"{store.folder}: {store.n_records} training record(s) cannot feed {dist.world} processes.")
        self.loaded, self.recipe, self.seed, self.dist, self.store = loaded, recipe, seed, dist, store
        self.tokenization = family.tokenization
        self.accumulation = recipe.accumulation_steps(dist.world)
        self.model = loaded.model.to(dist.device)
        self.model.train()
        self.optimizer = build_optimizer(self.model, recipe)
        self.scheduler = build_scheduler(self.optimizer, recipe)
        self.network = dist.wrap(self.model)
        self.layout = Layout.of(tokenizer, self.tokenization, recipe.context_tokens, recipe.shift_max)
        self.position = (0, 0, 0)  # (epoch, chunk, batch) of this rank's next training batch
        self._loader = None  # the data worker's iterator of packs
        self.has_validation = valid_store is not None
        self.valid_batches = []
        if valid_store is not None:
            per_batch = max(1, recipe.tokens_per_batch // recipe.context_tokens)
            valid_layout = Layout.of(tokenizer, self.tokenization, recipe.context_tokens)
            for number, batch in enumerate(validation_batches(valid_store, valid_layout, seed, recipe.valid_max_sequences,
                                                              per_batch, tokenizer.pad_id, dist.rank, dist.world)):
                generator = self._generator(VALID_STREAM, dist.rank, number)
                self.valid_batches += self._masked([[torch.from_numpy(a) for a in batch]], generator)
        self.step, self.tokens_seen, self.log_rows = 0, 0, []
        self.finished = False  # recipe.steps reached
        self.out_of_time = False  # this attempt stopped at max_hours
        self.autocast = dict(device_type=dist.device.type, dtype=torch.bfloat16,
                             enabled=dist.device.type == "cuda" and recipe.precision == "bf16")

    # -- data -------------------------------------------------------------------------------
    def _generator(self, *key) -> torch.Generator:
        return torch.Generator(device=self.dist.device).manual_seed(generator_seed(self.seed, *key))

    def _masked(self, batches, generator) -> list:
        """Move batches ``[ids, attention_mask, species_ids]`` to the device and mask them there, in one pass."""
        on_device = [[t.to(self.dist.device, non_blocking=True) for t in batch] for batch in batches]
        masked = mask_batches(
            [(ids, attention) for ids, attention, _ in on_device], self.loaded.tokenizer, self.tokenization,
            generator, rate=self.recipe.mask_rate, mask_token_fraction=self.recipe.mask_token_fraction,
            random_token_fraction=self.recipe.random_token_fraction, edge_margin=self.recipe.edge_margin,
        )
        return [{"input_ids": inputs, "attention_mask": attention, "species_ids": species, "labels": labels}
                for (inputs, labels), (_, attention, species) in zip(masked, on_device)]

    def next_step_batches(self) -> list:
        """The coming step's micro-batches, masked on the device: what a step waits for before computing.

        The data worker sends them in packs (:class:`~utrbench.train.data.StepPacks`), each
        masked in one pass by a generator of ``(seed, rank, step, first micro-batch of the pack)``.
        """
        if self._loader is None:
            stream = BatchStream(self.store, self.layout, self.seed, self.recipe.tokens_per_batch,
                                 self.loaded.tokenizer.pad_id, self.dist.rank, self.dist.world,
                                 self.recipe.shift_max, position=self.position)
            self._loader = step_loader(stream, self.accumulation, self.dist.device.type == "cuda", self.seed,
                                       PREFETCH_PACKS)
        masked, done = [], False
        while not done:
            pack = next(self._loader)
            batches, self.position = unpack(pack)
            generator = self._generator(TRAIN_STREAM, self.dist.rank, self.step, len(masked))
            masked += self._masked(batches, generator)
            done = bool(pack["step_done"])
        return masked

    def close(self):
        """Stop the data worker (the next step starts a new one at the current position)."""
        self._loader = None  # the loader's iterator is referenced only here: dropping it shuts its worker down

    # -- training ---------------------------------------------------------------------------
    def train_step(self) -> StepResult:
        started = time.perf_counter()
        micro_batches = self.next_step_batches()
        masked_counts = [int((b["labels"] != IGNORE_INDEX).sum()) for b in micro_batches]
        tokens = sum(int(b["attention_mask"].sum()) for b in micro_batches)
        loaded_at = time.perf_counter()

        total_masked = sum(masked_counts)
        loss_sum = 0.0
        for number, (batch, n_masked) in enumerate(zip(micro_batches, masked_counts)):
            last = number == len(micro_batches) - 1
            # gradients are averaged across devices only once, on the last micro-batch
            sync = contextlib.nullcontext() if last or self.dist.world == 1 else self.network.no_sync()
            with sync:
                # dropout's draws depend on (seed, rank, step, micro-batch) only, not on earlier steps
                torch.manual_seed(generator_seed(self.seed, DROPOUT_STREAM, self.dist.rank, self.step, number))
                with torch.autocast(**self.autocast):
                    loss = self.network(**batch).loss
                # weight by masked tokens so the step's loss is the mean over all its masked tokens
                (loss * (n_masked / total_masked)).backward()
            loss_sum += loss.item() * n_masked
        lr = self.optimizer.param_groups[0]["lr"]
        if self.recipe.max_grad_norm:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.recipe.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.dist.device.type == "cuda":
            torch.cuda.synchronize()
        finished = time.perf_counter()

        self.step += 1
        loss_sum, total_masked, tokens = self.dist.sum(loss_sum, total_masked, tokens)
        self.tokens_seen += int(tokens)
        return StepResult(loss_sum / total_masked, lr, int(tokens), loaded_at - started, finished - loaded_at)

    @torch.no_grad()
    def validate(self) -> float:
        """Mean masked-token cross-entropy over the fixed validation batches (all devices)."""
        self.model.eval()
        loss_sum, count = 0.0, 0
        for batch in self.valid_batches:
            n_masked = int((batch["labels"] != IGNORE_INDEX).sum())
            with torch.autocast(**self.autocast):
                loss_sum += self.model(**batch).loss.item() * n_masked
            count += n_masked
        self.model.train()
        loss_sum, count = self.dist.sum(loss_sum, count)
        return loss_sum / count if count else math.nan

    # -- checkpoints ------------------------------------------------------------------------
    def state_dict(self, positions) -> dict:
        return {
            "step": self.step, "tokens_seen": self.tokens_seen, "world": self.dist.world, "data": self.store.folder.name,
            "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
            "data_positions": positions, "log_rows": list(self.log_rows), "torch_threads": torch.get_num_threads(),
        }

    def load_state_dict(self, state, where) -> None:
        if state["world"] != self.dist.world:
            raise UserError(
                f"{where}: the run was checkpointed on {state['world']} process(es) and cannot resume exactly "
                f"on {self.dist.world}."
            )
        if state["data"] != self.store.folder.name:
            raise UserError(f"{where}: the checkpoint was trained on other data (token store {state['data']}, "
                            f"these shards give {self.store.folder.name}); use a new checkpoint directory.")
        self.step, self.tokens_seen, self.log_rows = state["step"], state["tokens_seen"], list(state["log_rows"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.close()
        position = tuple(state["data_positions"][self.dist.rank])
        if len(position) != 3:
            raise UserError(f"{where}: the checkpoint was written by an older version of the data path and cannot be "
                            f"resumed exactly; use a new checkpoint directory.")
        self.position = position
        if self.dist.device.type == "cpu" and "torch_threads" in state:
            torch.set_num_threads(state["torch_threads"])  # the same summation order as the attempts before

    def save_checkpoint(self, run_dir, checkpoint_dir, provenance) -> None:
        """Write ``step-N`` atomically into ``checkpoint_dir`` (main process; every process must call it)."""
        positions = self.dist.gather(self.position)
        if self.dist.is_main:
            self.loaded.info.provenance = dict(provenance, step=self.step, tokens_seen=self.tokens_seen)
            with atomic_output(checkpoint_path(run_dir, self.step, checkpoint_dir)) as tmp:
                save_model(self.loaded, tmp)
                torch.save(self.state_dict(positions), tmp / STATE_FILE)
            write_log(self.log_rows, Path(run_dir) / LOG_FILE)
        self.dist.barrier()


def write_log(rows, path) -> None:
    write_tsv(pd.DataFrame(rows, columns=LOG_COLUMNS), path)


def prepare_model(recipe, run_dir, checkpoint_dir, seed, init_from=None, species=(), resume=False, device="cpu"):
    """The model a run starts from: the newest complete checkpoint, ``init_from``, or a fresh initialisation."""
    done = checkpoint_steps(run_dir, checkpoint_dir)
    if done and not resume:
        where = checkpoint_dir or run_dir
        raise UserError(f"{where}: already holds checkpoints (last step {done[-1]}); pass --resume to continue it.")
    if done:
        newest = checkpoint_path(run_dir, done[-1], checkpoint_dir)
        return load_model(newest, device=device), newest
    if init_from:
        loaded = load_model(init_from, device=device)
        if loaded.info.family != recipe.family:
            raise UserError(f"{init_from}: holds a {loaded.info.family!r} model but the recipe trains {recipe.family!r}.")
        return loaded, None
    return init_model(recipe.family, recipe.size, seed=seed, species=list(species)), None


def open_stores(loaded, paths, valid_paths, checkpoint_dir, dist, workers, log):
    """Token stores of the training and validation shards, built once by the main process."""
    family, tokenizer = loaded.family, loaded.tokenizer
    species_ids = {name: i for i, name in enumerate(loaded.info.species)} if family.species_aware and loaded.info.species else None
    min_length = getattr(tokenizer, "k", 1)
    root = Path(checkpoint_dir) / TOKEN_STORE_DIR
    arguments = (root, tokenizer, family.tokenization, min_length, species_ids, workers)
    if dist.is_main:
        open_token_store(paths, *arguments, log=log)
        if valid_paths:
            open_token_store(valid_paths, *arguments, log=log)
    dist.barrier()
    return open_token_store(paths, *arguments), open_token_store(valid_paths, *arguments) if valid_paths else None


def link_checkpoints(run_dir, checkpoint_dir) -> None:
    """``<run_dir>/checkpoints/step-N`` -> the checkpoint directory's, so later steps read one run folder."""
    links = Path(run_dir) / CHECKPOINT_DIR
    if links.resolve() == Path(checkpoint_dir).resolve():
        return
    links.mkdir(parents=True, exist_ok=True)
    for step in checkpoint_steps(run_dir, checkpoint_dir):
        link = links / f"step-{step}"
        if not link.is_symlink():
            link.symlink_to(checkpoint_path(run_dir, step, checkpoint_dir).resolve(), target_is_directory=True)


def pretrain(recipe, train_paths, run_dir, seed=0, valid_paths=(), device="cpu", init_from=None, species=(),
             resume=False, max_steps_this_run=None, deterministic=True, progress=False, recipe_name="",
             checkpoint_dir=None, max_hours=None, workers=1, log=None):
    """Train towards ``recipe.steps`` optimiser steps, checkpointing into ``checkpoint_dir``; returns the trainer.

    ``checkpoint_dir`` defaults to ``<run_dir>/checkpoints``. The attempt ends early, with a
    checkpoint, after ``max_steps_this_run`` steps or before ``max_hours`` have passed;
    ``trainer.finished`` tells whether the recipe's steps are done.
    """
    from utrbench.progress import SILENT, Progress

    started = time.monotonic()
    deadline = started + max_hours * 3600 if max_hours else None
    checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else Path(run_dir) / CHECKPOINT_DIR
    configure_determinism(deterministic)
    dist = Distributed.from_environment(device)
    trainer = None
    try:
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        loaded, checkpoint = prepare_model(recipe, run_dir, checkpoint_dir, seed, init_from, species, resume, device)
        check_trainable(loaded.family.tokenization, loaded.family.name)
        store, valid_store = open_stores(loaded, list(train_paths), list(valid_paths), checkpoint_dir, dist,
                                         workers, log)
        trainer = Trainer(loaded, recipe, store, seed, dist, valid_store)
        if checkpoint is not None:
            trainer.load_state_dict(torch.load(checkpoint / STATE_FILE, weights_only=True), checkpoint)
        provenance = dict(loaded.info.provenance, pretraining={
            "recipe": recipe_name, "hyperparameters": recipe.to_dict(), "seed": seed, "world_size": dist.world,
            "train": [Path(p).name for p in train_paths], "valid": [Path(p).name for p in valid_paths],
            "init_from": str(init_from) if init_from else None,
        })
        provenance.pop("step", None)
        provenance.pop("tokens_seen", None)
        _run(trainer, recipe, run_dir, checkpoint_dir, provenance, max_steps_this_run, deadline,
             Progress(f"pretraining from step {trainer.step}", recipe.steps - trainer.step, "steps")
             if progress and dist.is_main else SILENT)
        trainer.finished = trainer.step >= recipe.steps
        if dist.is_main:
            write_log(trainer.log_rows, Path(run_dir) / LOG_FILE)
            if trainer.finished:
                link_checkpoints(run_dir, checkpoint_dir)
        return trainer
    finally:
        if trainer is not None:
            trainer.close()
        dist.close()


def _run(trainer, recipe, run_dir, checkpoint_dir, provenance, max_steps_this_run, deadline, progress):
    """Steps until the recipe's end, ``max_steps_this_run``, or too close to ``deadline`` (monotonic s)."""
    limit = recipe.steps if max_steps_this_run is None else min(recipe.steps, trainer.step + max_steps_this_run)
    interval = {"loss": 0.0, "steps": 0, "tokens": 0, "started": time.perf_counter()}
    longest_step = checkpoint_seconds = 0.0
    while trainer.step < limit:
        step_started = time.monotonic()
        result = trainer.train_step()
        longest_step = max(longest_step, time.monotonic() - step_started)
        interval["loss"] += result.loss
        interval["steps"] += 1
        interval["tokens"] += result.tokens
        progress.update(1)
        step = trainer.step
        # stop while another step, a validation and a checkpoint still fit (twice the slowest seen)
        out_of_time = deadline is not None and time.monotonic() + 2 * (longest_step + checkpoint_seconds) > deadline
        # every process must agree to stop at the same step
        out_of_time = trainer.dist.sum(float(out_of_time))[0] > 0 and step < limit
        checkpoint = step % recipe.checkpoint_every == 0 or step == limit or out_of_time
        validate = trainer.has_validation and (step % recipe.valid_every == 0 or checkpoint)
        if step % recipe.log_every == 0 or checkpoint or validate:
            elapsed = time.perf_counter() - interval["started"]
            trainer.log_rows.append({
                "step": step, "epoch": trainer.position[0], "tokens": trainer.tokens_seen,
                "loss": interval["loss"] / interval["steps"], "lr": result.lr,
                "tokens_per_s": interval["tokens"] / elapsed if elapsed > 0 else math.nan,
                "valid_loss": trainer.validate() if validate else math.nan,
            })
            interval = {"loss": 0.0, "steps": 0, "tokens": 0, "started": time.perf_counter()}
            if validate:
                row = trainer.log_rows[-1]
                progress.write(f"step {step}: train loss {row['loss']:.4f}, validation loss {row['valid_loss']:.4f}")
        if checkpoint:
            saving_started = time.monotonic()
            trainer.save_checkpoint(run_dir, checkpoint_dir, provenance)
            checkpoint_seconds = max(checkpoint_seconds, time.monotonic() - saving_started)
        if out_of_time:
            trainer.out_of_time = True
            break
    progress.close()
