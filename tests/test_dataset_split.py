"""Pretraining dataset split (utrbench.align.split, bin/split_dataset.py)."""

import subprocess
import sys
from pathlib import Path

import pytest

from utrbench.align.split import split_id, validation_utrs, write_dataset
from utrbench.errors import UserError
from utrbench.seq.fasta import read_fasta

PROJECT = Path(__file__).resolve().parents[1]
SPECIES = ["Bos", "Canis", "Mus"]


@pytest.fixture
def dataset(tmp_path):
    human = tmp_path / "human.fa"
    human.write_text("".join(f">U{i}\nACGT{'A' * i}\n" for i in range(20)))
    orthologs = tmp_path / "orth.fa"
    orthologs.write_text("".join(f">U{i}:{s}\nCCGT{'C' * i}\n" for i in range(20) for s in SPECIES if (i + len(s)) % 4))
    table = tmp_path / "utrs.tsv"
    table.write_text("utr_id\tgene_id\tgene_name\tchrom\tstrand\tlength\tn_exons\n"
                     + "".join(f"U{i}\tENSG{i:05d}.3\tGENE{i}\tchr1\t+\t10\t1\n" for i in range(20)))
    excluded = tmp_path / "exclude.txt"
    excluded.write_text("# evaluation genes\nENSG00003\nGENE4\nU5\n")
    return human, orthologs, table, excluded


def run_split(tmp_path, human, orthologs, *extra, out="ds"):
    return subprocess.run(
        [sys.executable, str(PROJECT / "bin" / "split_dataset.py"), "--human", str(human), "--orthologs",
         str(orthologs), "--reference", "Homo", "--valid-fraction", "0.25", "--seed", "3", "--out", out, *extra],
        cwd=tmp_path, capture_output=True, text=True)


def records(directory, pattern):
    found = {}
    for path in sorted(directory.glob(pattern)):
        found.update(read_fasta(path))
    return found


def test_split_by_utr_exclusion_shards_and_species(dataset, tmp_path):
    human, orthologs, table, excluded = dataset
    result = run_split(tmp_path, human, orthologs, "--utr-table", str(table), "--exclude-genes", str(excluded),
                       "--shards", "3")
    assert result.returncode == 0, result.stderr
    out = tmp_path / "ds"
    assert sorted(p.name for p in out.iterdir()) == ["species.txt", "train_000.fa", "train_001.fa",
                                                     "train_002.fa", "valid.fa"]
    train, valid = records(out, "train_*.fa"), records(out, "valid.fa")
    utrs_of = lambda ids: {split_id(i, "x")[0] for i in ids}  # noqa: E731
    assert not utrs_of(train) & utrs_of(valid)  # no UTR on both sides
    assert utrs_of(train) | utrs_of(valid) == {f"U{i}" for i in range(20)} - {"U3", "U4", "U5"}
    assert len(utrs_of(valid)) == round(0.25 * 17)
    expected_total = sum(1 + sum(bool((i + len(s)) % 4) for s in SPECIES) for i in range(20) if i not in (3, 4, 5))
    assert len(train) + len(valid) == expected_total
    assert {**train, **valid}["U0:Homo"] == "ACGT"
    assert (out / "species.txt").read_text() == "Bos\nCanis\nHomo\nMus\n"


def test_split_is_deterministic_and_seed_dependent(dataset, tmp_path):
    human, orthologs, _, _ = dataset
    for name, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        assert run_split(tmp_path, human, orthologs, "--shards", "2", "--seed", seed, out=name).returncode == 0
    read = lambda name: [(tmp_path / name / f).read_bytes() for f in ("train_000.fa", "train_001.fa", "valid.fa")]  # noqa: E731
    assert read("a") == read("b")
    assert read("a") != read("c")


def test_validation_utrs_is_independent_of_input_order():
    ids = [f"U{i}" for i in range(100)]
    assert validation_utrs(ids, 0.1, 5) == validation_utrs(ids[::-1], 0.1, 5)
    assert len(validation_utrs(ids, 0.1, 5)) == 10


def test_bad_ortholog_header_exits_2_without_output(dataset, tmp_path):
    human, orthologs, _, _ = dataset
    orthologs.write_text(">U1:Mus\nACGT\n>U2\nACGT\n")
    result = run_split(tmp_path, human, orthologs)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {orthologs}: record 'U2' is not named 'utr_id:species'."
    assert not (tmp_path / "ds").exists()


def test_split_id_rejects_extra_fields():
    with pytest.raises(UserError, match="not named 'utr_id:species'"):
        split_id("U1:Mus:chr5", "f.fa")


def test_split_memory_does_not_grow_with_sequence_length(tmp_path):
    """Peak Python memory of the split is the same for 0.1 Mbp and 20 Mbp of sequence (one shard)."""
    import tracemalloc

    import numpy as np

    def peak(length, name):
        rng = np.random.default_rng(0)
        sequence = "".join(rng.choice(list("ACGT"), length))
        records = ((f"U{i}", "Mus", sequence) for i in range(100))  # streamed, as iter_dataset_records does
        tracemalloc.start()
        write_dataset(records, tmp_path / name, valid_utrs={"U1"}, skip_utrs=set(), shards=1, seed=1)
        used = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return used

    small, large = peak(1_000, "small"), peak(200_000, "large")
    assert (tmp_path / "large" / "train_000.fa").stat().st_size > 99 * 200_000
    # the old split read the whole shard into strings: 2 x 20 MB; now about one record at a time
    assert large < small + 3 * 200_000, (small, large)
