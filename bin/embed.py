#!/usr/bin/env python3
"""Sequence embeddings (or per-nucleotide embeddings) of a model over a FASTA (HDF5 output)."""

import click

from utrbench.cli import command, device_option, resolve_device

DEFAULT_SHARD_NT = 2_000_000  # nextflow.config's inference_shard_nt


@command()
@click.option("--model", "model_dir", type=click.Path(), required=True, help="Model directory.")
@click.option("--family", default=None, help="Family of a published checkpoint without utrbench.json.")
@click.option("--fasta", type=click.Path(), required=True, help="Sequences to embed (uppercase ACGTN).")
@click.option("--out", type=click.Path(), required=True, help="Embeddings HDF5.")
@click.option("--layer", default="-1", show_default=True, help="Hidden state index, or 'A:B' for the mean of A..B-1.")
@click.option("--pooling", type=click.Choice(["mean", "max", "cls"]), default="mean", show_default=True,
              help="mean/max over real tokens (specials and padding excluded) or the [CLS] token.")
@click.option("--per-nucleotide", is_flag=True, help="Write one embedding per nucleotide instead of per sequence.")
@click.option("--species", "species_name", default=None, help="Species of all records (species-aware models).")
@click.option("--species-from-id", is_flag=True, help="Species from each '>id:species' header.")
@click.option("--window", type=int, default=None, help="Window length in nt for long sequences [model context in tokens].")
@click.option("--overlap", type=int, default=None, help="Overlap of consecutive windows in nt, with --window [window / 4].")
@click.option("--shard-nt", type=int, default=DEFAULT_SHARD_NT, show_default=True,
              help="Embed blocks of at most this many nt one at a time (as shard_fasta.py cuts shards).")
@click.option("--token-budget", type=int, default=16384, show_default=True, help="Tokens per batch (sequences x length).")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), default="auto", show_default=True,
              help="auto: bf16 autocast on CUDA, fp32 on the CPU.")
@click.option("--model-id", default=None, help="Model name recorded in the output [directory name].")
@device_option
def main(model_dir, family, fasta, out, layer, pooling, per_nucleotide, species_name, species_from_id, window, overlap,
         shard_nt, token_budget, precision, model_id, device):
    """Write the embedding of every FASTA record."""
    from pathlib import Path

    from utrbench.infer.embeddings import Embedder
    from utrbench.infer.records import iter_records, species_ids
    from utrbench.infer.shards import iter_blocks
    from utrbench.io import InferenceWriter, atomic_output
    from utrbench.models import load_model
    from utrbench.progress import Progress

    device = resolve_device(device)
    loaded = load_model(model_dir, family, device=device)
    progress = Progress("embedding", unit="windows")
    embedder = Embedder(loaded, layer, pooling, window, overlap, token_budget, device, precision, progress)
    attrs = dict(model=model_id or Path(model_dir).name, family=loaded.family.name, layer=str(layer),
                 pooling="per_nucleotide" if per_nucleotide else pooling, window=str(window or "context"),
                 overlap=str(embedder.overlap or "context / 4"), precision=precision, shard_nt=shard_nt)
    kind = "nucleotide_embeddings" if per_nucleotide else "embeddings"
    with progress, atomic_output(out, suffix=".h5") as tmp, InferenceWriter(tmp, kind, attrs) as writer:
        for block in iter_blocks(iter_records(fasta), shard_nt):
            ids, sequences = [name for name, _ in block], [s for _, s in block]
            species = species_ids(loaded.info, ids, species_name, species_from_id, fasta)
            embed = embedder.embed_per_nucleotide if per_nucleotide else embedder.embed
            writer.append(ids, embed(sequences, ids, species))

if __name__ == "__main__":
    main()
