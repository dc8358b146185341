"""3'UTR annotation (utrbench.align.utrs, bin/utr_annotation.py) and sequences (bin/utr_sequences.py)."""

import subprocess
import sys
from pathlib import Path

import pytest

from utrbench.align.utrs import read_transcripts, read_utr_bed, select_utrs, utr_sequence, write_utr_bed
from utrbench.errors import UserError
from utrbench.seq.genome import Genome

PROJECT = Path(__file__).resolve().parents[1]
ASSETS = PROJECT / "assets" / "test"


def run(script, *args, cwd):
    return subprocess.run([sys.executable, str(PROJECT / "bin" / script), *map(str, args)],
                          cwd=cwd, capture_output=True, text=True)


def test_assets_annotation_gives_hand_checked_utrs():
    # By hand from tests/data/make_test_data.py: GENCODE 'UTR' features include the stop codon, which is cut
    # off; ENST01 (canonical) wins over the longer ENST01B; G4 has no canonical transcript and the
    # fallback prefers the 'basic' ENST04A; G5 lies on an unplaced contig.
    utrs, counts = select_utrs(read_transcripts(ASSETS / "annotation.gtf"), single_exon_only=False)
    assert [(u.utr_id, u.chrom, u.strand, u.exons, u.gene_name) for u in utrs] == [
        ("ENST01.1", "chr1", "+", [(403, 700)], "GENE1"),
        ("ENST02.1", "chr1", "-", [(1100, 1497)], "GENE2"),
        ("ENST03.1", "chr2", "+", [(353, 500), (600, 800)], "GENE3"),
        ("ENST04A.1", "chr2", "-", [(1200, 1597)], "GENE4"),
    ]
    assert dict(counts)["genes using the fallback rule (no Ensembl_canonical)"] == 1
    assert dict(counts)["genes with a 3'UTR"] == 5


def test_single_exon_filter_and_min_length():
    transcripts = read_transcripts(ASSETS / "annotation.gtf")
    single, counts = select_utrs(transcripts, single_exon_only=True)
    assert [u.utr_id for u in single] == ["ENST01.1", "ENST02.1", "ENST04A.1"]
    assert counts[-2:] == [("single-exon UTRs", 3), ("length >= 0", 3)]
    long_only, _ = select_utrs(transcripts, single_exon_only=False, min_length=350)
    assert [u.utr_id for u in long_only] == ["ENST02.1", "ENST04A.1"]  # lengths 297, 397, 347, 397


def test_ensembl_style_three_prime_utr_and_minus_strand_gencode(tmp_path):
    gtf = tmp_path / "a.gtf"
    attrs = 'gene_id "G"; transcript_id "T";'
    gtf.write_text(
        f'1\tE\ttranscript\t1\t100\t.\t-\t.\t{attrs} tag "Ensembl_canonical";\n'
        f"1\tE\tCDS\t41\t90\t.\t-\t.\t{attrs}\n"
        f"1\tE\tstop_codon\t38\t40\t.\t-\t.\t{attrs}\n"
        f"1\tE\tUTR\t91\t100\t.\t-\t.\t{attrs}\n"  # 5'UTR of a minus-strand gene: upstream of the CDS
        f"1\tE\tUTR\t21\t40\t.\t-\t.\t{attrs}\n"
        f"1\tE\tUTR\t1\t10\t.\t-\t.\t{attrs}\n"
    )
    (utr,), _ = select_utrs(read_transcripts(gtf), single_exon_only=False)
    assert (utr.chrom, utr.strand, utr.exons) == ("1", "-", [(0, 10), (20, 37)])
    assert utr.exons_in_transcript_order() == [(20, 37), (0, 10)]


def test_utr_sequence_joins_exons_in_transcript_order(tmp_path):
    fasta = tmp_path / "g.fa"
    fasta.write_text(">c\nAAAACCCCGGGGTTTTACGT\n")
    bed = tmp_path / "u.bed"
    bed.write_text("c\t0\t3\tU\t1\t-\nc\t8\t11\tU\t0\t-\nc\t16\t20\tP\t0\t+\n")
    plus, minus = sorted(read_utr_bed(bed), key=lambda u: u.strand)
    genome = Genome(fasta)
    # minus: reverse complement of GGG (8-11) then of AAA (0-3)
    assert utr_sequence(genome, minus, "u.bed") == "CCC" + "TTT"
    assert utr_sequence(genome, plus, "u.bed") == "ACGT"


def test_bed_round_trip_scores_exon_rank(tmp_path):
    transcripts = read_transcripts(ASSETS / "annotation.gtf")
    utrs, _ = select_utrs(transcripts, single_exon_only=False)
    write_utr_bed(utrs, tmp_path / "u.bed")
    lines = (tmp_path / "u.bed").read_text().splitlines()
    assert "chr2\t600\t800\tENST03.1\t1\t+" in lines
    assert [(u.utr_id, u.exons) for u in read_utr_bed(tmp_path / "u.bed")] == [(u.utr_id, u.exons) for u in utrs]


def test_cli_writes_bed_table_and_counts(tmp_path):
    result = run("utr_annotation.py", "--gtf", ASSETS / "annotation.gtf", "--out-bed", "u.bed",
                 "--out-table", "u.tsv", "--counts", "c.tsv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "u.bed").read_text().splitlines()[0] == "chr1\t403\t700\tENST01.1\t0\t+"
    assert "ENST04A.1\tG4.1\tGENE4\tchr2\t-\t397\t1" in (tmp_path / "u.tsv").read_text()
    assert "single-exon UTRs\t3" in (tmp_path / "c.tsv").read_text()


def test_cli_malformed_gtf_line_exits_2_without_output(tmp_path):
    gtf = tmp_path / "bad.gtf"
    text = (ASSETS / "annotation.gtf").read_text().splitlines(keepends=True)
    gtf.write_text("".join(text[:4]) + "chr1\tTEST\tCDS\t5\n" + "".join(text[4:]))
    result = run("utr_annotation.py", "--gtf", gtf, "--out-bed", "u.bed", "--out-table", "u.tsv",
                 "--counts", "c.tsv", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {gtf}: line 5 has 4 tab-separated columns, a GTF line needs 9."
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.gtf"]


def test_cli_utr_on_contig_absent_from_genome_exits_2_without_output(tmp_path):
    bed = tmp_path / "u.bed"
    bed.write_text("chr1\t10\t20\tA\t0\t+\nchr7\t10\t20\tB\t0\t-\n")
    result = run("utr_sequences.py", "--bed", bed, "--genome", ASSETS / "genome.fa", "--out", "u.fa", cwd=tmp_path)
    assert result.returncode == 2
    assert "UTR B lies on contig 'chr7'" in result.stderr
    assert not (tmp_path / "u.fa").exists()


def test_read_utr_bed_rejects_colon_in_ids(tmp_path):
    bed = tmp_path / "u.bed"
    bed.write_text("chr1\t10\t20\tA:B\t0\t+\n")
    with pytest.raises(UserError, match="line 1: UTR id 'A:B' contains ':'"):
        read_utr_bed(bed)
