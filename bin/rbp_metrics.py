#!/usr/bin/env python3
"""RBP task metrics: signed ROC AUC and PR-AUC with bootstrap intervals, per score and conservation stratum; Figure 1."""

import click

from utrbench.cli import command


@command()
@click.option("--sites", required=True, type=click.Path(dir_okay=False), help="Site table of rbp_sites.py.")
@click.option("--scores", required=True, type=click.Path(dir_okay=False), help="Score table of rbp_scores.py.")
@click.option("--conservation", default="phylop/score", show_default=True,
              help="Score column that defines the top / bottom 10 % strata; strata are skipped when it is absent.")
@click.option("--bootstrap", default=100, show_default=True, type=click.IntRange(min=0), help="Bootstrap resamples.")
@click.option("--seed", default=0, show_default=True, type=int, help="Resample i uses random_state seed + i (the study: 0).")
@click.option("--per-rbp-rows", is_flag=True,
              help="Count a positive once per RBP that binds it, as the study did (default: once per site).")
@click.option("--dataset", default="utrs", show_default=True, help="Dataset name in the metrics.")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False),
              help="Folder for metrics.tsv and rbp.<dataset>.roc_auc.{png,pdf}.")
def main(sites, scores, conservation, bootstrap, seed, per_rbp_rows, dataset, out_dir):
    import pandas as pd

    from utrbench.errors import UserError
    from utrbench.io import METRICS_COLUMNS, atomic_output, read_tsv, write_metrics
    from utrbench.report.task_figures import save_figure, strata_bar_chart
    from utrbench.tasks.rbp import evaluate, read_sites

    table = read_sites(sites)
    score_table = read_tsv(scores, required_columns=["site_id", "label"])
    if score_table["site_id"].tolist() != table["site_id"].tolist():
        raise UserError(f"{scores}: its sites are not those of {sites} (in order).")
    score_columns = score_table.drop(columns=["site_id", "label"])
    if conservation not in score_columns:
        click.echo(f"no column {conservation!r} in {scores}: only the 'all' subset is evaluated", err=True)
        conservation = None
    rows = evaluate(table, score_columns, conservation, bootstrap, seed, per_rbp_rows, dataset)
    metrics = pd.DataFrame(rows, columns=METRICS_COLUMNS)
    with atomic_output(out_dir) as tmp:
        tmp.mkdir()
        write_metrics(metrics.itertuples(index=False), tmp / "metrics.tsv")
        save_figure(strata_bar_chart(metrics, f"rbp: {dataset}"), tmp / f"rbp.{dataset}.roc_auc")


if __name__ == "__main__":
    main()
