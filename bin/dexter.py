#!/usr/bin/env python3
"""DExTER: greedy k-mer x region exploration and a 10-fold LASSO on TSS windows."""

import json

import click

from utrbench.cli import command


@command()
@click.option("--fasta", required=True, type=click.Path(), help="Windows FASTA (all the same length), id = gene.")
@click.option("--labels", required=True, type=click.Path(), help="TSV with gene, log10_tpm, split (train/dev/test).")
@click.option("--tss-index", type=int, default=None, help="0-based TSS index in the windows [default: the centre].")
@click.option("--bins", "n_bins", default=13, show_default=True, help="Number of bins (odd; even is raised by one).")
@click.option("--increase-ratio", default=0.10, show_default=True, help="Minimum relative |rho| gain over parent/controls.")
@click.option("--increase-delta", default=0.01, show_default=True, help="Minimum absolute |rho| gain over parent/controls.")
@click.option("--max-kmer-length", default=0, show_default=True, help="Longest k-mer explored; 0 = no limit.")
@click.option("--folds", default=10, show_default=True, help="Cross-validation folds of LassoCV.")
@click.option("--dataset", default="expression", show_default=True, help="Dataset name in the metrics table.")
@click.option("--out-variables", required=True, type=click.Path(), help="TSV of the variables and coefficients.")
@click.option("--out-model", required=True, type=click.Path(), help="JSON of the fitted model.")
@click.option("--out-predictions", required=True, type=click.Path(), help="TSV: gene y_true y_pred for test genes.")
@click.option("--out-graph", required=True, type=click.Path(), help="TSV of the exploration graph.")
@click.option("--out-metrics", required=True, type=click.Path(), help="Metrics table (test MSE, Pearson r, R2).")
def main(fasta, labels, tss_index, n_bins, increase_ratio, increase_delta, max_kmer_length, folds, dataset,
         out_variables, out_model, out_predictions, out_graph, out_metrics):
    import pandas as pd

    from utrbench.expression.dexter import encode_sequences, model_description, run_dexter, variables_table
    from utrbench.expression.labels import read_labeled_windows
    from utrbench.io import atomic_output, write_metrics, write_tsv
    from utrbench.progress import Progress

    genes, sequences, y, split = read_labeled_windows(fasta, labels)
    codes = encode_sequences(sequences)
    is_train = split != "test"
    with Progress("DExTER exploration", unit="domains") as progress:
        run = run_dexter(codes, y, is_train, codes.shape[1] // 2 if tss_index is None else tss_index, n_bins=n_bins,
                         ratio=increase_ratio, delta=increase_delta, max_kmer_length=max_kmer_length, folds=folds,
                         progress=progress)
    test_genes = genes[~is_train]
    write_tsv(variables_table(run), out_variables, float_format="%.9g")
    write_tsv(pd.DataFrame(run.exploration.graph), out_graph, float_format="%.9g")
    write_tsv(pd.DataFrame({"gene": test_genes, "y_true": y[~is_train], "y_pred": run.test_predictions}),
              out_predictions, float_format="%.9g")
    with atomic_output(out_model) as tmp:
        tmp.write_text(json.dumps(model_description(run), indent=1) + "\n")
    write_metrics([("expression", dataset, "test", "dexter", "lasso", name, value, "", "", int((~is_train).sum()))
                   for name, value in run.test_metrics.items()], out_metrics)
    click.echo(f"{len(run.exploration.variables)} variables; test {run.test_metrics}", err=True)


if __name__ == "__main__":
    main()
