"""Cactus HAL tools: hal2maf over the UTRs or their stop codons, hal2fasta for the species' UTRs.

Kept free of numpy/pandas/h5py imports: it runs inside the published Cactus container,
which has Python but not the pipeline's scientific stack.
"""

import os
import subprocess
from collections import defaultdict
from pathlib import Path

from utrbench.errors import UserError

# utrbench.seq.alphabet has this too, but importing utrbench.seq loads pysam (absent in Cactus).
_COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")

REGION_COLUMNS = ["utr_id", "species", "contig", "start", "end", "strand", "utr_length"]


def _bed_rows(bed_path):
    """``(line_number, columns)`` per data line of a BED file."""
    bed_path = Path(bed_path)
    if not bed_path.exists():
        raise UserError(f"{bed_path}: file not found.")
    with open(bed_path) as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip() and not line.startswith(("#", "track", "browser")):
                yield number, line.rstrip("\n").split("\t")


def merged_regions(bed_path, flank=0, stop_codons=False) -> dict:
    """``{chrom: [(start, end), ...]}``: the BED's intervals widened by ``flank``, merged, sorted.

    With ``stop_codons`` the intervals are the 3 nt just upstream of each UTR (its exon of rank
    0 in the BED6 of utr_annotation.py) in transcript direction: the stop codons.
    """
    by_chrom = defaultdict(list)
    for number, columns in _bed_rows(bed_path):
        try:
            chrom, start, end = columns[0], int(columns[1]), int(columns[2])
            rank, strand = (int(columns[4]), columns[5]) if stop_codons else (0, "+")
        except (IndexError, ValueError):
            wanted = "BED6 line (chrom, start, end, name, rank, strand)" if stop_codons else "BED line (chrom, start, end)"
            raise UserError(f"{bed_path}: line {number} is not a {wanted}.") from None
        if stop_codons:
            if rank != 0:
                continue
            start, end = (start - 3, start) if strand == "+" else (end, end + 3)
            if start < 0:
                continue  # no room for a stop codon before the contig start
        by_chrom[chrom].append((max(0, start - flank), end + flank))
    regions = {}
    for chrom in sorted(by_chrom):
        merged = []
        for start, end in sorted(by_chrom[chrom]):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        regions[chrom] = merged
    return regions


def hal2maf_command(executable, hal, out_maf, reference, targets_bed, target_genomes=None) -> list:
    """The hal2maf call for one chromosome: orthologs only, no ancestral genomes, reference rows first."""
    command = [str(executable), str(hal), str(out_maf), "--refGenome", reference, "--noAncestors",
               "--onlyOrthologs", "--refTargets", str(targets_bed)]
    if target_genomes:
        command += ["--targetGenomes", ",".join(target_genomes)]
    return command


def _run(command, what):
    """Run a HAL tool; a missing executable or a failure is a one-sentence UserError."""
    try:
        result = subprocess.run(command, capture_output=True, text=True)
    except FileNotFoundError:
        raise UserError(f"{command[0]!r} was not found (run in the Cactus container).") from None
    if result.returncode != 0:
        message = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise UserError(f"{Path(command[0]).name} failed for {what} (exit {result.returncode}): {message}")


def hal_to_mafs(hal, bed, reference, out_dir, executable="hal2maf", target_genomes=None, flank=0,
                chroms=None, stop_codons=False) -> list:
    """Write ``out_dir/<chrom>.bed`` and ``out_dir/<chrom>.maf`` per chromosome; return the MAF paths.

    ``chroms`` restricts the run to those chromosomes (the pipeline runs one task per
    chromosome). Each MAF appears under its final name only once hal2maf has finished it; a
    hal2maf that exits 0 without writing a MAF is an error, so an empty ``out_dir`` never passes.
    """
    out_dir = Path(out_dir)
    regions_by_chrom = merged_regions(bed, flank, stop_codons)
    if chroms:
        missing = [chrom for chrom in chroms if chrom not in regions_by_chrom]
        if missing:
            raise UserError(f"{bed}: no UTR on chromosome {missing[0]!r}, which --chrom asks for.")
        regions_by_chrom = {chrom: regions_by_chrom[chrom] for chrom in chroms}
    if not regions_by_chrom:
        raise UserError(f"{bed}: no UTR to extract from {hal}.")
    out_dir.mkdir(parents=True, exist_ok=True)
    mafs = []
    for chrom, regions in regions_by_chrom.items():
        targets = out_dir / f"{chrom}.bed"
        targets.write_text("".join(f"{chrom}\t{start}\t{end}\n" for start, end in regions))
        maf = out_dir / f"{chrom}.maf"
        partial = out_dir / f".{chrom}.maf.partial"
        try:
            _run(hal2maf_command(executable, hal, partial, reference, targets, target_genomes), f"{chrom} of {hal}")
        except UserError:
            partial.unlink(missing_ok=True)
            raise
        if not partial.exists() or partial.stat().st_size == 0:
            partial.unlink(missing_ok=True)
            raise UserError(f"hal2maf exited without error for {chrom} of {hal} but wrote no MAF.")
        os.replace(partial, maf)
        mafs.append(maf)
    return mafs


def read_species_list(path) -> list:
    """Species names of a ``--species`` file, one per line; an empty list is an error."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: file not found.")
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not names:
        raise UserError(f"{path}: the --species file names no species.")
    return names


def check_species_found(found, requested, where) -> None:
    """A ``--species`` list none of whose names the alignment has would drop every species: an error."""
    if requested and not set(requested) & set(found):
        raise UserError(f"{where}: none of the {len(requested)} species of --species (e.g. {requested[0]!r}) has a row "
                        "in the alignment, so every species would be dropped; check the names.")


def read_regions(path) -> list:
    """The rows of a regions TSV (:data:`REGION_COLUMNS`, as written by hal_ortholog_regions.py)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: file not found.")
    with open(path) as handle:
        header = handle.readline().rstrip("\n").split("\t")
        if header != REGION_COLUMNS:
            raise UserError(f"{path}: header is not {' '.join(REGION_COLUMNS)}.")
        rows = []
        for number, line in enumerate(handle, start=2):
            fields = line.rstrip("\n").split("\t")
            try:
                utr_id, species, contig, start, end, strand, _ = fields
                rows.append((utr_id, species, contig, int(start), int(end), strand))
            except ValueError:
                raise UserError(f"{path}: line {number} is not a region row of {len(REGION_COLUMNS)} columns.") from None
    return rows


def _fasta_records(lines):
    """``(name, sequence)`` per record of FASTA text lines, one record in memory at a time."""
    name, parts = None, []
    for line in lines:
        if line.startswith(">"):
            if name is not None:
                yield name, "".join(parts)
            name, parts = line[1:].split()[0], []
        else:
            parts.append(line.strip())
    if name is not None:
        yield name, "".join(parts)


def species_utr_sequences(hal, species, regions, executable="hal2fasta"):
    """Yield ``(utr_id, sequence)`` for one species' regions, in transcript orientation.

    hal2fasta writes the species genome to a pipe, read one contig at a time, so neither the
    genome nor a FASTA of it is ever held or written. Regions are ``(utr_id, species, contig,
    start, end, strand)`` rows of this species; each is cut from its contig and
    reverse-complemented on '-'. Sequences keep hal2fasta's letters, uppercased.
    """
    by_contig = defaultdict(list)
    for utr_id, _, contig, start, end, strand in regions:
        by_contig[contig].append((utr_id, start, end, strand))
    command = [str(executable), str(hal), species]
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except FileNotFoundError:
        raise UserError(f"{executable!r} was not found (run in the Cactus container).") from None
    found = set()
    with process:
        for contig, sequence in _fasta_records(process.stdout):
            for utr_id, start, end, strand in by_contig.get(contig, ()):
                if end > len(sequence):
                    raise UserError(f"{species}: region {contig}:{start}-{end} of UTR {utr_id} lies past the end "
                                    f"of the contig in {hal} (length {len(sequence)}).")
                piece = sequence[start:end].upper()
                yield utr_id, piece.translate(_COMPLEMENT)[::-1] if strand == "-" else piece
            found.add(contig)
        error = process.stderr.read()
    if process.returncode != 0:
        message = (error.strip().splitlines() or ["no message"])[-1]
        raise UserError(f"hal2fasta failed for {species} of {hal} (exit {process.returncode}): {message}")
    missing = sorted(set(by_contig) - found)
    if missing:
        raise UserError(f"{hal}: genome {species} has no sequence {missing[0]!r}, which the regions name.")


def write_species_fasta(records, species, out) -> None:
    """Write ``>utr_id:species`` records to ``out`` through a partial name renamed when complete
    (``utrbench.io.atomic_output`` would import h5py, which the Cactus container lacks)."""
    out = Path(out)
    partial = out.with_name(f".{out.name}.partial")
    try:
        with open(partial, "w") as fasta:
            for utr_id, sequence in records:
                fasta.write(f">{utr_id}:{species}\n{sequence}\n")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, out)
