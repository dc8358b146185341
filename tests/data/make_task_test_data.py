#!/usr/bin/env python3
"""Write the task inputs of the ``test`` profile into assets/test/tasks/ (fixed seed).

mpra_fastutr.txt: an MPRA table in the layout of Saluki's fastUTR_mpra.txt.gz (no header: sequence,
Jurkat stability, Beas2B stability; NA when unmeasured; sorted by sequence). 40 random 160-nt
regions, each with its reference oligo, two SNP alleles and one mutant whose AU-rich pentamers
are destroyed; stability falls with the number of ATTTA pentamers (planted signal) plus noise.
rbp/: eCLIP peaks and an RBNS table for the RBP task (see :func:`write_rbp_inputs`).
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


# ---------------------------------------------------------------- RBP task (TASK_RBP)

RBP_BOUND = "PUM2"     # IDR peaks over the 5' half of every test UTR
RBP_OTHER = "HNRNPC"   # replicate-level peaks only: they keep negatives out but give no positives
RBP_KMERS = 8          # RBNS 5-mers of the bound RBP


def _test_utrs(dataset_dir):
    """The test profile's UTRs (spliced, as conf/test.config) with their transcript sequences."""
    from utrbench.align.utrs import read_transcripts, select_utrs, utr_sequence
    from utrbench.seq.genome import Genome

    utrs, _ = select_utrs(read_transcripts(dataset_dir / "annotation.gtf"), single_exon_only=False)
    with Genome(dataset_dir / "genome.fa") as genome:
        return [(utr, utr_sequence(genome, utr, "test genome")) for utr in utrs]


def _genomic(utr, start, end):
    """Genomic pieces ``(start, end)`` of transcript interval ``[start, end)`` of ``utr``."""
    pieces, offset = [], 0
    for exon_start, exon_end in utr.exons_in_transcript_order():
        length = exon_end - exon_start
        low, high = max(start - offset, 0), min(end - offset, length)
        if low < high:
            pieces.append((exon_start + low, exon_start + high) if utr.strand == "+"
                          else (exon_end - high, exon_end - low))
        offset += length
    return pieces


def rbp_peak_lines(utrs, rng):
    """narrowPeak lines per (RBP, cell line): the bound RBP's IDR peaks cover the 5' half of each UTR,
    split between K562 and HepG2; the other RBP has replicate peaks over the last fifth."""
    files = {f"{RBP_BOUND}_K562": [], f"{RBP_BOUND}_HepG2": [], f"{RBP_OTHER}_K562": []}
    for utr, sequence in utrs:
        half = len(sequence) // 2
        for name, (start, end) in ((f"{RBP_BOUND}_K562", (0, half // 2 + 10)), (f"{RBP_BOUND}_HepG2", (half // 2, half)),
                                   (f"{RBP_OTHER}_K562", (len(sequence) - len(sequence) // 5, len(sequence)))):
            suffix = "IDR" if name.startswith(RBP_BOUND) else "rep01"
            for piece_start, piece_end in _genomic(utr, start, end):
                # the 5' extension (50 nt) is applied by rbp_sites.py; undo it here so peaks start where planted
                if utr.strand == "+":
                    piece_start += 50
                else:
                    piece_end -= 50
                if piece_end > piece_start:
                    signal = rng.uniform(2, 20)
                    files[name].append(f"{utr.chrom}\t{piece_start}\t{piece_end}\t{name}_{suffix}\t1000\t{utr.strand}\t"
                                       f"{signal:.3f}\t{signal / 2:.3f}\t-1\t-1\n")
    return {name: sorted(lines) for name, lines in files.items()}


def rbns_rows(utrs):
    """The Van Nostrand layout: RBP, four skipped columns, then KMER_LOGO_STEPWISER entries (U for T).

    The bound RBP gets the 5-mers found most often both inside its peaks and outside every peak, so
    the test profile has positives and negatives of each; one entry is below stepwise R - 1 = 0."""
    import collections

    inside, outside = collections.Counter(), collections.Counter()
    for _, sequence in utrs:
        half = len(sequence) // 2
        inside.update(sequence[p:p + 5] for p in range(0, half - 4))
        outside.update(sequence[p:p + 5] for p in range(half, len(sequence) - len(sequence) // 5 - 4))
    shared = sorted((kmer for kmer in inside if outside[kmer] and "N" not in kmer),
                    key=lambda kmer: (-min(inside[kmer], outside[kmer]), kmer))[:RBP_KMERS]
    entries = [f"{kmer.replace('T', 'U')}_{n % 3 + 1}_{1.5 - 0.1 * n:.2f}" for n, kmer in enumerate(shared)]
    entries.append("GGGGG_1_-0.25")
    return [["RBP", "Description", "Logos", "Enrichment", "Notes", *[f"kmer_{n}" for n in range(len(entries))]],
            [RBP_BOUND, "test", "1", "1", "", *entries],
            [RBP_OTHER, "test", "1", "1", "", "UUUUU_1_0.80", *[""] * (len(entries) - 1)]]


def write_phylop_bigwig(path, utrs, contig_sizes, rng):
    """Per-base conservation: noise everywhere, raised by 3 inside the bound RBP's peaks (planted)."""
    import pyBigWig

    values = {name: rng.normal(0.0, 1.0, size) for name, size in contig_sizes.items()}
    for utr, sequence in utrs:
        for start, end in _genomic(utr, 0, len(sequence) // 2):
            values[utr.chrom][start:end] += 3.0
    with atomic_output(path, suffix=".bw") as tmp:
        bigwig = pyBigWig.open(str(tmp), "w")
        bigwig.addHeader(sorted(contig_sizes.items()))
        for name in sorted(contig_sizes):
            bigwig.addEntries(name, 0, values=[round(float(v), 3) for v in values[name]], span=1, step=1)
        bigwig.close()


def write_rbp_inputs(out_dir, dataset_dir, rng):
    """rbp/<RBP>_<cell>.narrowPeak, rbp/rbns.tsv and rbp/phylop.bw for the test profile's UTRs."""
    utrs = _test_utrs(dataset_dir)
    for name, lines in rbp_peak_lines(utrs, rng).items():
        with atomic_output(out_dir / "rbp" / f"{name}.narrowPeak") as tmp:
            tmp.write_text("".join(lines))
    with atomic_output(out_dir / "rbp" / "rbns.tsv") as tmp:
        tmp.write_text("".join("\t".join(row) + "\n" for row in rbns_rows(utrs)))
    sizes = {line.split("\t")[0]: int(line.split("\t")[1]) for line in (dataset_dir / "genome.fa.fai").read_text().splitlines()}
    write_phylop_bigwig(out_dir / "rbp" / "phylop.bw", utrs, sizes, rng)


@command()
@click.option("--out-dir", default="assets/test/tasks", show_default=True, type=click.Path())
@click.option("--seed", default=7, show_default=True)
@click.option("--dataset-dir", default="assets/test", show_default=True, type=click.Path(),
              help="The test dataset (annotation.gtf, genome.fa) whose UTRs the RBP inputs cover.")
def main(out_dir, seed, dataset_dir):
    rng = np.random.default_rng(seed)
    out_dir = Path(out_dir)
    with atomic_output(out_dir / "mpra_fastutr.txt") as tmp:
        tmp.write_text("".join("\t".join(row) + "\n" for row in mpra_rows(rng)))
    genes = ["G1", "G2", "G3", "G4", "G9", "G10"]
    halflife = rng.normal(0, 1, size=len(genes))
    with atomic_output(out_dir / "binnedgenes.txt") as tmp:
        tmp.write_text("BIN\tGENEID\tHALFLIFE\n" + "".join(
            f"{fold}\t{gene}\t{value:.6f}\n" for fold, (gene, value) in enumerate(zip(genes, halflife), start=1)))
    write_rbp_inputs(out_dir, Path(dataset_dir), np.random.default_rng([seed, 13]))


if __name__ == "__main__":
    main()
