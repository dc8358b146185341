"""Comparison of expression predictors: metrics, paired bootstrap intervals, inputs."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import r2_score

from utrbench.errors import UserError
from utrbench.expression.compare import compare, metric_rows, read_predictions


def test_metric_rows_equal_scipy_and_sklearn():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(3, 50))
    pred = y + rng.normal(size=(3, 50))
    pred[1, :10] = pred[1, 10]  # ties for the rank correlation
    rows = metric_rows(y, pred)
    for i in range(3):
        assert rows["pearson_r"][i] == pytest.approx(pearsonr(y[i], pred[i])[0])
        assert rows["spearman_rho"][i] == pytest.approx(spearmanr(y[i], pred[i])[0])
        assert rows["r2"][i] == pytest.approx(r2_score(y[i], pred[i]))


def test_compare_gives_point_values_intervals_and_paired_differences():
    rng = np.random.default_rng(1)
    y = rng.normal(size=300)
    frame = pd.DataFrame({"y_true": y, "good": y + 0.3 * rng.normal(size=300), "poor": y + 2 * rng.normal(size=300)})
    table = compare(frame, n_bootstrap=400, seed=3).set_index(["method", "metric"])
    assert table.loc[("good", "pearson_r"), "value"] == pytest.approx(pearsonr(y, frame["good"])[0])
    assert (table["ci_low"] <= table["value"]).all() and (table["value"] <= table["ci_high"]).all()
    difference = table.loc[("poor-good", "pearson_r")]
    assert difference["value"] == pytest.approx(table.loc[("poor", "pearson_r"), "value"] - table.loc[("good", "pearson_r"), "value"])
    assert difference["ci_high"] < 0  # the poor method is clearly worse
    assert (table["n"] == 300).all()
    assert compare(frame, n_bootstrap=50, seed=3).equals(compare(frame, n_bootstrap=50, seed=3))


def test_read_predictions_keeps_shared_genes_and_checks_labels(tmp_path):
    (tmp_path / "a.tsv").write_text("gene\ty_true\ty_pred\ng1\t1.0\t0.9\ng2\t2.0\t2.1\ng3\t0.5\t0.4\n")
    (tmp_path / "b.tsv").write_text("gene\ty_true\ty_pred\ng2\t2.0\t1.5\ng3\t0.5\t0.7\ng4\t1\t1\n")
    (tmp_path / "c.tsv").write_text("gene\ty_true\ty_pred\ng2\t2.5\t1.5\n")
    shared = read_predictions({"a": tmp_path / "a.tsv", "b": tmp_path / "b.tsv"})
    assert shared.index.tolist() == ["g2", "g3"]
    assert shared["b"].tolist() == [1.5, 0.7] and shared["y_true"].tolist() == [2.0, 0.5]
    with pytest.raises(UserError, match="y_true of gene g2 differs"):
        read_predictions({"a": tmp_path / "a.tsv", "c": tmp_path / "c.tsv"})
    (tmp_path / "d.tsv").write_text("gene\ty_true\ty_pred\ng9\t1\t1\n")
    with pytest.raises(UserError, match="share no test gene"):
        read_predictions({"a": tmp_path / "a.tsv", "d": tmp_path / "d.tsv"})
