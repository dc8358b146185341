"""TASK_MPRA and TASK_HALFLIFE end to end: the bin/ scripts chained as the subworkflows chain them, on assets/test.

Dataset (the human 3'UTRs of assets/test) -> half-life table joined by gene; MPRA table -> oligo FASTA;
sequence-feature baselines as embeddings -> grouped regression -> merged metrics and figures. A second
run must give byte-identical metrics and figures. (Language-model embeddings enter REGRESS the same
way through embed.py, which is tested with its own issue.)
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from utrbench.io import read_metrics

PROJECT = Path(__file__).resolve().parents[1]
ASSETS = PROJECT / "assets" / "test"


def step(script, *args, cwd):
    env = dict(os.environ, PROJECT_DIR=str(PROJECT))
    result = subprocess.run([sys.executable, str(PROJECT / "bin" / script), *map(str, args)],
                            cwd=cwd, capture_output=True, text=True, env=env)
    assert result.returncode == 0, f"{script}: {result.stderr}"
    return result


def run_tasks(workdir: Path) -> Path:
    workdir.mkdir()
    step("utr_annotation.py", "--gtf", ASSETS / "annotation.gtf", "--spliced", "--min-length", 0,
         "--out-bed", "utrs.bed", "--out-table", "utrs.tsv", "--counts", "utr_counts.tsv", cwd=workdir)
    step("utr_sequences.py", "--bed", "utrs.bed", "--genome", ASSETS / "genome.fa", "--out", "utrs.fa", cwd=workdir)
    step("halflife_prep.py", "--table", ASSETS / "tasks" / "binnedgenes.txt", "--fasta", "utrs.fa",
         "--utr-table", "utrs.tsv", "--out-dir", "halflife", cwd=workdir)
    step("mpra_prep.py", "--format", "fastutr", "--dataset", "toy", "--out-dir", "mpra",
         ASSETS / "tasks" / "mpra_fastutr.txt", cwd=workdir)
    metrics = []
    for features in ("kmer3", "minseq"):
        step("sequence_features.py", "--fasta", "mpra/toy.fa", "--features", features, "--out", f"{features}.toy.h5", cwd=workdir)
        for subset in ("Jurkat_stability", "Beas2B_stability"):
            out = f"{features}.toy.{subset}"
            step("regress.py", "--embeddings", f"{features}.toy.h5", "--targets", f"mpra/toy.{subset}.tsv", "--task", "mpra",
                 "--n-folds", 5, "--bootstrap", 200, "--out-metrics", f"{out}.metrics.tsv",
                 "--out-predictions", f"{out}.predictions.tsv", cwd=workdir)
            metrics.append(f"{out}.metrics.tsv")
    step("sequence_features.py", "--fasta", "halflife/halflife.fa", "--features", "kmer2", "--out", "kmer2.halflife.h5", cwd=workdir)
    step("regress.py", "--embeddings", "kmer2.halflife.h5", "--targets", "halflife/halflife.all.tsv", "--task", "halflife",
         "--alphas", "halflife", "--bootstrap", 200, "--out-metrics", "halflife.metrics.tsv",
         "--out-predictions", "halflife.predictions.tsv", cwd=workdir)
    step("plot_task.py", "--out-dir", "mpra_report", *metrics, cwd=workdir)
    step("plot_task.py", "--out-dir", "halflife_report", "halflife.metrics.tsv", cwd=workdir)
    return workdir


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e_tasks")
    return run_tasks(root / "first"), run_tasks(root / "again")


def test_halflife_joins_the_four_test_genes_and_reports_the_missing_ones(runs):
    first, _ = runs
    assert (first / "halflife" / "halflife.missing.txt").read_text() == "G9\nG10\n"
    metrics = read_metrics(first / "halflife_report" / "metrics.tsv")
    assert set(metrics.n) == {4} and set(metrics.model) == {"kmer2"}


def test_mpra_baselines_find_the_planted_are_signal(runs):
    first, _ = runs
    metrics = read_metrics(first / "mpra_report" / "metrics.tsv")
    pooled = metrics[(metrics.metric == "pearson_r")].set_index(["model", "subset"])["value"]
    # Stability falls with the ATTTA count (make_task_test_data.py): both baselines see it out of group.
    assert pooled.loc[("minseq", "Jurkat_stability")] > 0.7
    assert pooled.loc[("kmer3", "Jurkat_stability")] > 0.3
    assert (metrics[metrics.subset == "Jurkat_stability"].n == 160).all()


def test_figures_exist_and_reruns_are_byte_identical(runs):
    first, again = runs
    names = ["mpra_report/metrics.tsv", "mpra_report/mpra.toy.pearson_r.png", "mpra_report/mpra.toy.pearson_r.pdf",
             "halflife_report/halflife.halflife.pearson_r.png", "halflife_report/halflife.halflife.pearson_r.pdf"]
    for name in names:
        assert (first / name).stat().st_size > 0, name
        assert (first / name).read_bytes() == (again / name).read_bytes(), name
