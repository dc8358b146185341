#!/usr/bin/env python3
"""Per-task figures: bar charts of Pearson r per model and subset, one PNG + PDF per task and dataset."""

import click

from utrbench.cli import command


@command()
@click.argument("metrics", nargs=-1, required=True, type=click.Path())
@click.option("--out-dir", required=True, type=click.Path(), help="Folder for <task>.<dataset>.pearson_r.{png,pdf} and the merged metrics.")
def main(metrics, out_dir):
    import pandas as pd

    from utrbench.io import METRICS_COLUMNS, atomic_output, read_metrics, write_metrics
    from utrbench.report.task_figures import bar_chart, save_figure

    merged = pd.concat([read_metrics(path) for path in metrics], ignore_index=True)
    merged = merged.sort_values(["task", "dataset", "subset", "model", "predictor", "metric"], kind="stable")
    with atomic_output(out_dir) as tmp:
        tmp.mkdir()
        write_metrics(merged[METRICS_COLUMNS].itertuples(index=False), tmp / "metrics.tsv")
        for (task, dataset), rows in merged.groupby(["task", "dataset"], sort=True):
            save_figure(bar_chart(rows, f"{task}: {dataset}"), tmp / f"{task}.{dataset}.pearson_r")


if __name__ == "__main__":
    main()
