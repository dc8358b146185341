#!/usr/bin/env python3
"""Per-species UTR sequences (``>utr_id:species``) and coverage from a multiple alignment (MAF).

This is the aligned-bases mode: a species' sequence is its bases aligned to the human UTR,
joined across blocks, so it may cover only part of the UTR. ``--min-coverage`` keeps only the
sequences that cover at least that fraction of the human UTR; every coverage is still listed in
the coverage TSV, and ``--out-summary`` gives the coverage distribution per species. (The
study's rule, the contiguous species sequence after the aligned stop codon, needs the species
genomes: the HAL route, hal_ortholog_regions.py.)
"""

from collections import defaultdict

import click
import numpy as np

from utrbench.align.hal import check_species_found, read_species_list
from utrbench.align.maf import utr_alignments
from utrbench.cli import alignment_options, command
from utrbench.io import atomic_output
from utrbench.seq.genome import Genome

COVERAGE_COLUMNS = ["utr_id", "species", "contig", "strand", "utr_length", "sequence_length",
                    "covered_positions", "coverage", "candidates"]
SUMMARY_COLUMNS = ["species", "utrs", "kept", "coverage_min", "coverage_q25", "coverage_median",
                   "coverage_q75", "coverage_max", "coverage_mean"]


def summary_rows(coverages: dict, min_coverage: float) -> list:
    """One row per species: UTRs aligned, UTRs kept by ``min_coverage``, coverage quantiles and mean."""
    rows = []
    for species in sorted(coverages):
        values = np.asarray(coverages[species])
        quantiles = np.quantile(values, [0, 0.25, 0.5, 0.75, 1])
        rows.append([species, len(values), int((values >= min_coverage).sum()), *quantiles, values.mean()])
    return rows


@command()
@alignment_options
@click.option("--species", "species_path", type=click.Path(dir_okay=False), default=None,
              help="Keep only these species (one per line); default every species of the alignment.")
@click.option("--min-coverage", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Keep a species' sequence only if it covers at least this fraction of the human UTR.")
@click.option("--out-fasta", required=True, type=click.Path(dir_okay=False), help="FASTA with '>utr_id:species'.")
@click.option("--out-coverage", required=True, type=click.Path(dir_okay=False), help="TSV of coverage per UTR and species.")
@click.option("--out-summary", default=None, type=click.Path(dir_okay=False), help="TSV: coverage distribution per species.")
def main(bed, genome_path, maf_paths, maf_dir, maf_index, reference, workers, species_path, min_coverage,
         out_fasta, out_coverage, out_summary):
    requested = set(read_species_list(species_path)) if species_path else None
    coverages = defaultdict(list)
    with Genome(genome_path) as genome:
        _, alignments = utr_alignments(bed, genome, maf_paths, maf_dir, maf_index, reference, workers)
        with atomic_output(out_fasta) as fasta_tmp, atomic_output(out_coverage) as coverage_tmp, \
                open(fasta_tmp, "w") as fasta, open(coverage_tmp, "w") as coverage:
            coverage.write("\t".join(COVERAGE_COLUMNS) + "\n")
            for alignment in alignments:
                for species, found in alignment.species.items():
                    if requested is not None and species not in requested:
                        continue
                    fraction = found.covered_positions / alignment.length
                    coverages[species].append(fraction)
                    if fraction >= min_coverage:
                        fasta.write(f">{alignment.utr_id}:{species}\n{found.sequence}\n")
                    coverage.write(
                        f"{alignment.utr_id}\t{species}\t{found.contig}\t{found.strand}\t{alignment.length}\t"
                        f"{len(found.sequence)}\t{found.covered_positions}\t{fraction:.6g}\t{found.candidates}\n")
            check_species_found(coverages, sorted(requested or []), species_path)
            if out_summary:
                with atomic_output(out_summary) as summary_tmp, open(summary_tmp, "w") as summary:
                    summary.write("\t".join(SUMMARY_COLUMNS) + "\n")
                    for row in summary_rows(coverages, min_coverage):
                        summary.write("\t".join([row[0], str(row[1]), str(row[2])] + [f"{v:.6g}" for v in row[3:]]) + "\n")


if __name__ == "__main__":
    main()
