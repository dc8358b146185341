"""The EXPRESSION workflow's chain of bin/ scripts on the shipped planted-signal test set.

Runs the same commands, with the same file hand-offs, as workflows/expression.nf does under the
test profile: dataset -> DExTER and fine-tuning of a tiny model -> comparison.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

PROJECT = Path(__file__).resolve().parents[1]
DATA = PROJECT / "assets" / "test" / "expression"


def run(command, cwd):
    environment = dict(os.environ, PATH=f"{PROJECT / 'bin'}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run([sys.executable, str(PROJECT / "bin" / command[0]), *command[1:]], cwd=cwd,
                            capture_output=True, text=True, env=environment)
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stderr}"
    return result


@pytest.mark.slow
def test_expression_chain(tmp_path):
    for name in ("genome.fa", "genome.fa.fai", "genes.gtf", "expression.tsv"):
        (tmp_path / name).symlink_to(DATA / name)  # staged as Nextflow stages inputs
    run(["expression_dataset.py", "--genome", "genome.fa", "--gtf", "genes.gtf", "--expression", "expression.tsv",
         "--tissue", "Pituitary", "--seed", "686185200", "--out-fasta", "pituitary_windows.fa",
         "--out-labels", "pituitary_labels.tsv", "--out-summary", "pituitary_dataset_summary.json"], tmp_path)
    summary = json.loads((tmp_path / "pituitary_dataset_summary.json").read_text())
    assert summary["genes_matched"] == 200 and summary["genes_dropped_window_off_contig"] == 1
    assert summary["split_sizes"]["test"] == 200 - int(200 * 2 / 3)

    dexter_outputs = ["--out-predictions", "pituitary_dexter_predictions.tsv", "--out-variables",
                      "pituitary_dexter_variables.tsv", "--out-model", "pituitary_dexter_model.json", "--out-graph",
                      "pituitary_dexter_exploration.tsv", "--out-metrics", "pituitary_dexter_metrics.tsv"]
    dexter = ["dexter.py", "--fasta", "pituitary_windows.fa", "--labels", "pituitary_labels.tsv", "--dataset", "pituitary"]
    run(dexter + dexter_outputs, tmp_path)
    variables = pd.read_csv(tmp_path / "pituitary_dexter_variables.tsv", sep="\t")
    top = variables.loc[variables["train_abs_spearman"].idxmax()]
    assert (top["kmer"], top["region_from"], top["region_to"]) == ("TACG", -125, 341)
    first = {name: (tmp_path / name).read_bytes() for name in dexter_outputs[1::2]}

    run(["init_model.py", "--family", "dnabert2", "--size", "tiny", "--out", "base_model"], tmp_path)
    run(["finetune_regression.py", "--model", "base_model", "--family", "dnabert2", "--fasta", "pituitary_windows.fa",
         "--labels", "pituitary_labels.tsv", "--seed", "42", "--device", "cpu", "--dataset", "pituitary",
         "--out-model", "pituitary_dnabert2_tiny_finetuned", "--out-predictions", "pituitary_dnabert2_tiny_predictions.tsv",
         "--out-log", "pituitary_dnabert2_tiny_finetune_log.tsv", "--out-metrics", "pituitary_dnabert2_tiny_metrics.tsv",
         "--epochs", "1", "--batch-size", "8", "--gradient-accumulation", "1"], tmp_path)
    assert (tmp_path / "pituitary_dnabert2_tiny_finetuned" / "regression_head.safetensors").exists()

    run(["compare_expression.py", "--predictions", "dexter=pituitary_dexter_predictions.tsv", "--predictions",
         "dnabert2_tiny=pituitary_dnabert2_tiny_predictions.tsv", "--tissue", "Pituitary", "--seed", "0",
         "--dataset", "pituitary", "--out-table", "pituitary_comparison.tsv", "--out-metrics",
         "pituitary_comparison_metrics.tsv", "--out-summary", "pituitary_comparison.md", "--out-figures",
         "pituitary_figures", "--bootstrap", "200"], tmp_path)
    table = pd.read_csv(tmp_path / "pituitary_comparison.tsv", sep="\t").set_index(["method", "metric"])
    assert table.loc[("dexter", "pearson_r"), "n"] == summary["split_sizes"]["test"]
    assert table.loc[("dexter", "pearson_r"), "value"] > 0.6  # planted signal, 133 training genes
    assert ("dnabert2_tiny-dexter", "r2") in table.index
    assert sorted(p.name for p in (tmp_path / "pituitary_figures").iterdir()) == [
        "expression.scatter_dexter.pdf", "expression.scatter_dexter.png", "expression.scatter_dnabert2_tiny.pdf", "expression.scatter_dnabert2_tiny.png"]
    assert "| dexter | pearson_r |" in (tmp_path / "pituitary_comparison.md").read_text()

    # Same inputs, same outputs, byte for byte.
    run(dexter + dexter_outputs, tmp_path)
    assert {name: (tmp_path / name).read_bytes() for name in dexter_outputs[1::2]} == first
