"""Half-life table, its published folds and the join to 3'UTR sequences (utrbench.tasks.halflife, halflife_prep.py)."""

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from utrbench.errors import UserError
from utrbench.seq.fasta import read_fasta
from utrbench.tasks import halflife, regression
from utrbench.tasks.targets import read_target_table

BINNED = Path("/work/shared/data/halflife/binnedgenes.txt")
BIN = Path(__file__).resolve().parents[1] / "bin"


def test_real_table_has_the_published_genes_and_folds():
    binned = halflife.read_binned_genes(BINNED)
    assert len(binned) == 12981 and binned["gene"].is_unique
    assert binned["fold"].value_counts().sort_index().tolist() == [1298] * 9 + [1299]
    assert binned["target"].mean() == pytest.approx(0, abs=1e-3)


def test_cross_validation_folds_equal_the_published_folds(tmp_path):
    binned = halflife.read_binned_genes(BINNED)
    rng = np.random.default_rng(0)
    chosen = binned.sample(600, random_state=1)
    fasta = tmp_path / "utrs.fa"
    fasta.write_text("".join(f">{gene}.{rng.integers(1, 9)}\n{'ACGT' * 3}\n" for gene in chosen["gene"]))
    table, missing = halflife.halflife_targets(binned, halflife.sequences_by_gene(fasta), "test")
    assert len(table) == 600 and len(missing) == 12981 - 600
    published = dict(zip(binned["gene"], binned["fold"]))
    for train, test in regression.outer_splits(table["group"].to_numpy(), 0):
        folds = {published[g] for g in table["gene"].iloc[test]}
        assert len(folds) == 1  # a test fold is exactly one published fold ...
        assert folds.isdisjoint({published[g] for g in table["gene"].iloc[train]})
    assert len(regression.outer_splits(table["group"].to_numpy(), 0)) == 10  # ... and there are ten


def test_join_through_the_utr_table_keeps_the_first_utr_and_counts_missing(tmp_path):
    (tmp_path / "binned.txt").write_text("BIN\tGENEID\tHALFLIFE\n1\tENSG1\t0.5\n2\tENSG2\t-1.5\n3\tENSG3\t0.25\n")
    (tmp_path / "utrs.fa").write_text(">U1\nACGT\n>U2\nGGGG\n>U3\nTTTT\n")
    (tmp_path / "utrs.tsv").write_text("utr_id\tgene_id\nU1\tENSG2.4\nU2\tENSG1.1\nU3\tENSG2.4\n")
    binned = halflife.read_binned_genes(tmp_path / "binned.txt")
    by_gene = halflife.sequences_by_gene(tmp_path / "utrs.fa", tmp_path / "utrs.tsv")
    table, missing = halflife.halflife_targets(binned, by_gene, "test")
    assert table[["id", "sequence", "target", "group", "gene"]].values.tolist() == [
        ["U2", "GGGG", 0.5, "1", "ENSG1"], ["U1", "ACGT", -1.5, "2", "ENSG2"]]
    assert missing == ["ENSG3"]


def test_bad_fold_is_a_user_error(tmp_path):
    (tmp_path / "binned.txt").write_text("BIN\tGENEID\tHALFLIFE\n1\tENSG1\t0.5\nx\tENSG2\t0.1\n")
    with pytest.raises(UserError, match="line 3: BIN 'x'"):
        halflife.read_binned_genes(tmp_path / "binned.txt")


def test_cli_writes_table_fasta_and_missing_genes(tmp_path, monkeypatch):
    (tmp_path / "binned.txt").write_text("BIN\tGENEID\tHALFLIFE\n1\tENSG1\t0.5\n2\tENSG2\t-1.5\n")
    (tmp_path / "utrs.fa").write_text(">ENSG1.3\nACGTN\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(BIN))
    from halflife_prep import main

    result = CliRunner().invoke(main, ["--table", "binned.txt", "--fasta", "utrs.fa", "--out-dir", "out"])
    assert result.exit_code == 0, result.output
    assert read_target_table(tmp_path / "out" / "halflife.all.tsv")["id"].tolist() == ["ENSG1.3"]
    assert read_fasta(tmp_path / "out" / "halflife.fa") == {"ENSG1.3": "ACGTN"}
    assert (tmp_path / "out" / "halflife.missing.txt").read_text() == "ENSG2\n"
    assert "1 of 2 genes" in result.stderr
