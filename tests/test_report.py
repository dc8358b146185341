"""The MultiQC report: tables built from the metrics format, published values beside them, bad input."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from utrbench.errors import UserError
from utrbench.io import METRICS_COLUMNS
from utrbench.report import multiqc as content

PROJECT = Path(__file__).resolve().parents[1]
PUBLISHED = PROJECT / "assets" / "published"

ROWS = [
    ("mpra", "siegel", "Jurkat_stability", "kmer5", "ridge", "pearson_r", 0.4621, 0.452, 0.472, 30253),
    ("mpra", "siegel", "Beas2B_stability", "kmer5", "ridge", "pearson_r", 0.4823, 0.462, 0.5, 7613),
    ("mpra", "siegel", "Jurkat_stability", "dnabert_base", "svr", "pearson_r", 0.3117, 0.301, 0.322, 30253),
    ("halflife", "halflife", "all", "dnabert_base", "ridge", "pearson_r", 0.2734, 0.25, 0.29, 12457),
    ("expression", "Pituitary", "test", "DExTER", "comparison", "pearson_r", 0.6078, 0.58, 0.63, 7470),
]


def write_metrics(path, rows):
    lines = ["\t".join(METRICS_COLUMNS)] + ["\t".join(map(str, row)) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_table_cells_are_the_metrics_values_with_the_published_value_of_the_same_kind_of_model():
    metrics = pd.DataFrame(ROWS, columns=METRICS_COLUMNS)
    study = {"kmer5": "5-mers (Siegel)", "dnabert_base": "DNBT-3UTR-RNA", "DExTER": "DExTER"}
    tables = {table["id"]: table for table in content.task_sections(metrics, content.read_published(PUBLISHED), study)}
    assert list(tables) == ["mpra_siegel", "halflife", "expression"]  # a table per MPRA dataset  # the studies' order; tasks that ran only
    siegel = tables["mpra_siegel"]["data"]
    assert siegel["kmer5 · ridge"]["Jurkat_stability"] == 0.4621
    assert siegel["kmer5 · ridge"]["Jurkat_stability CI"] == "0.452–0.472"
    assert siegel["kmer5 · ridge"]["Jurkat_stability published"] == 0.43  # Table S7, 5-mers (Siegel)
    assert siegel["kmer5 · ridge"]["Beas2B_stability published"] == 0.46
    assert siegel["dnabert_base · svr"]["Jurkat_stability published"] == 0.49  # Table S8, DNBT-3UTR-RNA
    assert tables["halflife"]["data"]["dnabert_base · ridge"]["all published"] == 0.41
    # Expression: matched on the metric only (the poster's labels and split differ from the run's).
    assert tables["expression"]["data"]["DExTER · comparison"]["pearson_r published"] == 0.64


def test_unknown_task_and_malformed_rows_are_errors_naming_file_and_line(tmp_path):
    bad_task = write_metrics(tmp_path / "a.tsv", [("nosuch",) + ROWS[0][1:]])
    with pytest.raises(UserError, match=r"a.tsv: line 2: unknown task 'nosuch'"):
        content.read_metrics_files([bad_task])
    short = tmp_path / "b.tsv"
    short.write_text("\t".join(METRICS_COLUMNS) + "\nmpra\tsiegel\tx\n")
    with pytest.raises(UserError, match=r"b.tsv: line 2: expected 10 tab-separated fields, got 3"):
        content.read_metrics_files([short])
    text = tmp_path / "c.tsv"
    write_metrics(text, [ROWS[0][:6] + ("high",) + ROWS[0][7:]])
    with pytest.raises(UserError, match=r"c.tsv: line 2: value, ci_low and ci_high must be numbers"):
        content.read_metrics_files([text])


def test_model_card_reads_a_model_directory(tmp_path):
    from utrbench.models.registry import init_model, save_model
    from utrbench.report.cards import model_card

    loaded = init_model("dnabert", "tiny", seed=3)
    save_model(loaded, tmp_path / "m")
    card = model_card(tmp_path / "m", "dnabert_tiny")
    assert card["parameters"] == sum(p.numel() for p in loaded.model.parameters())  # tied weights once
    assert (card["family"], card["origin"], card["context_tokens"]) == ("dnabert", "initialised", 512)


def run_report(tmp_path, metrics_path, *options):
    out = tmp_path / "report"
    result = subprocess.run([sys.executable, str(PROJECT / "bin" / "report.py"), "--metrics", str(metrics_path),
                             "--published", str(PUBLISHED), "--out-dir", str(out), *options],
                            capture_output=True, text=True)
    return result, out


@pytest.mark.slow
def test_report_shows_the_tsv_values_and_changes_with_them(tmp_path):
    metrics = write_metrics(tmp_path / "m.tsv", ROWS)
    # a pretraining run staged as Nextflow does: runs/1/<id>_run is a link to the task's folder
    run = tmp_path / "work" / "dnabert_base_run"
    run.mkdir(parents=True)
    (run / "train_log.tsv").write_text("step\tloss\tvalid_loss\n1\t8.31\t8.30\n2\t7.25\t7.5\n")
    (tmp_path / "runs" / "1").mkdir(parents=True)
    (tmp_path / "runs" / "1" / run.name).symlink_to(run)
    result, out = run_report(tmp_path, metrics, "--pretraining-run", str(tmp_path / "runs"))
    assert result.returncode == 0, result.stderr
    html = (out / "multiqc_report.html").read_text()
    assert "Provenance: pretraining loss" in html  # the plot's data are compressed in the HTML, so read the content
    curves = yaml.safe_load((out / "multiqc_content" / "provenance_pretraining_mqc.yaml").read_text())["data"]
    assert curves["dnabert_base valid"] == {1: 8.30, 2: 7.5}
    assert "MPRA: Siegel 2022 (Tables S7, S8)" in html and "mRNA half-life (Fig 3, Table S9)" in html
    assert "RBP binding motifs" not in html  # a task that did not run leaves its section out
    assert "0.4621" in html and "0.3117" in html  # the cells carry the TSV's values
    changed = write_metrics(tmp_path / "m.tsv", [ROWS[0][:6] + (0.7777,) + ROWS[0][7:]] + ROWS[1:])
    result, out = run_report(tmp_path / "again", changed)
    assert result.returncode == 0, result.stderr
    html = (out / "multiqc_report.html").read_text()
    assert "0.7777" in html and "0.4621" not in html


def test_metrics_file_without_rows_is_an_error_and_writes_nothing(tmp_path):
    empty = write_metrics(tmp_path / "m.tsv", [])
    result, out = run_report(tmp_path, empty)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"error: {empty}: no metrics rows below the header; "
                                     "the step that wrote it reported nothing.")
    assert not out.exists()


def test_zooal_agreement_equals_scipy_on_renormalised_rows():
    from scipy import stats

    from utrbench.tasks.agreement import probability_agreement

    rng = __import__("numpy").random.default_rng(0)
    model = {f"u{i}": rng.random((n, 4)) for i, n in enumerate([5, 9, 3])}
    zooal = {f"u{i}": rng.random((n, 4)) for i, n in enumerate([5, 9, 3])}
    zooal["only_in_zooal"] = rng.random((4, 4))
    r, low, high, n = probability_agreement(model, zooal)

    def flat(probs):
        return __import__("numpy").concatenate([(probs[k] / probs[k].sum(1, keepdims=True)).ravel() for k in ("u0", "u1", "u2")])

    expected = stats.pearsonr(flat(model), flat(zooal))
    interval = expected.confidence_interval(0.95)
    assert n == 17 * 4
    assert r == pytest.approx(expected.statistic, abs=1e-12)
    assert (low, high) == pytest.approx((interval.low, interval.high), abs=1e-9)
    zooal["u1"] = zooal["u1"][:-1]
    with pytest.raises(UserError, match="u1 has 9 positions in the model's probabilities and 8"):
        probability_agreement(model, zooal)


def test_every_mpra_dataset_gets_its_own_table_titled_by_the_study_when_it_has_one():
    rows = [ROWS[0], ("mpra", "toy") + ROWS[0][2:]]
    tables = content.task_sections(pd.DataFrame(rows, columns=METRICS_COLUMNS), content.read_published(PUBLISHED), {})
    assert [(table["id"], table["section_name"]) for table in tables] == [
        ("mpra_siegel", "MPRA: Siegel 2022 (Tables S7, S8)"), ("mpra_toy", "MPRA: toy")]


def test_each_figure_follows_its_own_tasks_table(tmp_path):
    names = ["mpra.siegel.pearson_r.png", "mpra.toy.pearson_r.png", "variants_roc.png", "variants_auc_heatmap.png",
             "halflife.halflife.pearson_r.png", "unrelated.png", "variants_roc.pdf"]
    for name in names:
        (tmp_path / name).write_bytes(b"png")
    images = content.figure_sections(tmp_path / name for name in names)
    assert sorted(images) == ["figure_halflife_halflife_pearson_r_mqc.png", "figure_mpra_siegel_pearson_r_mqc.png",
                              "figure_mpra_toy_pearson_r_mqc.png", "figure_variants_auc_heatmap_mqc.png",
                              "figure_variants_roc_mqc.png"]
    sections = [{"id": i, "section_name": i} for i in ("mpra_siegel", "mpra_toy", "halflife", "variants", "provenance_params")]
    out = tmp_path / "content"
    content.write_content(out, sections, images, "t")
    order = yaml.safe_load((out / "multiqc_config.yaml").read_text())["report_section_order"]
    ranked = [anchor for anchor, _ in sorted(order.items(), key=lambda item: -item[1]["order"])]
    assert ranked == ["mpra_siegel", "figure_mpra_siegel_pearson_r", "mpra_toy", "figure_mpra_toy_pearson_r",
                      "halflife", "figure_halflife_halflife_pearson_r",
                      "variants", "figure_variants_auc_heatmap", "figure_variants_roc", "provenance_params"]
