"""Figures of the variant task: Fig 2 (ROC and precision-recall curves, zero-shot and MLP), Fig S3 (VIS window gain) and Table S3 (AUC heat map).

All use signed AUCs (the direction of :mod:`utrbench.tasks.variant_metrics`), so a score that
ranks functional variants low shows below 0.5 instead of being flipped. Saved with
:func:`utrbench.report.task_figures.save_figure` (no timestamps: same metrics, same bytes).
"""

import numpy as np
from sklearn.metrics import precision_recall_curve, roc_curve

from utrbench.report.task_figures import plt
from utrbench.tasks.variant_metrics import SUPERVISED, direction


def _signed_auc(metrics):
    rows = metrics[(metrics["subset"] == "signed") & (metrics["metric"] == "roc_auc")]
    return rows.set_index(["dataset", "model", "predictor"])["value"]


def best_scores(metrics, exclude=()) -> dict:
    """``{(split, model): score}``: each model's score with the highest signed ROC AUC per split (``exclude`` left out)."""
    auc = _signed_auc(metrics).reset_index()
    auc = auc[~auc["predictor"].isin(exclude)].sort_values(["dataset", "model", "value", "predictor"],
                                                           ascending=[True, True, False, True], kind="stable")
    best = auc.drop_duplicates(["dataset", "model"])
    return {(row.dataset, row.model): row.predictor for row in best.itertuples(index=False)}


def roc_figure(tables: dict, metrics):
    """Per split, ROC (top) and precision-recall (bottom) curves of every model's best zero-shot score
    (solid) and of its MLP's out-of-fold predictions (dashed) (Fig 2)."""
    best = best_scores(metrics, exclude=SUPERVISED)
    auc = _signed_auc(metrics)
    curves = [(split, model, score, "-") for (split, model), score in best.items()]
    curves += [(split, model, "mlp", "--") for split, model, score in auc.index if score == "mlp"]
    splits = sorted({split for split, _, _, _ in curves})
    models = sorted({model for _, model, _, _ in curves})
    columns = max(len(splits), 1)
    figure, axes = plt.subplots(2, columns, figsize=(3.4 * columns, 7.0), squeeze=False)
    colours = plt.get_cmap("tab10")  # distinct hues; a model's MLP shares its colour, dashed
    for column, split in enumerate(splits):
        roc_axis, pr_axis = axes[0][column], axes[1][column]
        for split_of, model, score, style in sorted(curves):
            if split_of != split:
                continue
            part = tables[model][tables[model]["split"] == split]
            values = part[score].to_numpy(dtype=float)
            keep = np.isfinite(values)
            labels, oriented = part["label"].to_numpy()[keep], direction(score) * values[keep]
            colour = colours(models.index(model) % 10)
            name = model if score == model else f"{model} {score}"
            fpr, tpr, _ = roc_curve(labels, oriented)
            roc_axis.plot(fpr, tpr, color=colour, linewidth=1, linestyle=style,
                          label=f"{name} ({auc[(split, model, score)]:.3f})")
            precision, recall, _ = precision_recall_curve(labels, oriented)
            pr_axis.plot(recall, precision, color=colour, linewidth=1, linestyle=style, label=name)
        roc_axis.plot([0, 1], [0, 1], color="grey", linewidth=0.5, linestyle=":")
        roc_axis.set_title(split)
        roc_axis.set_xlabel("false positive rate")
        roc_axis.legend(fontsize="x-small", loc="lower right", frameon=False)
        pr_axis.set_xlabel("recall")
    axes[0][0].set_ylabel("true positive rate")
    axes[1][0].set_ylabel("precision")
    figure.suptitle("Variant effect: each model's best zero-shot score (signed ROC AUC) and its MLP (dashed)")
    figure.tight_layout()
    return figure


def vis_gain_figure(metrics):
    """AUC(VIS_W) - AUC(pref) against W per split, one line per model (Fig S3); None without VIS_W."""
    auc = _signed_auc(metrics).reset_index()
    vis = auc[auc["predictor"].str.match(r"^VIS_\d+$")]
    if vis.empty:
        return None
    pref = auc[auc["predictor"] == "pref"].set_index(["dataset", "model"])["value"]
    splits = sorted(vis["dataset"].unique())
    figure, axes = plt.subplots(1, len(splits), figsize=(3.4 * len(splits), 3.4), squeeze=False, sharey=True)
    models = sorted(vis["model"].unique())
    for axis, split in zip(axes[0], splits):
        for number, model in enumerate(models):
            rows = vis[(vis["dataset"] == split) & (vis["model"] == model)]
            if rows.empty or (split, model) not in pref.index:
                continue
            widths = rows["predictor"].str.removeprefix("VIS_").astype(int).to_numpy()
            order = np.argsort(widths)
            axis.plot(widths[order], rows["value"].to_numpy()[order] - pref[(split, model)], marker="o",
                      markersize=3, color=plt.get_cmap("tab10")(number % 10), label=model)
        axis.set_xscale("log", base=2)
        axis.axhline(0, color="black", linewidth=0.5)
        axis.set_title(split)
        axis.set_xlabel("window W (nt)")
    axes[0][0].set_ylabel("AUC(VIS_W) - AUC(pref)")
    axes[0][-1].legend(fontsize="x-small", frameon=False)
    figure.tight_layout()
    return figure


def auc_heatmap(metrics):
    """Signed ROC AUC centred on 0.5 (Table S3): one panel per split, scores (rows) by model (columns).

    A panel per split keeps the cells readable: splits x scores as columns of one map run to
    a hundred columns.
    """
    auc = _signed_auc(metrics).reset_index()
    auc = auc[~auc["predictor"].str.match(r"^VIS_\d+$")]
    table = auc.pivot_table(index="predictor", columns=["dataset", "model"], values="value", sort=True)
    splits, models = sorted(auc["dataset"].unique()), sorted(auc["model"].unique())
    figure, axes = plt.subplots(1, len(splits), sharey=True, squeeze=False, layout="constrained",
                                figsize=(2.0 + len(splits) * (0.5 + 0.42 * len(models)), 1.8 + 0.24 * len(table)))
    for axis, split in zip(axes[0], splits):
        values = table[split].reindex(columns=models).to_numpy()
        image = axis.imshow(values, cmap="RdBu_r", vmin=0.0, vmax=1.0, aspect="auto")
        for (i, j), value in np.ndenumerate(values):
            if np.isfinite(value):
                axis.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6,
                          color="white" if abs(value - 0.5) > 0.3 else "black")  # legible on the dark ends
        axis.set_title(split, fontsize=9)
        axis.set_xticks(np.arange(len(models)), models, rotation=90, fontsize=7)
    axes[0][0].set_yticks(np.arange(len(table)), table.index, fontsize=7)
    figure.colorbar(image, ax=axes[0].tolist(), label="signed ROC AUC", shrink=0.6)
    return figure
