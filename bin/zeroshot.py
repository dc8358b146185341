#!/usr/bin/env python3
"""Per-nucleotide A/C/G/T probabilities of a masked language model over a FASTA (HDF5 output)."""

import click

from utrbench.cli import command, device_option, resolve_device

DEFAULT_SHARD_NT = 2_000_000  # nextflow.config's inference_shard_nt


@command()
@click.option("--model", "model_dir", type=click.Path(), required=True, help="Model directory.")
@click.option("--family", default=None, help="Family of a published checkpoint without utrbench.json.")
@click.option("--fasta", type=click.Path(), required=True, help="Sequences to score (uppercase ACGTN).")
@click.option("--out", type=click.Path(), required=True, help="Probabilities HDF5 (ids, offsets, probs).")
@click.option("--strategy", default="exact", show_default=True, help="exact, strided:S or unmasked.")
@click.option("--readout", type=click.Choice(["middle", "mean"]), default="middle", show_default=True,
              help="Overlapping k-mers: the middle masked token covering a base (Vilov & Heinig), or the mean of all (ours).")
@click.option("--orientation", type=click.Choice(["forward", "reverse", "both"]), default="forward", show_default=True,
              help="Score the sequences, their reverse complements (mapped back), or the mean of both.")
@click.option("--species", "species_name", default=None, help="Species of all records (species-aware models).")
@click.option("--species-from-id", is_flag=True, help="Species from each '>id:species' header.")
@click.option("--window", type=int, default=None, help="Window length in nt for long sequences [model context in tokens].")
@click.option("--overlap", type=int, default=None, help="Overlap of consecutive windows in nt, with --window [window / 4].")
@click.option("--shard-nt", type=int, default=DEFAULT_SHARD_NT, show_default=True,
              help="Score blocks of at most this many nt one at a time (as shard_fasta.py cuts shards).")
@click.option("--token-budget", type=int, default=16384, show_default=True, help="Tokens per batch (copies x length).")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), default="auto", show_default=True,
              help="auto: bf16 autocast on CUDA, fp32 on the CPU.")
@click.option("--probs-dtype", type=click.Choice(["float32", "float16"]), default="float32", show_default=True)
@click.option("--model-id", default=None, help="Model name recorded in the output [directory name].")
@device_option
def main(model_dir, family, fasta, out, strategy, readout, orientation, species_name, species_from_id, window, overlap,
         shard_nt, token_budget, precision, probs_dtype, model_id, device):
    """Write per-nucleotide probabilities of every FASTA record."""
    from pathlib import Path

    import numpy as np

    from utrbench.infer.records import iter_records, species_ids
    from utrbench.infer.shards import iter_blocks
    from utrbench.infer.zeroshot import ZeroShotScorer
    from utrbench.io import InferenceWriter, atomic_output
    from utrbench.models import load_model
    from utrbench.progress import Progress

    device = resolve_device(device)
    loaded = load_model(model_dir, family, device=device)
    progress = Progress(f"zero-shot {strategy}", unit="copies")
    scorer = ZeroShotScorer(loaded, strategy, readout, window, overlap, token_budget, device, precision, progress)
    attrs = dict(model=model_id or Path(model_dir).name, family=loaded.family.name, strategy=str(scorer.strategy),
                 readout=readout, orientation=orientation, window=str(window or "context"),
                 overlap=str(scorer.overlap or "context / 4"), shard_nt=shard_nt)
    with progress, atomic_output(out, suffix=".h5") as tmp, InferenceWriter(tmp, "probs", attrs, np.dtype(probs_dtype)) as writer:
        for block in iter_blocks(iter_records(fasta), shard_nt):
            ids = [name for name, _ in block]
            species = species_ids(loaded.info, ids, species_name, species_from_id, fasta)
            writer.append(ids, scorer.score([s for _, s in block], ids, species, orientation))

if __name__ == "__main__":
    main()
