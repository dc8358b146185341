#!/usr/bin/env python3
"""Pretrain a DNA language model with masked-language modelling on FASTA shards (TRAIN_PATHS).

Run it on the CPU or one GPU; ``--nproc-per-node N`` relaunches it under ``torchrun`` for
data-parallel training on N GPUs. Writes a run directory: ``checkpoints/step-N/`` (model directories with the
trainer state) and ``train_log.tsv``.

Long runs: ``--checkpoint-dir`` keeps the checkpoints (and the one-time token store of the shards) in a folder
that outlives the attempt; a later attempt with ``--resume`` continues from its newest complete checkpoint.
``--max-hours`` ends an attempt before a scheduler's time limit: it checkpoints and exits with status 75
(EX_TEMPFAIL, "run me again"); exit status 0 means the recipe's steps are done.
"""

import click

from utrbench.cli import command, device_option, resolve_device


@command()
@click.option("--recipe", "recipe_path", required=True, type=click.Path(), help="Recipe JSON (conf/recipes/<family>_<size>.json).")
@click.option("--valid", "valid_paths", multiple=True, type=click.Path(), help="Validation FASTA; repeatable.")
@click.option("--species", "species_path", type=click.Path(), help="species.txt of the dataset (species-aware families).")
@click.option("--out", "run_dir", required=True, type=click.Path(), help="Run directory to create or resume.")
@click.option("--seed", default=0, show_default=True, help="Seed of initialisation, data order, crops and masks.")
@click.option("--init-from", type=click.Path(), help="Model directory to continue training from instead of a fresh model.")
@click.option("--resume", is_flag=True, help="Continue from the newest complete checkpoint (start fresh if none).")
@click.option("--checkpoint-dir", type=click.Path(file_okay=False),
              help="Where checkpoints and the token store live, e.g. outside a scheduler's work directory "
                   "[default: <out>/checkpoints].")
@click.option("--max-hours", type=float,
              help="Checkpoint and exit with status 75 before this many hours have passed in this attempt.")
@click.option("--workers", default=1, show_default=True, help="Processes tokenising the shards (once per run).")
@click.option("--steps", type=int, help="Override the recipe's total optimiser steps.")
@click.option("--max-steps-this-run", type=int, help="Stop (with a checkpoint) after this many steps in this invocation.")
@click.option("--deterministic/--no-deterministic", default=True, show_default=True,
              help="Deterministic kernels, needed for exact resume.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar on stderr.")
@click.option("--nproc-per-node", default=1, show_default=True,
              help="Data-parallel processes (GPUs); above 1 the command relaunches itself under torchrun.")
@device_option
@click.argument("train_paths", nargs=-1, required=True, type=click.Path())
def main(nproc_per_node, recipe_path, train_paths, valid_paths, species_path, run_dir, seed, init_from, resume, steps,
         max_steps_this_run, deterministic, progress, device, checkpoint_dir, max_hours, workers):
    import dataclasses
    import os
    import sys
    from pathlib import Path

    if nproc_per_node > 1 and "WORLD_SIZE" not in os.environ:
        torchrun = ["torchrun", "--standalone", f"--nproc_per_node={nproc_per_node}", "--no-python"]
        os.execvp("torchrun", torchrun + sys.argv)

    from transformers.utils import logging as transformers_logging

    from utrbench.errors import UserError
    from utrbench.models import read_species_file
    from utrbench.train.recipe import read_recipe, validate_recipe
    from utrbench.train.trainer import CONTINUE_EXIT_STATUS, pretrain

    transformers_logging.disable_progress_bar()  # one bar per checkpoint save is noise in task logs
    recipe = read_recipe(recipe_path)
    if steps is not None:
        recipe = validate_recipe(dataclasses.replace(recipe, steps=steps), "--steps")
    if max_steps_this_run is not None and max_steps_this_run < 1:
        raise UserError("--max-steps-this-run must be a positive number of steps.")
    if max_hours is not None and max_hours <= 0:
        raise UserError("--max-hours must be a positive number of hours.")
    if workers < 1:
        raise UserError("--workers must be at least 1.")
    species = read_species_file(species_path) if species_path else []
    trainer = pretrain(recipe, list(train_paths), run_dir, seed=seed, valid_paths=list(valid_paths),
                       device=resolve_device(device), init_from=init_from, species=species, resume=resume,
                       max_steps_this_run=max_steps_this_run, deterministic=deterministic, progress=progress,
                       recipe_name=Path(recipe_path).name, checkpoint_dir=checkpoint_dir, max_hours=max_hours,
                       workers=workers, log=lambda message: click.echo(message, err=True))
    if trainer.dist.is_main:
        click.echo(f"{recipe.family}/{recipe.size}: step {trainer.step} of {recipe.steps} -> {run_dir}", err=True)
    if trainer.out_of_time:
        if trainer.dist.is_main:
            click.echo(f"--max-hours {max_hours} reached: checkpointed; run again to continue "
                       f"(exit status {CONTINUE_EXIT_STATUS}).", err=True)
        sys.exit(CONTINUE_EXIT_STATUS)


if __name__ == "__main__":
    main()
