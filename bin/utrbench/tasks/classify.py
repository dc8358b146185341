"""Supervised variant classifier on ``[embedding(ref window), embedding(alt window)]`` (note 05 §3.6).

The study's network and training (reference 01 §5, task 2): the features are standardised inside
each training set; for each hidden size ``Linear(h) -> Dropout(p) -> ReLU``, then ``Linear(1) ->
Sigmoid``; BCE loss, AdamW, 300 epochs, learning rate 1e-4, batch 1024. Optuna picks the dropout
(0, 0.1, ..., 0.9), the weight decay (log-uniform 1e-5..5e-2) and one of six hidden-size presets.
The out-of-fold predictions of an outer 10-fold stratified cross-validation are pooled; logistic
regression on the same standardised features is the cheap reference.

Differences from the study's code, on purpose (each an option, named in README.md):

- the outer folds keep all variants of one UTR together (``StratifiedGroupKFold``, shuffled with
  the seed): windows of nearby variants overlap, so the study's plain ``StratifiedKFold`` lets a
  test variant's context sit in the training set; the inner folds are grouped alike;
- the search runs inside *every* outer fold (01 pitfall 13; ``tuning="first_fold"`` restores the
  study's scheme), with a seeded TPE sampler and ``n_trials`` (default 50, the study 200) trials;
- a trial is scored by the ROC AUC of its pooled inner out-of-fold predictions (the study: the
  mean of the inner folds' AUCs), which stays defined where a grouped inner fold holds one class;
- every epoch reshuffles the rows and uses every batch, the last partial one included (01
  pitfall 11: the study never saw the same n mod 1024 rows);
- ``pruning=True`` stops trials whose pooled AUC after an inner fold is below the median of the
  earlier trials at that fold (Optuna's ``MedianPruner``); off by default.

Determinism: the same seed gives the same numbers on one machine (``torch.manual_seed`` per fit,
a seeded shuffling generator, deterministic algorithms, ``threads`` torch threads).
"""

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from utrbench.errors import UserError
from utrbench.tasks.variant_scores import window_embedding_pairs

# The study's search space (utils/mlp.py, run_classify.py).
HIDDEN_PRESETS = ((1024, 128, 32), (512, 128, 16), (256, 64, 32), (128, 64, 32), (128, 32, 16), (64, 32, 16))
DROPOUTS = tuple(round(0.1 * k, 1) for k in range(10))
WEIGHT_DECAY_RANGE = (1e-5, 5e-2)
OUTER_FOLDS = 10
INNER_FOLDS = 5
TRIALS = 50
TUNING = ("every_fold", "first_fold")
PREDICTIONS = ("mlp", "logistic")
FOLD_COLUMNS = ["split", "fold", "n_train", "n_test", "hidden_sizes", "dropout", "weight_decay", "inner_roc_auc",
                "trials_complete", "trials_pruned"]


@dataclass(frozen=True)
class Training:
    """How one MLP is trained (the study's values by default)."""

    epochs: int = 300
    learning_rate: float = 1e-4
    batch_size: int = 1024
    device: str = "cpu"
    seed: int = 1


def deterministic_torch(threads: int) -> None:
    """Deterministic kernels on CPU and CUDA, ``threads`` CPU threads (call before any CUDA work)."""
    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS needs it for deterministic GEMMs
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(threads)


def build_network(n_features: int, hidden_sizes, dropout: float):
    """``[Linear(h) -> Dropout -> ReLU] * len(hidden_sizes) -> Linear(1) -> Sigmoid``."""
    import torch

    layers, width = [], n_features
    for size in hidden_sizes:
        layers += [torch.nn.Linear(width, size), torch.nn.Dropout(dropout), torch.nn.ReLU()]
        width = size
    layers += [torch.nn.Linear(width, 1), torch.nn.Sigmoid()]
    return torch.nn.Sequential(*layers)


class MLPClassifier(ClassifierMixin, BaseEstimator):
    """The study's MLP as a scikit-learn classifier (so it sits in a pipeline after ``StandardScaler``)."""

    def __init__(self, hidden_sizes=HIDDEN_PRESETS[0], dropout=0.0, weight_decay=1e-2, training=Training()):
        self.hidden_sizes = hidden_sizes
        self.dropout = dropout
        self.weight_decay = weight_decay
        self.training = training

    def fit(self, X, y):
        import torch

        settings = self.training
        torch.manual_seed(settings.seed)
        shuffler = torch.Generator().manual_seed(settings.seed)
        features = torch.as_tensor(X, dtype=torch.float32, device=settings.device)
        labels = torch.as_tensor(y, dtype=torch.float32, device=settings.device)[:, None]
        self.network_ = build_network(features.shape[1], self.hidden_sizes, self.dropout).to(settings.device)
        optimiser = torch.optim.AdamW(self.network_.parameters(), lr=settings.learning_rate,
                                      weight_decay=self.weight_decay)
        loss_function = torch.nn.BCELoss()
        self.network_.train()
        for _ in range(settings.epochs):
            order = torch.randperm(len(features), generator=shuffler).to(settings.device)
            for start in range(0, len(features), settings.batch_size):  # the last partial batch too
                batch = order[start:start + settings.batch_size]
                optimiser.zero_grad()
                loss_function(self.network_(features[batch]), labels[batch]).backward()
                optimiser.step()
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        import torch

        self.network_.eval()
        with torch.inference_mode():
            features = torch.as_tensor(X, dtype=torch.float32, device=self.training.device)
            positive = self.network_(features)[:, 0].double().cpu().numpy()
        return np.stack([1 - positive, positive], axis=1)


def mlp_pipeline(params: dict, training: Training):
    return make_pipeline(StandardScaler(), MLPClassifier(params["hidden_sizes"], params["dropout"],
                                                         params["weight_decay"], training))


def logistic_pipeline(seed: int):
    """The reference: L2 logistic regression (scikit-learn defaults) on the standardised features."""
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=seed))


def grouped_folds(y, groups, n_folds: int, seed: int, where: str):
    """``StratifiedGroupKFold(n_folds)`` (shuffled with ``seed``) index pairs; one UTR never spans two folds."""
    n_groups = len(np.unique(groups))
    if n_groups < n_folds:
        raise UserError(f"{where}: {n_groups} UTR(s) cannot make {n_folds} folds that keep each UTR's variants "
                        "together; give fewer folds.")
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y, groups))


def _both_classes(y) -> bool:
    return len(np.unique(y)) == 2


def tune(X, y, groups, n_trials: int, inner_folds: int, training: Training, pruning: bool, where: str):
    """Best MLP hyperparameters on ``(X, y)`` by a seeded TPE search over grouped inner folds.

    Returns ``(params, pooled inner AUC of the best trial, complete trials, pruned trials)``.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    folds = grouped_folds(y, groups, inner_folds, training.seed, f"{where}, inner folds")

    def objective(trial):
        params = {"hidden_sizes": HIDDEN_PRESETS[trial.suggest_categorical("preset", list(range(len(HIDDEN_PRESETS))))],
                  "dropout": trial.suggest_categorical("dropout", list(DROPOUTS)),
                  "weight_decay": trial.suggest_float("weight_decay", *WEIGHT_DECAY_RANGE, log=True)}
        predicted = np.full(len(y), np.nan)
        for step, (train, test) in enumerate(folds):
            predicted[test] = mlp_pipeline(params, training).fit(X[train], y[train]).predict_proba(X[test])[:, 1]
            done = np.isfinite(predicted)
            if pruning and _both_classes(y[done]):
                trial.report(float(roc_auc_score(y[done], predicted[done])), step)
                if trial.should_prune():
                    raise optuna.TrialPruned()
        return float(roc_auc_score(y, predicted))

    pruner = optuna.pruners.MedianPruner(n_startup_trials=5) if pruning else optuna.pruners.NopPruner()
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=training.seed),
                                pruner=pruner)
    study.optimize(objective, n_trials=n_trials)
    states = [trial.state for trial in study.trials]
    best = study.best_params
    params = {"hidden_sizes": HIDDEN_PRESETS[best["preset"]], "dropout": best["dropout"],
              "weight_decay": best["weight_decay"]}
    return (params, float(study.best_value), states.count(optuna.trial.TrialState.COMPLETE),
            states.count(optuna.trial.TrialState.PRUNED))


def check_split(y, groups, outer_folds: int, where: str) -> None:
    """Both labels present, enough UTRs for the outer folds (one clear sentence otherwise)."""
    if not _both_classes(y):
        raise UserError(f"{where}: every variant has label {int(y[0])}; a classifier needs both labels.")
    n_groups = len(np.unique(groups))
    if n_groups < outer_folds:
        raise UserError(f"{where}: {n_groups} UTR(s) cannot make {outer_folds} outer folds that keep each UTR's "
                        "variants together; give fewer --outer-folds.")


def out_of_fold(X, y, groups, n_trials=TRIALS, outer_folds=OUTER_FOLDS, inner_folds=INNER_FOLDS,
                training=Training(), pruning=False, tuning="every_fold", where="split"):
    """Out-of-fold MLP and logistic-regression probabilities of every row, and one record per outer fold."""
    if tuning not in TUNING:
        raise UserError(f"unknown tuning {tuning!r}; choose from {', '.join(TUNING)}.")
    check_split(y, groups, outer_folds, where)
    predictions = {name: np.full(len(y), np.nan) for name in PREDICTIONS}
    records, tuned = [], None
    for fold, (train, test) in enumerate(grouped_folds(y, groups, outer_folds, training.seed, where)):
        fold_where = f"{where}, outer fold {fold}"
        if not _both_classes(y[train]):
            raise UserError(f"{fold_where}: the training set holds one label only; give fewer --outer-folds.")
        if tuned is None or tuning == "every_fold":
            tuned = tune(X[train], y[train], groups[train], n_trials, inner_folds, training, pruning, fold_where)
        params, inner_auc, complete, pruned = tuned
        predictions["mlp"][test] = mlp_pipeline(params, training).fit(X[train], y[train]).predict_proba(X[test])[:, 1]
        predictions["logistic"][test] = logistic_pipeline(training.seed).fit(X[train], y[train]).predict_proba(X[test])[:, 1]
        records.append({"fold": fold, "n_train": len(train), "n_test": len(test),
                        "hidden_sizes": ",".join(map(str, params["hidden_sizes"])), "dropout": params["dropout"],
                        "weight_decay": params["weight_decay"], "inner_roc_auc": inner_auc,
                        "trials_complete": complete, "trials_pruned": pruned})
    return predictions, records


def pair_features(variants: pd.DataFrame, index: pd.DataFrame, orientation: str, ids, embeddings, where: str):
    """``[embedding(ref window), embedding(alt window)]`` per variant row (float64 ``[n, 2d]``)."""
    ref, alt = window_embedding_pairs(variants, index, orientation, ids, embeddings, where)
    return np.concatenate([ref, alt], axis=1).astype(np.float64)


def classify_splits(variants: pd.DataFrame, features, **options):
    """Per split of ``variants`` (rows aligned with ``features``): OOF predictions and the folds table."""
    predictions = pd.DataFrame(np.nan, index=variants.index, columns=list(PREDICTIONS))
    records = []
    for split, part in variants.groupby("split", sort=True):
        positions = variants.index.get_indexer(part.index)
        predicted, folds = out_of_fold(features[positions], part["label"].to_numpy(dtype=np.int64),
                                       part["utr_id"].astype(str).to_numpy(), where=f"split {split}", **options)
        for name in PREDICTIONS:
            predictions.loc[part.index, name] = predicted[name]
        records += [{"split": split, **record} for record in folds]
    return predictions, pd.DataFrame(records, columns=FOLD_COLUMNS)
