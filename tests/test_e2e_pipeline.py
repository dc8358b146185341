"""The 3'UTR study end to end, outside Nextflow: every module's real `script:` run as the `test` profile runs it.

Each step renders ``modules/local/<name>/main.nf``'s script with tests/contracts.py, using the values
the workflow gives its inputs under ``-profile test`` (conf/test.config over nextflow.config), in its
own task directory where the inputs are staged under the names (and ``stageAs`` folders) Nextflow
gives them. The chain follows workflows/utrbench.nf:

BUILD_UTR_DATASET -> PRETRAIN (statespace tiny) + SELECT_CHECKPOINT 'valid' -> IMPORT_MODEL (the --models
row: the study's tiny DSS model.pt) -> EMBED (SHARD_FASTA, both models x shards of the human UTRs and MPRA oligos, MERGE_SHARDS)
-> ZEROSHOT 'exact' (the pretrained statespace; SHARD_FASTA, per shard, MERGE_SHARDS)
-> TASK_RBP (sites from the test peaks and RBNS table; statespace, Zoo-AL and PhyloP scores; metrics)
-> MPRA_PREP + TASK_MPRA (kmer3, minseq baselines; ridge; GroupKFold(5))
-> TASK_HALFLIFE (kmer2 baseline; ridge; leave one published fold out)
-> TASK_VARIANTS (variant sets from every source of the test profile, windows, ZEROSHOT and EMBED of
   the statespace model on its RNA windows, scores of it, Zoo-AL, PhyloP and CADD, its classifier's
   out-of-fold predictions, metrics and figures).

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
from utrbench.train.trainer import CONTINUE_EXIT_STATUS

ASSETS = PROJECT_DIR / "assets" / "test"
PRETRAINED = "statespace_tiny"   # meta.id of PRETRAIN for --pretrain_families statespace --pretrain_size tiny
IMPORTED = "study_dss"           # meta.id of the test profile's --models row (assets/test/models.csv)
MODELS = {PRETRAINED: "statespace", IMPORTED: "statespace"}

# The params of `-profile test` that the steps below read (conf/test.config, else nextflow.config).
PARAMS = {
    "utr_reference": "Homo_sapiens",
    "utr_single_exon_only": False,
    "utr_min_length": 0,
    "utr_min_coverage": 0.5,
    "zooal_pseudocount": 0,
    "pretrain_valid_fraction": 0.25,
    "pretrain_shards": 2,
    "pretrain_selection": "valid",
    "pretrain_max_hours": 0.0005,
    "zeroshot_strategies": "exact",
    "inference_shard_nt": 10000,
    "mpra_dataset": "toy",
    "mpra_format": "fastutr",
    "mpra_alphas": "siegel",
    "mpra_n_folds": 5,
    "mpra_baselines": "kmer3,minseq",
    "halflife_baselines": "kmer2",
    "rbp_stepwise_r_min": 0,
    "rbp_bootstrap": 20,
    "rbp_bootstrap_seed": 0,
    "task_predictors": "ridge,svr",
    "variants_per_class": 40,
    "variants_window": 256,
    "variants_vis_widths": "16,32,64,128,256",
    "variants_strategies": "dnabert:strided:32,default:unmasked",
    "classify_trials": 6,
    "classify_outer_folds": 4,
    "classify_inner_folds": 3,
    "classify_pruning": True,
    "seed": 1,
}
VARIANT_ASSETS = ASSETS / "tasks" / "variants"
# CADD's ext.args in conf/modules.config
CADD_ARGS = "--cadd-column RawScore"
# task.cpus of label process_medium (REGRESS, UTR_ORTHOLOGS, ZOOAL): 6 cpus capped by the test profile's resourceLimits.
MEDIUM_CPUS = 2
REGRESS_ARGS = "--svr-trials 5"  # ext.args of REGRESS in conf/test.config
CLASSIFY_ARGS = "--epochs 10 --batch-size 32"  # ext.args of VARIANT_CLASSIFY in conf/test.config
# EMBED/ZEROSHOT's per-model flags (species, token budget, ...): the samplesheet's species for the imported model.
MODEL_ARGS = {PRETRAINED: "", IMPORTED: "--species Homo_sapiens"}

pytestmark = pytest.mark.slow  # about 20 interpreter start-ups per run, 7 of them importing torch


def run_task(name, workdir: Path, values: dict, inputs: dict, retry_status=None) -> Path:
    """Run module ``name``'s script in a fresh task directory under ``workdir``; return that directory.

    ``inputs`` maps staged names (``maf/alignment.maf``) to files, linked in as Nextflow stages
    them; ``values`` gives the Groovy expressions of the script (``args``, the module's ext.args, is
    empty unless ``values`` sets it as the test profile does). An exit with ``retry_status`` runs the
    task again in a new directory, as the module's errorStrategy does.
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
    if retry_status is not None and result.returncode == retry_status:
        return run_task(name, workdir, values, inputs, retry_status)
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
              "seed": PARAMS["seed"], "task.cpus": MEDIUM_CPUS, "args": REGRESS_ARGS}
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
    orthologs = run_task("utr_orthologs", workdir, {
        "bed": "utrs.bed", "genome": "genome.fa", "reference": reference, "min_coverage": PARAMS["utr_min_coverage"],
        "species_option": "--species species.txt", "task.cpus": MEDIUM_CPUS}, {**alignment_inputs, "species.txt": ASSETS / "species.txt"})
    zooal = run_task("zooal", workdir, {"bed": "utrs.bed", "genome": "genome.fa", "reference": reference,
                                        "pseudocount": PARAMS["zooal_pseudocount"], "task.cpus": MEDIUM_CPUS}, alignment_inputs)
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
        "checkpoint_root": workdir / "pretraining-checkpoints", "max_hours": PARAMS["pretrain_max_hours"], "task.cpus": 2,
    }, {f"{PRETRAINED}.json": PROJECT_DIR / "conf" / "recipes" / f"{PRETRAINED}.json",
        "valid.fa": split / "dataset" / "valid.fa", "species.txt": split / "dataset" / "species.txt", **staged_shards},
        retry_status=CONTINUE_EXIT_STATUS)
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

    # ZEROSHOT's PHYLOP baseline and TASK_RBP over the human UTRs ('utrs')
    rbp_inputs = ASSETS / "tasks" / "rbp"
    phylop = run_task("phylop", workdir, {"meta.id": "utrs", "bed": "utrs.bed", "bigwig": "phylop.bw"},
                      {"utrs.bed": bed, "phylop.bw": rbp_inputs / "phylop.bw"}) / "utrs.phylop.h5"
    peaks = {f"eclip/{n}/{path.name}": path for n, path in enumerate(sorted(rbp_inputs.glob("*.narrowPeak")), start=1)}
    sites = run_task("rbp_sites", workdir, {
        "dataset.id": "utrs", "bed": "utrs.bed", "fasta": "utrs.fa", "motifs": "rbns.tsv",
        "eclip_flags": " ".join(f"--eclip {name}" for name in peaks), "stepwise_r_min": PARAMS["rbp_stepwise_r_min"],
        "seed": seed,
    }, {"utrs.bed": bed, "utrs.fa": human, "rbns.tsv": rbp_inputs / "rbns.tsv", **peaks}) / "utrs.rbp_sites.tsv"
    # groupTuple sorted by file name: the statespace probabilities, utrs.phylop.h5, zooal.h5
    score_files = {f"scores/{n}/{path.name}": path for n, path in
                   enumerate(sorted([probabilities, phylop, zooal / "zooal.h5"], key=lambda p: p.name), start=1)}
    scores = run_task("rbp_scores", workdir, {
        "dataset.id": "utrs", "sites": "sites.tsv", "fasta": "utrs.fa",
        "score_flags": " ".join(f"--scores {name}" for name in score_files),
    }, {"sites.tsv": sites, "utrs.fa": human, **score_files}) / "utrs.rbp_scores.tsv"
    rbp_report = run_task("rbp_metrics", workdir, {
        "dataset.id": "utrs", "sites": "sites.tsv", "scores": "scores.tsv", "n_bootstrap": PARAMS["rbp_bootstrap"],
        "seed": PARAMS["rbp_bootstrap_seed"],
    }, {"sites.tsv": sites, "scores.tsv": scores}) / "rbp"

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

    variants = run_variant_task(workdir, bed, genome, zooal / "zooal.h5", model_dirs[PRETRAINED], probabilities)

    return {
        **variants,
        "human": human, "table": table, "zooal": zooal / "zooal.h5", "train": shards, "valid": split / "dataset" / "valid.fa",
        "models": model_dirs, "embeddings": embeddings, "probabilities": probabilities, "mpra_fasta": mpra / f"{dataset}.fa",
        "mpra_subsets": sorted(path.name[len(dataset) + 1:-4] for path in mpra.glob(f"{dataset}.*.tsv")),
        "mpra_models": sorted(mpra_embeddings), "halflife_models": sorted(halflife_embeddings),
        "mpra_metrics": mpra_report / "metrics.tsv", "halflife_metrics": halflife_report / "metrics.tsv",
        "halflife_targets": halflife / "halflife.all.tsv",
        "rbp_sites": sites, "rbp_scores": scores, "rbp_metrics": rbp_report / "metrics.tsv",
        "rbp_figure": rbp_report / "rbp.utrs.roc_auc.png",
    }


def run_variant_task(workdir, bed, genome, zooal, model_dir, utr_probabilities) -> dict:
    """PHYLOP and CADD of ZEROSHOT, then TASK_VARIANTS as subworkflows/local/task_variants runs it."""
    seed = PARAMS["seed"]
    phylop = run_task("phylop", workdir, {"meta.id": "utrs", "bed": "utrs.bed", "bigwig": "phylop.bw"},
                      {"utrs.bed": bed, "phylop.bw": VARIANT_ASSETS / "phylop.bw"}) / "utrs.phylop.h5"
    cadd_tsv = VARIANT_ASSETS / "whole_genome_SNVs.tsv.gz"
    cadd = run_task("cadd", workdir, {"meta.id": "utrs", "bed": "utrs.bed", "tsv": cadd_tsv.name, "tbi": cadd_tsv.name + ".tbi",
                                      "args": CADD_ARGS},
                    {"utrs.bed": bed, cadd_tsv.name: cadd_tsv, cadd_tsv.name + ".tbi": Path(f"{cadd_tsv}.tbi")}) / "utrs.cadd.h5"
    staged = {"clinvar/clinvar.vcf.gz": VARIANT_ASSETS / "clinvar.vcf.gz",
              "gnomad/gnomad.sites.vcf.bgz": VARIANT_ASSETS / "gnomad.sites.vcf.bgz",
              "gnomad/gnomad.sites.vcf.bgz.tbi": VARIANT_ASSETS / "gnomad.sites.vcf.bgz.tbi",
              "eqtl/QTD000001.credible_sets.tsv.gz": VARIANT_ASSETS / "QTD000001.credible_sets.tsv.gz",
              "cadd/humanDerived_SNVs.vcf.gz": VARIANT_ASSETS / "humanDerived_SNVs.vcf.gz",
              "cadd/simulation_SNVs.vcf.gz": VARIANT_ASSETS / "simulation_SNVs.vcf.gz",
              "tables/own_variants.tsv": VARIANT_ASSETS / "own_variants.tsv"}
    source_args = ("--clinvar clinvar/clinvar.vcf.gz --gnomad gnomad/gnomad.sites.vcf.bgz "
                   "--eqtl eqtl/QTD000001.credible_sets.tsv.gz --cadd cadd/humanDerived_SNVs.vcf.gz "
                   "--cadd cadd/simulation_SNVs.vcf.gz --table tables/own_variants.tsv")
    sets = run_task("variant_sets", workdir, {
        "bed": "utrs.bed", "genome": "genome.fa", "source_args": source_args, "per_class": PARAMS["variants_per_class"],
        "flags": "", "seed": seed,
    }, {"utrs.bed": bed, "genome.fa": genome, **staged})
    variants = sets / "variants.tsv"
    windows = run_task("variant_windows", workdir, {"variants": "variants.tsv", "bed": "utrs.bed", "genome": "genome.fa",
                                                    "window": PARAMS["variants_window"]},
                       {"variants.tsv": variants, "utrs.bed": bed, "genome.fa": genome})
    # statespace falls under 'default:unmasked'; models trained on the dataset score RNA windows
    strategy = PARAMS["variants_strategies"].split(",")[-1].split(":", 1)[1]
    prefix = f"{PRETRAINED}.variant_windows_rna.{strategy.replace(':', '')}"
    per_shard = []  # ZEROSHOT_SHARDED, as for the UTRs
    for shard_fasta in shard(workdir, "variant_windows_rna", windows / "variant_windows.rna.fa"):
        shard_prefix = f"{prefix}.{shard_fasta.stem}"
        per_shard.append(run_task("zeroshot", workdir, {
            "model_dir": PRETRAINED, "meta.family": MODELS[PRETRAINED], "meta.id": PRETRAINED, "fasta": shard_fasta.name,
            "strategy": strategy, "device": "cpu", "model_args": MODEL_ARGS[PRETRAINED], "prefix": shard_prefix,
            "shard_nt": PARAMS["inference_shard_nt"],
        }, {PRETRAINED: model_dir, shard_fasta.name: shard_fasta}) / f"{shard_prefix}.probs.h5")
    window_probs = merge(workdir, f"{prefix}.probs.h5", per_shard)
    window_embeddings = embed(workdir, PRETRAINED, model_dir, "variant_windows_rna", windows / "variant_windows.rna.fa")
    common = {"variants.tsv": variants, "variant_windows.tsv": windows / "variant_windows.tsv", "utrs.bed": bed}
    index_arg = "--windows-index variant_windows.tsv --orientation rna"
    jobs = {  # model: utr_arg, window_arg, embedding_arg, index_arg, inputs
        PRETRAINED: (f"--utr-probs {utr_probabilities.name}",
                     f"--window-probs {window_probs.name} --windows-fasta variant_windows.rna.fa",
                     f"--window-embeddings {window_embeddings.name}", index_arg,
                     {utr_probabilities.name: utr_probabilities, window_probs.name: window_probs,
                      "variant_windows.rna.fa": windows / "variant_windows.rna.fa", window_embeddings.name: window_embeddings}),
        "zooal": ("--utr-probs zooal.h5", "", "", "", {"zooal.h5": zooal}),
        "phylop": ("--phylop utrs.phylop.h5", "", "", "", {"utrs.phylop.h5": phylop}),
        "cadd": ("--cadd utrs.cadd.h5", "", "", "", {"utrs.cadd.h5": cadd}),
    }
    scores = {}
    for model, (utr_arg, window_arg, embedding_arg, index_arg, inputs) in jobs.items():
        taskdir = run_task("variant_scores", workdir, {
            "meta.id": model, "variants": "variants.tsv", "bed": "utrs.bed", "utr_arg": utr_arg, "window_arg": window_arg,
            "embedding_arg": embedding_arg, "index_arg": index_arg, "vis_widths": PARAMS["variants_vis_widths"],
        }, {**common, **inputs})
        scores[model] = taskdir / f"{model}.variant_scores.tsv"
    classify = run_task("variant_classify", workdir, {
        "meta.id": PRETRAINED, "meta.orientation": "rna", "embeddings": window_embeddings.name, "variants": "variants.tsv",
        "windows_index": "variant_windows.tsv", "options.trials": PARAMS["classify_trials"],
        "options.outer_folds": PARAMS["classify_outer_folds"], "options.inner_folds": PARAMS["classify_inner_folds"],
        "pruning": "--pruning" if PARAMS["classify_pruning"] else "--no-pruning", "seed": seed, "device": "cpu",
        "args": CLASSIFY_ARGS,
    }, {**common, window_embeddings.name: window_embeddings})
    predictions = classify / f"{PRETRAINED}.variant_classify.tsv"
    # collect(sort: true) of the scores and predictions tables
    staged_scores = {f"scores/{path.name}": path for path in sorted([*scores.values(), predictions], key=lambda p: p.name)}
    report = run_task("variant_metrics", workdir, {"seed": seed, "scores": " ".join(staged_scores)}, staged_scores) / "variants"
    return {"variants": variants, "variant_counts": sets / "variant_counts.tsv", "variant_windows": windows,
            "window_probabilities": window_probs, "window_embeddings": window_embeddings, "variant_scores": scores,
            "variant_predictions": predictions, "variant_folds": classify / f"{PRETRAINED}.variant_classify_folds.tsv",
            "variant_metrics": report / "metrics.tsv",
            "variant_figures": sorted(report.glob("*.p*"))}


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
def test_metrics_have_one_pearson_row_per_model_subset_and_predictor(runs, task):
    outputs, _ = runs
    metrics = read_metrics(outputs[f"{task}_metrics"])
    assert list(metrics.columns) == METRICS_COLUMNS
    subsets = outputs["mpra_subsets"] if task == "mpra" else ["all"]
    pearson = metrics[metrics["metric"] == "pearson_r"]
    predictors = PARAMS["task_predictors"].split(",")
    expected = sorted((model, subset, predictor) for model in outputs[f"{task}_models"] for subset in subsets
                      for predictor in predictors)
    assert sorted(zip(pearson["model"], pearson["subset"], pearson["predictor"])) == expected
    assert (pearson["task"] == task).all()
    assert pearson["value"].between(-1, 1).all()
    assert (pearson["ci_low"] <= pearson["value"]).all() and (pearson["value"] <= pearson["ci_high"]).all()
    if task == "halflife":
        assert (pearson["n"] == len(pd.read_csv(outputs["halflife_targets"], sep="\t"))).all()


def test_rbp_task_scores_every_site_with_every_model_and_baseline(runs):
    outputs, _ = runs
    sites = pd.read_csv(outputs["rbp_sites"], sep="\t")
    assert set(sites["label"]) == {0, 1} and sites["site_id"].is_unique
    scores = pd.read_csv(outputs["rbp_scores"], sep="\t")
    assert list(scores.columns) == ["site_id", "label", f"{PRETRAINED}/exact", "phylop/score", "Zoo-AL/alignment"]
    assert scores["site_id"].tolist() == sites["site_id"].tolist()
    assert scores[f"{PRETRAINED}/exact"].between(0, 1).all()
    metrics = read_metrics(outputs["rbp_metrics"])
    auc = metrics[metrics["metric"] == "roc_auc"]
    assert sorted(zip(auc["model"], auc["subset"])) == sorted(
        (model, subset) for model in (PRETRAINED, "phylop", "Zoo-AL") for subset in ("all", "phylop_top10", "phylop_bottom10"))
    # the test PhyloP track is planted 3 units higher inside the bound RBP's peaks
    assert auc.set_index(["model", "subset"]).loc[("phylop", "all"), "value"] > 0.9
    assert outputs["rbp_figure"].stat().st_size > 0


def test_variant_task_scores_every_split_model_and_score(runs):
    outputs, _ = runs
    variants = pd.read_csv(outputs["variants"], sep="\t")
    assert set(variants["split"]) == {"clinvar", "gnomAD", "eQTL", "CADD", "custom"}
    metrics = read_metrics(outputs["variant_metrics"])
    signed = metrics[(metrics["subset"] == "signed") & (metrics["metric"] == "roc_auc")]
    widths = PARAMS["variants_vis_widths"].split(",")
    expected_scores = {PRETRAINED: {"pref", "palt_inv", "pratio", "VIS", "loss_ref", "loss_alt", "loss_diff",
                                    *(f"VIS_{w}" for w in widths), "l1", "l2", "dot", "cosine", "mlp", "logistic"},
                       "zooal": {"pref", "palt_inv", "pratio"}, "phylop": {"phylop"}, "cadd": {"cadd"}}
    for model, scores in expected_scores.items():
        for split in set(variants["split"]):
            got = set(signed[(signed["model"] == model) & (signed["dataset"] == split)]["predictor"])
            assert got == scores, (model, split)
    phylop = signed[signed["model"] == "phylop"].set_index("dataset")["value"]
    assert (phylop > 0.9).all(), phylop  # the planted conservation signal
    free = metrics[metrics["subset"] == "direction_free"]
    assert len(free) == len(signed) and (free["value"] >= 0.5).all()
    folds = pd.read_csv(outputs["variant_folds"], sep="\t")
    assert len(folds) == len(set(variants["split"])) * PARAMS["classify_outer_folds"]
    assert (folds["trials_complete"] + folds["trials_pruned"] == PARAMS["classify_trials"]).all()
    assert {path.name for path in outputs["variant_figures"]} == {
        f"variants_{name}.{suffix}" for name in ("roc", "auc_heatmap", "vis_gain") for suffix in ("png", "pdf")}


def test_rerun_is_byte_identical(runs):
    first, again = runs
    pairs = [(first["rbp_sites"], again["rbp_sites"]), (first["rbp_scores"], again["rbp_scores"]),
             (first["rbp_metrics"], again["rbp_metrics"]), (first["rbp_figure"], again["rbp_figure"]),
             (first["mpra_metrics"], again["mpra_metrics"]), (first["halflife_metrics"], again["halflife_metrics"]),
             (first["variants"], again["variants"]), (first["variant_metrics"], again["variant_metrics"]),
             (first["window_probabilities"], again["window_probabilities"]),
             (first["window_embeddings"], again["window_embeddings"]),
             (first["variant_predictions"], again["variant_predictions"]), (first["variant_folds"], again["variant_folds"]),
             *zip(first["variant_figures"], again["variant_figures"]),
             *((first["variant_scores"][key], again["variant_scores"][key]) for key in first["variant_scores"]),
             (first["probabilities"], again["probabilities"]), (first["zooal"], again["zooal"]),
             *((first["embeddings"][key], again["embeddings"][key]) for key in first["embeddings"])]
    different = [str(a.name) for a, b in pairs if not filecmp.cmp(a, b, shallow=False)]
    assert not different, f"outputs differ between two runs: {different}"
