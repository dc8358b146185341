"""Expression dataset: labels from GTEx tables, TSS windows from a GTF and a genome, the split."""

import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from utrbench.errors import UserError
from utrbench.expression.dataset import log10_tpm, read_expression, split_genes, tss_windows, unversioned
from synthetic_expression import decode, planted_windows, write_study
from utrbench.seq import reverse_complement
from utrbench.seq.genome import Genome

GTEX_7_TISSUES = Path("/work/shared/data/expression/GTEx_gene_median_7tissues.tsv")
PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    directory = tmp_path_factory.mktemp("study")
    write_study(directory, n_genes=12, flank=400, spacer=50, seed=3)
    return directory


def test_unversioned_ids():
    assert unversioned("ENSG00000223972.4") == "ENSG00000223972"
    assert unversioned("ENSG00000002586.18_PAR_Y") == "ENSG00000002586_PAR_Y"
    assert unversioned("ENSG00000223972") == "ENSG00000223972"


@pytest.mark.skipif(not GTEX_7_TISSUES.exists(), reason="shared GTEx table not available")
def test_reads_the_shipped_7_tissue_table():
    pituitary = read_expression(GTEX_7_TISSUES, "Pituitary")
    assert len(pituitary) == 56202
    assert pituitary["ENSG00000223972"] == pytest.approx(0.04817)
    assert pituitary["ENSG00000227232"] == pytest.approx(15.84)
    assert pituitary.min() == pytest.approx(0.001)
    # R make.names: "Whole Blood" finds the column written "Whole.Blood".
    assert read_expression(GTEX_7_TISSUES, "Whole Blood")["ENSG00000223972"] == pytest.approx(0.1175)
    assert (log10_tpm(pituitary.to_numpy()) == -3).sum() == 26212  # the README's count at the floor


def test_reads_a_gtex_v8_gct(tmp_path):
    gct = tmp_path / "median.gct"
    gct.write_text("#1.2\n2\t2\nName\tDescription\tPituitary\tLung\n"
                   "ENSG00000223972.5\tDDX11L1\t0\t0.5\nENSG00000227232.5\tWASH7P\t12.5\t3\n")
    series = read_expression(gct, "Pituitary")
    assert series.to_dict() == {"ENSG00000223972": 0.0, "ENSG00000227232": 12.5}
    assert log10_tpm(series.to_numpy()).tolist() == [-3.0, pytest.approx(np.log10(12.5))]
    with pytest.raises(UserError, match="no tissue column 'Liver'.*Pituitary, Lung"):
        read_expression(gct, "Liver")
    with pytest.raises(UserError, match="no tissue column"):
        read_expression(gct, "Description")


def test_non_numeric_expression_names_the_line(tmp_path):
    table = tmp_path / "e.tsv"
    table.write_text("gene\tPituitary\nENSG1.1\t3\nENSG2.1\tabc\n")
    with pytest.raises(UserError, match=r"line 3 \(ENSG2.1\)"):
        read_expression(table, "Pituitary")


def test_windows_are_centred_on_the_tss_on_both_strands(study):
    planted = decode(planted_windows(12, length=801, tss_index=400, seed=3).codes)
    with Genome(study / "genome.fa") as genome:
        result = tss_windows(study / "genes.gtf", genome, flank=400)
    assert list(result.windows) == [f"ENSGSYN{i:05d}" for i in range(12)]
    # Plus-strand genes read straight from the genome, minus-strand ones reverse-complemented back.
    assert [result.windows[f"ENSGSYN{i:05d}"] for i in range(12)] == planted
    assert result.off_contig_end == ["ENSGEDGE00001.1"]
    assert result.wrong_type_or_contig == 1  # the lncRNA
    assert result.genes_in_gtf == 14


def test_window_slice_by_hand(tmp_path):
    sequence = "".join(random.Random(1).choice("ACGT") for _ in range(40))
    (tmp_path / "g.fa").write_text(f">c\n{sequence}\n")
    (tmp_path / "a.gtf").write_text(
        'c\tt\tgene\t11\t15\t.\t+\t.\tgene_id "P.1";\n'    # TSS 1-based 11 -> index 10
        'c\tt\tgene\t20\t30\t.\t-\t.\tgene_id "M.2";\n'    # TSS 1-based 30 -> index 29
        'c\tt\tgene\t2\t5\t.\t+\t.\tgene_id "E.1";\n')     # window would start at -2: dropped
    with Genome(tmp_path / "g.fa") as genome:
        result = tss_windows(tmp_path / "a.gtf", genome, flank=3, gene_types=())
    assert result.windows == {"P": sequence[7:14], "M": reverse_complement(sequence[26:33])}
    assert result.off_contig_end == ["E.1"]


def test_gtf_without_genes_is_an_error(study, tmp_path):
    (tmp_path / "t.gtf").write_text('chr1\tt\ttranscript\t100\t200\t.\t+\t.\tgene_id "A.1";\n')
    with Genome(study / "genome.fa") as genome, pytest.raises(UserError, match="no 'gene' features"):
        tss_windows(tmp_path / "t.gtf", genome)


def test_gene_on_a_contig_missing_from_the_genome_is_an_error(study, tmp_path):
    (tmp_path / "t.gtf").write_text('chrZ\tt\tgene\t100\t200\t.\t+\t.\tgene_id "A.1"; gene_type "protein_coding";\n')
    with Genome(study / "genome.fa") as genome, pytest.raises(UserError, match="line 1: gene A.1 .*'chrZ'"):
        tss_windows(tmp_path / "t.gtf", genome)


def test_split_is_dexters_python_random_sample():
    genes = [f"g{i}" for i in range(22410)]
    rows = split_genes(genes, dev_fraction=0.13)
    assert [gene for gene, _ in rows] == genes  # expression-table order kept: DExTER's training matrix order
    training = [gene for gene, split in rows if split != "test"]
    random.seed(686185200)
    assert set(training) == set(random.sample(genes, int(22410 * 2 / 3)))
    assert len(training) == 14940 and sum(split == "test" for _, split in rows) == 7470
    assert sum(split == "dev" for _, split in rows) == 1943  # ceil(0.13 x 14,940), as in the reference
    assert split_genes(genes) == rows
    assert split_genes(genes, seed=1) != rows


def test_cli_writes_consistent_outputs(study, tmp_path):
    from click.testing import CliRunner

    import expression_dataset

    outputs = {"--out-fasta": tmp_path / "w.fa", "--out-labels": tmp_path / "l.tsv", "--out-summary": tmp_path / "s.json"}
    args = ["--genome", str(study / "genome.fa"), "--gtf", str(study / "genes.gtf"), "--expression",
            str(study / "expression.tsv"), "--tissue", "Pituitary", "--flank", "400"]
    for option, path in outputs.items():
        args += [option, str(path)]
    result = CliRunner().invoke(expression_dataset.main, args)
    assert result.exit_code == 0, result.output
    labels = (tmp_path / "l.tsv").read_text().splitlines()
    assert labels[0] == "gene\ttpm\tlog10_tpm\tsplit" and len(labels) == 13
    assert '"genes_dropped_window_off_contig": 1' in (tmp_path / "s.json").read_text()
    first = {path: path.read_bytes() for path in outputs.values()}
    assert CliRunner().invoke(expression_dataset.main, args).exit_code == 0
    assert {path: path.read_bytes() for path in outputs.values()} == first


@pytest.mark.parametrize("change, message", [
    ({"--tissue": "Liver"}, "no tissue column 'Liver'"),
    ({"--gtf": "empty.gtf"}, "no 'gene' features"),
    ({"--gtf": "other_contig.gtf"}, "not in the genome"),
    ({"--expression": "non_numeric.tsv"}, "non_numeric.tsv: line 3 (ENSGSYN00011.7): Pituitary value 'n/a' is not a non-negative number."),
])
def test_cli_errors_exit_2_without_output(study, tmp_path, change, message):
    import subprocess
    import sys

    (tmp_path / "empty.gtf").write_text("# nothing\n")
    (tmp_path / "other_contig.gtf").write_text('chrQ\tt\tgene\t1\t9\t.\t+\t.\tgene_id "X.1"; gene_type "protein_coding";\n')
    shutil.copy(study / "genome.fa", tmp_path)
    table = (study / "expression.tsv").read_text().splitlines()
    fields = table[2].split("\t")
    table[2] = "\t".join([fields[0], "n/a"] + fields[2:])  # line 3's Pituitary value
    (tmp_path / "non_numeric.tsv").write_text("\n".join(table) + "\n")
    options = {"--genome": "genome.fa", "--gtf": str(study / "genes.gtf"), "--expression": str(study / "expression.tsv"),
               "--tissue": "Pituitary", "--flank": "400", "--out-fasta": "w.fa", "--out-labels": "l.tsv",
               "--out-summary": "s.json"}
    options.update(change)
    command = [sys.executable, str(PROJECT / "bin" / "expression_dataset.py")] + [x for kv in options.items() for x in kv]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not any((tmp_path / name).exists() for name in ("w.fa", "l.tsv", "s.json"))
