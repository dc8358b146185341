#!/usr/bin/env python3
"""Where each species' 3'UTR lies, from the alignment of the human stop codons (the study's rule)."""

import click

from utrbench.align.hal import REGION_COLUMNS, check_species_found, read_species_list
from utrbench.align.maf import read_utrs_on_genome, resolve_maf_paths
from utrbench.align.orthologs import OrthologRegion, outcome_counts, stop_codon_orthologs
from utrbench.cli import command
from utrbench.errors import UserError
from utrbench.io import atomic_output
from utrbench.seq.genome import Genome


@command()
@click.option("--bed", required=True, type=click.Path(dir_okay=False), help="UTR BED6 from utr_annotation.py.")
@click.option("--genome", "genome_path", required=True, type=click.Path(dir_okay=False), help="Reference genome FASTA.")
@click.option("--maf", "maf_paths", multiple=True, type=click.Path(dir_okay=False), help="MAF of the stop codons (repeatable).")
@click.option("--maf-dir", type=click.Path(file_okay=False), default=None, help="Folder of stop-codon MAFs (hal2maf_batch.py --stop-codons).")
@click.option("--reference", default="Homo_sapiens", show_default=True, help="Reference species name in the MAF.")
@click.option("--species", "species_path", type=click.Path(dir_okay=False), default=None, help="Keep only these species (one per line).")
@click.option("--out-regions", required=True, type=click.Path(dir_okay=False), help="TSV: one species UTR region per row.")
@click.option("--out-summary", required=True, type=click.Path(dir_okay=False), help="TSV: species, outcome, UTRs.")
def main(bed, genome_path, maf_paths, maf_dir, reference, species_path, out_regions, out_summary):
    maf_paths = resolve_maf_paths(maf_paths, maf_dir)
    requested = read_species_list(species_path) if species_path else None
    with Genome(genome_path) as genome:
        utrs = read_utrs_on_genome(bed, genome)
        results = []
        for utr, human_codon, outcomes in stop_codon_orthologs(maf_paths, utrs, genome, reference):
            results.append((utr, human_codon, {s: o for s, o in outcomes.items() if requested is None or s in requested}))
    found = {species for _, _, outcomes in results for species in outcomes}
    check_species_found(found, requested, species_path)
    regions = [o for _, _, outcomes in results for o in outcomes.values() if isinstance(o, OrthologRegion)]
    if not regions:
        raise UserError(f"{bed}: no species has the stop codon of any UTR in {', '.join(maf_paths)}; no ortholog to extract.")
    with atomic_output(out_regions) as regions_tmp, atomic_output(out_summary) as summary_tmp, \
            open(regions_tmp, "w") as regions_out, open(summary_tmp, "w") as summary_out:
        regions_out.write("\t".join(REGION_COLUMNS) + "\n")
        for region in regions:
            regions_out.write(f"{region.utr_id}\t{region.species}\t{region.contig}\t{region.start}\t{region.end}\t"
                              f"{region.strand}\t{region.utr_length}\n")
        summary_out.write("species\toutcome\tutrs\n")
        for species, outcome, number in outcome_counts(results, reference):
            summary_out.write(f"{species}\t{outcome}\t{number}\n")


if __name__ == "__main__":
    main()
