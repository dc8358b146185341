"""Sequence-feature baselines (utrbench.tasks.features, sequence_features.py)."""

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from utrbench.io import read_embeddings
from utrbench.models.dnabert import all_kmers
from utrbench.tasks import features

BIN = Path(__file__).resolve().parents[1] / "bin"


def test_kmer_spectrum_by_hand():
    spectrum = features.kmer_spectrum(["AATN", "N", "ATCG"], 2)
    names = features.kmer_names(2)
    assert names[:5] == ["AA", "AT", "AC", "AG", "TA"]
    assert dict(zip(names, spectrum[0])) == {**dict.fromkeys(names, 0.0), "AA": 0.5, "AT": 0.5}
    assert not spectrum[1].any()
    assert spectrum[2][[names.index("AT"), names.index("TC"), names.index("CG")]].tolist() == pytest.approx([1 / 3] * 3)


def test_kmer_spectrum_equals_counting_by_hand():
    """Against a plain count of every N-free k-mer, with columns in DNABERT's k-mer order."""
    rng = np.random.default_rng(0)
    sequences = ["".join(rng.choice(list("ACGTN"), p=[0.24, 0.24, 0.24, 0.24, 0.04], size=n)) for n in (5, 40, 97)]
    k = 3
    assert features.kmer_names(k) == all_kmers(k)
    for sequence, row in zip(sequences, features.kmer_spectrum(sequences, k)):
        kmers = [sequence[i:i + k] for i in range(len(sequence) - k + 1) if "N" not in sequence[i:i + k]]
        expected = [kmers.count(name) / len(kmers) for name in all_kmers(k)]
        np.testing.assert_allclose(row, expected, atol=1e-7)


def test_minimal_features_by_hand():
    names = features.minimal_feature_names()
    row = dict(zip(names, features.minimal_features(["TTATTTATTTAGGGGCACACAC"])[0]))
    assert row["length"] == 22
    assert row["gc"] == pytest.approx(8 / 22)  # 4 G + 4 C
    assert row["frac_T"] == pytest.approx(8 / 22) and row["frac_TT"] == pytest.approx(5 / 21)
    assert row["longest_homopolymer"] == 4  # GGGG
    assert row["longest_dinucleotide_repeat"] == 6  # CACACA and ACACAC; GGGG is a homopolymer, not counted
    assert row["are_pentamer"] == 2 and row["are_nonamer"] == 1
    fractions = np.array([row[f"frac_{b}"] for b in "ACGT"])
    assert row["uniformity"] == pytest.approx(-(fractions * np.log2(fractions)).sum() / 2, rel=1e-6)


def test_cli_writes_embeddings_with_feature_names(tmp_path, monkeypatch):
    (tmp_path / "seqs.fa").write_text(">a\nACGTACGT\n>b\nTTTTNAAA\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(BIN))
    from sequence_features import main

    assert CliRunner().invoke(main, ["--fasta", "seqs.fa", "--features", "kmer1", "--out", "k1.h5"]).exit_code == 0
    ids, matrix, attrs = read_embeddings(tmp_path / "k1.h5")
    assert ids == ["a", "b"] and attrs["model"] == "kmer1"
    np.testing.assert_allclose(matrix, [[0.25, 0.25, 0.25, 0.25], [3 / 7, 4 / 7, 0, 0]])
    result = CliRunner().invoke(main, ["--fasta", "seqs.fa", "--features", "kmer9", "--out", "k9.h5"])
    assert result.exit_code == 2 and "expected kmer1 .. kmer6 or minseq" in result.stderr
    assert not (tmp_path / "k9.h5").exists()
