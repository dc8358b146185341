"""The 3'UTR study end to end, outside Nextflow: every module's real `script:` run as the `test` profile runs it.

Each step renders ``modules/local/<name>/main.nf``'s script with tests/contracts.py, using the values
the workflow gives its inputs under ``-profile test`` (conf/test.config over nextflow.config), in its
own task directory where the inputs are staged under the names (and ``stageAs`` folders) Nextflow
gives them. The chain follows workflows/utrbench.nf:

BUILD_UTR_DATASET -> PRETRAIN (statespace tiny) + SELECT_CHECKPOINT 'valid' -> IMPORT_MODEL (the --models
row: the study's tiny DSS model.pt) -> EMBED (SHARD_FASTA, both models x shards of the human UTRs and MPRA oligos, MERGE_SHARDS)
-> ZEROSHOT 'exact' (the pretrained statespace; SHARD_FASTA, per shard, MERGE_SHARDS)
-> MPRA_PREP + TASK_MPRA (kmer3, minseq baselines; ridge; GroupKFold(5))
-> TASK_HALFLIFE (kmer2 baseline; ridge; leave one published fold out).

A second run of the whole chain in a fresh directory, concurrent with the first (as Nextflow would run
independent tasks), must give byte-identical outputs. Seven steps start an interpreter that imports
torch and transformers, so the module is marked slow.
"""

import filecmp
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from contracts import PROJECT_DIR, parse_module, render_gstring, task_environment
from utrbench.io import METRICS_COLUMNS, read_metrics

ASSETS = PROJECT_DIR / "assets" / "test"
PRETRAINED = "statespace_tiny"   # meta.id of PRETRAIN for --pretrain_families statespace --pretrain_size tiny
IMPORTED = "study_dss"           # meta.id of the test profile's --models row (assets/test/models.csv)
MODELS = {PRETRAINED: "statespace", IMPORTED: "statespace"}

# The params of `-profile test` that the steps below read (conf/test.config, else nextflow.config).
PARAMS = {
    "utr_reference": "Homo_sapiens",
    "utr_single_exon_only": False,
    "utr_min_length": 0,
    "zooal_pseudocount": 0,
    "pretrain_valid_fraction": 0.25,
    "pretrain_shards": 2,
    "pretrain_selection": "valid",
    "zeroshot_strategies": "exact",
    "inference_shard_nt": 10000,
    "mpra_dataset": "toy",
    "mpra_format": "fastutr",
    "mpra_alphas": "siegel",
    "mpra_n_folds": 5,
    "mpra_baselines": "kmer3,minseq",
    "halflife_baselines": "kmer2",
    "task_predictors": "ridge",
    "seed": 1,
}
# task.cpus of REGRESS: label process_medium (6 cpus) capped by the test profile's resourceLimits.
REGRESS_CPUS = 2
# EMBED/ZEROSHOT's per-model flags (species, token budget, ...): the samplesheet's species for the imported model.
MODEL_ARGS = {PRETRAINED: "", IMPORTED: "--species Homo_sapiens"}

pytestmark = pytest.mark.slow  # about 20 interpreter start-ups per run, 7 of them importing torch


def run_task(name, workdir: Path, values: dict, inputs: dict) -> Path:
    """Run module ``name``'s script in a fresh task directory under ``workdir``; return that directory.

    ``inputs`` maps staged names (``maf/alignment.maf``) to files, linked in as Nextflow stages
    them; ``values`` gives the Groovy expressions of the script (``args`` is empty: the test
    profile sets no ext.args for these modules).
    """
    taskdir = workdir / f"{name}.{len(list(workdir.glob(name + '.*')))}"
    taskdir.mkdir(parents=True)
    for staged, source in inputs.items():
        (taskdir / staged).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(Path(source).resolve(), taskdir / staged)
    spec = parse_module(PROJECT_DIR / "modules" / "local" / name / "main.nf")
    script = render_gstring(spec.script, {"args": "", **values})
    result = subprocess.run(["bash", "-ue", "-c", script], cwd=taskdir, env=task_environment(),
                            capture_output=True, text=True)
    assert result.returncode == 0, f"{name} failed:\n$ {script}\n{result.stdout}{result.stderr}"
    return taskdir


def shard(workdir, dataset_id, fasta) -> list:
    """SHARD_FASTA: the dataset's shard FASTAs, in shard order."""
    taskdir = run_task("shard_fasta", workdir, {"dataset.id": dataset_id, "fasta": fasta.name,
                                                "shard_nt": PARAMS["inference_shard_nt"]}, {fasta.name: fasta})
    return sorted((taskdir / "shards").glob("shard_*.fa"))


def merge(workdir, name, shard_files) -> Path:
    """MERGE_SHARDS of per-shard results given in shard order."""
    staged = {f"shards/{path.name}": path for path in shard_files}
    return run_task("merge_shards", workdir, {"name": name, "shards": " ".join(staged)}, staged) / name


def embed(workdir, model_id, model_dir, dataset_id, fasta) -> Path:
    per_shard = []
    for shard_fasta in shard(workdir, dataset_id, fasta):
        values = {"model_dir": model_dir.name, "meta.family": MODELS[model_id], "meta.id": model_id,
                  "fasta": shard_fasta.name, "device": "cpu", "model_args": MODEL_ARGS[model_id], "dataset.id": dataset_id,
                  "shard.index": shard_fasta.stem, "shard_nt": PARAMS["inference_shard_nt"]}
        taskdir = run_task("embed", workdir, values, {model_dir.name: model_dir, shard_fasta.name: shard_fasta})
        per_shard.append(taskdir / f"{model_id}.{dataset_id}.{shard_fasta.stem}.embeddings.h5")
    return merge(workdir, f"{model_id}.{dataset_id}.embeddings.h5", per_shard)


def regress(workdir, model, embeddings, dataset, subset, targets, task_name, alphas, n_folds) -> Path:
    prefix = f"{model}.{dataset}.{subset}"
    values = {"embeddings": embeddings.name, "targets": targets.name, "task_name": task_name, "meta.model": model,
              "meta.dataset": dataset, "meta.subset": subset, "alphas": alphas, "n_folds": n_folds,
              "predictor_flags": " ".join(f"--predictor {name}" for name in PARAMS["task_predictors"].split(",")),
              "seed": PARAMS["seed"], "task.cpus": REGRESS_CPUS}
    taskdir = run_task("regress", workdir, values, {embeddings.name: embeddings, targets.name: targets})
    return taskdir / f"{prefix}.metrics.tsv"


def plot_task(workdir, metrics, task_name) -> Path:
    staged = {f"metrics/{index}/{path.name}": path for index, path in enumerate(metrics, start=1)}
    taskdir = run_task("plot_task", workdir, {"metrics": " ".join(staged), "task_name": task_name}, staged)
    return taskdir / task_name


def run_study(workdir: Path) -> dict:
    """The test profile's 3'UTR study in ``workdir``; the paths of its published outputs."""
    seed = PARAMS["seed"]
    reference = PARAMS["utr_reference"]
    genome = ASSETS / "genome.fa"

    # BUILD_UTR_DATASET
    annotation = run_task("utr_annotation", workdir, {
        "gtf": "annotation.gtf", "min_length": PARAMS["utr_min_length"],
        "exon_rule": "--single-exon-only" if PARAMS["utr_single_exon_only"] else "--spliced",
    }, {"annotation.gtf": ASSETS / "annotation.gtf"})
    bed, table = annotation / "utrs.bed", annotation / "utrs.tsv"
    sequences = run_task("utr_sequences", workdir, {"bed": "utrs.bed", "genome": "genome.fa"},
                         {"utrs.bed": bed, "genome.fa": genome})
    human = sequences / "utrs.fa"
    alignment_inputs = {"utrs.bed": bed, "genome.fa": genome, "maf/alignment.maf": ASSETS / "alignment.maf"}
    orthologs = run_task("utr_orthologs", workdir, {"bed": "utrs.bed", "genome": "genome.fa", "reference": reference},
                         alignment_inputs)
    zooal = run_task("zooal", workdir, {"bed": "utrs.bed", "genome": "genome.fa", "reference": reference,
                                        "pseudocount": PARAMS["zooal_pseudocount"]}, alignment_inputs)
    split = run_task("split_dataset", workdir, {
        "human_fasta": "utrs.fa", "ortholog_fasta": "orthologs.fa", "utr_table": "utrs.tsv", "exclusion": "",
        "reference": reference, "valid_fraction": PARAMS["pretrain_valid_fraction"],
        "shards": PARAMS["pretrain_shards"], "seed": seed,
    }, {"utrs.fa": human, "orthologs.fa": orthologs / "orthologs.fa", "utrs.tsv": table})
    shards = sorted((split / "dataset").glob("train_*.fa"))
    assert [path.name for path in shards] == ["train_000.fa", "train_001.fa"]

    # PRETRAIN + SELECT_CHECKPOINT
    staged_shards = {f"train/{path.name}": path for path in shards}
    pretrain = run_task("pretrain", workdir, {
        "recipe": f"{PRETRAINED}.json", "valid": "valid.fa", "species": "species.txt", "seed": seed,
        "device": "cpu", "nproc": 1, "meta.id": PRETRAINED, "train_shards": " ".join(staged_shards),
    }, {f"{PRETRAINED}.json": PROJECT_DIR / "conf" / "recipes" / f"{PRETRAINED}.json",
        "valid.fa": split / "dataset" / "valid.fa", "species.txt": split / "dataset" / "species.txt", **staged_shards})
    run = pretrain / f"{PRETRAINED}_run"
    selected = run_task("select_checkpoint", workdir, {"run": run.name, "rule": PARAMS["pretrain_selection"],
                                                       "meta.id": PRETRAINED}, {run.name: run})
    imported = run_task("import_model", workdir, {"meta.family": MODELS[IMPORTED], "meta.id": IMPORTED,
                                                  "checkpoint": "checkpoint"},
                        {"checkpoint": ASSETS / "models" / "study_dss"})
    model_dirs = {PRETRAINED: selected / PRETRAINED, IMPORTED: imported / IMPORTED}

    # MPRA_PREP, EMBED of the human UTRs ('utrs') and the oligos, ZEROSHOT of the model with an LM head
    dataset = PARAMS["mpra_dataset"]
    mpra_table = ASSETS / "tasks" / "mpra_fastutr.txt"
    mpra = run_task("mpra_prep", workdir, {"meta.format": PARAMS["mpra_format"], "meta.id": dataset,
                                           "tables": mpra_table.name}, {mpra_table.name: mpra_table}) / "mpra"
    embeddings = {(model, data): embed(workdir, model, model_dirs[model], data, fasta)
                  for model in MODELS for data, fasta in (("utrs", human), (dataset, mpra / f"{dataset}.fa"))}
    strategy = PARAMS["zeroshot_strategies"]
    prefix = f"{PRETRAINED}.utrs.{strategy.replace(':', '')}"
    per_shard = []
    for shard_fasta in shard(workdir, "utrs", human):
        shard_prefix = f"{prefix}.{shard_fasta.stem}"
        per_shard.append(run_task("zeroshot", workdir, {
            "model_dir": PRETRAINED, "meta.family": MODELS[PRETRAINED], "meta.id": PRETRAINED,
            "fasta": shard_fasta.name, "strategy": strategy, "device": "cpu", "model_args": MODEL_ARGS[PRETRAINED],
            "prefix": shard_prefix, "shard_nt": PARAMS["inference_shard_nt"],
        }, {PRETRAINED: model_dirs[PRETRAINED], shard_fasta.name: shard_fasta}) / f"{shard_prefix}.probs.h5")
    probabilities = merge(workdir, f"{prefix}.probs.h5", per_shard)

    # TASK_MPRA: baselines as embeddings, one regression per model x target table
    mpra_embeddings = {model: embeddings[model, dataset] for model in MODELS}
    for features in PARAMS["mpra_baselines"].split(","):
        taskdir = run_task("sequence_features", workdir, {"fasta": f"{dataset}.fa", "meta.model": features,
                                                          "meta.dataset": dataset}, {f"{dataset}.fa": mpra / f"{dataset}.fa"})
        mpra_embeddings[features] = taskdir / f"{features}.{dataset}.h5"
    mpra_metrics = [
        regress(workdir, model, h5, dataset, targets.name[len(dataset) + 1:].removesuffix(".tsv"), targets, "mpra",
                PARAMS["mpra_alphas"], PARAMS["mpra_n_folds"])
        for model, h5 in mpra_embeddings.items() for targets in sorted(mpra.glob(f"{dataset}.*.tsv"))
    ]
    mpra_report = plot_task(workdir, mpra_metrics, "mpra")

    # TASK_HALFLIFE: targets joined to the dataset's UTRs by gene, the ten published folds as groups
    halflife_table = ASSETS / "tasks" / "binnedgenes.txt"
    halflife = run_task("halflife_prep", workdir, {
        "halflife_table": halflife_table.name, "utr_fasta": "utrs.fa", "mapping": "--utr-table utrs.tsv",
        "dataset": "halflife",
    }, {halflife_table.name: halflife_table, "utrs.fa": human, "utrs.tsv": table}) / "halflife"
    halflife_embeddings = {model: embeddings[model, "utrs"] for model in MODELS}
    for features in PARAMS["halflife_baselines"].split(","):
        taskdir = run_task("sequence_features", workdir, {"fasta": "halflife.fa", "meta.model": features,
                                                          "meta.dataset": "halflife"}, {"halflife.fa": halflife / "halflife.fa"})
        halflife_embeddings[features] = taskdir / f"{features}.halflife.h5"
    halflife_metrics = [regress(workdir, model, h5, "halflife", "all", halflife / "halflife.all.tsv", "halflife",
                                "halflife", 0) for model, h5 in halflife_embeddings.items()]
    halflife_report = plot_task(workdir, halflife_metrics, "halflife")

    return {
        "human": human, "table": table, "zooal": zooal / "zooal.h5", "train": shards, "valid": split / "dataset" / "valid.fa",
        "models": model_dirs, "embeddings": embeddings, "probabilities": probabilities, "mpra_fasta": mpra / f"{dataset}.fa",
        "mpra_subsets": sorted(path.name[len(dataset) + 1:-4] for path in mpra.glob(f"{dataset}.*.tsv")),
        "mpra_models": sorted(mpra_embeddings), "halflife_models": sorted(halflife_embeddings),
        "mpra_metrics": mpra_report / "metrics.tsv", "halflife_metrics": halflife_report / "metrics.tsv",
        "halflife_targets": halflife / "halflife.all.tsv",
    }


def fasta_lengths(path) -> dict:
    """Record id -> sequence length of a FASTA (a slow, independent reader kept in the test)."""
    lengths, name = {}, None
    for line in Path(path).read_text().splitlines():
        if line.startswith(">"):
            name = line[1:].split()[0]
            lengths[name] = 0
        else:
            lengths[name] += len(line.strip())
    return lengths


def read_embeddings(path):
    with h5py.File(path, "r") as handle:
        return [name.decode() if isinstance(name, bytes) else name for name in handle["ids"][:]], handle["embeddings"][:]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e_pipeline")
    with ThreadPoolExecutor(max_workers=2) as pool:  # two chains on two cores; each step is one process
        return tuple(pool.map(run_study, [root / "first", root / "again"]))


def test_dataset_split_covers_the_human_utrs(runs):
    outputs, _ = runs
    utrs = fasta_lengths(outputs["human"])
    assert utrs and set(utrs) == set(pd.read_csv(outputs["table"], sep="\t")["utr_id"])
    split_ids = set()
    for path in [*outputs["train"], outputs["valid"]]:
        split_ids |= {name.split(":")[0] for name in fasta_lengths(path)}
    assert split_ids == set(utrs)


def test_embeddings_have_one_row_per_record(runs):
    outputs, _ = runs
    for (model, dataset), path in outputs["embeddings"].items():
        fasta = outputs["human"] if dataset == "utrs" else outputs["mpra_fasta"]
        ids, matrix = read_embeddings(path)
        assert ids == list(fasta_lengths(fasta)), (model, dataset)
        assert matrix.shape[0] == len(ids) and np.isfinite(matrix).all()
    _, imported = read_embeddings(outputs["embeddings"][IMPORTED, "utrs"])
    assert imported.shape[1] == 32 and np.ptp(imported, axis=0).max() > 0  # the study DSS's d_model
    _, pretrained = read_embeddings(outputs["embeddings"][PRETRAINED, "utrs"])
    assert np.ptp(pretrained, axis=0).max() > 0  # different UTRs, different embeddings


def test_zeroshot_probabilities_cover_every_utr(runs):
    outputs, _ = runs
    lengths = fasta_lengths(outputs["human"])
    with h5py.File(outputs["probabilities"], "r") as handle:
        ids = [name.decode() if isinstance(name, bytes) else name for name in handle["ids"][:]]
        offsets, probs = handle["offsets"][:], handle["probs"][:].astype(np.float64)
    assert ids == list(lengths)
    np.testing.assert_array_equal(np.diff(offsets), [lengths[name] for name in ids])
    assert offsets[0] == 0 and offsets[-1] == probs.shape[0] and probs.shape[1] == 4
    assert (probs >= 0).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=2e-3)  # float16 storage rounds


@pytest.mark.parametrize("task", ["mpra", "halflife"])
def test_metrics_have_one_pearson_row_per_model_and_subset(runs, task):
    outputs, _ = runs
    metrics = read_metrics(outputs[f"{task}_metrics"])
    assert list(metrics.columns) == METRICS_COLUMNS
    subsets = outputs["mpra_subsets"] if task == "mpra" else ["all"]
    pearson = metrics[metrics["metric"] == "pearson_r"]
    expected = sorted((model, subset) for model in outputs[f"{task}_models"] for subset in subsets)
    assert sorted(zip(pearson["model"], pearson["subset"])) == expected
    assert (pearson["task"] == task).all() and (pearson["predictor"] == "ridge").all()
    assert pearson["value"].between(-1, 1).all()
    assert (pearson["ci_low"] <= pearson["value"]).all() and (pearson["value"] <= pearson["ci_high"]).all()
    if task == "halflife":
        assert (pearson["n"] == len(pd.read_csv(outputs["halflife_targets"], sep="\t"))).all()


def test_rerun_is_byte_identical(runs):
    first, again = runs
    pairs = [(first["mpra_metrics"], again["mpra_metrics"]), (first["halflife_metrics"], again["halflife_metrics"]),
             (first["probabilities"], again["probabilities"]), (first["zooal"], again["zooal"]),
             *((first["embeddings"][key], again["embeddings"][key]) for key in first["embeddings"])]
    different = [str(a.name) for a, b in pairs if not filecmp.cmp(a, b, shallow=False)]
    assert not different, f"outputs differ between two runs: {different}"
