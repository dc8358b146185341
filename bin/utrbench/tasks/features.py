"""Sequence-feature baselines that need no model and no torch, written as embeddings.

- :func:`kmer_spectrum`: frequencies of the overlapping k-mers (k = 1..6), the study's "5-mers
  (Siegel)" and half-life "k-mer" baselines, and the pipeline's only k-mer spectrum. Columns follow
  the k-mer order of DNABERT's vocabulary (base 4, digits A=0, T=1, C=2, G=3); k-mers containing N
  are left out and each row sums to 1 (the zero row when a sequence has no N-free k-mer).
- :func:`minimal_features`: the "minseq" features of Griesemer 2021 as the study used them
  (nucleotide and dinucleotide content, longest homopolymer and dinucleotide repeat, uniformity)
  plus length, GC and AU-rich element counts (Siegel 2022). Uniformity is our definition: the
  Shannon entropy of the A/C/G/T composition in bits divided by 2 (1 = equal content).
"""

import itertools
import re

import numpy as np

KMER_ALPHABET = "ATCG"  # digit order of DNABERT's and NT's vocabularies
_DIGIT = np.full(256, 4, dtype=np.int64)
_DIGIT[np.frombuffer(KMER_ALPHABET.encode(), dtype=np.uint8)] = np.arange(4)
DINUCLEOTIDES = ["".join(p) for p in itertools.product("ACGT", repeat=2)]
# AU-rich elements in DNA letters: the AUUUA pentamer and the UUAUUUAUU nonamer (Siegel 2022).
ARE_MOTIFS = {"are_pentamer": "ATTTA", "are_nonamer": "TTATTTATT"}
_HOMOPOLYMER = re.compile(r"A+|C+|G+|T+")
# At every position, the longest run of one repeated two-letter unit of two different letters.
_DINUCLEOTIDE_REPEAT = re.compile(r"(?=((A[CGT]|C[AGT]|G[ACT]|T[ACG])\2*))")


def kmer_names(k: int) -> list:
    """Column names of :func:`kmer_spectrum`."""
    return ["".join(p) for p in itertools.product(KMER_ALPHABET, repeat=k)]


def kmer_spectrum(sequences, k: int) -> np.ndarray:
    """Overlapping k-mer frequencies, float32 ``[n, 4**k]`` (vectorised per sequence)."""
    if not 1 <= k <= 6:
        raise ValueError("k must be in 1..6")
    spectra = np.zeros((len(sequences), 4**k), dtype=np.float32)
    for row, sequence in enumerate(sequences):
        digits = _DIGIT[np.frombuffer(sequence.encode(), dtype=np.uint8)]
        if len(digits) < k:
            continue
        windows = np.lib.stride_tricks.sliding_window_view(digits, k)
        windows = windows[(windows < 4).all(axis=1)]
        if not len(windows):
            continue
        index = windows @ (4 ** np.arange(k - 1, -1, -1))
        counts = np.bincount(index, minlength=4**k)
        spectra[row] = counts / counts.sum()
    return spectra


def _count_overlapping(sequence: str, motif: str) -> int:
    return len(re.findall(f"(?={motif})", sequence))


def minimal_feature_names() -> list:
    """Column names of :func:`minimal_features`."""
    return (["length", "gc", *[f"frac_{b}" for b in "ACGT"], *[f"frac_{d}" for d in DINUCLEOTIDES],
             "longest_homopolymer", "longest_dinucleotide_repeat", "uniformity", *ARE_MOTIFS])


def minimal_features(sequences) -> np.ndarray:
    """The minimal MPRA features (see module docstring), float32 ``[n, len(minimal_feature_names())]``."""
    rows = []
    for sequence in sequences:
        length = len(sequence)
        bases = np.array([sequence.count(b) for b in "ACGT"], dtype=np.float64)
        base_fraction = bases / max(length, 1)
        pairs = max(length - 1, 1)
        dinucleotides = [_count_overlapping(sequence, d) / pairs for d in DINUCLEOTIDES]
        present = base_fraction[base_fraction > 0]
        uniformity = float(-(present * np.log2(present)).sum() / 2)
        homopolymer = max((len(m) for m in _HOMOPOLYMER.findall(sequence)), default=0)
        repeat = max((len(m.group(1)) for m in _DINUCLEOTIDE_REPEAT.finditer(sequence)), default=0)
        ares = [_count_overlapping(sequence, motif) for motif in ARE_MOTIFS.values()]
        rows.append([length, base_fraction[1] + base_fraction[2], *base_fraction, *dinucleotides,
                     homopolymer, repeat, uniformity, *ares])
    return np.asarray(rows, dtype=np.float32).reshape(len(rows), len(minimal_feature_names()))
