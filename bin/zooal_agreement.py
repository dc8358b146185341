#!/usr/bin/env python3
"""Fig S2: Pearson r between a model's per-nucleotide probabilities and Zoo-AL's, as a metrics row."""

import click

from utrbench.cli import command


@command()
@click.option("--probabilities", required=True, type=click.Path(dir_okay=False), help="A model's probability HDF5 (ZEROSHOT).")
@click.option("--zooal", required=True, type=click.Path(dir_okay=False), help="Zoo-AL probability HDF5 of the same UTRs.")
@click.option("--model", required=True, help="Model id in the metrics table.")
@click.option("--strategy", default="exact", show_default=True, help="Zero-shot strategy, the metrics' predictor column.")
@click.option("--dataset", default="utrs", show_default=True, help="Dataset name in the metrics table.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Metrics TSV to write.")
def main(probabilities, zooal, model, strategy, dataset, out):
    from utrbench.io import read_probabilities, write_metrics
    from utrbench.tasks.agreement import probability_agreement

    _, model_probs, _ = read_probabilities(probabilities)
    _, alignment_probs, _ = read_probabilities(zooal)
    r, low, high, n = probability_agreement(model_probs, alignment_probs, where=f"{probabilities} vs {zooal}")
    write_metrics([("zooal_agreement", dataset, "all", model, strategy, "pearson_r", r, low, high, n)], out)
    click.echo(f"{model} ({strategy}): r = {r:.3f} over {n:,} probabilities", err=True)


if __name__ == "__main__":
    main()
