"""The study's ortholog rule on the HAL route (utrbench.align.orthologs, utrbench.align.hal) on a
hand-built stop-codon alignment and a fake hal2fasta."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from utrbench.align.hal import merged_regions, species_utr_sequences
from utrbench.align.orthologs import OrthologRegion, outcome_counts, stop_codon_orthologs
from utrbench.align.utrs import Utr
from utrbench.errors import UserError
from utrbench.seq.genome import Genome

PROJECT = Path(__file__).resolve().parents[1]
FAKE_HAL2FASTA = PROJECT / "modules" / "local" / "hal_species_utrs" / "tests" / "fake_hal2fasta"

#         stop    UTR_PLUS    ...         UTR_MINUS stop(RC TAA)
CHR1 = "ACGTACG" "TAA" "CCCCCGGGGG" "ATATATATAT" "GGGAAACC" "TTA" "CAGCAGCAG"
UTRS = [
    Utr("PLUS", "chr1", "+", [(10, 20)]),
    Utr("MINUS", "chr1", "-", [(30, 38)]),
    Utr("NOSTOP", "chr1", "+", [(45, 49)]),  # codon chr1:42-45 is AGC
]
# Block 1 holds the codon of PLUS (chr1:7-10). Mouse matches on '+'; Dog matches on its minus
# strand with the codon at chrD:4-7, so its UTR runs towards the contig start and is clipped;
# Cow has TAG; Sheep has gaps over the codon. Block 2 holds the codon of MINUS (chr1:38-41),
# written with the human row on the minus strand (the reader flips it): Mouse at chrM:502-505
# on '+', so the UTR lies before it; Dog at chrD:13-16 on '-', so it lies after it, clipped at 20.
MAF = """##maf version=1

a score=0
s Homo_sapiens.chr1 5 7 + 50 CGTAACC
s Mouse.chrM 100 7 + 1000 CGTAACC
s Dog.chrD 11 7 - 20 CGTAACC
s Cow.chrC 50 7 + 1000 CGTAGCC
s Sheep.chrS 10 4 + 1000 CG---CC

a score=0
s Homo_sapiens.chr1 7 7 - 50 TGTAAGG
s Mouse.chrM 493 7 - 1000 TGTAAGG
s Dog.chrD 11 7 + 20 TGTAAGG

"""


@pytest.fixture
def inputs(tmp_path):
    genome = tmp_path / "genome.fa"
    genome.write_text(f">chr1\n{CHR1}\n")
    maf = tmp_path / "codons.maf"
    maf.write_text(MAF)
    return Genome(genome), maf


def outcomes(inputs):
    genome, maf = inputs
    return {utr.utr_id: (codon, found) for utr, codon, found in stop_codon_orthologs([maf], UTRS, genome, "Homo_sapiens")}


def test_stop_codon_rule_on_both_strands_with_clipping_and_mismatches(inputs):
    found = outcomes(inputs)
    assert found["PLUS"] == ("TAA", {
        "Cow": "codon_mismatch",
        "Dog": OrthologRegion("PLUS", "Dog", "chrD", 0, 4, "-", 10),  # clipped at the contig start
        "Mouse": OrthologRegion("PLUS", "Mouse", "chrM", 105, 115, "+", 10),
        "Sheep": "codon_unaligned",
    })
    assert found["MINUS"] == ("TAA", {
        "Dog": OrthologRegion("MINUS", "Dog", "chrD", 16, 20, "+", 8),  # clipped at the contig end
        "Mouse": OrthologRegion("MINUS", "Mouse", "chrM", 494, 502, "-", 8),
    })
    assert found["NOSTOP"] == ("AGC", {})  # not a stop codon: no species at all
    assert found["PLUS"][1]["Dog"].clipped and not found["PLUS"][1]["Mouse"].clipped


def test_outcome_counts_per_species(inputs):
    genome, maf = inputs
    rows = outcome_counts(stop_codon_orthologs([maf], UTRS, genome, "Homo_sapiens"), "Homo_sapiens")
    assert rows == [("Cow", "codon_mismatch", 1), ("Dog", "clipped", 2), ("Homo_sapiens", "not_stop_codon", 1),
                    ("Homo_sapiens", "stop_codon", 2), ("Mouse", "ortholog", 2), ("Sheep", "codon_unaligned", 1)]


def test_codon_row_disagreeing_with_genome_is_an_error(inputs):
    genome, maf = inputs
    maf.write_text(MAF.replace("s Homo_sapiens.chr1 5 7 + 50 CGTAACC", "s Homo_sapiens.chr1 5 7 + 50 CGTAGCC"))
    with pytest.raises(UserError, match=r"has 'G' at chr1:10 where .* has 'A'"):
        outcomes((genome, maf))


def test_stop_codon_targets_are_upstream_in_transcript_direction(tmp_path):
    bed = tmp_path / "u.bed"
    bed.write_text("chr1\t10\t20\tPLUS\t0\t+\nchr1\t30\t38\tMINUS\t0\t-\nchr2\t5\t9\tS\t1\t-\nchr2\t20\t30\tS\t0\t-\n")
    assert merged_regions(bed, stop_codons=True) == {"chr1": [(7, 10), (38, 41)], "chr2": [(30, 33)]}


def test_species_sequences_cut_from_hal2fasta_in_transcript_orientation(tmp_path):
    mouse = "".join("ACGT"[(i * 7) % 4] if i % 5 else "G" for i in range(1000))
    (tmp_path / "fake.maf").write_text(f"s Mouse.chrM 0 1000 + 1000 {mouse}\n")
    (tmp_path / "z.hal").touch()
    os.environ["FAKE_HAL_MAF"] = str(tmp_path / "fake.maf")
    try:
        rows = [("PLUS", "Mouse", "chrM", 105, 115, "+"), ("MINUS", "Mouse", "chrM", 494, 502, "-")]
        got = dict(species_utr_sequences(tmp_path / "z.hal", "Mouse", rows, FAKE_HAL2FASTA))
        with pytest.raises(UserError, match="genome Mouse has no sequence 'chrX'"):
            list(species_utr_sequences(tmp_path / "z.hal", "Mouse", [("A", "Mouse", "chrX", 0, 5, "+")], FAKE_HAL2FASTA))
    finally:
        del os.environ["FAKE_HAL_MAF"]
    complement = str.maketrans("ACGT", "TGCA")
    assert got == {"PLUS": mouse[105:115], "MINUS": mouse[494:502].translate(complement)[::-1]}


def run(script, *args, cwd):
    env = dict(os.environ, PROJECT_DIR=str(PROJECT))
    return subprocess.run([sys.executable, str(PROJECT / "bin" / script), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, env=env)


def test_cli_regions_then_species_fasta(inputs, tmp_path):
    genome, maf = inputs
    bed = tmp_path / "utrs.bed"
    bed.write_text("chr1\t10\t20\tPLUS\t0\t+\nchr1\t30\t38\tMINUS\t0\t-\nchr1\t45\t49\tNOSTOP\t0\t+\n")
    result = run("hal_ortholog_regions.py", "--bed", bed, "--genome", genome.path, "--maf", maf,
                 "--out-regions", "regions.tsv", "--out-summary", "summary.tsv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "regions.tsv").read_text().splitlines() == [
        "utr_id\tspecies\tcontig\tstart\tend\tstrand\tutr_length",
        "PLUS\tDog\tchrD\t0\t4\t-\t10", "PLUS\tMouse\tchrM\t105\t115\t+\t10",
        "MINUS\tDog\tchrD\t16\t20\t+\t8", "MINUS\tMouse\tchrM\t494\t502\t-\t8"]
    assert "Homo_sapiens\tnot_stop_codon\t1" in (tmp_path / "summary.tsv").read_text()


def test_cli_species_none_of_which_is_aligned_exits_2_without_output(inputs, tmp_path):
    genome, maf = inputs
    bed = tmp_path / "utrs.bed"
    bed.write_text("chr1\t10\t20\tPLUS\t0\t+\n")
    (tmp_path / "species.txt").write_text("Homo_sapiens_typo\nMus\n")
    result = run("hal_ortholog_regions.py", "--bed", bed, "--genome", genome.path, "--maf", maf,
                 "--species", "species.txt", "--out-regions", "regions.tsv", "--out-summary", "summary.tsv",
                 cwd=tmp_path)
    assert result.returncode == 2
    assert "none of the 2 species of --species (e.g. 'Homo_sapiens_typo') has a row in the alignment" in result.stderr
    assert not (tmp_path / "regions.tsv").exists() and not (tmp_path / "summary.tsv").exists()
