"""Regression fine-tuning of any registered model family (reference 02, §2).

The head follows DNABERT-2's published fine-tuning: the final hidden state of the first token
([CLS]) -> Linear(H, H) -> tanh -> dropout -> Linear(H, 1), newly initialised (normal, std
0.02). A family whose tokenizer has no CLS token (``cls_id is None``) is pooled by the mean over
real (non-padding) tokens instead. Loss: MSE on log10 TPM. Optimiser: AdamW (weight decay on
matrices only, as the Hugging Face Trainer), linear warm-up then linear decay, gradient-norm clip
1.0; the checkpoint with the lowest dev loss is kept, with optional early stopping.

Input length: the study tokenised the whole 4,001-bp window with ``model_max_length`` 1000
(about 850 DNABERT-2 tokens, so little is cut), although DNABERT-2's config says 512: ALiBi has no
position table, so longer inputs need nothing learned. The same holds for every model without a
learned absolute position table (ALiBi, rotary, convolutions); a model with one (DNABERT's BERT
embeddings) cannot see past its context, so its windows are cut there.
"""

import copy
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from utrbench.errors import UserError
from utrbench.progress import SILENT

HEAD_WEIGHTS = "regression_head.safetensors"
HEAD_CONFIG = "regression_head.json"
STUDY_MAX_TOKENS = 1000  # model_max_length of the study's fine-tuning run (reference 02, section 2)
STUDY_SPECIES = "Homo_sapiens"  # GTEx windows are human; a species-aware model is told so


class RegressionHead(nn.Module):
    """Pool a sequence, then dense + tanh + dropout + linear to one value."""

    def __init__(self, hidden_size: int, dropout: float = 0.1, pooling: str = "first_token"):
        super().__init__()
        if pooling not in ("first_token", "mean"):
            raise ValueError(f"unknown pooling {pooling!r}")
        self.pooling = pooling
        self.dropout_rate = dropout
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, 1)
        for layer in (self.dense, self.out):
            nn.init.normal_(layer.weight, std=0.02)
            nn.init.zeros_(layer.bias)

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """``hidden [B, T, H]`` -> predictions ``[B]``."""
        if self.pooling == "first_token":
            pooled = hidden[:, 0]
        else:
            from utrbench.models.base import mean_pool

            pooled = mean_pool(hidden, attention_mask)
        return self.out(self.dropout(torch.tanh(self.dense(pooled)))).squeeze(-1)

    def config(self) -> dict:
        return {"hidden_size": self.dense.in_features, "dropout": self.dropout_rate, "pooling": self.pooling}


class Regressor(nn.Module):
    """A family model's encoder plus a :class:`RegressionHead`; every sequence is of species ``species_id``."""

    def __init__(self, encoder, head: RegressionHead, species_id: int = 0):
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.species_id = int(species_id)

    def forward(self, input_ids, attention_mask):
        species = torch.full((input_ids.shape[0],), self.species_id, dtype=torch.long, device=input_ids.device)
        hidden = self.encoder.encode(input_ids, attention_mask, species)[-1]
        return self.head(hidden, attention_mask).float()


def new_head(loaded, dropout=0.1, seed=0) -> RegressionHead:
    """A freshly initialised head sized to the model, pooled as the tokenizer allows."""
    hidden_size = getattr(loaded.model.config, "hidden_size", None)
    if hidden_size is None:
        raise UserError(f"model family {loaded.family.name!r} has no trainable encoder to fine-tune.")
    torch.manual_seed(seed)
    pooling = "first_token" if loaded.tokenizer.cls_id is not None else "mean"
    return RegressionHead(hidden_size, dropout, pooling)


def token_limit(loaded, requested: int = STUDY_MAX_TOKENS) -> int:
    """Tokens per window: ``requested``, cut to the model's context only if it has a learned position table."""
    learned_positions = any(name.split(".")[-1] == "position_embeddings" and isinstance(module, nn.Embedding)
                            for name, module in loaded.model.named_modules())
    return min(requested, loaded.tokenizer.max_tokens) if learned_positions else requested


def tokenize(tokenizer, sequences, max_tokens: int) -> list:
    """Token ids per sequence, cut to ``max_tokens`` keeping a final separator token."""
    encoded = []
    for sequence in sequences:
        ids = tokenizer.encode(sequence).ids
        if len(ids) > max_tokens:
            last = ids[-1:] if tokenizer.sep_id is not None and ids[-1] == tokenizer.sep_id else ids[max_tokens - 1:max_tokens]
            ids = np.concatenate([ids[:max_tokens - 1], last])
        encoded.append(ids)
    return encoded


def collate(token_ids: list, pad_id: int):
    """Right-pad a batch: ``(input_ids [B, T], attention_mask [B, T])``."""
    length = max(len(ids) for ids in token_ids)
    input_ids = np.full((len(token_ids), length), pad_id, dtype=np.int64)
    mask = np.zeros((len(token_ids), length), dtype=bool)
    for row, ids in enumerate(token_ids):
        input_ids[row, :len(ids)] = ids
        mask[row, :len(ids)] = True
    return torch.from_numpy(input_ids), torch.from_numpy(mask)


@dataclass
class TrainingSettings:
    epochs: int = 5
    batch_size: int = 8
    gradient_accumulation: int = 4  # 8 x 4 = the published effective batch of 32
    learning_rate: float = 3e-5
    weight_decay: float = 0.01
    warmup_steps: int = 50
    max_grad_norm: float = 1.0
    eval_every: int = 0  # optimizer steps between dev evaluations; 0 = twice per epoch
    patience: int = 2  # evaluations without improvement before stopping; 0 = never stop early
    precision: str = "auto"  # auto (bf16/fp16 on GPU, fp32 on CPU), fp32, bf16, fp16
    seed: int = 42


@dataclass
class TrainingResult:
    best_dev_loss: float
    best_step: int
    log: list = field(default_factory=list)  # dict rows: step, epoch, train_loss, dev_loss, dev_pearson_r


def _autocast_dtype(precision: str, device: str):
    if precision == "fp32" or (precision == "auto" and device == "cpu"):
        return None
    if precision == "fp16" or (precision == "auto" and not torch.cuda.is_bf16_supported()):
        return torch.float16
    return torch.bfloat16


def predict(regressor, token_ids, pad_id, batch_size, device, precision="auto") -> np.ndarray:
    """Predictions for pre-tokenised sequences, in order."""
    dtype = _autocast_dtype(precision, device)
    regressor.eval()
    outputs = []
    with torch.no_grad():
        for first in range(0, len(token_ids), batch_size):
            input_ids, mask = collate(token_ids[first:first + batch_size], pad_id)
            with torch.autocast(device_type=device, dtype=dtype or torch.float32, enabled=dtype is not None):
                outputs.append(regressor(input_ids.to(device), mask.to(device)).cpu().numpy())
    return np.concatenate(outputs).astype(np.float64) if outputs else np.zeros(0)


def optimizer_steps(n_train: int, settings: TrainingSettings) -> int:
    """Optimizer steps of a full run (the last accumulation of an epoch may be short)."""
    batches_per_epoch = math.ceil(n_train / settings.batch_size)
    return math.ceil(batches_per_epoch / settings.gradient_accumulation) * settings.epochs


def train_regressor(regressor, pad_id, train_ids, y_train, dev_ids, y_dev, settings: TrainingSettings,
                    device="cpu", progress=SILENT) -> TrainingResult:
    """Fine-tune ``regressor`` in place; on return it holds the weights with the lowest dev loss.

    ``progress`` (:class:`utrbench.progress.Progress`) counts optimizer steps and gets one line per
    dev evaluation.
    """
    from transformers.optimization import get_linear_schedule_with_warmup

    if len(train_ids) == 0 or len(dev_ids) == 0:
        raise UserError("fine-tuning needs training and dev genes; check the split column of the labels.")
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    regressor.to(device)
    decay = [p for p in regressor.parameters() if p.ndim >= 2]
    no_decay = [p for p in regressor.parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": settings.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=settings.learning_rate)
    batches_per_epoch = math.ceil(len(train_ids) / settings.batch_size)
    steps_per_epoch = math.ceil(batches_per_epoch / settings.gradient_accumulation)
    total_steps = optimizer_steps(len(train_ids), settings)
    scheduler = get_linear_schedule_with_warmup(optimizer, min(settings.warmup_steps, total_steps), total_steps)
    eval_every = settings.eval_every or max(1, steps_per_epoch // 2)
    dtype = _autocast_dtype(settings.precision, device)
    scaler = torch.amp.GradScaler(device, enabled=dtype == torch.float16)
    y_train_tensor = torch.tensor(y_train, dtype=torch.float32)

    def evaluate():
        predictions = predict(regressor, dev_ids, pad_id, settings.batch_size, device, settings.precision)
        loss = float(np.mean((predictions - y_dev) ** 2))
        pearson = float(np.corrcoef(predictions, y_dev)[0, 1]) if np.std(predictions) > 0 else 0.0
        return loss, pearson

    best_loss, initial_pearson = evaluate()
    best_state, best_step = copy.deepcopy(regressor.state_dict()), 0
    log = [{"step": 0, "epoch": 0.0, "train_loss": float("nan"), "dev_loss": best_loss, "dev_pearson_r": initial_pearson}]
    step, stale, running = 0, 0, []
    for epoch in range(settings.epochs):
        order = torch.randperm(len(train_ids), generator=generator).tolist()
        regressor.train()
        for batch_index in range(batches_per_epoch):
            rows = order[batch_index * settings.batch_size:(batch_index + 1) * settings.batch_size]
            input_ids, mask = collate([train_ids[i] for i in rows], pad_id)
            with torch.autocast(device_type=device, dtype=dtype or torch.float32, enabled=dtype is not None):
                prediction = regressor(input_ids.to(device), mask.to(device))
            loss = nn.functional.mse_loss(prediction, y_train_tensor[rows].to(device))
            scaler.scale(loss / settings.gradient_accumulation).backward()
            running.append(loss.item())
            last_of_epoch = batch_index == batches_per_epoch - 1
            if (batch_index + 1) % settings.gradient_accumulation and not last_of_epoch:
                continue
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(regressor.parameters(), settings.max_grad_norm)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            progress.update(1)
            if step % eval_every and not (last_of_epoch and epoch == settings.epochs - 1):
                continue
            dev_loss, dev_pearson = evaluate()
            regressor.train()
            log.append({"step": step, "epoch": step / steps_per_epoch, "train_loss": float(np.mean(running)),
                        "dev_loss": dev_loss, "dev_pearson_r": dev_pearson})
            running = []
            progress.write(f"step {step} (epoch {step / steps_per_epoch:.2f}): train loss {log[-1]['train_loss']:.4f}, "
                           f"dev loss {dev_loss:.4f}, dev r {dev_pearson:.3f}")
            if dev_loss < best_loss:
                best_loss, best_step, stale = dev_loss, step, 0
                best_state = copy.deepcopy(regressor.state_dict())
            else:
                stale += 1
                if settings.patience and stale >= settings.patience:
                    regressor.load_state_dict(best_state)
                    return TrainingResult(best_loss, best_step, log)
    regressor.load_state_dict(best_state)
    return TrainingResult(best_loss, best_step, log)


def save_regressor(loaded, head: RegressionHead, directory, provenance: dict) -> None:
    """A model directory (reloadable with ``load_model``) plus the head's weights and settings."""
    from safetensors.torch import save_file

    from utrbench.io import atomic_output
    from utrbench.models import save_model

    loaded.info.provenance = dict(loaded.info.provenance, **provenance)
    with atomic_output(directory) as tmp:
        save_model(loaded, tmp)
        save_file({name: tensor.detach().cpu().contiguous() for name, tensor in head.state_dict().items()},
                  str(tmp / HEAD_WEIGHTS))
        (tmp / HEAD_CONFIG).write_text(json.dumps(head.config(), indent=2, sort_keys=True) + "\n")


def load_regressor(directory, device="cpu"):
    """``(loaded, Regressor)`` from a directory written by :func:`save_regressor`."""
    from safetensors.torch import load_file

    from utrbench.models import load_model

    directory = Path(directory)
    if not (directory / HEAD_WEIGHTS).exists():
        raise UserError(f"{directory}: no {HEAD_WEIGHTS}; not a fine-tuned regression model.")
    loaded = load_model(directory, device=device)
    head = RegressionHead(**json.loads((directory / HEAD_CONFIG).read_text()))
    head.load_state_dict(load_file(str(directory / HEAD_WEIGHTS)))
    species_id = loaded.info.species_index(loaded.info.provenance.get("species", STUDY_SPECIES), str(directory))
    return loaded, Regressor(loaded.model, head, species_id).to(device).eval()
