#!/usr/bin/env python3
"""Zero-shot and embedding-distance variant scores of one model (or alignment baseline): one TSV, the variants plus score columns."""

import click

from utrbench.cli import command


def _widths(text):
    from utrbench.errors import UserError

    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UserError(f"--vis-widths {text!r} is not a comma-separated list of integers.") from None


@command()
@click.option("--variants", required=True, type=click.Path(dir_okay=False), help="Variants TSV (variant_sets.py).")
@click.option("--bed", required=True, type=click.Path(dir_okay=False), help="The dataset's 3'UTR BED6.")
@click.option("--model-id", required=True, help="Model name written in the table's 'model' column.")
@click.option("--utr-probs", type=click.Path(dir_okay=False), default=None,
              help="Full-UTR probabilities HDF5 (ZEROSHOT on the UTRs, or Zoo-AL): pref, palt_inv, pratio.")
@click.option("--window-probs", type=click.Path(dir_okay=False), default=None,
              help="Window probabilities HDF5 (ZEROSHOT on the windows FASTA): VIS, VIS_W, loss_*.")
@click.option("--windows-index", type=click.Path(dir_okay=False), default=None, help="Window index TSV (variant_windows.py).")
@click.option("--windows-fasta", type=click.Path(dir_okay=False), default=None, help="The windows FASTA the model scored.")
@click.option("--window-embeddings", type=click.Path(dir_okay=False), default=None,
              help="Window embeddings HDF5 (EMBED on the windows FASTA): l1, l2, dot, cosine.")
@click.option("--orientation", type=click.Choice(["dna", "rna"]), default="rna", show_default=True,
              help="Which windows the model scored.")
@click.option("--vis-widths", default="16,32,64,128,256,512,1024,2048,4096", show_default=True,
              help="Widths W of VIS_W (positions around the variant, W / 2 on each side).")
@click.option("--phylop", type=click.Path(dir_okay=False), default=None, help="PhyloP HDF5 (baseline_scores.py).")
@click.option("--cadd", type=click.Path(dir_okay=False), default=None, help="CADD HDF5 (baseline_scores.py).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Scores TSV.")
def main(variants, bed, model_id, utr_probs, window_probs, windows_index, windows_fasta, window_embeddings, orientation,
         vis_widths, phylop, cadd, out):
    """Score every variant row with whatever inputs are given."""
    import pandas as pd

    from utrbench.align.utrs import read_utr_bed
    from utrbench.errors import UserError
    from utrbench.io import read_embeddings, read_probabilities, read_tsv, write_tsv
    from utrbench.seq import read_fasta
    from utrbench.tasks import variant_scores as scoring
    from utrbench.tasks.variant_windows import INDEX_COLUMNS, check_offsets
    from utrbench.tasks.variants import VARIANT_COLUMNS

    table = read_tsv(variants, required_columns=VARIANT_COLUMNS, dtype={"chrom": str})
    if table.empty:
        raise UserError(f"{variants}: has no variants.")
    utrs = {utr.utr_id: utr for utr in read_utr_bed(bed)}
    missing = sorted(set(table["utr_id"]) - set(utrs))
    if missing:
        raise UserError(f"{variants}: UTR {missing[0]} is not in {bed}.")
    columns = [table[VARIANT_COLUMNS], pd.Series(model_id, index=table.index, name="model")]
    if utr_probs:
        _, arrays, _ = read_probabilities(utr_probs)
        columns.append(scoring.utr_probability_scores(table, utrs, arrays, utr_probs))
    if (window_probs or window_embeddings) and not windows_index:
        raise UserError("--window-probs and --window-embeddings need --windows-index.")
    if windows_index:
        index = read_tsv(windows_index, required_columns=INDEX_COLUMNS)
        check_offsets(index)
    if window_probs:
        if not windows_fasta:
            raise UserError("--window-probs needs --windows-fasta.")
        _, arrays, _ = read_probabilities(window_probs)
        widths = scoring.check_widths(_widths(vis_widths))
        columns.append(scoring.window_scores(table, index, orientation, arrays, read_fasta(windows_fasta), widths,
                                             window_probs))
    if window_embeddings:
        ids, embeddings, _ = read_embeddings(window_embeddings)
        columns.append(scoring.embedding_scores(table, index, orientation, ids, embeddings, window_embeddings))
    for path, function in ((phylop, scoring.phylop_score), (cadd, scoring.cadd_score)):
        if path:
            columns.append(function(table, utrs, read_probabilities(path)[1], path))
    if len(columns) == 2:
        raise UserError("nothing to score: give --utr-probs, --window-probs, --window-embeddings, --phylop or --cadd.")
    write_tsv(pd.concat(columns, axis=1), out, float_format="%.8g")


if __name__ == "__main__":
    main()
