#!/usr/bin/env python3
"""Grouped cross-validated regression of a target table on an embeddings HDF5: metrics TSV + out-of-fold predictions."""

from pathlib import Path

import click

from utrbench.cli import command


@command()
@click.option("--embeddings", required=True, type=click.Path(), help="Embeddings HDF5 (ids, embeddings).")
@click.option("--targets", required=True, type=click.Path(), help="Target table (id sequence target group), named <dataset>.<subset>.tsv.")
@click.option("--predictor", "predictors", multiple=True, default=["ridge"], show_default=True,
              type=click.Choice(["ridge", "svr"]), help="Regressor (repeat for several).")
@click.option("--alphas", default="siegel", show_default=True, type=click.Choice(["siegel", "griesemer", "halflife"]),
              help="RidgeCV alpha grid of the study.")
@click.option("--n-folds", default=0, show_default=True,
              help="Outer folds: 0 = leave one group out, N = GroupKFold(N) over the groups.")
@click.option("--svr-trials", default=300, show_default=True, help="SVR: Optuna TPE trials per search (the study's 300).")
@click.option("--svr-tuning", default="every_fold", show_default=True, type=click.Choice(["every_fold", "first_fold"]),
              help="SVR: search in every outer fold, or on the first outer fold only and reuse (the study's scheme).")
@click.option("--ci", default="fisher", show_default=True, type=click.Choice(["fisher", "bootstrap"]),
              help="Interval of the pooled Pearson r: Fisher's (scipy.stats.pearsonr, the study's) or a bootstrap.")
@click.option("--bootstrap", default=1000, show_default=True, help="--ci bootstrap: resamples of the interval.")
@click.option("--seed", default=1, show_default=True, help="Seed of the SVR search and the bootstrap.")
@click.option("--threads", default=1, show_default=True, help="Inner-split SVR fits run in parallel.")
@click.option("--task", required=True, help="Task name in the metrics table (mpra, halflife).")
@click.option("--model", help="Model name in the metrics table [default: the embeddings' 'model' attribute].")
@click.option("--out-metrics", required=True, type=click.Path(), help="Metrics TSV to write.")
@click.option("--out-predictions", required=True, type=click.Path(), help="Out-of-fold predictions TSV to write.")
def main(embeddings, targets, predictors, alphas, n_folds, svr_trials, svr_tuning, ci, bootstrap, seed, threads, task, model,
         out_metrics, out_predictions):
    import pandas as pd

    from utrbench.io import read_embeddings, write_metrics, write_tsv
    from utrbench.tasks import regression
    from utrbench.tasks.targets import read_target_table

    table = read_target_table(targets)
    ids, matrix, attrs = read_embeddings(embeddings)
    where = f"{targets} with {embeddings}"
    X, y, groups = regression.align_targets(table, ids, matrix, where)
    dataset, _, subset = Path(targets).name.removesuffix(".tsv").partition(".")
    labels = {"task": task, "dataset": dataset, "subset": subset or "all",
              "model": model or str(attrs.get("model", Path(embeddings).stem))}
    predictions = pd.DataFrame({"id": table["id"], "group": groups, "target": y})
    rows = []
    for name in predictors:
        predicted, fold = regression.out_of_fold_predictions(
            X, y, groups, name, n_folds, regression.RIDGE_ALPHAS[alphas], seed, svr_trials, threads, where, svr_tuning)
        predictions["fold"] = fold
        predictions[f"prediction_{name}"] = predicted
        rows += regression.score_rows(y, predicted, fold, {**labels, "predictor": name}, bootstrap, seed, ci)
        click.echo(f"{labels['model']} {dataset} {labels['subset']} {name}: r = {rows[-2][6]:.3f}", err=True)
    write_metrics(rows, out_metrics)
    write_tsv(predictions, out_predictions, float_format="%.6g")


if __name__ == "__main__":
    main()
