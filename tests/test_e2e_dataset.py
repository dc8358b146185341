"""BUILD_UTR_DATASET end to end: the bin/ scripts chained as the subworkflow chains them, on assets/test.

The MAF route (aligned-bases orthologs) and the HAL route (the study's stop-codon rule, with the
contract tests' fake hal2maf, which cuts assets/test/alignment.maf per chromosome, and fake
hal2fasta, which rebuilds the species contigs from it) share the annotation, human sequences and
Zoo-AL alignment; a second run must give byte-identical files.
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
FAKE_HAL2FASTA = PROJECT / "modules" / "local" / "hal_species_utrs" / "tests" / "fake_hal2fasta"


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
    alignment = ("--bed", "utrs.bed", "--genome", ASSETS / "genome.fa", "--maf-dir", "maf", "--reference", "Homo_sapiens")
    if route == "hal":
        (workdir / "zoonomia.hal").touch()
        for chrom in ("chr1", "chr2"):  # one HAL2MAF task per chromosome, for the UTRs and their stop codons
            for targets, extra in (("maf", ()), ("codons", ("--stop-codons",))):
                step("hal2maf_batch.py", "--hal", "zoonomia.hal", "--bed", "utrs.bed", "--species", ASSETS / "species.txt",
                     "--chrom", chrom, *extra, "--reference", "Homo_sapiens", "--out-dir", targets,
                     "--hal2maf", FAKE_HAL2MAF, cwd=workdir)
        step("hal_ortholog_regions.py", "--bed", "utrs.bed", "--genome", ASSETS / "genome.fa", "--maf-dir", "codons",
             "--species", ASSETS / "species.txt", "--out-regions", "regions.tsv", "--out-summary", "summary.tsv",
             cwd=workdir)
        species = sorted({line.split("\t")[1] for line in (workdir / "regions.tsv").read_text().splitlines()[1:]})
        for name in species:
            step("hal_species_utrs.py", "--hal", "zoonomia.hal", "--species", name, "--regions", "regions.tsv",
                 "--hal2fasta", FAKE_HAL2FASTA, "--out", f"{name}.fa", cwd=workdir)
        # collectFile(sort: name) in the subworkflow
        (workdir / "orthologs.fa").write_text("".join((workdir / f"{name}.fa").read_text() for name in species))
    else:
        (workdir / "maf").mkdir()
        os.symlink(ASSETS / "alignment.maf", workdir / "maf" / "alignment.maf")
        step("utr_orthologs.py", *alignment, "--species", ASSETS / "species.txt", "--min-coverage", 0.5,
             "--out-fasta", "orthologs.fa", "--out-coverage", "coverage.tsv", "--out-summary", "coverage_summary.tsv",
             cwd=workdir)
    step("zooal.py", *alignment, "--pseudocount", 0, "--out", "zooal.h5", cwd=workdir)
    step("split_dataset.py", "--human", "utrs.fa", "--orthologs", "orthologs.fa", "--utr-table", "utrs.tsv",
         "--reference", "Homo_sapiens", "--valid-fraction", 0.25, "--shards", 2, "--seed", 1, "--out", "dataset",
         cwd=workdir)
    return workdir


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    return {name: build(root / name, route) for name, route in (("maf", "maf"), ("again", "maf"), ("hal", "hal"))}


SHARED = ["utrs.bed", "utrs.tsv", "utr_counts.tsv", "utrs.fa", "dataset/species.txt"]
OUTPUTS = SHARED + ["orthologs.fa", "coverage.tsv", "coverage_summary.tsv",
                    "dataset/train_000.fa", "dataset/train_001.fa", "dataset/valid.fa"]


def test_reruns_are_byte_identical_and_routes_share_annotation_and_zooal(runs):
    for name in OUTPUTS + ["zooal.h5"]:
        assert (runs["maf"] / name).read_bytes() == (runs["again"] / name).read_bytes(), name
    for name in SHARED:
        assert (runs["maf"] / name).read_bytes() == (runs["hal"] / name).read_bytes(), name
    maf_zooal, hal_zooal = read_probabilities(runs["maf"] / "zooal.h5")[1], read_probabilities(runs["hal"] / "zooal.h5")[1]
    for utr_id, probs in maf_zooal.items():
        np.testing.assert_array_equal(probs, hal_zooal[utr_id])
    assert sorted(p.name for p in (runs["hal"] / "maf").glob("*.maf")) == ["chr1.maf", "chr2.maf"]


def test_hal_route_orthologs_follow_the_matching_stop_codon(runs):
    # The fake HAL's species contigs are 100 kb, so no UTR is clipped: every ortholog has the human
    # length, and a species whose aligned stop codon differs from the human one has none.
    out = runs["hal"]
    human = read_fasta(out / "utrs.fa")
    orthologs = read_fasta(out / "orthologs.fa")
    assert orthologs and all(len(seq) == len(human[name.split(":")[0]]) for name, seq in orthologs.items())
    summary = [line.split("\t") for line in (out / "summary.tsv").read_text().splitlines()[1:]]
    assert ["Homo_sapiens", "stop_codon", "4"] in summary
    outcomes = {(species, outcome): int(n) for species, outcome, n in summary}
    for species in ("Bos_taurus", "Canis_lupus", "Mus_musculus"):
        assert outcomes.get((species, "ortholog"), 0) == sum(1 for name in orthologs if name.endswith(":" + species))


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
