"""Cross-validated regression of a measured target on sequence embeddings (tasks 3 and 4).

The study's scheme (reference 01, section 5, tasks 3 and 4): outer cross-validation that
keeps a group (chromosome, gene, predefined fold, cluster of near-identical oligos) entirely in
one test fold; inside each outer training set a standardise-then-regress pipeline whose
hyperparameters are chosen by an inner ``GroupKFold`` on the training groups only; the
out-of-fold predictions of all folds are pooled and scored by Pearson r.

SVR hyperparameters are searched as the study does, by Optuna (TPE sampler; 300 trials;
log-uniform C, epsilon, gamma), each trial scored by mean R² over the inner splits, and the
interval of the pooled r is the study's Fisher interval of ``scipy.stats.pearsonr``. Differences
from the original code, on purpose: the search runs inside *every* outer fold rather than once on
the first fold (pitfall 13 of reference 01: the first fold's search saw the other folds' test rows;
``svr_tuning="first_fold"`` restores the study's scheme), and the TPE sampler is seeded. A seeded
percentile bootstrap interval (``ci="bootstrap"``) is available for non-normal predictions.
"""

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR

from utrbench.errors import UserError

# RidgeCV alpha grids of the study: Griesemer MPRA 10^1..10^4, Siegel MPRA 10^0, 10^0.5, ..., 10^4.5,
# half-life 10^-5..10^5.
RIDGE_ALPHAS = {
    "griesemer": 10.0 ** np.arange(1, 5),
    "siegel": 10.0 ** np.arange(0, 4.75, 0.5),
    "halflife": 10.0 ** np.arange(-5, 6),
}
# SVR search ranges of the study (log-uniform): C 1e-2..1e2 (Siegel 1e-2..1), epsilon and gamma 1e-5..1.
SVR_RANGES = {"C": (1e-2, 1e2), "epsilon": (1e-5, 1.0), "gamma": (1e-5, 1.0)}
SVR_TRIALS = 300  # Optuna trials of the study
INNER_FOLDS = 5
PREDICTORS = ("ridge", "svr")
SVR_TUNING = ("every_fold", "first_fold")
CI_METHODS = ("fisher", "bootstrap")


def align_targets(table: pd.DataFrame, ids, embeddings, where: str):
    """Rows of ``embeddings`` in the order of ``table.id``; fail if any id has no embedding.

    Returns ``(X, y, groups)``. ``where`` names the two files in messages.
    """
    position = pd.Index(ids)
    if position.has_duplicates:
        raise UserError(f"{where}: the embeddings hold duplicate ids (e.g. {position[position.duplicated()][0]}).")
    rows = position.get_indexer(table["id"])
    missing = table["id"][rows < 0]
    if len(missing):
        raise UserError(f"{where}: {len(missing)} of {len(table)} target ids have no embedding "
                        f"(e.g. {', '.join(missing.head(3))}).")
    y = table["target"].to_numpy(dtype=np.float64)
    if np.ptp(y) == 0:
        raise UserError(f"{where}: the target is constant ({y[0]:g}), so no correlation can be measured.")
    return np.asarray(embeddings, dtype=np.float64)[rows], y, table["group"].astype(str).to_numpy()


def outer_splits(groups, n_folds: int, where: str = "target table"):
    """Outer (train, test) index pairs: leave-one-group-out (``n_folds=0``) or ``GroupKFold(n_folds)``."""
    n_groups = len(np.unique(groups))
    needed = max(n_folds, 2)
    if n_groups < needed:
        raise UserError(f"{where}: {n_groups} group(s) cannot make {needed} cross-validation folds that keep groups apart.")
    splitter = LeaveOneGroupOut() if n_folds == 0 else GroupKFold(n_splits=n_folds)
    return list(splitter.split(np.zeros(len(groups)), groups=groups))


def inner_splits(groups):
    """Inner ``GroupKFold`` on the training groups (fewer folds when there are fewer than five groups)."""
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise UserError("an outer training set holds a single group, too few for the inner hyperparameter search.")
    splitter = GroupKFold(n_splits=min(INNER_FOLDS, n_groups))
    return list(splitter.split(np.zeros(len(groups)), groups=groups))


class GroupedRidgeCV(RegressorMixin, BaseEstimator):
    """``RidgeCV(alphas, cv=splits)`` with all alphas of an inner split fitted in one ``Ridge`` call.

    ``RidgeCV`` with explicit splits refits ``Ridge`` once per (split, alpha); here each inner
    split fits one multi-target ``Ridge`` whose targets are copies of ``y`` with one alpha each, so
    the Gram matrix is built once per split (about ten times faster for the study's grids). The
    alpha is chosen exactly as ``RidgeCV`` chooses it (mean R² over the splits, first best) and the
    model is refitted on all rows; ``tests/test_task_regression.py`` checks the equality.
    """

    def __init__(self, alphas=RIDGE_ALPHAS["siegel"], cv=()):
        self.alphas = alphas
        self.cv = cv

    def fit(self, X, y):
        alphas = np.asarray(self.alphas, dtype=np.float64)
        scores = np.zeros(len(alphas))
        for train, test in self.cv:
            copies = np.repeat(y[train][:, None], len(alphas), axis=1)
            predicted = Ridge(alpha=alphas, solver="cholesky").fit(X[train], copies).predict(X[test])
            scores += [r2_score(y[test], predicted[:, j]) for j in range(len(alphas))]
        self.alpha_ = float(alphas[int(np.argmax(scores))])
        self.ridge_ = Ridge(alpha=self.alpha_, solver="cholesky").fit(X, y)
        return self

    def predict(self, X):
        return self.ridge_.predict(X)


class OptunaSVR(RegressorMixin, BaseEstimator):
    """StandardScaler + RBF SVR whose C, epsilon and gamma a seeded Optuna TPE search picks.

    Each of ``n_trials`` trials draws the three values log-uniformly from ``SVR_RANGES`` and is
    scored by the R² of its pooled out-of-fold predictions over the inner splits ``cv`` (a partition of
    the rows; pooled, R² is defined even where an inner fold holds a single row, e.g. one gene per
    half-life fold); the best trial's pipeline is refitted on all rows. Trials run one after another (parallel trials would make TPE's choices depend on timing);
    ``n_jobs`` fits the inner splits of a trial in parallel instead.
    """

    def __init__(self, cv=(), n_trials=SVR_TRIALS, seed=1, n_jobs=1):
        self.cv = cv
        self.n_trials = n_trials
        self.seed = seed
        self.n_jobs = n_jobs

    @staticmethod
    def pipeline(params: dict):
        return make_pipeline(StandardScaler(), SVR(kernel="rbf", **params))

    def fit(self, X, y):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)

        def objective(trial):
            params = {name: trial.suggest_float(name, low, high, log=True) for name, (low, high) in SVR_RANGES.items()}
            predicted = cross_val_predict(self.pipeline(params), X, y, cv=self.cv, n_jobs=self.n_jobs)
            return float(r2_score(y, predicted))

        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=self.seed))
        study.optimize(objective, n_trials=self.n_trials)
        self.best_params_ = dict(study.best_params)
        self.model_ = self.pipeline(self.best_params_).fit(X, y)
        return self

    def predict(self, X):
        return self.model_.predict(X)


def make_predictor(name: str, inner_cv, alphas, seed: int, svr_trials: int, n_jobs: int = 1, svr_params=None):
    """An unfitted estimator whose ``fit`` standardises and tunes on the data it is given only.

    ``svr_params`` (C, epsilon, gamma) skips the SVR search and fits those values.
    """
    if name == "ridge":
        return make_pipeline(StandardScaler(), GroupedRidgeCV(alphas=alphas, cv=inner_cv))
    if name == "svr":
        if svr_params is not None:
            return OptunaSVR.pipeline(svr_params)
        return OptunaSVR(cv=inner_cv, n_trials=svr_trials, seed=seed, n_jobs=n_jobs)
    raise UserError(f"unknown predictor {name!r}; choose from {', '.join(PREDICTORS)}.")


def out_of_fold_predictions(X, y, groups, predictor: str, n_folds: int = 0, alphas=RIDGE_ALPHAS["siegel"],
                            seed: int = 1, svr_trials: int = SVR_TRIALS, n_jobs: int = 1, where: str = "target table",
                            svr_tuning: str = "every_fold"):
    """Predictions for every row from the model trained without its group; also the outer fold index.

    ``svr_tuning="first_fold"`` searches SVR hyperparameters on the first outer training set only
    and reuses them in the other folds (the study's scheme); the default searches in every fold.
    """
    if svr_tuning not in SVR_TUNING:
        raise UserError(f"unknown SVR tuning {svr_tuning!r}; choose from {', '.join(SVR_TUNING)}.")
    predictions = np.empty(len(y))
    fold_of_row = np.empty(len(y), dtype=np.int64)
    first_fold_params = None
    for fold, (train, test) in enumerate(outer_splits(groups, n_folds, where)):
        estimator = make_predictor(predictor, inner_splits(groups[train]), alphas, seed, svr_trials, n_jobs,
                                   svr_params=first_fold_params)
        estimator.fit(X[train], y[train])
        if predictor == "svr" and svr_tuning == "first_fold" and first_fold_params is None:
            first_fold_params = estimator.best_params_
        predictions[test] = estimator.predict(X[test])
        fold_of_row[test] = fold
    return predictions, fold_of_row


def pearson_r(y, prediction) -> float:
    """Pearson r; NaN when either side is constant (e.g. a ridge that shrank everything to the mean)."""
    if np.ptp(y) == 0 or np.ptp(prediction) == 0:
        return float("nan")
    return float(np.corrcoef(y, prediction)[0, 1])


def bootstrap_pearson_ci(y, prediction, n_resamples: int = 1000, seed: int = 1, level: float = 0.95):
    """Percentile bootstrap interval of Pearson r over (target, prediction) pairs, resampled with a fixed seed."""
    rng = np.random.default_rng(seed)
    y = np.asarray(y, dtype=np.float64)
    prediction = np.asarray(prediction, dtype=np.float64)
    values = []
    for start in range(0, n_resamples, 100):  # chunks keep the index matrix small for large tables
        index = rng.integers(0, len(y), size=(min(100, n_resamples - start), len(y)))
        a, b = y[index], prediction[index]
        a = a - a.mean(axis=1, keepdims=True)
        b = b - b.mean(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            values.append((a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1)))
    values = np.concatenate(values)
    values = values[np.isfinite(values)]
    if not len(values):
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def fold_mean_pearson(y, prediction, fold_of_row, level: float = 0.95):
    """Mean of the per-fold Pearson r with its t-interval (the study's figure for the half-life folds)."""
    per_fold = np.array([pearson_r(y[fold_of_row == f], prediction[fold_of_row == f]) for f in np.unique(fold_of_row)])
    per_fold = per_fold[np.isfinite(per_fold)]
    if len(per_fold) < 2:
        return float("nan"), float("nan"), float("nan")
    mean = per_fold.mean()
    half = stats.t.ppf(0.5 + level / 2, len(per_fold) - 1) * per_fold.std(ddof=1) / np.sqrt(len(per_fold))
    return float(mean), float(mean - half), float(mean + half)


def fisher_pearson_ci(y, prediction, level: float = 0.95):
    """The Fisher-transform interval of Pearson r (``scipy.stats.pearsonr``), as the study reports it."""
    if np.ptp(y) == 0 or np.ptp(prediction) == 0 or len(y) < 4:
        return float("nan"), float("nan")
    interval = stats.pearsonr(y, prediction).confidence_interval(confidence_level=level)
    return float(interval.low), float(interval.high)


def score_rows(y, prediction, fold_of_row, labels: dict, n_resamples: int, seed: int, ci: str = "fisher"):
    """Metrics rows (the shared metrics format, utrbench.io): pooled Pearson r with its interval
    (``ci``: Fisher, or a bootstrap of ``n_resamples`` seeded by ``seed``) and the per-fold mean r."""
    if ci not in CI_METHODS:
        raise UserError(f"unknown interval {ci!r}; choose from {', '.join(CI_METHODS)}.")
    r = pearson_r(y, prediction)
    low, high = (fisher_pearson_ci(y, prediction) if ci == "fisher"
                 else bootstrap_pearson_ci(y, prediction, n_resamples, seed))
    mean, mean_low, mean_high = fold_mean_pearson(y, prediction, fold_of_row)
    base = [labels["task"], labels["dataset"], labels["subset"], labels["model"], labels["predictor"]]
    return [base + ["pearson_r", r, low, high, len(y)],
            base + ["pearson_r_fold_mean", mean, mean_low, mean_high, len(y)]]
