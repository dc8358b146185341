#!/usr/bin/env python3
"""Labelled 3'UTR variant sets of task 2 (ClinVar, gnomAD, eQTL Catalogue, CADD, a user table), GRCh38."""

import click

from utrbench.cli import command


@command()
@click.option("--bed", required=True, type=click.Path(dir_okay=False), help="The dataset's 3'UTR BED6 (utr_annotation.py).")
@click.option("--genome", "genome_path", required=True, type=click.Path(dir_okay=False), help="Genome FASTA (GRCh38).")
@click.option("--clinvar", type=click.Path(dir_okay=False), default=None, help="ClinVar VCF (e.g. clinvar_20231007.vcf.gz).")
@click.option("--gnomad", multiple=True, type=click.Path(dir_okay=False),
              help="gnomAD sites VCF, bgzipped with its index (repeat, e.g. one per chromosome).")
@click.option("--eqtl", multiple=True, type=click.Path(dir_okay=False),
              help="eQTL Catalogue QTD*.credible_sets.tsv.gz (repeat for several datasets).")
@click.option("--cadd", multiple=True, type=click.Path(dir_okay=False),
              help="CADD training variants, told apart by name: simulation_SNVs.vcf.gz (label 1), "
                   "humanDerived_SNVs.vcf.gz (label 0); give both.")
@click.option("--table", "tables", multiple=True, type=click.Path(dir_okay=False),
              help="Own variants: TSV 'chrom pos ref alt label [split]' with a header (repeat for several).")
@click.option("--per-class", default=10000, show_default=True, type=click.IntRange(min=1),
              help="Variants drawn per split and label.")
@click.option("--shared-negatives", is_flag=True,
              help="One gnomAD-common sample shared by the clinvar, gnomAD and eQTL splits (the study) instead of disjoint ones.")
@click.option("--gnomad-pass-only", is_flag=True, help="Keep only gnomAD records with FILTER=PASS (the study checks none).")
@click.option("--strict", is_flag=True, help="Stop at the first reference mismatch instead of dropping it.")
@click.option("--max-ref-mismatch", default=0.05, show_default=True, type=click.FloatRange(0, 1),
              help="Fraction of a source's UTR variants whose ref may differ from the genome before it counts as another build.")
@click.option("--seed", default=1, show_default=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Variants TSV.")
@click.option("--out-counts", required=True, type=click.Path(dir_okay=False), help="Counts after each filter step (TSV).")
def main(bed, genome_path, clinvar, gnomad, eqtl, cadd, tables, per_class,
         shared_negatives, gnomad_pass_only, strict, max_ref_mismatch, seed, out, out_counts):
    """Read, filter, intersect with the UTRs, check against the genome and sample the variant sets."""
    from utrbench.align.utrs import read_utr_bed
    from utrbench.io import write_tsv
    from utrbench.seq.genome import Genome
    from utrbench.tasks.variants import Sources, build_variant_sets, cadd_files

    simulated, human_derived = cadd_files(cadd)
    sources = Sources(clinvar, tuple(gnomad), tuple(eqtl), simulated, human_derived, tuple(tables))
    with Genome(genome_path) as genome:
        variants, counts = build_variant_sets(sources, read_utr_bed(bed), genome, per_class, seed, shared_negatives,
                                              strict, max_ref_mismatch, gnomad_pass_only)
    write_tsv(variants, out)
    write_tsv(counts, out_counts)


if __name__ == "__main__":
    main()
