"""Learning-rate schedules of the study, as multipliers of the peak rate for ``LambdaLR``.

Each schedule is a small picklable object ``f(step) -> factor`` where ``step`` counts optimiser
steps already taken (``LambdaLR`` calls it with 0 before the first step), so the first update
of a warm-up uses ``1 / warmup_steps`` of the peak rate rather than zero.
"""

import math
from dataclasses import dataclass

import torch


def _warmup(step: int, warmup_steps: int) -> float:
    return (step + 1) / warmup_steps


@dataclass
class Constant:
    """Peak rate after an optional linear warm-up (the state-space recipe uses no warm-up)."""

    warmup_steps: int = 0

    def __call__(self, step: int) -> float:
        return _warmup(step, self.warmup_steps) if step < self.warmup_steps else 1.0


@dataclass
class LinearWarmupDecay:
    """Linear warm-up to the peak, then linear descent to ``final`` over ``decay_steps``, then flat."""

    warmup_steps: int
    decay_steps: int
    final: float = 0.0

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return _warmup(step, self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / max(1, self.decay_steps))
        return 1.0 - (1.0 - self.final) * progress


@dataclass
class Cyclic:
    """Triangular cycles as ``torch.optim.lr_scheduler.CyclicLR``: up ``warmup_steps``, down ``decay_steps``.

    The bottom of every cycle is ``final`` of the peak; DNABERT's recipe is one cycle of
    10 k steps up and 200 k down.
    """

    warmup_steps: int
    decay_steps: int
    final: float = 0.0

    def __call__(self, step: int) -> float:
        period = self.warmup_steps + self.decay_steps
        position = (step + 1) % period
        if self.warmup_steps and position <= self.warmup_steps:
            height = position / self.warmup_steps
        else:
            height = 1.0 - (position - self.warmup_steps) / max(1, self.decay_steps)
        return self.final + (1.0 - self.final) * height


@dataclass
class InverseSqrt:
    """Linear warm-up, then the peak times ``sqrt(warmup_steps / step)`` (NT-v2)."""

    warmup_steps: int

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return _warmup(step, self.warmup_steps)
        return math.sqrt(self.warmup_steps / (step + 1))


def make_schedule(recipe):
    """The factor function a recipe asks for."""
    decay = recipe.decay_steps or max(1, recipe.steps - recipe.warmup_steps)
    if recipe.schedule == "constant":
        return Constant(recipe.warmup_steps)
    if recipe.schedule == "linear":
        return LinearWarmupDecay(recipe.warmup_steps, decay, recipe.final_lr_fraction)
    if recipe.schedule == "cyclic":
        return Cyclic(recipe.warmup_steps, decay, recipe.final_lr_fraction)
    return InverseSqrt(recipe.warmup_steps)


def build_optimizer(model: torch.nn.Module, recipe) -> torch.optim.AdamW:
    """AdamW with the recipe's rate, betas, eps and weight decay.

    Biases and normalisation weights (parameters with fewer than two dimensions) get no weight
    decay, as in BERT-style recipes.
    """
    parameters = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in parameters if p.ndim >= 2], "weight_decay": recipe.weight_decay},
        {"params": [p for p in parameters if p.ndim < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=recipe.lr, betas=tuple(recipe.betas), eps=recipe.eps)


def build_scheduler(optimizer, recipe) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, make_schedule(recipe))
