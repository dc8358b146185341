#!/usr/bin/env python3
"""Write the synthetic inputs of the ``test`` profile into assets/test/ (fixed seed).

genome.fa (+.fai): two main chromosomes and one unplaced contig, stop codons planted after the CDSs.
annotation.gtf: five genes on both strands: GENCODE-style UTR features that include the stop
codon, Ensembl-style three_prime_utr features, a spliced 3'UTR, a gene without an
Ensembl_canonical transcript (fallback rule) and a gene on the unplaced contig (filtered).
alignment.maf: the chromosomes tiled by blocks of random length (some stretches unaligned,
so UTRs span several blocks), reference Homo_sapiens soft-masked in places, four other
species with substitutions, gaps and insertions; Bos_taurus aligns on the minus strand,
Canis_lupus switches between two contigs, Pan_troglodytes is in species.txt but absent from
the alignment.
species.txt: the species of the study set, one per line.
"""

from pathlib import Path

import click
import numpy as np
import pysam

from utrbench.cli import command
from utrbench.io import atomic_output
from utrbench.seq.fasta import write_fasta

CONTIGS = {"chr1": 3000, "chr2": 2400, "chr1_KI270706v1_random": 600}
SPECIES = ["Bos_taurus", "Canis_lupus", "Homo_sapiens", "Mus_musculus", "Pan_troglodytes"]

# (gene, transcript, chrom, strand, tags, CDS (1-based inclusive pieces), UTR feature, UTR pieces)
# Stop codons sit right after the CDS in transcript direction.
TRANSCRIPTS = [
    ("G1", "ENST01", "chr1", "+", ["basic", "Ensembl_canonical"], [(101, 400)], "UTR", [(401, 700)]),
    ("G1", "ENST01B", "chr1", "+", ["basic"], [(101, 400)], "UTR", [(401, 900)]),
    ("G2", "ENST02", "chr1", "-", ["basic", "Ensembl_canonical", "MANE_Select"], [(1501, 1800)], "UTR", [(1101, 1500)]),
    ("G3", "ENST03", "chr2", "+", ["basic", "Ensembl_canonical"], [(201, 350)], "three_prime_utr",
     [(354, 500), (601, 800)]),
    ("G4", "ENST04A", "chr2", "-", ["basic"], [(1601, 1900)], "UTR", [(1201, 1600)]),
    ("G4", "ENST04B", "chr2", "-", [], [(1601, 1750)], "UTR", [(1001, 1600)]),
    ("G5", "ENST05", "chr1_KI270706v1_random", "+", ["basic", "Ensembl_canonical"], [(51, 200)], "UTR", [(201, 400)]),
]


def gtf_lines(transcripts):
    """GTF text for the transcripts: transcript, exon-free CDS/stop_codon/UTR features."""
    lines = []
    for gene, transcript, chrom, strand, tags, cds, utr_feature, utrs in transcripts:
        stop = (cds[-1][1] + 1, cds[-1][1] + 3) if strand == "+" else (cds[0][0] - 3, cds[0][0] - 1)
        if utr_feature == "UTR":  # GENCODE: the UTR feature covers the stop codon
            utrs = [(min(s, stop[0]), e) for s, e in utrs] if strand == "+" else [(s, max(e, stop[1])) for s, e in utrs]
        span = (min(p[0] for p in cds + utrs + [stop]), max(p[1] for p in cds + utrs + [stop]))
        attributes = f'gene_id "{gene}.1"; transcript_id "{transcript}.1"; gene_name "GENE{gene[1:]}";'
        tag_text = "".join(f' tag "{t}";' for t in tags)
        rows = [("transcript", span, attributes + tag_text)]
        rows += [("CDS", piece, attributes) for piece in cds]
        rows += [("stop_codon", stop, attributes)]
        rows += [(utr_feature, piece, attributes) for piece in utrs]
        for feature, (start, end), text in rows:
            lines.append(f"{chrom}\tTEST\t{feature}\t{start}\t{end}\t.\t{strand}\t.\t{text}\n")
    return "".join(lines)


def plant_stop_codons(genome, transcripts):
    """The genome with a stop codon (TAA, TAG, TGA in turn) at each transcript's stop codon, so the
    HAL route's ortholog rule (utrbench.align.orthologs) finds them; no random draw is used."""
    genome = {name: list(sequence) for name, sequence in genome.items()}
    for number, (_, _, chrom, strand, _, cds, _, _) in enumerate(transcripts):
        codon = ("TAA", "TAG", "TGA")[number % 3]
        if strand == "+":
            start = cds[-1][1]  # 0-based start of the codon right after the CDS
            genome[chrom][start:start + 3] = codon
        else:
            start = cds[0][0] - 4
            genome[chrom][start:start + 3] = codon.translate(str.maketrans("ACGT", "TGCA"))[::-1]
    return {name: "".join(letters) for name, letters in genome.items()}


def mutate(rng, letters, substitution=0.1, deletion=0.05):
    """Copy of a letter array with random substitutions and deletions (as gaps)."""
    copy = letters.copy()
    substituted = rng.random(len(copy)) < substitution
    copy[substituted] = rng.choice(list("ACGT"), substituted.sum())
    copy[rng.random(len(copy)) < deletion] = "-"
    return copy


def maf_text(rng, genome):
    """A MAF tiling the main chromosomes with blocks of 40-150 reference bases."""
    positions = {}  # (species, contig) -> next start on that contig's row strand
    contig_sizes = {("Mus_musculus", "chr5"): 100000, ("Bos_taurus", "chr9"): 100000,
                    ("Canis_lupus", "chr3"): 100000, ("Canis_lupus", "chr17"): 100000}
    out = ["##maf version=1 scoring=none\n\n"]
    for chrom in ("chr1", "chr2"):
        start = 0
        while start < CONTIGS[chrom]:
            length = min(int(rng.integers(40, 150)), CONTIGS[chrom] - start)
            if rng.random() < 0.1:  # an unaligned stretch
                start += length
                continue
            human = np.array(list(genome[chrom][start:start + length]))
            # insertion columns: gaps in the reference where other species have bases
            insert_at = np.sort(rng.choice(np.arange(1, length), size=2, replace=False))
            human_text = np.insert(human, insert_at, "-")
            soft = rng.random(len(human_text)) < 0.2
            human_text = np.where(soft, np.char.lower(human_text), human_text)
            rows = [("Homo_sapiens", chrom, "+", CONTIGS[chrom], start, human_text)]
            block_index = len(out)
            for species, contig, strand, present in (
                ("Mus_musculus", "chr5", "+", 0.9),
                ("Bos_taurus", "chr9", "-", 0.8),
                ("Canis_lupus", "chr3" if block_index % 3 else "chr17", "+", 0.85),
            ):
                if rng.random() > present:
                    continue
                text = mutate(rng, np.char.upper(human_text))
                gap_columns = np.flatnonzero(np.char.upper(human_text) == "-")
                text[gap_columns] = rng.choice(list("ACGT-"), len(gap_columns))
                # A minus-strand row's letters are the species' minus strand read along the
                # reference, so they need no transformation; only its coordinates differ.
                size = int((text != "-").sum())
                if size == 0:
                    continue
                key = (species, contig)
                row_start = positions.get(key, 1000)
                positions[key] = row_start + size + int(rng.integers(0, 5))
                rows.append((species, contig, strand, contig_sizes[key], row_start, text))
            out.append("a score=0\n")
            for species, contig, strand, src_size, row_start, text in rows:
                size = int((text != "-").sum())
                out.append(f"s {species}.{contig} {row_start} {size} {strand} {src_size} {''.join(text)}\n")
            out.append("\n")
            start += length
    return "".join(out)


@command()
@click.option("--out", "out_dir", default="assets/test", show_default=True, type=click.Path(file_okay=False))
@click.option("--seed", default=7, show_default=True, type=int)
def main(out_dir, seed):
    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    genome = {name: "".join(rng.choice(list("ACGT"), size)) for name, size in CONTIGS.items()}
    genome = plant_stop_codons(genome, TRANSCRIPTS)
    write_fasta(genome.items(), out_dir / "genome.fa", width=60)
    pysam.faidx(str(out_dir / "genome.fa"))
    with atomic_output(out_dir / "annotation.gtf") as tmp:
        tmp.write_text("#!genome-build synthetic\n" + gtf_lines(TRANSCRIPTS))
    with atomic_output(out_dir / "alignment.maf") as tmp:
        tmp.write_text(maf_text(rng, genome))
    with atomic_output(out_dir / "species.txt") as tmp:
        tmp.write_text("".join(f"{s}\n" for s in SPECIES))


if __name__ == "__main__":
    main()
