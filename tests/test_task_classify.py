"""Task 2, supervised half: embedding distances and the grouped, per-fold-tuned MLP on [ref, alt] embeddings.

Synthetic embeddings with a planted rule: the label is the sign of ``alt - ref`` along one direction
(learnable from the features), or a coin per UTR (learnable only by remembering UTRs, so a grouped
cross-validation must score it near 0.5 and a per-variant one far above). Tiny networks and few
trials keep each fit to milliseconds.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from utrbench.errors import UserError
from utrbench.io import read_tsv, write_embeddings, write_tsv
from utrbench.tasks import classify, variant_scores
from utrbench.tasks.variant_windows import INDEX_COLUMNS
from utrbench.tasks.variants import VARIANT_COLUMNS

BIN = Path(__file__).resolve().parents[1] / "bin"
FAST = classify.Training(epochs=30, learning_rate=3e-3, batch_size=64, seed=1)
DIRECTION = np.array([1.0, -2.0, 0.5, 0.0, 0.0, 1.0, 0.0, 0.0])


@pytest.fixture(autouse=True)
def one_deterministic_thread():
    """What variant_classify.py sets, undone afterwards for the other test modules."""
    import torch

    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    classify.deterministic_torch(1)
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)


def synthetic(rule: str, n_utrs=120, per_utr=4, dim=8, seed=0):
    """Reference and alternative embeddings ``[n, dim]``, labels and UTR groups."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_utrs), per_utr)
    utr_vectors = rng.normal(0, 1, (n_utrs, dim))
    ref = utr_vectors[groups] + rng.normal(0, 0.3, (len(groups), dim))
    alt = ref + rng.normal(0, 1, (len(groups), dim))
    if rule == "direction":
        labels = ((alt - ref) @ DIRECTION > 0).astype(int)
    else:  # a coin per UTR: nothing in a variant's embedding change says its label
        labels = rng.permutation(np.arange(n_utrs) % 2)[groups]
    return ref, alt, labels, groups.astype(str)


# ---- embedding distances ------------------------------------------------------------------------------

def test_distances_equal_numpy_on_hand_made_vectors():
    ref = np.array([[1.0, 2.0, 2.0], [0.0, 0.0, 0.0], [3.0, 0.0, 4.0]])
    alt = np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0], [3.0, 0.0, 4.0]])
    got = variant_scores.embedding_distances(ref, alt)
    assert np.allclose(got["l1"], [4.0, 3.0, 0.0])
    assert np.allclose(got["l2"], [np.sqrt(8.0), np.sqrt(3.0), 0.0])
    assert np.allclose(got["dot"], [1.0, 0.0, 25.0])
    # 1 - 1 / (3 * 1); zero vector: undefined; identical vectors: 0
    assert np.allclose(got["cosine"][[0, 2]], [1 - 1 / 3, 0.0]) and np.isnan(got["cosine"][1])
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(50, 16)), rng.normal(size=(50, 16))
    got = variant_scores.embedding_distances(a, b)
    assert np.allclose(got["l1"], [np.linalg.norm(x - y, 1) for x, y in zip(a, b)])
    assert np.allclose(got["l2"], [np.linalg.norm(x - y) for x, y in zip(a, b)])
    assert np.allclose(got["dot"], [np.dot(x, y) for x, y in zip(a, b)])
    assert np.allclose(got["cosine"], [1 - np.dot(x, y) / np.linalg.norm(x) / np.linalg.norm(y) for x, y in zip(a, b)])


def window_inputs(ref, alt, shared_ref=False):
    """Variants table, window index and embeddings (ids, matrix) for the rows of ``ref``/``alt``."""
    n = len(ref)
    variants = pd.DataFrame({"variant_id": [f"v{i}" for i in range(n)], "chrom": "chr1", "pos": np.arange(1, n + 1),
                             "ref": "A", "alt": "C", "label": 0, "split": "s", "utr_id": "u", "strand": "+"})
    rows, ids, matrix = [], [], []
    for i in range(n):
        ref_record = "v0.ref.rna" if shared_ref else f"v{i}.ref.rna"
        if ref_record not in ids:
            ids.append(ref_record)
            matrix.append(ref[i])
        ids.append(f"v{i}.alt.rna")
        matrix.append(alt[i])
        rows += [(f"v{i}", "rna", "ref", ref_record, 5, 10, 0), (f"v{i}", "rna", "alt", f"v{i}.alt.rna", 5, 10, 0)]
    return variants, pd.DataFrame(rows, columns=INDEX_COLUMNS), ids, np.array(matrix)


def test_embedding_scores_map_variants_to_their_windows_and_share_identical_ones():
    rng = np.random.default_rng(1)
    ref = np.repeat(rng.normal(size=(1, 6)), 4, axis=0)  # one shared reference window
    alt = rng.normal(size=(4, 6))
    variants, index, ids, matrix = window_inputs(ref, alt, shared_ref=True)
    assert len(ids) == 5  # the reference window is stored once
    order = np.random.default_rng(2).permutation(len(ids))  # the HDF5 row order does not matter
    table = variant_scores.embedding_scores(variants, index, "rna", [ids[i] for i in order], matrix[order], "e.h5")
    assert np.allclose(table["l2"], np.linalg.norm(ref - alt, axis=1))
    features = classify.pair_features(variants, index, "rna", ids, matrix, "e.h5")
    assert np.allclose(features, np.concatenate([ref, alt], axis=1))


def test_missing_window_embedding_is_named():
    rng = np.random.default_rng(1)
    variants, index, ids, matrix = window_inputs(rng.normal(size=(3, 4)), rng.normal(size=(3, 4)))
    with pytest.raises(UserError, match=r"e\.h5: has no embedding for 1 window\(s\) \(e\.g\. v2\.alt\.rna\); was EMBED run on the rna"):
        classify.pair_features(variants, index, "rna", ids[:-1], matrix[:-1], "e.h5")


# ---- classifier ---------------------------------------------------------------------------------------

def oof(rule, **options):
    ref, alt, labels, groups = synthetic(rule)
    X = np.concatenate([ref, alt], axis=1)
    settings = dict(n_trials=2, outer_folds=4, inner_folds=2, training=FAST) | options
    predictions, folds = classify.out_of_fold(X, labels, groups, **settings)
    return labels, predictions, folds


@pytest.fixture(scope="module")
def planted():
    classify.deterministic_torch(1)
    return oof("direction")


def test_planted_direction_is_learned_by_the_mlp_and_logistic_regression(planted):
    labels, predictions, folds = planted
    assert roc_auc_score(labels, predictions["mlp"]) > 0.9
    assert roc_auc_score(labels, predictions["logistic"]) > 0.9
    assert len(folds) == 4 and sum(f["n_test"] for f in folds) == len(labels)


def test_utr_only_label_is_chance_out_of_fold_because_folds_keep_utrs_together():
    labels, predictions, _ = oof("utr")
    for name in classify.PREDICTIONS:
        assert abs(roc_auc_score(labels, predictions[name]) - 0.5) < 0.1, name
    # the same data with every variant its own group (the study's plain stratified folds): the MLP
    # remembers the UTRs of the training folds and the AUC rises (0.71 here)
    ref, alt, labels, _ = synthetic("utr")
    X = np.concatenate([ref, alt], axis=1)
    leaky, _ = classify.out_of_fold(X, labels, np.arange(len(labels)).astype(str), n_trials=1, outer_folds=4,
                                    inner_folds=2, training=FAST)
    assert roc_auc_score(labels, leaky["mlp"]) > 0.65


def test_outer_folds_never_split_a_utr():
    ref, _, labels, groups = synthetic("direction")
    folds = classify.grouped_folds(labels, groups, 10, seed=1, where="s")
    test_of = {}
    for fold, (_, test) in enumerate(folds):
        for group in set(groups[test]):
            assert test_of.setdefault(group, fold) == fold
    assert sorted(np.concatenate([test for _, test in folds]).tolist()) == list(range(len(labels)))


def test_tuned_hyperparameters_differ_between_outer_folds_and_first_fold_reuses_them():
    ref, alt, labels, groups = synthetic("direction", n_utrs=40)
    rng = np.random.default_rng(5)
    noisy = np.where(rng.random(len(labels)) < 0.3, 1 - labels, labels)  # weak signal: choices follow the data
    X = np.concatenate([ref, alt], axis=1)
    settings = dict(n_trials=4, outer_folds=4, inner_folds=2, training=FAST)
    _, every = classify.out_of_fold(X, noisy, groups, **settings)
    chosen = {(f["hidden_sizes"], f["dropout"], f["weight_decay"]) for f in every}
    assert len(chosen) > 1, chosen
    _, first = classify.out_of_fold(X, noisy, groups, tuning="first_fold", **settings)
    assert len({(f["hidden_sizes"], f["dropout"], f["weight_decay"]) for f in first}) == 1


def test_same_seed_same_numbers_other_seed_other_numbers(planted):
    _, first, folds = planted
    _, again, folds_again = oof("direction")
    assert all(np.array_equal(first[name], again[name]) for name in classify.PREDICTIONS) and folds == folds_again
    _, other, _ = oof("direction", training=classify.Training(FAST.epochs, FAST.learning_rate, FAST.batch_size, seed=2))
    assert not np.array_equal(first["mlp"], other["mlp"])


def test_pruning_prunes_trials_and_still_learns():
    ref, alt, labels, groups = synthetic("direction", n_utrs=60)
    X = np.concatenate([ref, alt], axis=1)
    predictions, folds = classify.out_of_fold(X, labels, groups, n_trials=8, outer_folds=2, inner_folds=3,
                                              training=FAST, pruning=True)
    assert sum(f["trials_pruned"] for f in folds) > 0
    assert all(f["trials_complete"] + f["trials_pruned"] == 8 for f in folds)
    assert roc_auc_score(labels, predictions["mlp"]) > 0.9


def test_every_batch_is_used_including_the_last_partial_one(monkeypatch):
    import torch

    seen = []
    original = torch.nn.BCELoss.forward
    monkeypatch.setattr(torch.nn.BCELoss, "forward", lambda self, p, t: seen.append(len(t)) or original(self, p, t))
    X, y = np.random.default_rng(0).normal(size=(70, 4)), np.arange(70) % 2
    classify.MLPClassifier((8,), 0.0, 1e-2, classify.Training(epochs=2, batch_size=32)).fit(X, y)
    assert seen == [32, 32, 6, 32, 32, 6]


@pytest.mark.parametrize("case, message", [
    ("one_class", "split s: every variant has label 0; a classifier needs both labels."),
    ("few_utrs", "split s: 3 UTR(s) cannot make 4 outer folds that keep each UTR's variants together"),
])
def test_bad_splits_are_one_sentence(case, message):
    ref, alt, labels, groups = synthetic("direction", n_utrs=3 if case == "few_utrs" else 24)
    if case == "one_class":
        labels = np.zeros_like(labels)
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        classify.out_of_fold(np.concatenate([ref, alt], axis=1), labels, groups, n_trials=1, outer_folds=4,
                             inner_folds=2, training=FAST, where="split s")


# ---- CLI ----------------------------------------------------------------------------------------------

def cli_inputs(tmp_path, rule="direction"):
    ref, alt, labels, groups = synthetic(rule, n_utrs=60)
    variants, index, ids, matrix = window_inputs(ref, alt)
    variants["label"], variants["utr_id"] = labels, [f"u{g}" for g in groups]
    variants["split"] = np.where(np.arange(len(labels)) % 2, "gnomAD", "clinvar")
    write_tsv(variants, tmp_path / "variants.tsv")
    write_tsv(index, tmp_path / "index.tsv")
    write_embeddings(tmp_path / "windows.h5", ids, matrix)
    return variants, labels


def run_classify(tmp_path, *extra):
    command = [sys.executable, BIN / "variant_classify.py", "--variants", "variants.tsv", "--windows-index", "index.tsv",
               "--embeddings", "windows.h5", "--model-id", "m", "--trials", "2", "--outer-folds", "4",
               "--inner-folds", "2", "--epochs", "30", "--learning-rate", "3e-3", "--batch-size", "64", "--device", "cpu",
               "--out", "m.variant_classify.tsv", "--out-folds", "m.folds.tsv", *extra]
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)


def test_cli_writes_predictions_per_split_that_metrics_read_beside_the_scores(tmp_path):
    variants, labels = cli_inputs(tmp_path)
    result = run_classify(tmp_path)
    assert result.returncode == 0, result.stderr
    table = read_tsv(tmp_path / "m.variant_classify.tsv")
    assert list(table.columns) == [*VARIANT_COLUMNS, "model", "mlp", "logistic"]
    assert table["variant_id"].tolist() == variants["variant_id"].tolist()
    for split, part in table.groupby("split"):
        assert roc_auc_score(part["label"], part["mlp"]) > 0.8, split  # 120 rows per split
    folds = read_tsv(tmp_path / "m.folds.tsv")
    assert sorted(set(folds["split"])) == ["clinvar", "gnomAD"] and len(folds) == 8
    # the same model's zero-shot scores and its classifier predictions make one set of metrics rows
    scores = variants[VARIANT_COLUMNS].assign(model="m", l2=np.random.default_rng(0).random(len(variants)))
    write_tsv(scores, tmp_path / "m.variant_scores.tsv")
    result = subprocess.run([sys.executable, BIN / "variant_metrics.py", "--n-resamples", "20", "--out-dir", "out",
                             "m.variant_classify.tsv", "m.variant_scores.tsv"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    metrics = read_tsv(tmp_path / "out" / "metrics.tsv")
    signed = metrics[(metrics["subset"] == "signed") & (metrics["metric"] == "roc_auc")]
    assert set(signed["predictor"]) == {"l2", "mlp", "logistic"} and set(signed["model"]) == {"m"}
    mlp = signed[signed["predictor"] == "mlp"].set_index("dataset")["value"]
    for split, part in table.groupby("split"):
        assert mlp[split] == pytest.approx(roc_auc_score(part["label"], part["mlp"]), abs=1e-6)


@pytest.mark.parametrize("case", ["missing_window", "one_class", "few_utrs"])
def test_cli_bad_input_exit_2_nothing_written(tmp_path, case):
    variants, _ = cli_inputs(tmp_path)
    extra = []
    if case == "missing_window":
        from utrbench.io import read_embeddings

        ids, matrix, _ = read_embeddings(tmp_path / "windows.h5")
        write_embeddings(tmp_path / "windows.h5", ids[:-3], matrix[:-3])
    elif case == "one_class":
        variants.loc[variants["split"] == "gnomAD", "label"] = 1
        write_tsv(variants, tmp_path / "variants.tsv")
    else:
        extra = ["--outer-folds", "80"]
    result = run_classify(tmp_path, *extra)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "m.variant_classify.tsv").exists() and not (tmp_path / "m.folds.tsv").exists()
