#!/usr/bin/env python3
"""Per-species UTR sequences (``>utr_id:species``) and coverage from a multiple alignment (MAF)."""

import click

from utrbench.align.maf import utr_alignments
from utrbench.cli import alignment_options, command
from utrbench.io import atomic_output
from utrbench.seq.genome import Genome

COVERAGE_COLUMNS = ["utr_id", "species", "contig", "strand", "utr_length", "sequence_length",
                    "covered_positions", "coverage", "candidates"]


@command()
@alignment_options
@click.option("--out-fasta", required=True, type=click.Path(dir_okay=False), help="FASTA with '>utr_id:species'.")
@click.option("--out-coverage", required=True, type=click.Path(dir_okay=False), help="TSV of coverage per UTR and species.")
def main(bed, genome_path, maf_paths, maf_dir, maf_index, reference, out_fasta, out_coverage):
    with Genome(genome_path) as genome:
        _, alignments = utr_alignments(bed, genome, maf_paths, maf_dir, maf_index, reference)
        with atomic_output(out_fasta) as fasta_tmp, atomic_output(out_coverage) as coverage_tmp, \
                open(fasta_tmp, "w") as fasta, open(coverage_tmp, "w") as coverage:
            coverage.write("\t".join(COVERAGE_COLUMNS) + "\n")
            for alignment in alignments:
                for species, found in alignment.species.items():
                    fasta.write(f">{alignment.utr_id}:{species}\n{found.sequence}\n")
                    coverage.write(
                        f"{alignment.utr_id}\t{species}\t{found.contig}\t{found.strand}\t{alignment.length}\t"
                        f"{len(found.sequence)}\t{found.covered_positions}\t"
                        f"{found.covered_positions / alignment.length:.6g}\t{found.candidates}\n")


if __name__ == "__main__":
    main()
