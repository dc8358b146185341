"""Grouped cross-validated regression (utrbench.tasks.regression) and the regress.py entry point."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.preprocessing import StandardScaler

from utrbench.errors import UserError
from utrbench.io import read_metrics, write_embeddings
from utrbench.tasks import regression

BIN = Path(__file__).resolve().parents[1] / "bin"


def planted(n_groups=12, per_group=25, dim=15, noise=0.1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_groups * per_group, dim))
    weights = rng.normal(size=dim)
    y = X @ weights + noise * rng.normal(size=len(X))
    groups = np.repeat([f"g{i}" for i in range(n_groups)], per_group)
    return X, y, groups


def test_ridge_recovers_a_planted_linear_signal_and_noise_gives_none():
    X, y, groups = planted()
    predicted, folds = regression.out_of_fold_predictions(X, y, groups, "ridge", n_folds=0)
    assert regression.pearson_r(y, predicted) > 0.99
    assert sorted(np.unique(folds)) == list(range(12))  # leave one group out: one fold per group
    noise = np.random.default_rng(5).normal(size=len(y))
    predicted, _ = regression.out_of_fold_predictions(X, noise, groups, "ridge", n_folds=0)
    assert abs(regression.pearson_r(noise, predicted)) < 0.2


@pytest.mark.parametrize("seed, noise", [(2, 3.0), (6, 8.0), (7, 0.5)])
def test_grouped_ridge_equals_sklearn_ridgecv_with_the_same_inner_splits(seed, noise):
    X, y, groups = planted(n_groups=8, per_group=10, noise=noise, seed=seed)
    alphas = regression.RIDGE_ALPHAS["siegel"]
    predicted, _ = regression.out_of_fold_predictions(X, y, groups, "ridge", n_folds=4, alphas=alphas)
    expected = np.empty(len(y))
    chosen = set()
    for train, test in regression.outer_splits(groups, 4):
        scaler = StandardScaler().fit(X[train])
        reference = RidgeCV(alphas=alphas, cv=regression.inner_splits(groups[train])).fit(scaler.transform(X[train]), y[train])
        expected[test] = reference.predict(scaler.transform(X[test]))
        chosen.add(reference.alpha_)
    np.testing.assert_allclose(predicted, expected, rtol=1e-7, atol=1e-9)
    if noise > 5:
        assert max(chosen) > alphas[0]  # a noisy target picks a larger alpha: the search is exercised


def test_svr_recovers_a_planted_signal_and_is_reproducible():
    X, y, groups = planted(n_groups=6, per_group=20, dim=4, noise=0.05, seed=3)
    first, _ = regression.out_of_fold_predictions(X, y, groups, "svr", n_folds=3, seed=4, svr_trials=8)
    second, _ = regression.out_of_fold_predictions(X, y, groups, "svr", n_folds=3, seed=4, svr_trials=8)
    assert regression.pearson_r(y, first) > 0.8
    np.testing.assert_array_equal(first, second)


def test_svr_search_is_a_seeded_optuna_tpe_study_in_every_outer_fold():
    import optuna
    from sklearn.metrics import r2_score
    from sklearn.model_selection import cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVR

    X, y, groups = planted(n_groups=6, per_group=15, dim=3, noise=0.5, seed=8)
    predicted, _ = regression.out_of_fold_predictions(X, y, groups, "svr", n_folds=3, seed=5, svr_trials=14)
    # The reference: Optuna used plainly, one study per outer training set.
    expected, chosen = np.empty(len(y)), []
    for train, test in regression.outer_splits(groups, 3):
        inner = regression.inner_splits(groups[train])

        def objective(trial):
            model = make_pipeline(StandardScaler(), SVR(C=trial.suggest_float("C", 1e-2, 1e2, log=True),
                                                        epsilon=trial.suggest_float("epsilon", 1e-5, 1.0, log=True),
                                                        gamma=trial.suggest_float("gamma", 1e-5, 1.0, log=True)))
            return r2_score(y[train], cross_val_predict(model, X[train], y[train], cv=inner))

        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=5))
        study.optimize(objective, n_trials=14)
        chosen.append(study.best_params)
        expected[test] = make_pipeline(StandardScaler(), SVR(**study.best_params)).fit(X[train], y[train]).predict(X[test])
    np.testing.assert_allclose(predicted, expected, rtol=1e-9)
    assert len({params["C"] for params in chosen}) > 1  # tuned separately in each fold (TPE after 10 random trials)

    first_only, _ = regression.out_of_fold_predictions(X, y, groups, "svr", n_folds=3, seed=5, svr_trials=14,
                                                       svr_tuning="first_fold")
    reused = np.empty(len(y))
    for train, test in regression.outer_splits(groups, 3):
        reused[test] = make_pipeline(StandardScaler(), SVR(**chosen[0])).fit(X[train], y[train]).predict(X[test])
    np.testing.assert_allclose(first_only, reused, rtol=1e-9)
    assert not np.allclose(first_only, predicted)
    assert regression.SVR_TRIALS == 300


def test_svr_search_scores_inner_folds_of_one_row():
    # One gene per half-life fold: per-fold R² is undefined, the pooled out-of-fold R² is not.
    X, y, groups = planted(n_groups=5, per_group=1, dim=2, noise=0.1, seed=3)
    predicted, _ = regression.out_of_fold_predictions(X, y, groups, "svr", n_folds=0, seed=1, svr_trials=3)
    assert np.isfinite(predicted).all()


def test_a_target_that_is_a_function_of_the_group_does_not_leak_out_of_group():
    rng = np.random.default_rng(11)
    n_groups, per_group = 60, 5
    centroids = rng.normal(size=(n_groups, 80))  # wide enough for a linear fit to memorise groups
    group_of_row = np.repeat(np.arange(n_groups), per_group)
    X = centroids[group_of_row] + 0.01 * rng.normal(size=(n_groups * per_group, 80))
    y = rng.normal(size=n_groups)[group_of_row]  # the target is a function of the group id only
    groups = group_of_row.astype(str)
    grouped, _ = regression.out_of_fold_predictions(X, y, groups, "ridge", n_folds=10)
    assert abs(regression.pearson_r(y, grouped)) < 0.3
    # The same data split by row instead of by group: rows of a group sit on both sides and r is high,
    # which is the leak the grouped split must prevent.
    leaky, _ = regression.out_of_fold_predictions(X, y, np.arange(len(y)).astype(str), "ridge", n_folds=10)
    assert regression.pearson_r(y, leaky) > 0.9


def test_default_interval_is_fishers_as_the_study():
    rng = np.random.default_rng(4)
    y = rng.normal(size=50)
    prediction = y + rng.normal(size=50)
    r = np.corrcoef(y, prediction)[0, 1]
    half = 1.959963984540054 / np.sqrt(50 - 3)  # z of a 95 % interval on the Fisher scale
    rows = regression.score_rows(y, prediction, np.arange(50) % 5, dict(task="t", dataset="d", subset="s", model="m",
                                                                     predictor="ridge"), 100, 1)
    assert rows[0][6:9] == pytest.approx([r, np.tanh(np.arctanh(r) - half), np.tanh(np.arctanh(r) + half)], rel=1e-9)
    boot = regression.score_rows(y, prediction, np.arange(50) % 5, dict(task="t", dataset="d", subset="s", model="m",
                                                                     predictor="ridge"), 100, 1, ci="bootstrap")
    assert boot[0][7:9] == pytest.approx(list(regression.bootstrap_pearson_ci(y, prediction, 100, 1)))


def test_bootstrap_interval_equals_a_slow_loop_over_the_same_resamples():
    rng = np.random.default_rng(0)
    y = rng.normal(size=250)
    prediction = y + rng.normal(size=250)
    low, high = regression.bootstrap_pearson_ci(y, prediction, n_resamples=230, seed=9)
    draws = np.random.default_rng(9)
    values = []
    for start in range(0, 230, 100):
        for index in draws.integers(0, 250, size=(min(100, 230 - start), 250)):
            values.append(np.corrcoef(y[index], prediction[index])[0, 1])
    assert (low, high) == pytest.approx(tuple(np.percentile(values, [2.5, 97.5])), rel=1e-12)
    assert low < regression.pearson_r(y, prediction) < high


def test_fold_mean_pearson_by_hand():
    y = np.array([1.0, 2, 3, 1, 2, 3])
    prediction = np.array([1.0, 2, 3, 3, 2, 1])
    mean, low, high = regression.fold_mean_pearson(y, prediction, np.array([0, 0, 0, 1, 1, 1]))
    assert mean == pytest.approx(0.0)
    half = 12.706204736 * np.sqrt(2) / np.sqrt(2)  # t(0.975, 1) * sd([1, -1]) / sqrt(2)
    assert (low, high) == pytest.approx((-half, half), rel=1e-6)


def test_fewer_groups_than_folds_and_a_constant_target_are_user_errors():
    with pytest.raises(UserError, match="3 group"):
        regression.outer_splits(np.array(["a", "b", "c"]), 5)
    table = pd.DataFrame({"id": ["x", "y"], "target": [1.0, 1.0], "group": ["a", "b"]})
    with pytest.raises(UserError, match="constant"):
        regression.align_targets(table, ["x", "y"], np.zeros((2, 3)), "here")


def run(*args, cwd):
    """regress.py in a subprocess (the real entry point, exit status and stderr)."""
    return subprocess.run([sys.executable, str(BIN / "regress.py"), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True)


def run_in_process(*args, cwd, monkeypatch):
    """regress.py's click command in this process (no interpreter start-up for the error cases)."""
    monkeypatch.chdir(cwd)
    monkeypatch.syspath_prepend(str(BIN))
    from regress import main

    return CliRunner().invoke(main, list(map(str, args)))


def write_case(tmp_path, targets=None, ids=None):
    X, y, groups = planted(n_groups=6, per_group=10, dim=5, noise=0.2, seed=8)
    ids = ids or [f"s{i}" for i in range(len(y))]
    write_embeddings(tmp_path / "emb.h5", ids, X, attrs={"model": "toy"})
    table = pd.DataFrame({"id": [f"s{i}" for i in range(len(y))], "sequence": "ACGT",
                          "target": y if targets is None else targets, "group": groups})
    table.to_csv(tmp_path / "toy.cellA_stability.tsv", sep="\t", index=False)
    return ("--embeddings", "emb.h5", "--targets", "toy.cellA_stability.tsv", "--task", "mpra",
            "--out-metrics", "metrics.tsv", "--out-predictions", "predictions.tsv")


def test_cli_writes_metrics_and_predictions_reproducibly(tmp_path):
    args = write_case(tmp_path)
    result = run(*args, "--predictor", "ridge", "--predictor", "svr", "--svr-trials", "4", "--bootstrap", 200, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    metrics = read_metrics(tmp_path / "metrics.tsv")
    first = (tmp_path / "metrics.tsv").read_bytes() + (tmp_path / "predictions.tsv").read_bytes()
    pooled = metrics[metrics.metric == "pearson_r"].set_index("predictor")
    assert list(pooled.index) == ["ridge", "svr"]
    assert set(metrics.dataset) == {"toy"} and set(metrics.subset) == {"cellA_stability"} and set(metrics.model) == {"toy"}
    predictions = pd.read_csv(tmp_path / "predictions.tsv", sep="\t")
    r = np.corrcoef(predictions.target, predictions.prediction_ridge)[0, 1]
    assert pooled.loc["ridge", "value"] == pytest.approx(r, abs=1e-5) and r > 0.9
    assert (pooled.n == 60).all() and (pooled.ci_low < pooled.value).all() and (pooled.value < pooled.ci_high).all()
    assert run(*args, "--predictor", "ridge", "--predictor", "svr", "--svr-trials", "4", "--bootstrap", 200,
               cwd=tmp_path).returncode == 0
    assert (tmp_path / "metrics.tsv").read_bytes() + (tmp_path / "predictions.tsv").read_bytes() == first


@pytest.mark.parametrize("case, message", [
    ("missing", "have no embedding"),
    ("constant", "constant"),
    ("folds", "cannot make 10 cross-validation folds"),
])
def test_cli_bad_input_exits_2_without_output(tmp_path, case, message, monkeypatch):
    if case == "missing":
        args = write_case(tmp_path, ids=[f"t{i}" for i in range(60)])
    elif case == "constant":
        args = write_case(tmp_path, targets=np.full(60, 0.5))
    else:
        args = write_case(tmp_path) + ("--n-folds", "10")
    result = run_in_process(*args, cwd=tmp_path, monkeypatch=monkeypatch)
    assert result.exit_code == 2 and message in result.stderr and result.exception.__class__ is SystemExit
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert not (tmp_path / "metrics.tsv").exists() and not (tmp_path / "predictions.tsv").exists()
