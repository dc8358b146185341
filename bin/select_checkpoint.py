#!/usr/bin/env python3
"""Pick the checkpoint of a pretraining run and write it as a model directory."""

import click

from utrbench.cli import command


@command()
@click.option("--run", "run_dir", required=True, type=click.Path(), help="Run directory written by pretrain.py.")
@click.option("--rule", type=click.Choice(["plateau", "valid"]), default="plateau", show_default=True,
              help="plateau: the study's first checkpoint whose training loss changed by < tolerance over "
                   "the last --window checkpoints; valid: lowest validation loss.")
@click.option("--tolerance", default=0.01, show_default=True, help="Relative loss change that counts as a plateau.")
@click.option("--window", default=3, show_default=True, help="Checkpoints to look back for the plateau rule.")
@click.option("--out", "out", required=True, type=click.Path(), help="Model directory to write.")
def main(run_dir, rule, tolerance, window, out):
    from transformers.utils import logging as transformers_logging

    from utrbench.errors import UserError
    from utrbench.models import load_model, save_model
    from utrbench.train.selection import checkpoint_losses, choose_checkpoint
    from utrbench.train.trainer import checkpoint_path

    if tolerance <= 0 or window < 1:
        raise UserError("--tolerance must be positive and --window at least 1.")
    transformers_logging.disable_progress_bar()
    losses = checkpoint_losses(run_dir)
    step, reason = choose_checkpoint(losses, rule, tolerance, window)
    loaded = load_model(checkpoint_path(run_dir, step))
    chosen = losses.set_index("step").loc[step]
    loaded.info.provenance = dict(loaded.info.provenance, selection={
        "rule": rule, "tolerance": tolerance, "window": window, "step": step, "reason": reason,
        "train_loss": float(chosen["train_loss"]),
        "valid_loss": None if chosen["valid_loss"] != chosen["valid_loss"] else float(chosen["valid_loss"]),
        "checkpoints": losses["step"].tolist(),
    })
    save_model(loaded, out)
    click.echo(f"chose step {step} ({reason}) -> {out}", err=True)


if __name__ == "__main__":
    main()
