"""BUILD_UTR_DATASET end to end: the bin/ scripts chained as the subworkflow chains them, on assets/test.

The MAF route and the HAL route (hal2maf_batch.py with the contract test's fake hal2maf, which cuts
assets/test/alignment.maf per chromosome) must give the same dataset; a second run must give
byte-identical files.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from utrbench.io import read_probabilities
from utrbench.seq.alphabet import reverse_complement
from utrbench.seq.fasta import read_fasta

PROJECT = Path(__file__).resolve().parents[1]
ASSETS = PROJECT / "assets" / "test"
FAKE_HAL2MAF = PROJECT / "modules" / "local" / "hal2maf" / "tests" / "fake_hal2maf"


def step(script, *args, cwd):
    env = dict(os.environ, PROJECT_DIR=str(PROJECT))
    result = subprocess.run([sys.executable, str(PROJECT / "bin" / script), *map(str, args)],
                            cwd=cwd, capture_output=True, text=True, env=env)
    assert result.returncode == 0, f"{script}: {result.stderr}"


def build(workdir: Path, route: str) -> Path:
    """The subworkflow's steps with the test-profile values (spliced UTRs, 2 shards, seed 1)."""
    workdir.mkdir()
    step("utr_annotation.py", "--gtf", ASSETS / "annotation.gtf", "--spliced", "--min-length", 0,
         "--out-bed", "utrs.bed", "--out-table", "utrs.tsv", "--counts", "utr_counts.tsv", cwd=workdir)
    step("utr_sequences.py", "--bed", "utrs.bed", "--genome", ASSETS / "genome.fa", "--out", "utrs.fa", cwd=workdir)
    if route == "hal":
        (workdir / "zoonomia.hal").touch()
        step("hal2maf_batch.py", "--hal", "zoonomia.hal", "--bed", "utrs.bed", "--species", ASSETS / "species.txt",
             "--reference", "Homo_sapiens", "--out-dir", "maf", "--hal2maf", FAKE_HAL2MAF, cwd=workdir)
    else:
        (workdir / "maf").mkdir()
        os.symlink(ASSETS / "alignment.maf", workdir / "maf" / "alignment.maf")
    alignment = ("--bed", "utrs.bed", "--genome", ASSETS / "genome.fa", "--maf-dir", "maf", "--reference", "Homo_sapiens")
    step("utr_orthologs.py", *alignment, "--out-fasta", "orthologs.fa", "--out-coverage", "coverage.tsv", cwd=workdir)
    step("zooal.py", *alignment, "--pseudocount", 0, "--out", "zooal.h5", cwd=workdir)
    step("split_dataset.py", "--human", "utrs.fa", "--orthologs", "orthologs.fa", "--utr-table", "utrs.tsv",
         "--reference", "Homo_sapiens", "--valid-fraction", 0.25, "--shards", 2, "--seed", 1, "--out", "dataset",
         cwd=workdir)
    return workdir


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    return {name: build(root / name, route) for name, route in (("maf", "maf"), ("again", "maf"), ("hal", "hal"))}


OUTPUTS = ["utrs.bed", "utrs.tsv", "utr_counts.tsv", "utrs.fa", "orthologs.fa", "coverage.tsv",
           "dataset/train_000.fa", "dataset/train_001.fa", "dataset/valid.fa", "dataset/species.txt"]


def test_reruns_are_byte_identical_and_hal_route_matches(runs):
    for name in OUTPUTS + ["zooal.h5"]:
        assert (runs["maf"] / name).read_bytes() == (runs["again"] / name).read_bytes(), name
    for name in OUTPUTS:
        assert (runs["maf"] / name).read_bytes() == (runs["hal"] / name).read_bytes(), name
    assert sorted(p.name for p in (runs["hal"] / "maf").glob("*.maf")) == ["chr1.maf", "chr2.maf"]


def test_human_sequences_match_the_genome_in_transcript_orientation(runs):
    genome = read_fasta(ASSETS / "genome.fa")
    human = read_fasta(runs["maf"] / "utrs.fa")
    assert human["ENST01.1"] == genome["chr1"][403:700]
    assert human["ENST02.1"] == reverse_complement(genome["chr1"][1100:1497])
    assert human["ENST03.1"] == genome["chr2"][353:500] + genome["chr2"][600:800]
    assert human["ENST04A.1"] == reverse_complement(genome["chr2"][1200:1597])


def test_dataset_species_split_and_zooal(runs):
    out = runs["maf"]
    species = (out / "dataset" / "species.txt").read_text().split()
    assert species == ["Bos_taurus", "Canis_lupus", "Homo_sapiens", "Mus_musculus"]  # Pan_troglodytes unaligned
    train = {**read_fasta(out / "dataset" / "train_000.fa"), **read_fasta(out / "dataset" / "train_001.fa")}
    valid = read_fasta(out / "dataset" / "valid.fa")
    train_utrs = {name.split(":")[0] for name in train}
    valid_utrs = {name.split(":")[0] for name in valid}
    assert len(valid_utrs) == 1 and not train_utrs & valid_utrs
    assert len(train) + len(valid) == 4 + len(read_fasta(out / "orthologs.fa"))
    ids, probs, attrs = read_probabilities(out / "zooal.h5")
    human = read_fasta(out / "utrs.fa")
    assert ids == list(human)
    for utr_id in ids:
        assert probs[utr_id].shape == (len(human[utr_id]), 4)
        np.testing.assert_allclose(probs[utr_id].sum(axis=1), 1, rtol=1e-6)
        # the human base is counted at every position, so it always has a positive frequency
        assert (probs[utr_id][np.arange(len(human[utr_id])), ["ACGT".index(b) for b in human[utr_id]]] > 0).all()
