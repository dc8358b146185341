"""The studies' published numbers in assets/published/ read back against rows copied by hand
from ../shared/reference/01-utr-study.md §6 and 02-expression.md §4."""

from pathlib import Path

import pandas as pd
import pytest

from utrbench.io import METRICS_COLUMNS

PUBLISHED = Path(__file__).resolve().parents[1] / "assets" / "published"

# (file, task, dataset, subset, model, predictor, metric, value), copied from the reference tables.
HAND_COPIED = [
    ("mpra.tsv", "mpra", "griesemer", "HMEC_log2fc", "DNBT-3UTR-RNA", "ridge", "pearson_r", 0.51),
    ("mpra.tsv", "mpra", "griesemer", "HEPG2_log2fc", "STSP-3UTR-RNA", "svr", "pearson_r", 0.54),
    ("mpra.tsv", "mpra", "griesemer", "SKNSH_log2fc", "Griesemer 2021", "svr", "pearson_r", 0.35),
    ("mpra.tsv", "mpra", "siegel", "Beas2B_stability", "DNBT-3UTR-RNA", "ridge", "pearson_r", 0.54),
    ("mpra.tsv", "mpra", "siegel", "Jurkat_steady_state", "5-mers (Siegel)", "svr", "pearson_r", 0.26),
    ("halflife.tsv", "halflife", "halflife", "all", "DNBT2-3UTR-RNA", "svr", "pearson_r", 0.45),
    ("halflife.tsv", "halflife", "halflife", "all", "k-mer", "ridge", "pearson_r", 0.19),
    ("halflife.tsv", "halflife", "halflife", "all", "Saluki human", "saluki", "pearson_r_fold_mean", 0.77),
    ("rbp.tsv", "rbp", "utrs", "all", "NT-3UTR-RNA", "zeroshot", "roc_auc", 0.703),
    ("rbp.tsv", "rbp", "utrs", "phylop_top10", "PhyloP-241way", "zeroshot", "roc_auc", 0.972),
    ("rbp.tsv", "rbp", "utrs", "phylop_bottom10", "PhyloP-241way", "zeroshot", "roc_auc", 0.136),
    ("zooal_agreement.tsv", "zooal_agreement", "utrs", "all", "NT-3UTR-RNA", "zeroshot", "pearson_r", 0.539),
    ("expression.tsv", "expression", "gtex_pituitary", "test", "DExTER", "lasso", "pearson_r", 0.64),
    ("variants.tsv", "variants", "clinvar", "direction_free", "NT-MS-v2-100M", "VIS", "roc_auc", 0.685),
    ("variants.tsv", "variants", "CADD", "direction_free", "NT-3UTR-RNA", "pratio", "roc_auc", 0.728),
    ("variants.tsv", "variants", "gnomAD", "direction_free", "Zoo-AL", "pratio", "roc_auc", 0.701),
    ("variants.tsv", "variants", "clinvar", "direction_free", "CADD-1.7", "cadd", "roc_auc", 0.976),
    ("variants.tsv", "variants", "eQTL", "direction_free", "DNABERT2-ZOO", "mlp", "roc_auc", 0.831),
]


def _read(name):
    return pd.read_csv(PUBLISHED / name, sep="\t", keep_default_na=False)


@pytest.mark.parametrize("row", HAND_COPIED, ids=lambda row: f"{row[0]}:{row[4]}:{row[3]}")
def test_published_value_equals_the_reference(row):
    name, *keys, value = row
    table = _read(name)
    match = table
    for column, key in zip(METRICS_COLUMNS[:6], keys):
        match = match[match[column] == key]
    assert len(match) == 1, f"{name}: {keys} found {len(match)} times"
    assert float(match["value"].iloc[0]) == pytest.approx(value, abs=1e-9)


@pytest.mark.parametrize("path", sorted(PUBLISHED.glob("*.tsv")), ids=lambda path: path.name)
def test_every_published_row_is_in_the_metrics_format_and_names_its_source(path):
    table = _read(path.name)
    assert list(table.columns) == METRICS_COLUMNS + ["source"]
    assert (table["source"].str.len() > 0).all()
    assert not table.duplicated(METRICS_COLUMNS[:6]).any()
    pd.to_numeric(table["value"])  # every value is a number


def test_table_sizes_match_the_reference():
    # Table 1 + S6: 11 rows x 6 cell lines x 2 predictors; S7/S8: 11 x 4 x 2.
    mpra = _read("mpra.tsv")
    assert (mpra["dataset"] == "griesemer").sum() == 11 * 6 * 2
    assert (mpra["dataset"] == "siegel").sum() == 11 * 4 * 2
    assert len(_read("rbp.tsv")) == 11 * 3
