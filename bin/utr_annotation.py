#!/usr/bin/env python3
"""Human 3'UTRs (BED6 + gene table) from a GENCODE/Ensembl GTF, one per gene (canonical transcript)."""

import click
import pandas as pd

from utrbench.align.utrs import DEFAULT_CONTIG_PATTERN, read_transcripts, select_utrs, write_utr_bed, write_utr_table
from utrbench.cli import command
from utrbench.errors import UserError
from utrbench.io import write_tsv


@command()
@click.option("--gtf", required=True, type=click.Path(dir_okay=False), help="GTF, plain or gzip.")
@click.option("--out-bed", required=True, type=click.Path(dir_okay=False), help="BED6, one line per UTR exon.")
@click.option("--out-table", required=True, type=click.Path(dir_okay=False), help="TSV: UTR id, gene id, gene name, ...")
@click.option("--counts", "counts_path", required=True, type=click.Path(dir_okay=False), help="TSV: UTRs left after each filter step.")
@click.option("--contig-pattern", default=DEFAULT_CONTIG_PATTERN, show_default=True, help="Regex of contigs to keep.")
@click.option("--single-exon-only/--spliced", default=True, show_default=True,
              help="Keep only single-exon UTRs (the study), or also spliced UTRs joined in transcript order.")
@click.option("--min-length", default=0, show_default=True, type=click.IntRange(min=0), help="Minimum UTR length (nt).")
def main(gtf, out_bed, out_table, counts_path, contig_pattern, single_exon_only, min_length):
    utrs, counts = select_utrs(read_transcripts(gtf), contig_pattern, single_exon_only, min_length)
    if not utrs:
        steps = ", ".join(f"{step}: {count}" for step, count in counts)
        raise UserError(f"{gtf}: no 3'UTR of a kept transcript ({steps}).")
    write_utr_bed(utrs, out_bed)
    write_utr_table(utrs, out_table)
    write_tsv(pd.DataFrame(counts, columns=["step", "count"]), counts_path)
    for step, count in counts:
        click.echo(f"{step}\t{count}", err=True)


if __name__ == "__main__":
    main()
