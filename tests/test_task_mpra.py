"""MPRA readers and the grouping of near-identical oligos (utrbench.tasks.mpra, mpra_prep.py)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from utrbench.errors import UserError
from utrbench.seq.fasta import read_fasta
from utrbench.tasks import mpra
from utrbench.tasks.targets import read_target_table

SIEGEL_FAST = Path("/work/shared/data/mpra/siegel/fastUTR_mpra.txt.gz")
BIN = Path(__file__).resolve().parents[1] / "bin"


def random_sequence(rng, length):
    return "".join(rng.choice(list("ACGT"), size=length))


def slow_groups(sequences, k):
    """Reference: union of every pair of sequences whose sets of N-free k-mers intersect."""
    kmers = [{s[i:i + k] for i in range(len(s) - k + 1) if "N" not in s[i:i + k]} for s in sequences]
    parent = list(range(len(sequences)))

    def root(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(len(sequences)):
        for j in range(i):
            if kmers[i] & kmers[j]:
                parent[root(i)] = root(j)
    roots = [root(i) for i in range(len(sequences))]
    order = list(dict.fromkeys(roots))
    return np.array([order.index(r) for r in roots])


def test_grouping_by_hand():
    rng = np.random.default_rng(0)
    a, b = random_sequence(rng, 60), random_sequence(rng, 60)
    snp = a[:30] + ("C" if a[30] != "C" else "G") + a[31:]
    tile = b[20:] + random_sequence(rng, 20)  # overlapping tile of b: shares 40 nt
    short_overlap = a[-20:] + random_sequence(rng, 40)  # shares only 20 nt with a: separate
    with_n = "N" * 60
    labels = mpra.group_near_identical([a, b, snp, tile, short_overlap, with_n], k=30)
    assert labels.tolist() == [0, 1, 0, 1, 2, 3]


def test_grouping_equals_the_pairwise_reference_on_families_of_variants():
    rng = np.random.default_rng(1)
    sequences = []
    for _ in range(15):
        parent = random_sequence(rng, 80)
        for _ in range(rng.integers(1, 4)):
            variant = list(parent)
            for position in rng.choice(80, size=rng.integers(0, 6), replace=False):
                variant[position] = "ACGTN"[rng.integers(5)]
            sequences.append("".join(variant))
    order = rng.permutation(len(sequences))
    sequences = [sequences[i] for i in order]
    for k in (12, 30):
        assert mpra.group_near_identical(sequences, k).tolist() == slow_groups(sequences, k).tolist()


def test_fastutr_real_table_counts_and_snp_pairs_share_a_group():
    tables = mpra.read_fastutr(SIEGEL_FAST)
    assert {name: len(t) for name, t in tables.items()} == {"Jurkat_stability": 30253, "Beas2B_stability": 7613}
    jurkat = tables["Jurkat_stability"]
    assert jurkat["id"].iloc[0] == "fastutr_00001" and jurkat["target"].between(0, 1.1).all()
    # Sorted by sequence, so a SNP allele often follows its reference: equal-length neighbours
    # that differ at one position must be in one group.
    sequences, groups = jurkat["sequence"].to_numpy(), jurkat["group"].to_numpy()
    pairs = 0
    for i in range(len(sequences) - 1):
        s, t = sequences[i], sequences[i + 1]
        if len(s) == len(t) and sum(x != y for x, y in zip(s, t)) == 1:
            pairs += 1
            assert groups[i] == groups[i + 1]
    assert pairs > 1000
    assert 1000 < jurkat["group"].nunique() < len(jurkat) / 2


def write_siegel(path, rows):
    columns = ["ids", "seq", "region", "issnp", "ratios_T4T0_GC_resid", "ratios_T0_GC_resid"]
    pd.DataFrame(rows, columns=columns).to_csv(path, index=False)


def test_siegel_sequence_level_table(tmp_path):
    path = tmp_path / "sequence_level_data_Jurkat.csv"
    write_siegel(path, [
        ("o1", "ACGTACGT", "GENEA|chr1:100-260", 1, 0.5, 0.1),
        ("o2", "acgtacct", "GENEA|chr1:100-260", 1, 0.6, None),
        ("o3", "TTTTACGT", "GENEB|chrX:5-165", 0, 0.7, 0.3),
        ("o4", "GGGGACGT", "GENEC|chr2:5-165", 1, 0.8, 0.4),
    ])
    tables = mpra.read_siegel(path)
    assert sorted(tables) == ["Jurkat_stability", "Jurkat_steady_state"]
    stability = tables["Jurkat_stability"]
    assert stability["id"].tolist() == ["o1", "o2", "o4"]  # issnp only
    assert stability["group"].tolist() == ["chr1", "chr1", "chr2"]
    assert stability["sequence"].tolist()[1] == "ACGTACCT"
    assert tables["Jurkat_steady_state"]["id"].tolist() == ["o1", "o4"]  # no measurement, no row
    assert mpra.read_siegel(path, snp_only=False)["Jurkat_stability"]["group"].tolist()[2] == "chrX"


def test_siegel_bad_region_is_a_user_error(tmp_path):
    path = tmp_path / "sequence_level_data_Beas2B.csv"
    write_siegel(path, [("o1", "ACGT", "GENEA-chr1-100", 1, 0.5, 0.1)])
    with pytest.raises(UserError, match="GENE\\|CHROM:START-END"):
        mpra.read_siegel(path)


GRIESEMER_GENOME = "ACGTACGGTCAAGTCCTAGCATGCAATTGCCGATGGACTTACGATCCAGTTGACCATGGA"  # chr1, 60 nt


def write_griesemer(tmp_path):
    """The supplementary files in the exact column layout the study's code reads (see GRIESEMER_INFO_COLUMNS),
    and a GRCh37-like genome FASTA (contig 'chr1'; the files write chromosomes without 'chr')."""
    (tmp_path / "GRCh37.fa").write_text(">chr1\n" + GRIESEMER_GENOME + "\n")
    g = GRIESEMER_GENOME
    # (mpra_variant_id, oligo starts, ends, strand, 1-based variant, ref, alt, other variants, gene)
    variants = [
        ("mv1", "11", "20", "+", 15, g[14], "T" if g[14] != "T" else "A", "NA", "GENEA"),
        ("mv2", "31", "40", "-", 33, g[32], "C" if g[32] != "C" else "G", "NA", "GENEB"),
        ("mv3", "18", "27", "+", 20, g[19], "A" if g[19] != "A" else "C", "NA", "GENEC"),  # overlaps mv1
        ("mv4", "41", "50", "+", 45, g[44], "G" if g[44] != "G" else "T", "rs9", "GENED"),  # two variants
        ("mv4_2", "41", "50", "+", 45, g[44], "G" if g[44] != "G" else "T", "rs9", "GENED"),  # background copy
        ("mv5", "41", "50", "+", 46, "A" if g[45] != "A" else "C", "G", "NA", "GENEE"),  # ref mismatch
        ("mv6", "41,52", "45,56", "+", 43, g[42], "A", "NA", "GENEF"),  # spans two pieces
        ("mv7", "51", "60", "+", 55, g[54:56], g[54], "NA", "GENEG"),  # a deletion, not an SNV
    ]
    lines = ["mpra_variant_id\ttag\toligo_id\tvariant_id\tchrom\toligo_starts\toligo_ends\tstrand\tvar_start"
             "\tvar_end\tref_allele\talt_allele\tother_var_in_oligo_window\tgenes\ttranscripts\tgene_symbols"]
    for number, (mv, starts, ends, strand, position, ref, alt, other, gene) in enumerate(variants):
        for tag in ("ref", "alt"):
            lines.append(f"{mv}\t{tag}\tol{number}_{tag}\trs{number}\t1\t{starts}\t{ends}\t{strand}\t{position}"
                         f"\t{position + len(ref) - 1}\t{ref}\t{alt}\t{other}\tENSG{number}\tENST{number}\t{gene}")
    (tmp_path / "Oligo_Variant_Info.txt").write_text("\n".join(lines) + "\n")
    results = pd.DataFrame({"mpra_variant_id": [v[0] for v in variants],
                            "log2FoldChange_Ref_HEPG2": [0.5, -0.2, 1.0, 2, 2, 2, 2, 2],
                            "log2FoldChange_Alt_HEPG2": [0.7, None, 1.1, 2, 2, 2, 2, 2],
                            "log2FoldChange_Ref_K562": [0.1, "0,2", 0.3, 2, 2, 2, 2, 2],  # a decimal comma
                            "log2FoldChange_Alt_K562": [0.4, 0.5, 0.6, 2, 2, 2, 2, 2]})
    results.to_csv(tmp_path / "Variant_MPRAu_Results.txt", sep="\t", index=False, na_rep="NA")
    return variants


def test_griesemer_oligos_from_the_genome_ref_and_alt_samples_grouped_by_gene(tmp_path):
    from utrbench.seq import reverse_complement

    variants = write_griesemer(tmp_path)
    tables = mpra.read_griesemer(tmp_path / "Oligo_Variant_Info.txt", tmp_path / "Variant_MPRAu_Results.txt",
                                 tmp_path / "GRCh37.fa")
    assert sorted(tables) == ["HEPG2_log2fc", "K562_log2fc"]
    k562 = tables["K562_log2fc"].set_index("id")
    # mv4 (two variants), its _2 copy, mv5 (reference mismatch), mv6 (two pieces), mv7 (deletion): dropped.
    assert sorted(k562.index) == ["ol0_alt", "ol0_ref", "ol1_alt", "ol1_ref", "ol2_alt", "ol2_ref"]
    g = GRIESEMER_GENOME
    assert k562.loc["ol0_ref", "sequence"] == g[10:20]
    assert k562.loc["ol0_alt", "sequence"] == g[10:14] + variants[0][6] + g[15:20]
    assert k562.loc["ol1_ref", "sequence"] == reverse_complement(g[30:40])  # minus strand: transcript orientation
    assert k562.loc["ol1_alt", "sequence"] == reverse_complement(g[30:32] + variants[1][6] + g[33:40])
    assert k562["target"].to_dict() == {"ol0_ref": 0.1, "ol0_alt": 0.4, "ol1_ref": 0.2, "ol1_alt": 0.5,
                                        "ol2_ref": 0.3, "ol2_alt": 0.6}
    # GENEA's and GENEC's oligos overlap (11-20 and 18-27): one group, so leave-one-gene-out keeps them together.
    assert k562["group"].to_dict() == {"ol0_ref": "GENEA+GENEC", "ol0_alt": "GENEA+GENEC", "ol1_ref": "GENEB",
                                       "ol1_alt": "GENEB", "ol2_ref": "GENEA+GENEC", "ol2_alt": "GENEA+GENEC"}
    # mv2 has no HEPG2 value for its alt allele: both of its oligos leave the HEPG2 table, as in the study.
    assert sorted(tables["HEPG2_log2fc"]["id"]) == ["ol0_alt", "ol0_ref", "ol2_alt", "ol2_ref"]


def test_griesemer_missing_column_names_the_file(tmp_path):
    write_griesemer(tmp_path)
    info = tmp_path / "Oligo_Variant_Info.txt"
    info.write_text(info.read_text().replace("gene_symbols", "symbol"))
    with pytest.raises(UserError, match="Oligo_Variant_Info.txt: missing column\\(s\\) gene_symbols"):
        mpra.read_griesemer(info, tmp_path / "Variant_MPRAu_Results.txt", tmp_path / "GRCh37.fa")


def test_generic_table(tmp_path):
    path = tmp_path / "mine.csv"
    pd.DataFrame({"name": ["a", "b", "c"], "seq": ["ACG", "CCG", "GGA"], "chrom": ["1", "1", "2"],
                  "act": [1.0, None, 3.0], "x": [0.1, 0.2, 0.3]}).to_csv(path, index=False)
    tables = mpra.read_generic(path, "name", "seq", "chrom", ["act", "x"])
    assert tables["act"]["id"].tolist() == ["a", "c"] and tables["x"]["group"].tolist() == ["1", "1", "2"]
    with pytest.raises(UserError, match="missing column"):
        mpra.read_generic(path, "name", "seq", "gene", ["act"])


def invoke(args, monkeypatch, cwd):
    monkeypatch.chdir(cwd)
    monkeypatch.syspath_prepend(str(BIN))
    from mpra_prep import main

    return CliRunner().invoke(main, [str(a) for a in args])


def test_cli_writes_tables_and_fasta(tmp_path, monkeypatch):
    write_griesemer(tmp_path)
    result = invoke(["--format", "griesemer", "--dataset", "griesemer", "--out-dir", "out",
                     "Oligo_Variant_Info.txt", "Variant_MPRAu_Results.txt", "GRCh37.fa"], monkeypatch, tmp_path)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "griesemer.HEPG2_log2fc.tsv", "griesemer.K562_log2fc.tsv", "griesemer.fa"]
    assert sorted(read_fasta(tmp_path / "out" / "griesemer.fa")) == [f"ol{i}_{t}" for i in range(3) for t in ("alt", "ref")]
    assert sorted(read_target_table(tmp_path / "out" / "griesemer.K562_log2fc.tsv")["target"]) == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]


def test_cli_bad_table_exits_2_without_output(tmp_path, monkeypatch):
    (tmp_path / "bad.txt").write_text("ACGT\t0.5\n")
    result = invoke(["--format", "fastutr", "--dataset", "x", "--out-dir", "out", "bad.txt"], monkeypatch, tmp_path)
    assert result.exit_code == 2 and "expected 3 tab-separated columns" in result.stderr
    assert not (tmp_path / "out").exists()
