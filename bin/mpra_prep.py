#!/usr/bin/env python3
"""MPRA target tables: one ``<dataset>.<cell>_<measure>.tsv`` per cell line and measure, plus ``<dataset>.fa``.

Formats (see utrbench.tasks.mpra): 'fastutr' (Saluki's fastUTR_mpra.txt.gz), 'siegel' (one or more
sequence_level_data_<cell>.csv), 'griesemer' (Oligo_Variant_Info.txt, Variant_MPRAu_Results.txt and the
GRCh37 genome FASTA their coordinates refer to, recognised by name), 'generic' (one table with the named columns).
"""

from pathlib import Path

import click

from utrbench.cli import command


FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fa.gz", ".fasta.gz", ".fna.gz")


def _griesemer_files(inputs):
    by_kind = {"info": [p for p in inputs if "oligo_variant_info" in Path(p).name.lower()],
               "results": [p for p in inputs if "mprau_results" in Path(p).name.lower()],
               "genome": [p for p in inputs if Path(p).name.lower().endswith(FASTA_SUFFIXES)]}
    if any(len(paths) != 1 for paths in by_kind.values()):
        from utrbench.errors import UserError
        raise UserError("--format griesemer needs exactly one Oligo_Variant_Info file, one Variant_MPRAu_Results "
                        "file and one GRCh37 genome FASTA (.fa, .fasta or .fna, optionally .gz).")
    return by_kind["info"][0], by_kind["results"][0], by_kind["genome"][0]


@command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@click.option("--format", "table_format", required=True, type=click.Choice(["fastutr", "siegel", "griesemer", "generic"]))
@click.option("--dataset", required=True, help="Dataset name: the first part of every output file name.")
@click.option("--out-dir", required=True, type=click.Path(), help="Folder to create with the tables and the FASTA.")
@click.option("--near-identical-k", default=30, show_default=True,
              help="fastutr: oligos sharing an exact k-mer of this length share a group.")
@click.option("--all-oligos", is_flag=True, help="siegel: keep every oligo, not only issnp == 1 (the study's set).")
@click.option("--id-column", default="id", show_default=True, help="generic: id column.")
@click.option("--sequence-column", default="sequence", show_default=True, help="generic: sequence column.")
@click.option("--group-column", default="group", show_default=True, help="generic: cross-validation group column.")
@click.option("--target-column", multiple=True, help="generic: a measured column (repeat for several).")
def main(inputs, table_format, dataset, out_dir, near_identical_k, all_oligos, id_column, sequence_column,
         group_column, target_column):
    from utrbench.errors import UserError
    from utrbench.io import atomic_output
    from utrbench.tasks import mpra
    from utrbench.tasks.targets import write_target_table
    from utrbench.seq.fasta import write_fasta

    if table_format in ("fastutr", "generic") and len(inputs) != 1:
        raise UserError(f"--format {table_format} reads exactly one table, got {len(inputs)}.")
    if table_format == "fastutr":
        tables = mpra.read_fastutr(inputs[0], near_identical_k)
    elif table_format == "siegel":
        tables = {}
        for path in inputs:
            tables.update(mpra.read_siegel(path, snp_only=not all_oligos))
    elif table_format == "griesemer":
        tables = mpra.read_griesemer(*_griesemer_files(inputs))
    else:
        if not target_column:
            raise UserError("--format generic needs at least one --target-column.")
        tables = mpra.read_generic(inputs[0], id_column, sequence_column, group_column, list(target_column))
    with atomic_output(out_dir) as tmp:
        tmp.mkdir()
        for subset, table in tables.items():
            write_target_table(table, tmp / f"{dataset}.{subset}.tsv")
            click.echo(f"{dataset}.{subset}: {len(table):,} oligos in {table['group'].nunique():,} groups", err=True)
        write_fasta(mpra.oligo_fasta_records(tables), tmp / f"{dataset}.fa")


if __name__ == "__main__":
    main()
