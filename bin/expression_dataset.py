#!/usr/bin/env python3
"""TSS windows, log10 TPM labels of one tissue and the DExTER train/dev/test split."""

import json

import click

from utrbench.cli import command


@command()
@click.option("--genome", required=True, type=click.Path(), help="Genome FASTA (plain or bgzip, indexed by pysam).")
@click.option("--gtf", required=True, type=click.Path(), help="Annotation GTF; 'gene' features give the TSS.")
@click.option("--expression", required=True, type=click.Path(),
              help="GTEx median-TPM GCT (v8 layout) or a gene x tissue table (first column gene id).")
@click.option("--tissue", required=True, help="Tissue column, e.g. Pituitary.")
@click.option("--flank", default=2000, show_default=True, help="Bases each side of the TSS (window = 2*flank+1).")
@click.option("--gene-types", default="protein_coding", show_default=True,
              help="Comma-separated gene_type/gene_biotype values to keep; empty keeps all.")
@click.option("--contigs", default="", help="Comma-separated contigs to keep; empty keeps all.")
@click.option("--max-n-fraction", default=0.1, show_default=True, help="Drop windows with a larger fraction of N.")
@click.option("--seed", default=686185200, show_default=True, help="Python random seed of DExTER's 2/3 split.")
@click.option("--dev-fraction", default=0.13, show_default=True, help="Fraction of training genes held out as dev.")
@click.option("--dev-seed", default=42, show_default=True, help="random_state of the dev split.")
@click.option("--out-fasta", required=True, type=click.Path(), help="Windows FASTA, one record per gene.")
@click.option("--out-labels", required=True, type=click.Path(), help="TSV: gene tpm log10_tpm split.")
@click.option("--out-summary", required=True, type=click.Path(), help="JSON with the counts of kept and dropped genes.")
def main(genome, gtf, expression, tissue, flank, gene_types, contigs, max_n_fraction, seed, dev_fraction, dev_seed,
         out_fasta, out_labels, out_summary):
    import pandas as pd

    from utrbench.expression.dataset import TPM_FLOOR, log10_tpm, read_expression, split_genes, tss_windows
    from utrbench.io import atomic_output, write_tsv
    from utrbench.seq import write_fasta
    from utrbench.seq.genome import Genome

    tpm = read_expression(expression, tissue)
    with Genome(genome) as reference:
        windows = tss_windows(gtf, reference, flank=flank, gene_types=[t for t in gene_types.split(",") if t],
                              contigs=[c for c in contigs.split(",") if c], max_n_fraction=max_n_fraction)
    matched = [gene for gene in tpm.index if gene in windows.windows]
    rows = split_genes(matched, seed=seed, dev_fraction=dev_fraction, dev_seed=dev_seed)
    genes = [gene for gene, _ in rows]
    labels = pd.DataFrame({
        "gene": genes,
        "tpm": tpm.loc[genes].to_numpy(),
        "log10_tpm": log10_tpm(tpm.loc[genes].to_numpy()),
        "split": [split for _, split in rows],
    })
    summary = {
        "tissue": tpm.name,
        "window_length": 2 * flank + 1,
        "genes_in_gtf": windows.genes_in_gtf,
        "genes_filtered_by_type_or_contig": windows.wrong_type_or_contig,
        "genes_dropped_window_off_contig": len(windows.off_contig_end),
        "genes_dropped_too_many_n": len(windows.too_many_n),
        "genes_with_window": len(windows.windows),
        "genes_in_expression_table": int(len(tpm)),
        "genes_matched": len(genes),
        "genes_at_floor": int((labels["tpm"] <= TPM_FLOOR).sum()),
        "split_sizes": {name: int((labels["split"] == name).sum()) for name in ("train", "dev", "test")},
    }
    write_fasta(((gene, windows.windows[gene]) for gene in genes), out_fasta)
    write_tsv(labels, out_labels, float_format="%.9g")
    with atomic_output(out_summary) as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    click.echo(f"{len(genes)} genes: {summary['split_sizes']}; dropped {summary['genes_dropped_window_off_contig']} "
               f"off contig ends", err=True)


if __name__ == "__main__":
    main()
