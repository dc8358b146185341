"""Bar charts of task metrics: Pearson r per model and subset (Table 1, Fig. 3), ROC AUC per model and conservation stratum (Fig. 1).

One figure per task and dataset: a panel per predictor, subsets along the x axis, one bar per
model with its confidence interval. Written as PNG and PDF with the Agg backend and without
timestamps or version strings in the file metadata, so the same metrics give the same bytes.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

# Metadata keys that would otherwise carry the date or the matplotlib version.
PNG_METADATA = {"Software": None}
PDF_METADATA = {"Creator": None, "Producer": None, "CreationDate": None}


def bar_chart(metrics, title: str, metric: str = "pearson_r"):
    """A figure of ``metric`` for every (predictor, subset, model) row of one task and dataset."""
    rows = metrics[metrics["metric"] == metric]
    predictors = sorted(rows["predictor"].unique())
    subsets = sorted(rows["subset"].unique())
    models = sorted(rows["model"].unique())
    width = 0.8 / max(len(models), 1)
    figure, axes = plt.subplots(1, len(predictors), figsize=(1.2 + 1.1 * len(subsets) * len(predictors) + 0.15 * len(models), 3.6),
                                squeeze=False, sharey=True)
    colours = plt.get_cmap("tab20")(np.arange(len(models)) % 20)
    for axis, predictor in zip(axes[0], predictors):
        for m, model in enumerate(models):
            selected = rows[(rows["predictor"] == predictor) & (rows["model"] == model)].set_index("subset")
            value = selected["value"].reindex(subsets).to_numpy(dtype=float)
            low = selected["ci_low"].reindex(subsets).to_numpy(dtype=float)
            high = selected["ci_high"].reindex(subsets).to_numpy(dtype=float)
            errors = np.nan_to_num(np.vstack([value - low, high - value]))
            axis.bar(np.arange(len(subsets)) + (m - (len(models) - 1) / 2) * width, value, width, yerr=errors,
                     capsize=2, color=colours[m], label=model)
        axis.set_xticks(np.arange(len(subsets)), subsets, rotation=30, ha="right")
        axis.set_title(predictor)
        axis.axhline(0, color="black", linewidth=0.5)
    axes[0][0].set_ylabel(f"Pearson r ({metric})" if metric != "pearson_r" else "Pearson r")
    axes[0][-1].legend(fontsize="small", bbox_to_anchor=(1.02, 1), loc="upper left", frameon=False)
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def strata_bar_chart(metrics, title: str, metric: str = "roc_auc"):
    """Figure 1 of the study: ``metric`` per model (x axis), one bar per subset (all / top / bottom 10 %
    conservation) with its bootstrap interval, and the chance line at 0.5."""
    rows = metrics[metrics["metric"] == metric].assign(label=lambda f: f["model"] + " " + f["predictor"])
    labels = sorted(rows["label"].unique())
    subsets = [s for s in ("all", "phylop_top10", "phylop_bottom10") if s in set(rows["subset"])]
    width = 0.8 / max(len(subsets), 1)
    figure, axis = plt.subplots(figsize=(max(4.0, 1.5 + 0.3 * len(labels) * max(len(subsets), 1)), 3.8))
    colours = plt.get_cmap("tab10")(np.arange(len(subsets)))
    for n, subset in enumerate(subsets):
        selected = rows[rows["subset"] == subset].set_index("label")
        value = selected["value"].reindex(labels).to_numpy(dtype=float)
        errors = np.nan_to_num(np.vstack([value - selected["ci_low"].reindex(labels).to_numpy(dtype=float),
                                          selected["ci_high"].reindex(labels).to_numpy(dtype=float) - value]))
        axis.bar(np.arange(len(labels)) + (n - (len(subsets) - 1) / 2) * width, value, width, yerr=errors,
                 capsize=2, color=colours[n], label=subset)
    axis.axhline(0.5, color="black", linewidth=0.5, linestyle="--")
    axis.set_xticks(np.arange(len(labels)), labels, rotation=30, ha="right")
    axis.set_ylabel("ROC AUC" if metric == "roc_auc" else metric)
    axis.set_ylim(0, 1)
    axis.legend(fontsize="small", bbox_to_anchor=(1.02, 1), loc="upper left", frameon=False)
    axis.set_title(title)
    figure.tight_layout()
    return figure


def save_figure(figure, prefix) -> list:
    """Write ``<prefix>.png`` and ``<prefix>.pdf`` without timestamps; return their paths."""
    from utrbench.io import atomic_output

    paths = []
    for suffix, metadata in ((".png", PNG_METADATA), (".pdf", PDF_METADATA)):
        path = f"{prefix}{suffix}"
        with atomic_output(path, suffix=suffix) as tmp:
            figure.savefig(tmp, format=suffix[1:], dpi=150, metadata=metadata)
        paths.append(path)
    plt.close(figure)
    return paths
