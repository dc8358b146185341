"""Pretraining recipes: one JSON file per family and size (``conf/recipes/<family>_<size>.json``).

A recipe holds every hyper-parameter of a run, so a run is described by its recipe, its data,
its seed and the number of devices. Batch sizes are token budgets: ``tokens_per_batch`` is what
one device holds in one forward pass (memory), ``tokens_per_step`` the effective batch of one
optimiser step; gradient accumulation makes up the difference for the devices at hand, so the
same recipe trains the same way on one GPU or several.
"""

import json
from dataclasses import dataclass, fields
from pathlib import Path

from utrbench.errors import UserError

SCHEDULES = ("constant", "linear", "cyclic", "inverse_sqrt")
PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class Recipe:
    """Hyper-parameters of one pretraining run (field meanings in the recipe JSON files)."""

    family: str
    size: str
    steps: int
    context_tokens: int
    tokens_per_batch: int
    tokens_per_step: int
    lr: float
    betas: tuple = (0.9, 0.98)
    eps: float = 1e-6
    weight_decay: float = 0.01
    schedule: str = "linear"
    warmup_steps: int = 0
    decay_steps: int = 0  # linear/cyclic: steps of the descent; 0 = until the last step
    final_lr_fraction: float = 0.0  # linear/cyclic: lr at the bottom, as a fraction of the peak
    max_grad_norm: float = 1.0  # 0 = no clipping
    mask_rate: float = 0.15  # target fraction of masked tokens (positions for nucleotide models)
    mask_token_fraction: float = 0.8  # of the masked: replaced by the mask id
    random_token_fraction: float = 0.1  # of the masked: replaced by a random token; the rest kept
    edge_margin: int = 0  # nucleotide masking: no masked position this close to either end
    shift_max: int = 0  # random shift in [-shift_max, shift_max) nt before cropping; 0 = off
    precision: str = "bf16"  # autocast dtype on CUDA; the CPU always runs fp32
    log_every: int = 100
    valid_every: int = 1000
    valid_max_sequences: int = 1000
    checkpoint_every: int = 1000

    def accumulation_steps(self, world_size: int) -> int:
        """Micro-batches per optimiser step on each of ``world_size`` devices."""
        return max(1, round(self.tokens_per_step / (self.tokens_per_batch * world_size)))

    def to_dict(self) -> dict:
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v for f in fields(self)}


def _check(condition, path, key, requirement):
    if not condition:
        raise UserError(f"{path}: recipe value {key!r} {requirement}.")


def validate_recipe(recipe: Recipe, path) -> Recipe:
    """Raise UserError naming the file and key of the first value outside its range."""
    for key in ("steps", "context_tokens", "tokens_per_batch", "tokens_per_step", "log_every",
                "valid_every", "valid_max_sequences", "checkpoint_every"):
        _check(getattr(recipe, key) >= 1, path, key, "must be a positive integer")
    for key in ("warmup_steps", "decay_steps", "edge_margin", "shift_max"):
        _check(getattr(recipe, key) >= 0, path, key, "must not be negative")
    _check(recipe.tokens_per_batch >= recipe.context_tokens, path, "tokens_per_batch",
           f"must hold at least one full context of {recipe.context_tokens} tokens")
    _check(recipe.lr > 0, path, "lr", "must be positive")
    _check(len(recipe.betas) == 2 and all(0 <= b < 1 for b in recipe.betas), path, "betas",
           "must be two numbers in [0, 1)")
    _check(recipe.eps > 0, path, "eps", "must be positive")
    _check(recipe.weight_decay >= 0, path, "weight_decay", "must not be negative")
    _check(recipe.max_grad_norm >= 0, path, "max_grad_norm", "must not be negative")
    _check(0 < recipe.mask_rate < 1, path, "mask_rate", "must lie strictly between 0 and 1")
    _check(0 <= recipe.final_lr_fraction <= 1, path, "final_lr_fraction", "must lie in [0, 1]")
    for key in ("mask_token_fraction", "random_token_fraction"):
        _check(0 <= getattr(recipe, key) <= 1, path, key, "must lie in [0, 1]")
    _check(recipe.mask_token_fraction + recipe.random_token_fraction <= 1, path, "random_token_fraction",
           "plus mask_token_fraction must not exceed 1")
    _check(recipe.schedule in SCHEDULES, path, "schedule", f"must be one of {', '.join(SCHEDULES)}")
    _check(recipe.precision in PRECISIONS, path, "precision", f"must be one of {', '.join(PRECISIONS)}")
    _check(recipe.schedule != "inverse_sqrt" or recipe.warmup_steps >= 1, path, "warmup_steps",
           "must be at least 1 for the inverse_sqrt schedule")
    return recipe


def _coerce(value, default, key, path):
    """Check a JSON value against the type of the field's default."""
    if isinstance(default, bool) or default is None:
        return value
    if isinstance(default, tuple):
        _check(isinstance(value, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value),
               path, key, "must be a list of numbers")
        return tuple(float(v) for v in value)
    if isinstance(default, int):
        _check(isinstance(value, int) and not isinstance(value, bool), path, key, "must be an integer")
    elif isinstance(default, float):
        _check(isinstance(value, (int, float)) and not isinstance(value, bool), path, key, "must be a number")
        return float(value)
    elif isinstance(default, str):
        _check(isinstance(value, str), path, key, "must be a string")
    return value


# Type templates for the required fields (they have no default to infer the type from).
_REQUIRED_TYPES = {"family": "", "size": "", "steps": 0, "context_tokens": 0, "tokens_per_batch": 0,
                   "tokens_per_step": 0, "lr": 0.0}


def read_recipe(path) -> Recipe:
    """Load and validate a recipe JSON file; unknown or missing keys are errors."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: recipe file not found.")
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise UserError(f"{path}: not valid JSON ({error}).") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path}: a recipe must be a JSON object of hyper-parameters.")
    known = {f.name: f for f in fields(Recipe)}
    unknown = sorted(set(raw) - set(known) - {"comment"})
    if unknown:
        raise UserError(f"{path}: unknown recipe key(s) {', '.join(unknown)}.")
    missing = [name for name in _REQUIRED_TYPES if name not in raw]
    if missing:
        raise UserError(f"{path}: recipe lacks required key(s) {', '.join(missing)}.")
    values = {}
    for name, value in raw.items():
        if name == "comment":
            continue
        default = _REQUIRED_TYPES.get(name, known[name].default)
        values[name] = _coerce(value, default, name, path)
    return validate_recipe(Recipe(**values), path)
