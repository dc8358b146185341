#!/usr/bin/env python3
"""Sequence embeddings (or per-nucleotide embeddings) of a model over a FASTA (HDF5 output)."""

import click

from utrbench.cli import command, device_option, resolve_device


@command()
@click.option("--model", "model_dir", type=click.Path(), required=True, help="Model directory.")
@click.option("--family", default=None, help="Family of a published checkpoint without utrbench.json.")
@click.option("--fasta", type=click.Path(), required=True, help="Sequences to embed (uppercase ACGTN).")
@click.option("--out", type=click.Path(), required=True, help="Embeddings HDF5.")
@click.option("--layer", default="-1", show_default=True, help="Hidden state index, or 'A:B' for the mean of A..B-1.")
@click.option("--pooling", type=click.Choice(["mean", "max", "cls"]), default="mean", show_default=True,
              help="mean/max over real tokens (specials and padding excluded) or the [CLS] token.")
@click.option("--per-nucleotide", is_flag=True, help="Write one embedding per nucleotide instead of per sequence.")
@click.option("--species", default=None, help="Species of all records (species-aware models).")
@click.option("--species-from-id", is_flag=True, help="Species from each '>id:species' header.")
@click.option("--window", type=int, default=None, help="Window length in nt for long sequences [model context].")
@click.option("--overlap", type=int, default=None, help="Overlap of consecutive windows in nt [window / 4].")
@click.option("--token-budget", type=int, default=16384, show_default=True, help="Tokens per batch (sequences x length).")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), default="auto", show_default=True,
              help="auto: bf16 autocast on CUDA, fp32 on the CPU.")
@click.option("--model-id", default=None, help="Model name recorded in the output [directory name].")
@device_option
def main(model_dir, family, fasta, out, layer, pooling, per_nucleotide, species, species_from_id, window, overlap,
         token_budget, precision, model_id, device):
    """Write the embedding of every FASTA record."""
    from pathlib import Path

    from utrbench.infer.embeddings import Embedder
    from utrbench.infer.records import read_records, species_ids
    from utrbench.io import write_embeddings, write_nucleotide_embeddings
    from utrbench.models import load_model

    device = resolve_device(device)
    loaded = load_model(model_dir, family, device=device)
    ids, sequences = read_records(fasta)
    species = species_ids(loaded.info, ids, species, species_from_id, fasta)
    embedder = Embedder(loaded, layer, pooling, window, overlap, token_budget, device, precision)
    attrs = dict(model=model_id or Path(model_dir).name, family=loaded.family.name, layer=str(layer),
                 pooling="per_nucleotide" if per_nucleotide else pooling, window=embedder.window,
                 overlap=embedder.overlap, precision=precision)
    if per_nucleotide:
        write_nucleotide_embeddings(out, ids, embedder.embed_per_nucleotide(sequences, ids, species), attrs)
    else:
        write_embeddings(out, ids, embedder.embed(sequences, ids, species), attrs)


if __name__ == "__main__":
    main()
