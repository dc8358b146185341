"""Zoo-AL: per-position A/C/G/T frequencies of a UTR across the aligned species.

As in the study (``zero-shot-probs/ZooAL/zooal.ipynb``), the frequency of a base at a human
position is its count over all rows, human included, divided by the row total; letters other
than A, C, G, T (gaps, N) do not count. Columns where the human row has a gap are not human
positions and are dropped, so row ``i`` is position ``i`` of the human UTR in transcript
orientation. The study used no pseudocount (``pseudocount=0``); with one, every base gets
``pseudocount`` added before normalising. A position with no counted letter at all (a human N
that no species covers) gets the uniform distribution.
"""

import numpy as np

BASES = np.frombuffer(b"ACGT", dtype=np.uint8)


def count_bases(rows) -> np.ndarray:
    """Counts ``[L, 4]`` (ACGT order) over uint8 letter rows of equal length ``L``."""
    rows = np.asarray(rows, dtype=np.uint8)
    return (rows[:, :, None] == BASES[None, None, :]).sum(axis=0).astype(np.float64)


def zooal_frequencies(human_sequence: str, species_columns, pseudocount: float = 0.0) -> np.ndarray:
    """ACGT frequencies ``[L, 4]`` (float32) from the human sequence and the species' columns.

    ``species_columns`` holds one uint8 array per species, aligned to the human positions
    (transcript orientation, 0 where the species has no base), as produced by
    :func:`utrbench.align.maf.stream_alignments`.
    """
    human = np.frombuffer(human_sequence.upper().encode("ascii"), dtype=np.uint8)
    counts = count_bases([human, *species_columns]) + pseudocount
    totals = counts.sum(axis=1, keepdims=True)
    uniform = np.full_like(counts, 0.25)
    frequencies = np.divide(counts, totals, out=uniform, where=totals > 0)
    return frequencies.astype(np.float32)
