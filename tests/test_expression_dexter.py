"""DExTER: bins, regions, counting, scores, the exploration rules and recovery of a planted signal."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from utrbench.errors import UserError
from utrbench.expression import dexter
from synthetic_expression import PLANTED_KMER, PLANTED_REGION, decode, planted_windows

PUBLISHED_FROM = [-2000, -1925, -1196, -684, -341, -125, 0, 1, 126, 342, 685, 1197, 1926]
PUBLISHED_TO = [-1926, -1197, -685, -342, -126, -1, 0, 125, 341, 684, 1196, 1925, 2000]


def lattice_4001():
    return dexter.Lattice(dexter.make_bins(4001, 2000, 13), 2000)


def test_bins_match_the_published_table():
    lattice = lattice_4001()
    start, end = lattice.region_bounds()
    single = slice(0, 13)  # regions are ordered single bins first
    assert start[single].tolist() == PUBLISHED_FROM
    assert end[single].tolist() == PUBLISHED_TO
    assert np.diff(lattice.edges).tolist() == [75, 729, 512, 343, 216, 125, 1, 125, 216, 343, 512, 729, 75]


@pytest.mark.parametrize("n_bins, left_widths", [
    (9, [416, 729, 512, 343, 1]),
    (11, [200, 729, 512, 343, 216, 1]),
    (15, [713, 512, 343, 216, 125, 64, 27, 1]),
    (12, [75, 729, 512, 343, 216, 125, 1]),  # even counts are raised by one
])
def test_other_bin_counts_match_the_reference(n_bins, left_widths):
    widths = np.diff(dexter.make_bins(4001, 2000, n_bins)).tolist()
    assert widths == left_widths + left_widths[-2::-1]


def test_91_regions_are_all_runs_of_consecutive_bins():
    lattice = lattice_4001()
    assert lattice.n_regions == 91
    pairs = set(zip(lattice.first_bin.tolist(), lattice.last_bin.tolist()))
    assert pairs == {(i, j) for i in range(13) for j in range(i, 13)}
    assert lattice.label(lattice.whole_window) == "[-2000,2000]"
    # The reference's strongest CpG domain [-125, 341] is bins 6..9 (0-based 5..8).
    start, end = lattice.region_bounds()
    cpg = np.flatnonzero((start == -125) & (end == 341))
    assert len(cpg) == 1 and (lattice.first_bin[cpg[0]], lattice.last_bin[cpg[0]]) == (5, 8)
    assert lattice.intersects(cpg[0], lattice.whole_window)
    assert not lattice.intersects(0, 1)


def test_bins_refuse_a_side_too_short():
    with pytest.raises(UserError):
        dexter.make_bins(11, 5, 13)


def naive_bin_counts(sequence, kmer, edges):
    """Slow reference: every start except the last (L - k), bin of the start, no N matches."""
    counts = np.zeros(len(edges) - 1, dtype=np.int64)
    for start in range(len(sequence) - len(kmer)):
        if sequence[start:start + len(kmer)] == kmer:
            counts[np.searchsorted(edges, start, side="right") - 1] += 1
    return counts


def test_fast_counts_equal_a_naive_count():
    rng = np.random.default_rng(3)
    sequences = ["".join(rng.choice(list("ACGTN"), p=[0.3, 0.2, 0.2, 0.25, 0.05], size=301)) for _ in range(40)]
    sequences[0] = "A" * 301  # overlapping occurrences: every start counts
    edges = dexter.make_bins(301, 150, 7)
    codes = dexter.encode_sequences(sequences)
    for kmers in (["A", "N"[:0] + "C"], ["AA", "CG", "TA"], ["AAA", "ACG", "GGT"], ["AAAA", "TTTT", "ACGT"]):
        fast = dexter.count_kmers_per_bin(codes, kmers, edges)
        for i, kmer in enumerate(kmers):
            expected = np.array([naive_bin_counts(s, kmer, edges) for s in sequences])
            np.testing.assert_array_equal(fast[i], expected)
    assert dexter.count_kmers_per_bin(codes, ["AA"], edges)[0, 0].sum() == 301 - 2


def test_counts_do_not_depend_on_the_gene_chunk_size(monkeypatch):
    codes = planted_windows(30, length=401, tss_index=200, region=(-20, 60), seed=5).codes
    edges = dexter.make_bins(401, 200, 9)
    whole = dexter.count_kmers_per_bin(codes, ["CG", "GA"], edges)
    monkeypatch.setattr(dexter, "GENES_PER_CHUNK", 7)
    np.testing.assert_array_equal(dexter.count_kmers_per_bin(codes, ["CG", "GA"], edges), whole)


def test_region_counts_are_sums_of_their_bins():
    lattice = dexter.Lattice(dexter.make_bins(401, 200, 7), 200)
    bins = np.random.default_rng(0).integers(0, 9, size=(5, lattice.n_bins))
    regions = dexter.region_counts(bins, lattice)
    for r in range(lattice.n_regions):
        np.testing.assert_array_equal(regions[:, r], bins[:, lattice.first_bin[r]:lattice.last_bin[r] + 1].sum(1))


def test_abs_spearman_equals_scipy_per_column():
    rng = np.random.default_rng(1)
    matrix = rng.integers(0, 5, size=(60, 6)).astype(float)
    matrix[:, 5] = 2.0  # constant: NaN in scipy, 0 in DExTER
    y = rng.normal(size=60)
    fast = dexter.abs_spearman(matrix, y)
    np.testing.assert_allclose(dexter.abs_spearman(matrix.astype(np.int64), y), fast, atol=1e-12)
    for column in range(5):
        assert fast[column] == pytest.approx(abs(spearmanr(matrix[:, column], y)[0]), abs=1e-12)
    assert fast[5] == 0.0


@pytest.mark.parametrize("candidate, reference, expected", [
    (0.01, 0.0, True),     # over a zero parent only the absolute threshold counts
    (0.0099, 0.0, False),
    (0.05, 0.04, True),    # +25 % and +0.01
    (0.045, 0.04, False),  # +12.5 % but only +0.005
    (0.60, 0.56, False),   # +0.04 but only +7 %
    (0.30, 0.31, False),
])
def test_beats_applies_both_thresholds(candidate, reference, expected):
    assert dexter.beats(candidate, reference) is expected


def test_region_walk_keeps_the_best_disjoint_regions_that_beat_their_controls():
    lattice = dexter.Lattice(np.array([0, 10, 20, 30, 40]), 20)  # 4 bins, 10 regions
    pair = {(int(f), int(l)): r for r, (f, l) in enumerate(zip(lattice.first_bin, lattice.last_bin))}
    own = np.full(lattice.n_regions, 0.1)
    prefix = np.full(lattice.n_regions, 0.05)
    suffix = np.zeros(lattice.n_regions)
    own[pair[(1, 2)]] = 0.5   # best: kept
    own[pair[(0, 1)]] = 0.45  # intersects (1, 2): skipped
    own[pair[(3, 3)]] = 0.4   # disjoint but does not beat its prefix control
    prefix[pair[(3, 3)]] = 0.38
    own[pair[(0, 0)]] = 0.3   # disjoint and beats both controls: kept
    kept = dexter._walk_regions(own, prefix, suffix, pair[(0, 3)], lattice, 0.1, 0.01)
    assert kept == [pair[(1, 2)], pair[(0, 0)]]
    # A control scoring 0 blocks only a candidate that also scores 0.
    zero = np.zeros(lattice.n_regions)
    assert dexter._walk_regions(zero, zero, zero, 0, lattice, 0.1, 0.01) == []


def test_exploration_recovers_the_planted_kmer_and_region():
    planted = planted_windows(900, seed=11)
    lattice = lattice_4001()
    exploration = dexter.explore(planted.codes, planted.log10_tpm, lattice)
    start, end = lattice.region_bounds()
    best_kmer, best_region = max(exploration.variables, key=lambda v: exploration.scores[v[0]][v[1]])
    assert best_kmer == PLANTED_KMER
    assert (start[best_region], end[best_region]) == PLANTED_REGION
    # The planted k-mer was reached through accepted extensions, each beating its controls.
    statuses = {(row["kmer"], row["region_from"]): row["status"] for row in exploration.graph}
    assert statuses[(PLANTED_KMER, PLANTED_REGION[0])] == "accepted"
    assert all(row["status"] in {"root", "accepted", "rejected", "kept_region"} for row in exploration.graph)
    roots = [row for row in exploration.graph if row["status"] == "root"]
    assert len(roots) == 16 and all((r["region_from"], r["region_to"]) == (-2000, 2000) for r in roots)


def test_max_kmer_length_stops_the_exploration():
    planted = planted_windows(200, seed=2)
    exploration = dexter.explore(planted.codes, planted.log10_tpm, lattice_4001(), max_kmer_length=2)
    assert {len(kmer) for kmer, _ in exploration.variables} == {2}


def test_features_are_region_frequencies_clipped_to_one():
    sequences = ["AC" * 50 + "A", "T" * 101]
    lattice = dexter.Lattice(dexter.make_bins(101, 50, 5), 50)
    codes = dexter.encode_sequences(sequences)
    whole = lattice.whole_window
    first = 0
    features = dexter.feature_matrix(codes, [("AC", whole), ("TT", first), ("T", whole)], lattice)
    width0 = lattice.region_lengths()[first]
    # 50 AC starts, the last at 98 (start 99 = L - k is never counted): 50 / 101.
    assert features[0, 0] == pytest.approx(50 / 101)
    assert features[1, 1] == pytest.approx(width0 / width0)
    assert features[1, 2] == pytest.approx(100 / 101)
    assert features[0, 1] == 0 and features[0, 2] == 0


def test_run_dexter_fits_and_predicts_the_planted_signal():
    planted = planted_windows(600, seed=4)
    is_train = np.arange(600) < 400
    run = dexter.run_dexter(planted.codes, planted.log10_tpm, is_train, tss_index=2000)
    table = dexter.variables_table(run)
    top = table.loc[table["coefficient"].abs().idxmax()]
    assert (top["kmer"], top["region_from"], top["region_to"]) == (PLANTED_KMER, *PLANTED_REGION)
    assert top["coefficient"] > 0
    # y = 0.4 x copies + N(0, 0.3²) with copies ~ U{0..8}, but background TACG (Poisson, mean ~1.8 in
    # 467 bp) dilutes the count: r of the best single feature is about 0.96 * sqrt(6.7 / 8.5) = 0.85.
    assert run.test_metrics["pearson_r"] > 0.75
    description = dexter.model_description(run)
    assert len(description["variables"]) == len(table)


def test_encode_and_decode_round_trip():
    codes = planted_windows(3, length=50, tss_index=25, region=(-5, 10)).codes
    assert np.array_equal(dexter.encode_sequences(decode(codes)), codes)
    assert dexter.encode_sequences(["ACGTN"]).tolist() == [[0, 1, 2, 3, 4]]


def test_scores_equal_per_region_scipy_for_mixed_lengths():
    planted = planted_windows(40, length=401, tss_index=200, region=(-20, 60), seed=8)
    lattice = dexter.Lattice(dexter.make_bins(401, 200, 7), 200)
    sequences = decode(planted.codes)
    scores = dexter.score_kmers(planted.codes, planted.log10_tpm, ["CG", "TAC", "TACG"], lattice)
    for kmer, fast in scores.items():
        per_gene = np.array([naive_bin_counts(s, kmer, lattice.edges) for s in sequences])
        for region in range(lattice.n_regions):
            counts = per_gene[:, lattice.first_bin[region]:lattice.last_bin[region] + 1].sum(1)
            rho = spearmanr(counts, planted.log10_tpm)[0] if counts.std() > 0 else 0.0
            assert fast[region] == pytest.approx(abs(rho), abs=1e-12)


def test_count_ranks_equal_rankdata():
    from scipy.stats import rankdata

    counts = np.random.default_rng(4).integers(0, 30, size=(200, 7))
    counts[:, 3] = 5
    np.testing.assert_array_equal(dexter.count_ranks(counts), rankdata(counts, axis=0))


def test_lassocv_runs_over_training_genes_in_expression_table_order(tmp_path, monkeypatch):
    """DExTER writes its training matrix in input order and LassoCV's K-fold does not shuffle:
    the rows must come in expression-table order (not the order random.sample drew them)."""
    import random

    import pandas as pd
    from click.testing import CliRunner
    from sklearn.linear_model import LassoCV

    import dexter as dexter_cli
    import expression_dataset
    from synthetic_expression import write_study

    write_study(tmp_path, n_genes=60, flank=400, spacer=50, seed=5)
    dataset = CliRunner().invoke(expression_dataset.main, [
        "--genome", str(tmp_path / "genome.fa"), "--gtf", str(tmp_path / "genes.gtf"), "--expression",
        str(tmp_path / "expression.tsv"), "--tissue", "Pituitary", "--flank", "400", "--out-fasta",
        str(tmp_path / "w.fa"), "--out-labels", str(tmp_path / "l.tsv"), "--out-summary", str(tmp_path / "s.json")])
    assert dataset.exit_code == 0, dataset.output
    fitted = []
    original_fit = LassoCV.fit
    monkeypatch.setattr(LassoCV, "fit", lambda self, X, y, **kw: fitted.append(np.array(y)) or original_fit(self, X, y, **kw))
    outputs = [f"--out-{name}" for name in ("variables", "model", "predictions", "graph", "metrics")]
    run = CliRunner().invoke(dexter_cli.main, ["--fasta", str(tmp_path / "w.fa"), "--labels", str(tmp_path / "l.tsv"),
                                               *[a for o in outputs for a in (o, str(tmp_path / o[6:]))]])
    assert run.exit_code == 0, run.output
    assert "k = 2: 16 domains explored" in run.stderr and "DExTER exploration: " in run.stderr  # progress lines

    table = pd.read_csv(tmp_path / "expression.tsv", sep="\t")  # the expression table, read independently
    table["gene"] = table["gene"].str.replace(r"\.\d+$", "", regex=True)
    labels = pd.read_csv(tmp_path / "l.tsv", sep="\t")
    matched = table[table["gene"].isin(labels["gene"])]
    chosen = set(random.Random(686185200).sample(list(matched["gene"]), int(len(matched) * 2 / 3)))
    in_table_order = matched[matched["gene"].isin(chosen)]
    np.testing.assert_allclose(fitted[0], np.log10(np.maximum(in_table_order["Pituitary"], 0.001)), rtol=1e-7)
    drawn_order = random.Random(686185200).sample(list(matched["gene"]), int(len(matched) * 2 / 3))
    assert drawn_order != list(in_table_order["gene"])  # the two orders differ, so the assertion above can fail


@pytest.mark.parametrize("script", ["dexter.py", "finetune_regression.py"])
def test_a_non_numeric_label_is_one_sentence_exit_2_and_no_output(script, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "w.fa").write_text(">a\nACGTA\n>b\nACGTC\n>c\nACGTG\n")
    (tmp_path / "l.tsv").write_text("gene\tlog10_tpm\tsplit\na\t0.5\ttrain\nb\thigh\ttrain\nc\t1\ttest\n")
    outputs = {"dexter.py": ["variables", "model", "predictions", "graph", "metrics"],
               "finetune_regression.py": ["model", "predictions", "log", "metrics"]}[script]
    command = [sys.executable, str(Path(__file__).parents[1] / "bin" / script), "--fasta", "w.fa", "--labels", "l.tsv",
               *(["--model", "no_model"] if script == "finetune_regression.py" else []),
               *[a for name in outputs for a in (f"--out-{name}", f"out_{name}")]]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert result.stderr == "error: l.tsv: line 3 (gene b): log10_tpm 'high' is not a finite number.\n"
    assert not list(tmp_path.glob("out_*"))
