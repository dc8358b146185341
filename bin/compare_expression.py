#!/usr/bin/env python3
"""Compare expression predictors on their shared test genes: table, scatter plots, markdown summary."""

import click

from utrbench.cli import command


@command()
@click.option("--predictions", "predictions", multiple=True, required=True, metavar="NAME=TSV",
              help="Test predictions of one method (gene y_true y_pred); repeat per method, first = reference.")
@click.option("--bootstrap", default=1000, show_default=True, help="Bootstrap resamples for the confidence intervals.")
@click.option("--seed", default=0, show_default=True, help="Seed of the bootstrap resamples.")
@click.option("--tissue", default="", help="Tissue name for the summary title.")
@click.option("--dataset", default="expression", show_default=True, help="Dataset name in the metrics table.")
@click.option("--out-table", required=True, type=click.Path(), help="TSV: method metric value ci_low ci_high n.")
@click.option("--out-metrics", required=True, type=click.Path(), help="The same numbers in the shared metrics format.")
@click.option("--out-summary", required=True, type=click.Path(), help="Markdown summary.")
@click.option("--out-figures", required=True, type=click.Path(), help="Directory for one scatter plot per method.")
def main(predictions, bootstrap, seed, tissue, dataset, out_table, out_metrics, out_summary, out_figures):
    from utrbench.errors import UserError
    from utrbench.expression.compare import compare, markdown_summary, read_predictions, scatter_plot
    from utrbench.io import atomic_output, write_metrics, write_tsv

    named = {}
    for item in predictions:
        name, separator, path = item.partition("=")
        if not separator or not name or not path:
            raise UserError(f"--predictions {item!r} is not NAME=TSV.")
        if name in named:
            raise UserError(f"--predictions names method {name!r} twice.")
        named[name] = path
    shared = read_predictions(named)
    table = compare(shared, n_bootstrap=bootstrap, seed=seed)
    with atomic_output(out_figures) as tmp:
        tmp.mkdir()
        for method in named:
            point = table[(table["method"] == method)].set_index("metric")["value"]
            scatter_plot(shared["y_true"].to_numpy(), shared[method].to_numpy(), method, point, tmp / f"expression.scatter_{method}")
    write_tsv(table, out_table, float_format="%.6g")
    write_metrics([("expression", dataset, "test", row.method, "comparison", row.metric, row.value, row.ci_low,
                    row.ci_high, row.n) for row in table.itertuples()], out_metrics)
    with atomic_output(out_summary) as tmp:
        tmp.write_text(markdown_summary(table, tissue or dataset, int((shared["y_true"] <= -3 + 1e-9).sum())))


if __name__ == "__main__":
    main()
