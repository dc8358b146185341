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
variants/: the variant task's public inputs in their real layouts (write_variant_inputs below).
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


# ---- variant task (TASK_VARIANTS) -------------------------------------------------------------
VARIANT_GENOME = Path(__file__).resolve().parents[2] / "assets" / "test" / "genome.fa"
VARIANT_ANNOTATION = VARIANT_GENOME.parent / "annotation.gtf"


def _utr_positions():
    """1-based positions of every base of the test dataset's UTRs (spliced UTRs kept, as -profile test)."""
    from utrbench.align.utrs import read_transcripts, select_utrs

    utrs, _ = select_utrs(read_transcripts(VARIANT_ANNOTATION), single_exon_only=False)
    return [(utr.chrom, start + 1 + k) for utr in utrs for start, end in utr.exons for k in range(end - start)]


def _snv(genome, rng, chrom, pos):
    ref = genome.fetch(chrom, pos - 1, pos)
    return chrom, pos, ref, "ACGT".replace(ref, "")[rng.integers(3)]


def _vcf_header(info_lines, contigs):
    return ("##fileformat=VCFv4.2\n" + "".join(f"##contig=<ID={name},length={length}>\n" for name, length in contigs)
            + "".join(info_lines) + "##FILTER=<ID=PASS,Description=\"All filters passed\">\n"
            + "##FILTER=<ID=AC0,Description=\"Allele count is zero after filtering\">\n"
            + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")


def _bgzip(text, path, index_preset=None):
    """Write ``text`` bgzipped (pysam); with ``index_preset`` also its tabix index."""
    import pysam

    plain = path.with_suffix("")
    plain.write_text(text)
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    if index_preset == "vcf":
        pysam.tabix_index(str(path), preset="vcf", force=True)
    elif index_preset == "cadd":
        pysam.tabix_index(str(path), seq_col=0, start_col=1, end_col=1, meta_char="#", force=True)


def write_variant_inputs(out_dir, seed):
    """Synthetic ClinVar, gnomAD, eQTL Catalogue, CADD and PhyloP files with a planted signal.

    The UTR bases of the test dataset are split into 'functional' (40 %) and 'neutral' positions;
    every label-1 variant lies on a functional base, every label-0 variant on a neutral one, and
    the PhyloP bigWig and CADD RawScores are high on functional bases (N(3, 1) against N(0, 1)),
    so both baselines rank positives first. Each file also carries records its reader must drop:
    ClinVar benign, conflicting and no-assertion records, an indel and variants outside UTRs
    (contigs '1', '2' as ClinVar names them); gnomAD a multi-allelic site, a non-PASS record and
    AC/AF between the two classes; eQTL rows with p > 1e-25; one ClinVar record with a wrong ref.
    """
    import gzip

    import pyBigWig

    from utrbench.seq.genome import Genome

    rng = np.random.default_rng(seed + 14)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    genome = Genome(VARIANT_GENOME)
    contigs = [(name, genome.length(name)) for name in ("chr1", "chr2")]
    positions = _utr_positions()
    order = rng.permutation(len(positions))
    functional = [positions[i] for i in order[:int(0.4 * len(positions))]]
    neutral = [positions[i] for i in order[int(0.4 * len(positions)):]]
    functional_set = set(functional)
    take_f = iter(functional)
    take_n = iter(neutral)

    def draw(pool, n):
        return [_snv(genome, rng, *next(pool)) for _ in range(n)]

    outside = [_snv(genome, rng, "chr1", pos) for pos in (50, 2500)]

    # ClinVar: bare contig names, CLNSIG / CLNREVSTAT as ClinVar writes them.
    clinvar_info = ['##INFO=<ID=CLNSIG,Number=.,Type=String,Description="Clinical significance">\n',
                    '##INFO=<ID=CLNREVSTAT,Number=.,Type=String,Description="Review status">\n']
    rows = [(v, "Pathogenic", "criteria_provided,_single_submitter") for v in draw(take_f, 18)]
    rows += [(v, "Likely_pathogenic|risk_factor", "criteria_provided,_multiple_submitters,_no_conflicts")
             for v in draw(take_f, 6)]
    rows += [(v, "Benign", "criteria_provided,_single_submitter") for v in draw(take_n, 6)]
    rows += [(v, "Conflicting_classifications_of_pathogenicity", "criteria_provided,_conflicting_classifications")
             for v in draw(take_n, 3)]
    rows += [(v, "Pathogenic", "no_assertion_criteria_provided") for v in draw(take_n, 3)]
    rows += [(v, "Pathogenic", "criteria_provided,_single_submitter") for v in outside]
    chrom, pos, ref, _ = _snv(genome, rng, *next(take_n))
    rows.append(((chrom, pos, ref, ref + "T"), "Pathogenic", "criteria_provided,_single_submitter"))  # an indel
    chrom, pos, ref, alt = _snv(genome, rng, *next(take_f))
    wrong_ref = "ACGT".replace(ref, "").replace(alt, "")[0]
    rows.append(((chrom, pos, wrong_ref, alt), "Pathogenic", "criteria_provided,_single_submitter"))
    rows.sort(key=lambda r: (r[0][0], r[0][1]))
    body = "".join(f"{c.removeprefix('chr')}\t{p}\t{k}\t{r}\t{a}\t.\t.\tCLNSIG={sig};CLNREVSTAT={rev}\n"
                   for k, ((c, p, r, a), sig, rev) in enumerate(rows, start=1))
    _bgzip(_vcf_header(clinvar_info, [(n.removeprefix("chr"), l) for n, l in contigs]) + body,
           out_dir / "clinvar.vcf.gz")

    # gnomAD sites: AC, AF per allele (Number=A), FILTER; bgzipped and indexed.
    gnomad_info = ['##INFO=<ID=AC,Number=A,Type=Integer,Description="Alternate allele count">\n',
                   '##INFO=<ID=AN,Number=1,Type=Integer,Description="Total number of alleles">\n',
                   '##INFO=<ID=AF,Number=A,Type=Float,Description="Alternate allele frequency">\n']
    records = [(v, "PASS", "1", "0.0000066") for v in draw(take_f, 60)]
    records += [(v, "PASS", "8000", f"{rng.uniform(0.06, 0.5):.4f}") for v in draw(take_n, 150)]
    records += [(v, "PASS", "40", "0.0003") for v in draw(take_n, 10)]  # neither class
    records += [(v, "AC0", "1", "0.0000066") for v in draw(take_f, 3)]
    chrom, pos, ref, alt = _snv(genome, rng, *next(take_n))
    second = "ACGT".replace(ref, "").replace(alt, "")[0]
    records.append(((chrom, pos, ref, f"{alt},{second}"), "PASS", "1,9000", "0.0000066,0.06"))
    records.sort(key=lambda r: (r[0][0], r[0][1]))
    body = "".join(f"{c}\t{p}\t.\t{r}\t{a}\t.\t{f}\tAC={ac};AN=152000;AF={af}\n"
                   for (c, p, r, a), f, ac, af in records)
    _bgzip(_vcf_header(gnomad_info, contigs) + body, out_dir / "gnomad.sites.vcf.bgz", index_preset="vcf")

    # eQTL Catalogue credible sets (the published column order).
    header = "molecular_trait_id\tgene_id\tcs_id\tvariant\trsid\tcs_size\tpip\tpvalue\tbeta\tse\tz\tcs_min_r2\tregion\n"
    lines = []
    for k, (c, p, r, a) in enumerate(draw(take_f, 30) + draw(take_n, 8)):
        pvalue = 10.0 ** -rng.uniform(26, 60) if (c, p) in functional_set else 10.0 ** -rng.uniform(12, 24)
        lines.append(f"ENSG{k:011d}\tENSG{k:011d}\tENSG{k:011d}_L1\t{c}_{p}_{r}_{a}\trs{k + 1}\t3\t"
                     f"{rng.uniform(0.1, 1):.4f}\t{pvalue:.3e}\t0.5\t0.05\t10\t0.9\t{c}:{max(p - 500000, 1)}-{p + 500000}\n")
    with gzip.open(out_dir / "QTD000001.credible_sets.tsv.gz", "wt") as handle:
        handle.write(header + "".join(lines))

    # CADD training variants: VCF columns without INFO, bare contig names.
    for name, pool, n in (("simulation_SNVs.vcf.gz", take_f, 30), ("humanDerived_SNVs.vcf.gz", take_n, 40)):
        variants = sorted(draw(pool, n) + outside[:1], key=lambda v: (v[0], v[1]))
        with gzip.open(out_dir / name, "wt") as handle:
            handle.write("## CADD v1.7 training variants (synthetic)\n")
            handle.write("".join(f"{c.removeprefix('chr')}\t{p}\t.\t{r}\t{a}\n" for c, p, r, a in variants))

    # A user's own table.
    own = [(v, 1) for v in draw(take_f, 15)] + [(v, 0) for v in draw(take_n, 15)]
    (out_dir / "own_variants.tsv").write_text("chrom\tpos\tref\talt\tlabel\tsplit\n" + "".join(
        f"{c}\t{p}\t{r}\t{a}\t{label}\tcustom\n" for (c, p, r, a), label in own))

    # PhyloP bigWig and CADD whole-genome scores over every base of chr1 and chr2.
    bigwig = pyBigWig.open(str(out_dir / "phylop.bw"), "w")
    bigwig.addHeader(contigs)
    cadd_lines = ["## CADD GRCh38-v1.7 (synthetic)\n", "#Chrom\tPos\tRef\tAlt\tRawScore\tPHRED\n"]
    for name, length in contigs:
        values = rng.normal(0, 1, length)
        sequence = genome.fetch(name, 0, length)
        for k in range(length):
            if (name, k + 1) in functional_set:
                values[k] += 3
        bigwig.addEntries(name, 0, values=values.astype(float).tolist(), span=1, step=1)
        for k in range(length):
            for alt in "ACGT".replace(sequence[k], ""):
                raw = values[k] + rng.normal(0, 0.5)
                cadd_lines.append(f"{name.removeprefix('chr')}\t{k + 1}\t{sequence[k]}\t{alt}\t{raw:.4f}\t{10 + 3 * raw:.3f}\n")
    bigwig.close()
    _bgzip("".join(cadd_lines), out_dir / "whole_genome_SNVs.tsv.gz", index_preset="cadd")
    genome.close()


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
    write_variant_inputs(out_dir / "variants", seed)


if __name__ == "__main__":
    main()
