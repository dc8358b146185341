#!/usr/bin/env python3
"""Zoo-AL baseline: per-nucleotide ACGT frequencies across the aligned species, as a probability HDF5."""

import click

from utrbench.align.maf import utr_alignments
from utrbench.align.utrs import utr_sequence
from utrbench.align.zooal import zooal_frequencies
from utrbench.cli import alignment_options, command
from utrbench.io import write_probabilities
from utrbench.seq.genome import Genome


@command()
@alignment_options
@click.option("--pseudocount", default=0.0, show_default=True, type=click.FloatRange(min=0),
              help="Added to every ACGT count (the study used none).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Per-nucleotide probability HDF5.")
def main(bed, genome_path, maf_paths, maf_dir, maf_index, reference, workers, pseudocount, out):
    with Genome(genome_path) as genome:
        utrs, alignments = utr_alignments(bed, genome, maf_paths, maf_dir, maf_index, reference, workers)
        by_id = {utr.utr_id: utr for utr in utrs}
        frequencies = {
            alignment.utr_id: zooal_frequencies(utr_sequence(genome, by_id[alignment.utr_id], bed),
                                                alignment.columns.values(), pseudocount)
            for alignment in alignments
        }
    ids = [utr.utr_id for utr in utrs]  # BED order, whatever order the alignment was read in
    write_probabilities(out, ids, [frequencies[i] for i in ids],
                        attrs={"model": "Zoo-AL", "orientation": "transcript", "reference": reference,
                               "pseudocount": pseudocount})


if __name__ == "__main__":
    main()
