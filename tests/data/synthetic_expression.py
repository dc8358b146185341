"""Synthetic promoter data with a planted k-mer x region signal (tests, test profile, benchmark).

Each gene's window is uniform random sequence; a random number of copies of one k-mer is
written at non-overlapping slots inside one region relative to the TSS, and expression is
linear in that number plus Gaussian noise. DExTER should find that k-mer in that region.
"""

from dataclasses import dataclass

import numpy as np

from utrbench.expression.dexter import NUCLEOTIDES

PLANTED_KMER = "TACG"
PLANTED_REGION = (-125, 341)  # bins 6-9 of the 13-bin lattice: the published CpG hot spot


@dataclass
class PlantedWindows:
    codes: np.ndarray  # uint8 [genes, length]
    copies: np.ndarray  # int64 [genes], planted occurrences per gene
    log10_tpm: np.ndarray  # float64 [genes]


def planted_windows(n_genes, length=4001, tss_index=2000, kmer=PLANTED_KMER, region=PLANTED_REGION,
                    max_copies=8, slope=0.4, noise=0.3, seed=0) -> PlantedWindows:
    """Random windows with ``0..max_copies`` copies of ``kmer`` starting inside ``region``."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, size=(n_genes, length), dtype=np.uint8)
    first = tss_index + region[0]
    n_slots = (region[1] - region[0] + 1) // len(kmer)
    copies = rng.integers(0, max_copies + 1, size=n_genes)
    slot_order = np.argsort(rng.random((n_genes, n_slots)), axis=1)[:, :max_copies]
    gene, rank = np.nonzero(np.arange(max_copies)[None, :] < copies[:, None])
    starts = first + slot_order[gene, rank] * len(kmer)
    for offset, letter in enumerate(kmer):
        codes[gene, starts + offset] = NUCLEOTIDES.index(letter)
    log10_tpm = -1.0 + slope * copies + noise * rng.standard_normal(n_genes)
    return PlantedWindows(codes, copies, log10_tpm)


def decode(codes: np.ndarray) -> list:
    """Strings of a ``uint8 [n, L]`` code matrix (ACGT only)."""
    letters = np.frombuffer(NUCLEOTIDES.encode(), dtype=np.uint8)
    return [row.tobytes().decode() for row in letters[codes]]


def write_study(directory, n_genes=200, flank=2000, spacer=200, seed=0):
    """Write ``genome.fa``, ``genes.gtf`` and ``expression.tsv`` of a planted-signal study.

    Genes alternate strands (minus-strand windows are stored reverse-complemented, so the
    pipeline must flip them back); GTF ids carry version ``.1`` and the expression table
    ``.7`` (the join is on unversioned ids); the expression table lists genes in shuffled
    order plus two genes absent from the GTF; one extra gene sits 50 bp from a contig start
    (its window does not fit) and one is a lncRNA (filtered by gene type). ``n_genes`` and the seed
    fix the planted windows: they equal ``planted_windows(n_genes, 2 * flank + 1, flank, seed=seed)``
    whenever the planted region fits the window.
    """
    from pathlib import Path

    from utrbench.seq import reverse_complement

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    length = 2 * flank + 1
    # Short test windows (small flank) get the planted region clipped to fit.
    region = (max(PLANTED_REGION[0], -flank), min(PLANTED_REGION[1], flank - len(PLANTED_KMER)))
    planted = planted_windows(n_genes, length=length, tss_index=flank, region=region, seed=seed)
    windows = decode(planted.codes)
    rng = np.random.default_rng(seed + 1)
    background = decode(rng.integers(0, 4, size=(n_genes + 2, spacer), dtype=np.uint8))
    genes_per_contig = 50
    contigs, gtf_lines, names = {}, [], []
    for index, window in enumerate(windows):
        contig = f"chr{index // genes_per_contig + 1}"
        name = f"ENSGSYN{index:05d}"
        names.append(name)
        offset = len(contigs.get(contig, "")) + spacer
        strand = "+" if index % 2 == 0 else "-"
        contigs[contig] = contigs.get(contig, "") + background[index] + (window if strand == "+" else reverse_complement(window))
        tss = offset + flank + 1  # 1-based; the window is symmetric, so the same on both strands
        body = min(1000, flank)  # gene body inside the window, so it never leaves the contig
        start, end = (tss, tss + body - 1) if strand == "+" else (tss - body + 1, tss)
        gtf_lines.append(_gtf_gene(contig, start, end, strand, f"{name}.1", "protein_coding"))
    for contig in list(contigs):
        contigs[contig] += background[n_genes]
    # A protein-coding gene too close to a contig start, and a lncRNA: both must be left out.
    contigs["chrEdge"] = background[n_genes + 1] + windows[0]
    gtf_lines.append(_gtf_gene("chrEdge", 51, 1050, "+", "ENSGEDGE00001.1", "protein_coding"))
    gtf_lines.append(_gtf_gene("chr1", 3001, 4000, "+", "ENSGLNC00001.1", "lncRNA"))
    (directory / "genome.fa").write_text("".join(f">{c}\n{s}\n" for c, s in contigs.items()))
    (directory / "genes.gtf").write_text("##description: synthetic planted-signal annotation\n" + "".join(gtf_lines))
    order = rng.permutation(n_genes)
    rows = ["gene\tPituitary\tLung"]
    lung = rng.normal(0.5, 1.0, n_genes)
    for i in order:
        rows.append(f"{names[i]}.7\t{max(10 ** planted.log10_tpm[i], 0.001):.6g}\t{max(10 ** lung[i], 0.001):.6g}")
    rows += ["ENSGEDGE00001.7\t1.5\t2", "ENSGLNC00001.7\t3\t4", "ENSGABSENT0001.2\t5\t6", "ENSGABSENT0002.2\t0.001\t1"]
    (directory / "expression.tsv").write_text("\n".join(rows) + "\n")


def _gtf_gene(contig, start, end, strand, gene_id, gene_type):
    attributes = f'gene_id "{gene_id}"; gene_type "{gene_type}"; gene_name "{gene_id.split(".")[0]}";'
    return f"{contig}\tsynthetic\tgene\t{start}\t{end}\t.\t{strand}\t.\t{attributes}\n"
