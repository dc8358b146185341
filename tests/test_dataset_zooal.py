"""Zoo-AL frequencies (utrbench.align.zooal, bin/zooal.py) against hand counts."""

import subprocess
import sys
from pathlib import Path

import numpy as np

from test_dataset_maf import inputs  # noqa: F401  (the hand-built genome, MAF and BED fixture)
from utrbench.align.zooal import zooal_frequencies
from utrbench.io import read_probabilities

PROJECT = Path(__file__).resolve().parents[1]

A, C, G, T = np.eye(4)


def test_frequencies_by_hand_with_gaps_n_and_pseudocount():
    human = "ACGN"
    species = [np.frombuffer(b"AAG\0", dtype=np.uint8), np.frombuffer(b"TA\0\0", dtype=np.uint8)]
    # position 0: A, A, T; 1: C, A, A; 2: G, G; 3: human N and no species -> uniform
    expected = np.array([[2 / 3, 0, 0, 1 / 3], [2 / 3, 1 / 3, 0, 0], G, [0.25] * 4])
    np.testing.assert_allclose(zooal_frequencies(human, species), expected, rtol=1e-6)
    with_pseudocount = zooal_frequencies(human, species, pseudocount=1.0)
    np.testing.assert_allclose(with_pseudocount[0], [3 / 7, 1 / 7, 1 / 7, 2 / 7], rtol=1e-6)


def test_cli_hand_count_on_hand_built_alignment(inputs, tmp_path):  # noqa: F811
    genome, maf, bed = inputs
    result = subprocess.run(
        [sys.executable, str(PROJECT / "bin" / "zooal.py"), "--bed", str(bed), "--genome", str(genome),
         "--maf", str(maf), "--reference", "hg", "--out", "z.h5"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    ids, probs, attrs = read_probabilities(tmp_path / "z.h5")
    assert ids == ["PLUS", "MINUS", "SPLICED", "UNALIGNED"]
    assert (attrs["model"], attrs["orientation"]) == ("Zoo-AL", "transcript")
    # MINUS in transcript orientation: human AATTGGCC, Mouse AATAGGCC (Dog absent)
    np.testing.assert_allclose(probs["MINUS"], [A, A, T, (A + T) / 2, G, G, C, C])
    # PLUS positions 0-9 (block 1): human CGGTCAATTC; Mouse CGGTC-ATTC (gap at 5), Dog not on chrB there;
    # positions 10-19 (block 2): human CGGAATTGCA, Mouse CGG--TTGCA, Dog CGGAATTGCA.
    plus = probs["PLUS"]
    assert plus.shape == (20, 4)
    np.testing.assert_allclose(plus[5], A)  # human only: the Mouse gap does not count
    np.testing.assert_allclose(plus[13], (2 * A) / 2)  # Mouse gap; human and Dog A
    np.testing.assert_allclose(plus[[0, 10, 19]], [C, C, A])
    # SPLICED (minus): forward human CGT|GCA, Mouse CGA|GCA, Dog CGT (chrA, tie with chrB) -> transcript
    # human TGC|ACG, Mouse TGC|TCG, Dog ---|ACG
    np.testing.assert_allclose(probs["SPLICED"], [T, G, C, (2 * A + T) / 3, C, G], rtol=1e-6)
    np.testing.assert_allclose(probs["UNALIGNED"], [A, C, G, T])  # chr2 ACGT..., human alone
