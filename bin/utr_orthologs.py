#!/usr/bin/env python3
"""Per-species UTR sequences (``>utr_id:species``) and coverage from a multiple alignment (MAF)."""

from pathlib import Path

import click

from utrbench.align.maf import indexed_alignments, stream_alignments
from utrbench.align.utrs import read_utr_bed
from utrbench.cli import command
from utrbench.errors import UserError
from utrbench.io import atomic_output
from utrbench.seq.genome import Genome

COVERAGE_COLUMNS = ["utr_id", "species", "contig", "strand", "utr_length", "sequence_length",
                    "covered_positions", "coverage", "candidates"]


def alignment_options(function):
    """Options shared with zooal.py: the UTRs, the genome and the alignment."""
    options = [
        click.option("--bed", required=True, type=click.Path(dir_okay=False), help="UTR BED6 from utr_annotation.py."),
        click.option("--genome", "genome_path", required=True, type=click.Path(dir_okay=False),
                     help="Reference genome FASTA the MAF's reference rows must match."),
        click.option("--maf", "maf_paths", multiple=True, type=click.Path(dir_okay=False),
                     help="MAF (plain, gzip or bgzip), sorted by reference position; repeat for several."),
        click.option("--maf-dir", type=click.Path(file_okay=False), default=None,
                     help="Directory whose *.maf and *.maf.gz files are all read (e.g. one per chromosome)."),
        click.option("--maf-index", type=click.Path(dir_okay=False), default=None,
                     help="bx interval index of a single MAF (maf_index.py): random access instead of streaming."),
        click.option("--reference", default="Homo_sapiens", show_default=True, help="Reference species name in the MAF."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def utr_alignments(bed, genome, maf_paths, maf_dir, maf_index, reference):
    """The UTRs of ``bed`` and an iterator of their alignments (indexed or streamed).

    MAFs are read in sorted path order, so outputs do not depend on how files were listed.
    """
    if maf_dir:
        maf_paths = [*maf_paths, *Path(maf_dir).glob("*.maf"), *Path(maf_dir).glob("*.maf.gz")]
    maf_paths = sorted(map(str, maf_paths))
    if not maf_paths:
        raise UserError("no MAF given: pass --maf or a --maf-dir holding *.maf or *.maf.gz files.")
    utrs = read_utr_bed(bed)
    for utr in utrs:
        if utr.chrom not in genome.contigs:
            raise UserError(f"{bed}: UTR {utr.utr_id} lies on contig {utr.chrom!r}, which {genome.path} does not have.")
    if maf_index:
        if len(maf_paths) != 1:
            raise UserError("--maf-index indexes one MAF; give exactly one --maf with it.")
        return utrs, indexed_alignments(maf_paths[0], maf_index, utrs, genome, reference)
    return utrs, stream_alignments(maf_paths, utrs, genome, reference)


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
