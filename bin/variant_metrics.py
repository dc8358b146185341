#!/usr/bin/env python3
"""Variant-task metrics (signed and direction-free ROC AUC, PR-AUC, bootstrap CI) and figures."""

import click

from utrbench.cli import command


@command()
@click.argument("scores", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--n-resamples", default=1000, show_default=True, type=click.IntRange(min=1), help="Bootstrap resamples.")
@click.option("--seed", default=1, show_default=True)
@click.option("--out-dir", required=True, type=click.Path(file_okay=False),
              help="Folder to create: metrics.tsv and the figures (PNG + PDF).")
def main(scores, n_resamples, seed, out_dir):
    """Metrics of every model's scores (SCORES: variant_scores.py and variant_classify.py tables) and the figures."""
    from utrbench.errors import UserError
    from utrbench.io import atomic_output, read_metrics, read_tsv, write_metrics
    from utrbench.report import variant_figures
    from utrbench.report.task_figures import save_figure
    from utrbench.tasks.variant_metrics import join_score_tables, metric_rows, score_columns
    from utrbench.tasks.variants import VARIANT_COLUMNS

    tables = {}
    for path in sorted(scores):
        table = read_tsv(path, required_columns=[*VARIANT_COLUMNS, "model"], dtype={"chrom": str})
        models = table["model"].unique()
        if len(models) != 1:
            raise UserError(f"{path}: must hold the scores of one model (found {', '.join(map(str, models))}).")
        model = str(models[0])
        # a model's zero-shot scores and its classifier's predictions come in two files
        tables[model] = table if model not in tables else join_score_tables(tables[model], table, model, path)
    rows = []
    for model, table in sorted(tables.items()):
        rows.extend(metric_rows(table, model, score_columns(table, [*VARIANT_COLUMNS, "model"]), n_resamples, seed))
    if not rows:
        raise UserError("no split has both labels with a finite score: nothing to evaluate.")
    with atomic_output(out_dir) as tmp:
        tmp.mkdir()
        write_metrics(rows, tmp / "metrics.tsv")
        metrics = read_metrics(tmp / "metrics.tsv")
        save_figure(variant_figures.roc_figure(tables, metrics), tmp / "variants_roc")
        save_figure(variant_figures.auc_heatmap(metrics), tmp / "variants_auc_heatmap")
        gain = variant_figures.vis_gain_figure(metrics)
        if gain is not None:
            save_figure(gain, tmp / "variants_vis_gain")


if __name__ == "__main__":
    main()
