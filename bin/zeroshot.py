#!/usr/bin/env python3
"""Per-nucleotide A/C/G/T probabilities of a masked language model over a FASTA (HDF5 output)."""

import click

from utrbench.cli import command, device_option, resolve_device


@command()
@click.option("--model", "model_dir", type=click.Path(), required=True, help="Model directory.")
@click.option("--family", default=None, help="Family of a published checkpoint without utrbench.json.")
@click.option("--fasta", type=click.Path(), required=True, help="Sequences to score (uppercase ACGTN).")
@click.option("--out", type=click.Path(), required=True, help="Probabilities HDF5 (ids, offsets, probs).")
@click.option("--strategy", default="exact", show_default=True, help="exact, strided:S or unmasked.")
@click.option("--readout", type=click.Choice(["mean", "middle"]), default="mean", show_default=True,
              help="Overlapping k-mers: average all masked tokens covering a base, or the middle one (Vilov & Heinig).")
@click.option("--orientation", type=click.Choice(["forward", "reverse", "both"]), default="forward", show_default=True,
              help="Score the sequences, their reverse complements (mapped back), or the mean of both.")
@click.option("--species", default=None, help="Species of all records (species-aware models).")
@click.option("--species-from-id", is_flag=True, help="Species from each '>id:species' header.")
@click.option("--window", type=int, default=None, help="Window length in nt for long sequences [model context].")
@click.option("--overlap", type=int, default=None, help="Overlap of consecutive windows in nt [window / 4].")
@click.option("--token-budget", type=int, default=16384, show_default=True, help="Tokens per batch (copies x length).")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), default="auto", show_default=True,
              help="auto: bf16 autocast on CUDA, fp32 on the CPU.")
@click.option("--probs-dtype", type=click.Choice(["float32", "float16"]), default="float32", show_default=True)
@click.option("--model-id", default=None, help="Model name recorded in the output [directory name].")
@device_option
def main(model_dir, family, fasta, out, strategy, readout, orientation, species, species_from_id, window, overlap,
         token_budget, precision, probs_dtype, model_id, device):
    """Write per-nucleotide probabilities of every FASTA record."""
    from pathlib import Path

    import numpy as np

    from utrbench.infer.records import read_records, species_ids
    from utrbench.infer.zeroshot import ZeroShotScorer
    from utrbench.io import write_probabilities
    from utrbench.models import load_model

    device = resolve_device(device)
    loaded = load_model(model_dir, family, device=device)
    ids, sequences = read_records(fasta)
    species = species_ids(loaded.info, ids, species, species_from_id, fasta)
    scorer = ZeroShotScorer(loaded, strategy, readout, window, overlap, token_budget, device, precision)
    probs = scorer.score(sequences, names=ids, species_ids=species, orientation=orientation)
    attrs = dict(model=model_id or Path(model_dir).name, family=loaded.family.name, strategy=str(scorer.strategy),
                 readout=readout, orientation=orientation, window=scorer.window, overlap=scorer.overlap)
    write_probabilities(out, ids, probs, attrs, dtype=np.dtype(probs_dtype))


if __name__ == "__main__":
    main()
