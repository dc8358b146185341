"""The masked-language-model training loop, checkpoints and exact resume.

One code path serves the CPU (tests), one GPU and several GPUs under ``torchrun``: the
distributed pieces (process group, DDP wrapper, gathering data positions) reduce to no-ops when
``WORLD_SIZE`` is 1, and bf16 autocast is simply disabled off CUDA.

A run directory holds ``checkpoints/step-N/`` (a full model directory plus ``trainer_state.pt``
with optimiser, scheduler, data positions, RNG states and the log so far), written atomically,
and ``train_log.tsv``. A resumed run restores all of that and continues exactly where the
checkpoint was taken, so on the CPU in deterministic mode it ends with the same weights as an
uninterrupted run.
"""

import contextlib
import math
import os
import random
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
from utrbench.seq import iter_fasta
from utrbench.train.data import (
    TRAIN_STREAM, VALID_STREAM, BatchStream, ExampleMaker, RecordStream, pad_batch, scan_dataset,
)
from utrbench.train.masking import check_trainable, mask_batch
from utrbench.train.schedules import build_optimizer, build_scheduler

CHECKPOINT_DIR = "checkpoints"
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


def rng_states() -> dict:
    """Python, numpy and torch generator states in types ``torch.load(weights_only=True)`` accepts."""
    kind, key, position, has_gauss, gauss = np.random.get_state()
    states = {"python": random.getstate(), "numpy": (kind, key.tolist(), position, has_gauss, gauss),
              "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict) -> None:
    random.setstate(states["python"])
    kind, key, position, has_gauss, gauss = states["numpy"]
    np.random.set_state((kind, np.array(key, dtype=np.uint32), position, has_gauss, gauss))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def checkpoint_steps(run_dir) -> list[int]:
    """Steps of the complete checkpoints in a run directory, ascending."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    return sorted(int(p.name[5:]) for p in folder.glob("step-*") if p.name[5:].isdigit() and (p / STATE_FILE).exists())


def checkpoint_path(run_dir, step: int) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR / f"step-{step}"


@dataclass
class StepResult:
    loss: float  # mean cross-entropy over all masked tokens of the step (all devices)
    lr: float  # learning rate of this update
    tokens: int  # real tokens processed (all devices)
    data_seconds: float  # reading, tokenizing, batching, masking, moving to the device
    compute_seconds: float  # forward, backward, optimiser step


class Trainer:
    """Holds model, optimiser, scheduler and data streams; one call of :meth:`train_step` = one update."""

    def __init__(self, loaded, recipe, train_paths, seed, dist: Distributed, valid_paths=()):
        family, tokenizer = loaded.family, loaded.tokenizer
        check_trainable(family.tokenization, family.name)
        if recipe.context_tokens > tokenizer.max_tokens:
            raise UserError(
                f"recipe context_tokens {recipe.context_tokens} exceeds the {family.name} model's "
                f"context of {tokenizer.max_tokens} tokens."
            )
        self.loaded, self.recipe, self.seed, self.dist = loaded, recipe, seed, dist
        self.tokenization = family.tokenization
        min_length = getattr(tokenizer, "k", 1)
        summary = scan_dataset(train_paths, loaded.info, family.species_aware, min_length)
        valid_summary = scan_dataset(valid_paths, loaded.info, family.species_aware, min_length) if valid_paths else None
        self.n_train_records = summary.n_records
        self.accumulation = recipe.accumulation_steps(dist.world)
        self.model = loaded.model.to(dist.device)
        self.model.train()
        self.optimizer = build_optimizer(self.model, recipe)
        self.scheduler = build_scheduler(self.optimizer, recipe)
        self.network = dist.wrap(self.model)
        self.make_example = ExampleMaker(tokenizer, self.tokenization, recipe.context_tokens, seed,
                                         summary.species_ids, shift_max=recipe.shift_max)
        self.records = RecordStream(train_paths, seed, dist.rank, dist.world)
        self.batches = BatchStream(self.records, self.make_example, recipe.tokens_per_batch, tokenizer.pad_id)
        self.has_validation = bool(valid_paths)
        self.valid_batches = self._validation_batches(valid_paths, valid_summary) if valid_paths else []
        self.step, self.tokens_seen, self.log_rows = 0, 0, []
        self.autocast = dict(device_type=dist.device.type, dtype=torch.bfloat16,
                             enabled=dist.device.type == "cuda" and recipe.precision == "bf16")

    # -- data -------------------------------------------------------------------------------
    def _masked(self, ids, attention, species, rng):
        inputs, labels = mask_batch(
            ids, attention, self.loaded.tokenizer, self.tokenization, rng, rate=self.recipe.mask_rate,
            mask_token_fraction=self.recipe.mask_token_fraction,
            random_token_fraction=self.recipe.random_token_fraction, edge_margin=self.recipe.edge_margin,
        )
        device = self.dist.device
        return {
            "input_ids": torch.from_numpy(inputs).to(device, non_blocking=True),
            "attention_mask": torch.from_numpy(attention).to(device, non_blocking=True),
            "species_ids": torch.from_numpy(species).to(device, non_blocking=True),
            "labels": torch.from_numpy(labels).to(device, non_blocking=True),
        }

    def _validation_batches(self, paths, summary):
        """Fixed crops and masks of the first ``valid_max_sequences`` usable records (this rank's share)."""
        maker = ExampleMaker(self.loaded.tokenizer, self.tokenization, self.recipe.context_tokens, self.seed,
                             summary.species_ids, stream=VALID_STREAM)
        examples, index = [], 0
        for path in paths:
            for name, sequence in iter_fasta(path):
                if index >= self.recipe.valid_max_sequences:
                    break
                example = maker(0, index, name, sequence)
                if example is not None:
                    if index % self.dist.world == self.dist.rank:
                        examples.append(example)
                    index += 1
        per_batch = max(1, self.recipe.tokens_per_batch // self.recipe.context_tokens)
        batches = []
        for number, start in enumerate(range(0, len(examples), per_batch)):
            rng = np.random.default_rng([self.seed, VALID_STREAM, self.dist.rank, number])
            batches.append(self._masked(*pad_batch(examples[start:start + per_batch], self.loaded.tokenizer.pad_id), rng))
        return batches

    # -- training ---------------------------------------------------------------------------
    def train_step(self) -> StepResult:
        started = time.perf_counter()
        micro_batches = []
        for micro in range(self.accumulation):
            rng = np.random.default_rng([self.seed, TRAIN_STREAM, self.dist.rank, self.step, micro])
            micro_batches.append(self._masked(*self.batches.next_batch(), rng))
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
            "step": self.step, "tokens_seen": self.tokens_seen, "world": self.dist.world,
            "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
            "data_positions": positions, "rng": rng_states(), "log_rows": list(self.log_rows),
        }

    def load_state_dict(self, state, where) -> None:
        if state["world"] != self.dist.world:
            raise UserError(
                f"{where}: the run was checkpointed on {state['world']} process(es) and cannot resume exactly "
                f"on {self.dist.world}."
            )
        self.step, self.tokens_seen, self.log_rows = state["step"], state["tokens_seen"], list(state["log_rows"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.batches = BatchStream(self.records, self.make_example, self.recipe.tokens_per_batch,
                                   self.loaded.tokenizer.pad_id, position=state["data_positions"][self.dist.rank])
        restore_rng_states(state["rng"])

    def save_checkpoint(self, run_dir, provenance) -> None:
        """Write ``checkpoints/step-N`` atomically (main process; every process must call it)."""
        positions = self.dist.gather(self.batches.position)
        if self.dist.is_main:
            self.loaded.info.provenance = dict(provenance, step=self.step, tokens_seen=self.tokens_seen)
            with atomic_output(checkpoint_path(run_dir, self.step)) as tmp:
                save_model(self.loaded, tmp)
                torch.save(self.state_dict(positions), tmp / STATE_FILE)
            write_log(self.log_rows, Path(run_dir) / LOG_FILE)
        self.dist.barrier()


def write_log(rows, path) -> None:
    write_tsv(pd.DataFrame(rows, columns=LOG_COLUMNS), path)


def prepare_model(recipe, run_dir, seed, init_from=None, species=(), resume=False, device="cpu"):
    """The model a run starts from: its latest checkpoint, ``init_from``, or a fresh initialisation."""
    done = checkpoint_steps(run_dir)
    if done and not resume:
        raise UserError(f"{run_dir}: already holds checkpoints (last step {done[-1]}); pass --resume to continue it.")
    if done:
        return load_model(checkpoint_path(run_dir, done[-1]), device=device), checkpoint_path(run_dir, done[-1])
    if init_from:
        loaded = load_model(init_from, device=device)
        if loaded.info.family != recipe.family:
            raise UserError(f"{init_from}: holds a {loaded.info.family!r} model but the recipe trains {recipe.family!r}.")
        return loaded, None
    return init_model(recipe.family, recipe.size, seed=seed, species=list(species)), None


def pretrain(recipe, train_paths, run_dir, seed=0, valid_paths=(), device="cpu", init_from=None, species=(),
             resume=False, max_steps_this_run=None, deterministic=True, progress=False, recipe_name=""):
    """Train to ``recipe.steps`` optimiser steps, checkpointing into ``run_dir``; returns the trainer."""
    from tqdm import tqdm

    configure_determinism(deterministic)
    dist = Distributed.from_environment(device)
    try:
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        loaded, checkpoint = prepare_model(recipe, run_dir, seed, init_from, species, resume, device)
        trainer = Trainer(loaded, recipe, train_paths, seed, dist, valid_paths)
        if checkpoint is not None:
            trainer.load_state_dict(torch.load(checkpoint / STATE_FILE, weights_only=True), checkpoint)
        provenance = dict(loaded.info.provenance, pretraining={
            "recipe": recipe_name, "hyperparameters": recipe.to_dict(), "seed": seed, "world_size": dist.world,
            "train": [Path(p).name for p in train_paths], "valid": [Path(p).name for p in valid_paths],
            "init_from": str(init_from) if init_from else None,
        })
        provenance.pop("step", None)
        provenance.pop("tokens_seen", None)
        _run(trainer, recipe, run_dir, provenance, max_steps_this_run,
             tqdm(total=recipe.steps, initial=trainer.step, unit="step", disable=not (progress and dist.is_main)))
        return trainer
    finally:
        dist.close()


def _run(trainer, recipe, run_dir, provenance, max_steps_this_run, bar):
    limit = recipe.steps if max_steps_this_run is None else min(recipe.steps, trainer.step + max_steps_this_run)
    interval = {"loss": 0.0, "steps": 0, "tokens": 0, "started": time.perf_counter()}
    while trainer.step < limit:
        result = trainer.train_step()
        interval["loss"] += result.loss
        interval["steps"] += 1
        interval["tokens"] += result.tokens
        bar.update(1)
        bar.set_postfix(loss=f"{result.loss:.4f}", refresh=False)
        step = trainer.step
        checkpoint = step % recipe.checkpoint_every == 0 or step == limit
        validate = trainer.has_validation and (step % recipe.valid_every == 0 or checkpoint)
        if step % recipe.log_every == 0 or checkpoint or validate:
            elapsed = time.perf_counter() - interval["started"]
            trainer.log_rows.append({
                "step": step, "epoch": trainer.batches.position[0], "tokens": trainer.tokens_seen,
                "loss": interval["loss"] / interval["steps"], "lr": result.lr,
                "tokens_per_s": interval["tokens"] / elapsed if elapsed > 0 else math.nan,
                "valid_loss": trainer.validate() if validate else math.nan,
            })
            interval = {"loss": 0.0, "steps": 0, "tokens": 0, "started": time.perf_counter()}
        if checkpoint:
            trainer.save_checkpoint(run_dir, provenance)
    bar.close()
