"""Choosing the checkpoint of a run that later steps use.

``plateau`` is the study's rule (``models/losses.ipynb``): take the mean training loss of each
checkpoint interval and pick the first checkpoint whose loss changed by less than ``tolerance``
(relative) against the checkpoint ``window`` before it; if the loss never levels off, the last
checkpoint. ``valid`` picks the checkpoint with the lowest validation loss.
"""

import math

import pandas as pd

from utrbench.errors import UserError
from utrbench.io import read_tsv
from utrbench.train.trainer import LOG_COLUMNS, LOG_FILE, checkpoint_steps

RULES = ("plateau", "valid")


def checkpoint_losses(run_dir) -> pd.DataFrame:
    """Per checkpoint: ``step``, mean training loss since the previous checkpoint, validation loss."""
    steps = checkpoint_steps(run_dir)
    if not steps:
        raise UserError(f"{run_dir}: no checkpoints to choose from.")
    log = read_tsv(f"{run_dir}/{LOG_FILE}", required_columns=LOG_COLUMNS)
    # each log row averages the steps since the row before it
    log = log.assign(weight=log["step"].diff().fillna(log["step"]))
    rows, previous = [], 0
    for step in steps:
        interval = log[(log["step"] > previous) & (log["step"] <= step)]
        if interval.empty:
            raise UserError(f"{run_dir}/{LOG_FILE}: no training loss logged for checkpoint step {step}.")
        train_loss = float((interval["loss"] * interval["weight"]).sum() / interval["weight"].sum())
        valid = log.loc[log["step"] == step, "valid_loss"]
        rows.append({"step": step, "train_loss": train_loss, "valid_loss": float(valid.iloc[0]) if len(valid) else math.nan})
        previous = step
    return pd.DataFrame(rows)


def choose_checkpoint(losses: pd.DataFrame, rule="plateau", tolerance=0.01, window=3) -> tuple[int, str]:
    """The chosen step and a sentence saying why."""
    if rule == "valid":
        valid = losses.dropna(subset=["valid_loss"])
        if valid.empty:
            raise UserError("the run logged no validation loss at its checkpoints; use the plateau rule or pass --valid to pretrain.py.")
        best = valid.loc[valid["valid_loss"].idxmin()]
        return int(best["step"]), f"lowest validation loss {best['valid_loss']:.6g}"
    train = losses["train_loss"].to_numpy()
    for i in range(window, len(train)):
        change = abs(train[i] - train[i - window]) / abs(train[i - window])
        if change < tolerance:
            return int(losses["step"].iloc[i]), (
                f"first checkpoint whose training loss changed by {change:.3%} (< {tolerance:.0%}) over the last {window}"
            )
    return int(losses["step"].iloc[-1]), f"training loss never changed by < {tolerance:.0%} over {window} checkpoints; last checkpoint"
