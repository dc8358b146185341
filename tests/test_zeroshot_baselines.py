"""PhyloP and CADD baselines in the per-nucleotide layout: values, strand handling, errors."""

import importlib.util
from pathlib import Path

import numpy as np
import pyBigWig
import pysam
import pytest
from click.testing import CliRunner

from utrbench.io import read_probabilities

PROJECT_DIR = Path(__file__).resolve().parents[1]
BED = "chr1\t10\t14\tU_plus\t0\t+\nchr1\t20\t23\tU_plus\t1\t+\nchr1\t30\t34\tU_minus\t0\t-\n"


def run_cli(*args):
    spec = importlib.util.spec_from_file_location("baseline_cli", PROJECT_DIR / "bin" / "baseline_scores.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return CliRunner().invoke(module.main, [str(a) for a in args])


@pytest.fixture
def inputs(tmp_path):
    (tmp_path / "utrs.bed").write_text(BED)
    bigwig = pyBigWig.open(str(tmp_path / "phylop.bw"), "w")
    bigwig.addHeader([("chr1", 100), ("chr2", 50)])
    starts = np.arange(0, 40)
    bigwig.addEntries(["chr1"] * 40, starts.tolist(), ends=(starts + 1).tolist(), values=(starts / 10).tolist())
    bigwig.close()
    rows = ["## CADD test", "#Chrom\tPos\tRef\tAlt\tRawScore\tPHRED"]
    for position in range(1, 41):  # 1-based
        ref = "ACGT"[position % 4]
        for alt in "ACGT":
            if alt != ref:
                raw = -position / 10 - 0.001 * "ACGT".index(alt)  # raw scores differ from PHRED (and may be negative)
                rows.append(f"1\t{position}\t{ref}\t{alt}\t{raw:.3f}\t{position + 0.01 * 'ACGT'.index(alt):.2f}")
    (tmp_path / "cadd.tsv").write_text("\n".join(rows) + "\n")
    pysam.tabix_index(str(tmp_path / "cadd.tsv"), seq_col=0, start_col=1, end_col=1, meta_char="#", force=True)
    return tmp_path


def test_phylop_in_transcript_order(inputs):
    result = run_cli("--bed", inputs / "utrs.bed", "--phylop", inputs / "phylop.bw", "--out", inputs / "p.h5")
    assert result.exit_code == 0, result.output
    ids, scores, attrs = read_probabilities(inputs / "p.h5")
    assert ids == ["U_plus", "U_minus"] and attrs["kind"] == "score"
    np.testing.assert_allclose(scores["U_plus"][:, 2], [1.0, 1.1, 1.2, 1.3, 2.0, 2.1, 2.2], rtol=1e-6)
    np.testing.assert_allclose(scores["U_minus"][:, 0], [3.3, 3.2, 3.1, 3.0], rtol=1e-6)
    assert np.all(scores["U_minus"] == scores["U_minus"][:, :1])


def test_cadd_alt_columns_and_minus_strand(inputs):
    result = run_cli("--bed", inputs / "utrs.bed", "--cadd", inputs / "cadd.tsv.gz", "--out", inputs / "raw.h5")
    assert result.exit_code == 0, result.output
    _, raw, attrs = read_probabilities(inputs / "raw.h5")
    assert attrs["column"] == "RawScore"  # the study's score by default
    np.testing.assert_allclose(raw["U_plus"][0, :3], [-1.1, -1.101, -1.102], rtol=1e-6)
    result = run_cli("--bed", inputs / "utrs.bed", "--cadd", inputs / "cadd.tsv.gz", "--cadd-column", "PHRED",
                     "--out", inputs / "c.h5")
    assert result.exit_code == 0, result.output
    _, scores, attrs = read_probabilities(inputs / "c.h5")
    assert attrs["column"] == "PHRED"
    # genome position 10 (0-based) = Pos 11, ref 'ACGT'[11 % 4] = T; alt A/C/G scored 11.00/11.01/11.02
    np.testing.assert_allclose(scores["U_plus"][0, :3], [11.0, 11.01, 11.02], rtol=1e-6)
    assert np.isnan(scores["U_plus"][0, 3])
    # U_minus row 0 = genome 33 (Pos 34, ref G): alt A -> T column, C -> G column, T -> A column
    np.testing.assert_allclose(scores["U_minus"][0, [3, 2, 0]], [34.0, 34.01, 34.03], rtol=1e-6)
    assert np.isnan(scores["U_minus"][0, 1])


def test_errors_exit_2_without_output(inputs):
    (inputs / "chr3.bed").write_text("chr3\t1\t5\tU3\t0\t+\n")
    result = run_cli("--bed", inputs / "chr3.bed", "--phylop", inputs / "phylop.bw", "--out", inputs / "x.h5")
    assert result.exit_code == 2 and "no chromosome 'chr3'" in result.output and not (inputs / "x.h5").exists()
    result = run_cli("--bed", inputs / "chr3.bed", "--cadd", inputs / "cadd.tsv.gz", "--out", inputs / "x.h5")
    assert result.exit_code == 2 and "no chromosome 'chr3'" in result.output
    result = run_cli("--bed", inputs / "utrs.bed", "--phylop", inputs / "utrs.bed", "--out", inputs / "x.h5")
    assert result.exit_code == 2 and "not a readable bigWig" in result.output
    result = run_cli("--bed", inputs / "utrs.bed", "--out", inputs / "x.h5")
    assert result.exit_code == 2 and not (inputs / "x.h5").exists()
