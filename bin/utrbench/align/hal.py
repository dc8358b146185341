"""hal2maf (Cactus HAL tools) over the UTR regions, one MAF per reference chromosome.

Kept free of numpy/pandas/h5py imports: it runs inside the published Cactus container,
which has Python but not the pipeline's scientific stack.
"""

import os
import subprocess
from collections import defaultdict
from pathlib import Path

from utrbench.errors import UserError


def merged_regions(bed_path, flank=0) -> dict:
    """``{chrom: [(start, end), ...]}``: the BED's intervals widened by ``flank``, merged, sorted."""
    bed_path = Path(bed_path)
    if not bed_path.exists():
        raise UserError(f"{bed_path}: file not found.")
    by_chrom = defaultdict(list)
    with open(bed_path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            columns = line.split("\t")
            try:
                chrom, start, end = columns[0], int(columns[1]), int(columns[2])
            except (IndexError, ValueError):
                raise UserError(f"{bed_path}: line {number} is not a BED line (chrom, start, end).") from None
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


def hal_to_mafs(hal, bed, reference, out_dir, executable="hal2maf", target_genomes=None, flank=0) -> list:
    """Write ``out_dir/<chrom>.bed`` and ``out_dir/<chrom>.maf`` per chromosome; return the MAF paths.

    Each MAF appears under its final name only once hal2maf has finished it.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    mafs = []
    for chrom, regions in merged_regions(bed, flank).items():
        targets = out_dir / f"{chrom}.bed"
        targets.write_text("".join(f"{chrom}\t{start}\t{end}\n" for start, end in regions))
        maf = out_dir / f"{chrom}.maf"
        partial = out_dir / f".{chrom}.maf.partial"
        command = hal2maf_command(executable, hal, partial, reference, targets, target_genomes)
        try:
            result = subprocess.run(command, capture_output=True, text=True)
        except FileNotFoundError:
            raise UserError(f"hal2maf executable {executable!r} was not found (run in the Cactus container).") from None
        if result.returncode != 0:
            partial.unlink(missing_ok=True)
            message = (result.stderr.strip().splitlines() or ["no message"])[-1]
            raise UserError(f"hal2maf failed for {chrom} of {hal} (exit {result.returncode}): {message}")
        os.replace(partial, maf)
        mafs.append(maf)
    return mafs
