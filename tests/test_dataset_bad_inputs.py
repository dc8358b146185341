"""Bad inputs of the dataset build: one clear sentence, exit status 2, no output (issue 11 item 5)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pysam
import pytest

PROJECT = Path(__file__).resolve().parents[1]
ASSETS = PROJECT / "assets" / "test"
BED = "chr1\t403\t700\tENST01.1\t0\t+\nchr1\t1100\t1497\tENST02.1\t0\t-\n"


def run(script, *args, cwd):
    env = dict(os.environ, PROJECT_DIR=str(PROJECT))
    return subprocess.run([sys.executable, str(PROJECT / "bin" / script), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, env=env)


def orthologs(tmp_path, *extra, maf=None, maf_dir=None, genome=ASSETS / "genome.fa"):
    (tmp_path / "utrs.bed").write_text(BED)
    source = ("--maf", maf) if maf else ("--maf-dir", maf_dir)
    return run("utr_orthologs.py", "--bed", "utrs.bed", "--genome", genome, *source, *extra,
               "--out-fasta", "o.fa", "--out-coverage", "o.tsv", "--out-summary", "s.tsv", cwd=tmp_path)


def assert_failed(result, message, *outputs):
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    for output in outputs:
        assert not output.exists(), output


def test_empty_gtf(tmp_path):
    (tmp_path / "empty.gtf").write_text("#!genome-build none\n")
    result = run("utr_annotation.py", "--gtf", "empty.gtf", "--out-bed", "u.bed", "--out-table", "u.tsv",
                 "--counts", "c.tsv", cwd=tmp_path)
    assert_failed(result, "empty.gtf: no 3'UTR of a kept transcript (coding transcripts: 0",
                  tmp_path / "u.bed", tmp_path / "u.tsv", tmp_path / "c.tsv")


def test_gtf_without_a_utr_of_a_kept_transcript(tmp_path):
    # only the gene on the unplaced contig has a 3'UTR after the contig filter... none are left
    lines = [line for line in (ASSETS / "annotation.gtf").read_text().splitlines(keepends=True)
             if "chr1_KI270706v1_random" in line or line.startswith("#")]
    (tmp_path / "a.gtf").write_text("".join(lines))
    result = run("utr_annotation.py", "--gtf", "a.gtf", "--out-bed", "u.bed", "--out-table", "u.tsv",
                 "--counts", "c.tsv", cwd=tmp_path)
    assert_failed(result, "a.gtf: no 3'UTR of a kept transcript (", tmp_path / "u.bed", tmp_path / "u.tsv")
    assert "genes with a 3'UTR: 1" in result.stderr


def test_maf_truncated_mid_file(tmp_path):
    text = (ASSETS / "alignment.maf").read_text()
    (tmp_path / "cut.maf").write_text(text[:len(text) // 2 - 7])  # mid-line
    result = orthologs(tmp_path, maf="cut.maf")
    assert_failed(result, "ends without a newline; the MAF is truncated", tmp_path / "o.fa", tmp_path / "o.tsv")


def test_bgzip_maf_truncated_mid_file(tmp_path):
    pysam.tabix_compress(str(ASSETS / "alignment.maf"), str(tmp_path / "full.maf.gz"))
    data = (tmp_path / "full.maf.gz").read_bytes()
    (tmp_path / "cut.maf.gz").write_bytes(data[:len(data) // 2])
    result = orthologs(tmp_path, maf="cut.maf.gz")
    assert_failed(result, "cut.maf.gz: not a readable MAF file, or a truncated one", tmp_path / "o.fa")


def test_reference_absent_from_the_alignment(tmp_path):
    result = orthologs(tmp_path, "--reference", "Homo_sapien", maf=ASSETS / "alignment.maf")
    assert_failed(result, "has a row of the reference 'Homo_sapien' (rows are named like 'Homo_sapiens.chr1'); "
                  "check --reference", tmp_path / "o.fa", tmp_path / "o.tsv", tmp_path / "s.tsv")


def test_species_list_that_would_be_ignored(tmp_path):
    (tmp_path / "species.txt").write_text("homo_sapiens\nmus_musculus\n")
    result = orthologs(tmp_path, "--species", "species.txt", maf=ASSETS / "alignment.maf")
    assert_failed(result, "none of the 2 species of --species (e.g. 'homo_sapiens') has a row in the alignment",
                  tmp_path / "o.fa", tmp_path / "o.tsv", tmp_path / "s.tsv")


def test_stale_fai(tmp_path):
    shutil.copy(ASSETS / "genome.fa", tmp_path / "genome.fa")
    shutil.copy(ASSETS / "genome.fa.fai", tmp_path / "genome.fa.fai")
    text = (tmp_path / "genome.fa").read_text()
    (tmp_path / "genome.fa").write_text(">chr0\nACGT\n" + text)  # edited after indexing
    result = orthologs(tmp_path, maf=ASSETS / "alignment.maf", genome="genome.fa")
    assert_failed(result, "genome.fa.fai: contig chr1 is not where the index says", tmp_path / "o.fa")


def test_failed_hal2maf_leaves_an_empty_maf_folder(tmp_path):
    fake = tmp_path / "silent_hal2maf"
    fake.write_text("#!/usr/bin/env bash\nexit 0\n")  # exits 0 and writes nothing
    fake.chmod(0o755)
    (tmp_path / "z.hal").touch()
    (tmp_path / "utrs.bed").write_text(BED)
    result = run("hal2maf_batch.py", "--hal", "z.hal", "--bed", "utrs.bed", "--out-dir", "maf", "--hal2maf", fake,
                 cwd=tmp_path)
    assert_failed(result, "hal2maf exited without error for chr1 of z.hal but wrote no MAF")
    assert not list((tmp_path / "maf").glob("*.maf"))
    # the next step, given that empty folder, says so
    result = orthologs(tmp_path, maf_dir="maf")
    assert_failed(result, "maf: the MAF folder holds no *.maf or *.maf.gz file (did the hal2maf step fail?)",
                  tmp_path / "o.fa", tmp_path / "o.tsv")


def test_fasta_letters_are_checked_and_uppercased(tmp_path):
    """The one-pass check keeps N and lowercase (soft-masking) and names the first letter that is
    not A, C, G, T or N, also where it is not ASCII."""
    from utrbench.errors import UserError
    from utrbench.seq.fasta import read_fasta

    fasta = tmp_path / "x.fa"
    fasta.write_text(">a\nacgtNNac\n>b\nACGT\n")
    assert read_fasta(fasta) == {"a": "ACGTNNAC", "b": "ACGT"}
    for sequence, letter, position in (("ACGTRA", "R", 5), ("ACG-T", "-", 4), ("ACGTéA", "É", 5)):
        fasta.write_text(f">a\nACGT\n>b\n{sequence}\n")
        with pytest.raises(UserError, match=rf"x.fa: record b: letter '{letter}' at position {position} is not one of"):
            read_fasta(fasta)
