#!/usr/bin/env python3
"""Write the task inputs of the ``test`` profile into assets/test/tasks/ (fixed seed).

mpra_fastutr.txt: an MPRA table in the layout of Saluki's fastUTR_mpra.txt.gz (no header: sequence,
Jurkat stability, Beas2B stability; NA when unmeasured; sorted by sequence). 40 random 160-nt
regions, each with its reference oligo, two SNP alleles and one mutant whose AU-rich pentamers
are destroyed; stability falls with the number of ATTTA pentamers (planted signal) plus noise.
binnedgenes.txt: a half-life table in the layout of Saluki's binnedgenes.txt for the four genes of
the test dataset (G1..G4 of assets/test/annotation.gtf, one fold each) and two genes that have no
3'UTR there (reported as missing).
"""

from pathlib import Path

import click
import numpy as np

from utrbench.cli import command
from utrbench.io import atomic_output

REGIONS = 40
OLIGO_LENGTH = 160


def _region(rng) -> str:
    """A random 160-nt region with 0-4 ATTTA pentamers planted at random non-overlapping slots."""
    letters = rng.choice(list("ACGT"), size=OLIGO_LENGTH)
    for slot in rng.choice(OLIGO_LENGTH // 10, size=rng.integers(0, 5), replace=False):
        letters[slot * 10:slot * 10 + 5] = list("ATTTA")
    return "".join(letters)


def mpra_rows(rng):
    rows = []
    for _ in range(REGIONS):
        reference = _region(rng)
        oligos = [reference, reference.replace("ATTTA", "AGGGA")]
        for position in rng.choice(OLIGO_LENGTH, size=2, replace=False):
            alternative = "ACGT".replace(reference[position], "")[rng.integers(3)]
            oligos.append(reference[:position] + alternative + reference[position + 1:])
        for oligo in oligos:
            stability = 0.7 - 0.08 * oligo.count("ATTTA") + rng.normal(0, 0.03)
            beas2b = "NA" if rng.random() < 0.3 else f"{stability - 0.1 + rng.normal(0, 0.03):.6f}"
            rows.append((oligo, f"{stability:.6f}", beas2b))
    return sorted(rows)


@command()
@click.option("--out-dir", default="assets/test/tasks", show_default=True, type=click.Path())
@click.option("--seed", default=7, show_default=True)
def main(out_dir, seed):
    rng = np.random.default_rng(seed)
    out_dir = Path(out_dir)
    with atomic_output(out_dir / "mpra_fastutr.txt") as tmp:
        tmp.write_text("".join("\t".join(row) + "\n" for row in mpra_rows(rng)))
    genes = ["G1", "G2", "G3", "G4", "G9", "G10"]
    halflife = rng.normal(0, 1, size=len(genes))
    with atomic_output(out_dir / "binnedgenes.txt") as tmp:
        tmp.write_text("BIN\tGENEID\tHALFLIFE\n" + "".join(
            f"{fold}\t{gene}\t{value:.6f}\n" for fold, (gene, value) in enumerate(zip(genes, halflife), start=1)))


if __name__ == "__main__":
    main()
