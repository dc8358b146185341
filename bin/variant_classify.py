#!/usr/bin/env python3
"""Supervised variant classifier of one model: MLP and logistic regression on [ref, alt] window embeddings."""

import click

from utrbench.cli import command, device_option, resolve_device


@command()
@click.option("--variants", required=True, type=click.Path(dir_okay=False), help="Variants TSV (variant_sets.py).")
@click.option("--windows-index", required=True, type=click.Path(dir_okay=False), help="Window index TSV (variant_windows.py).")
@click.option("--embeddings", required=True, type=click.Path(dir_okay=False),
              help="Window embeddings HDF5 (EMBED on the windows FASTA of --orientation).")
@click.option("--orientation", type=click.Choice(["dna", "rna"]), default="rna", show_default=True,
              help="Which windows the model embedded.")
@click.option("--model-id", required=True, help="Model name written in the table's 'model' column.")
@click.option("--trials", default=50, show_default=True, type=click.IntRange(min=1),
              help="Optuna trials per outer fold (the study: 200, on the first fold only).")
@click.option("--outer-folds", default=10, show_default=True, type=click.IntRange(min=2),
              help="Outer cross-validation folds (grouped by UTR, stratified by label).")
@click.option("--inner-folds", default=5, show_default=True, type=click.IntRange(min=2),
              help="Inner folds of the hyperparameter search (grouped by UTR, stratified).")
@click.option("--tuning", type=click.Choice(["every_fold", "first_fold"]), default="every_fold", show_default=True,
              help="Search in every outer fold, or on the first only and reuse (the study).")
@click.option("--pruning/--no-pruning", default=False, show_default=True,
              help="Stop trials below the median of earlier trials after an inner fold (Optuna MedianPruner).")
@click.option("--epochs", default=300, show_default=True, type=click.IntRange(min=1), help="Training epochs per fit.")
@click.option("--learning-rate", default=1e-4, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="AdamW learning rate.")
@click.option("--batch-size", default=1024, show_default=True, type=click.IntRange(min=1), help="Rows per batch.")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(min=1),
              help="CPU threads of torch (the numbers may differ with another count).")
@click.option("--seed", default=1, show_default=True, help="Seed of the folds, the TPE sampler and the networks.")
@device_option
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Out-of-fold predictions TSV: the variants, 'model', 'mlp' and 'logistic' (variant_metrics.py input).")
@click.option("--out-folds", required=True, type=click.Path(dir_okay=False),
              help="TSV of each split's outer folds: sizes and the tuned hyperparameters.")
def main(variants, windows_index, embeddings, orientation, model_id, trials, outer_folds, inner_folds, tuning, pruning,
         epochs, learning_rate, batch_size, threads, seed, device, out, out_folds):
    """Out-of-fold probabilities of every variant row, per split, from the model's window embeddings."""
    import pandas as pd

    from utrbench.errors import UserError
    from utrbench.io import read_embeddings, read_tsv, write_tsv
    from utrbench.tasks import classify
    from utrbench.tasks.variant_windows import INDEX_COLUMNS
    from utrbench.tasks.variants import VARIANT_COLUMNS

    classify.deterministic_torch(threads)  # before any CUDA work
    device = resolve_device(device)
    table = read_tsv(variants, required_columns=VARIANT_COLUMNS, dtype={"chrom": str})
    if table.empty:
        raise UserError(f"{variants}: has no variants.")
    index = read_tsv(windows_index, required_columns=INDEX_COLUMNS)
    ids, matrix, _ = read_embeddings(embeddings)
    features = classify.pair_features(table, index, orientation, ids, matrix, embeddings)
    training = classify.Training(epochs=epochs, learning_rate=learning_rate, batch_size=batch_size, device=device,
                                 seed=seed)
    predictions, folds = classify.classify_splits(table, features, n_trials=trials, outer_folds=outer_folds,
                                                  inner_folds=inner_folds, training=training, pruning=pruning,
                                                  tuning=tuning)
    model = pd.Series(model_id, index=table.index, name="model")
    # both written only once every split is done: a failed split leaves no output
    write_tsv(pd.concat([table[VARIANT_COLUMNS], model, predictions], axis=1), out, float_format="%.8g")
    write_tsv(folds.assign(model=model_id), out_folds, float_format="%.8g")


if __name__ == "__main__":
    main()
