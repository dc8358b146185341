"""MultiQC custom content for the run's report: each task as the studies' tables, beside the published values.

MultiQC renders any ``*_mqc.yaml`` it finds as a report section (custom content), so the report is
built from plain data: :func:`task_sections` turns the shared metrics format (DESIGN.md) into one
sortable table per task in the study's layout (rows = model x predictor, columns = the study's
subsets: cell lines, conservation strata, variant splits), with the run's value, its CI, and the
published value of the study's model of the same kind; :func:`provenance_sections` adds the run's
parameters, its models and their pretraining loss curves. :func:`write_content` writes them, with the
task figures as ``*_mqc.png`` images and a ``multiqc_config.yaml`` that orders the sections.
"""

from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import yaml

from utrbench.errors import UserError
from utrbench.io import METRICS_COLUMNS


@dataclass(frozen=True)
class Section:
    """One task's table: which metrics rows it shows and how it pivots them."""

    id: str
    title: str
    description: str
    task: str
    metrics: tuple  # metric names shown; several metrics become several column groups
    datasets: tuple = ()  # empty: every dataset of the task
    columns: str = "subset"  # the metrics column whose values become table columns
    published_match: tuple = ("dataset", "subset", "predictor", "metric")  # keys a published row must share
    per_dataset: bool = False  # one table per dataset, titled by DATASET_TITLES


# In the studies' order: Tables 1/S6-S8 (MPRA), Fig 3/S9 (half-life), Fig 1/S2 (RBP), Fig 2/S3-S5
# (variants), the expression poster, Fig S2 (agreement with the alignment).
SECTIONS = (
    Section("mpra", "MPRA",
            "Pearson r of out-of-fold predictions of each MPRA measure per cell line, Ridge and SVR on each "
            "model's embeddings.", "mpra", ("pearson_r",), per_dataset=True),
    Section("halflife", "mRNA half-life (Fig 3, Table S9)",
            "Pearson r of pooled out-of-fold predictions over the 10 published folds of Agarwal & Kelley 2022.",
            "halflife", ("pearson_r",)),
    Section("rbp", "RBP binding motifs (Fig 1, Table S2)",
            "ROC AUC of functional RBNS motif sites (inside eCLIP peaks) against the same k-mers outside peaks, "
            "signed (higher score = functional); strata by PhyloP within RBP x motif.", "rbp", ("roc_auc", "pr_auc"),
            published_match=("dataset", "subset", "metric")),  # the study lists no strategy per model
    Section("variants", "Functional variants (Fig 2, Tables S3-S5)",
            "ROC AUC per variant split of the zero-shot scores, the embedding distances (l1, l2, dot, cosine) and "
            "the out-of-fold MLP and logistic-regression predictions on the [ref, alt] window embeddings (folds "
            "grouped by UTR): signed with each score's documented direction, and the study's direction-free "
            "max(AUC, 1 - AUC) as its own subset.", "variants", ("roc_auc",)),
    Section("expression", "Gene expression from the TSS window (DExTER vs fine-tuned models)",
            "Test-gene Pearson r, Spearman rho and R² with paired bootstrap CIs.",
            "expression", ("pearson_r", "spearman_rho", "r2"), columns="metric", published_match=("metric",)),
    Section("zooal_agreement", "Agreement with the alignment (Fig S2)",
            "Pearson r between each model's per-nucleotide probabilities and the Zoo-AL column frequencies.",
            "zooal_agreement", ("pearson_r",), published_match=("dataset", "subset", "metric")),
)
KNOWN_TASKS = {section.task for section in SECTIONS}
# The studies' tables of the datasets a per-dataset section may meet (any other dataset is titled by its name).
DATASET_TITLES = {"griesemer": "Griesemer 2021 (Table 1, Table S6)", "siegel": "Siegel 2022 (Tables S7, S8)"}

# Study names of models that come from the run's own steps rather than a model directory. A PhyloP
# track is compared with the study's 241-way one (the study's main track and test_full's input).
BASELINE_STUDY_NAMES = {"kmer5": "5-mers (Siegel)", "minseq": "Griesemer 2021", "zooal": "Zoo-AL", "Zoo-AL": "Zoo-AL",
                        "DExTER": "DExTER", "cadd": "CADD-1.7", "phylop": "PhyloP-241way"}


def read_metrics_files(paths) -> pd.DataFrame:
    """All metrics rows of ``paths``; a malformed row or an unknown task is an error naming file and line."""
    frames = []
    for path in paths:
        path = Path(path)
        lines = path.read_text().splitlines()
        if not lines or lines[0].split("\t") != METRICS_COLUMNS:
            raise UserError(f"{path}: line 1: expected the metrics header {' '.join(METRICS_COLUMNS)}.")
        if len(lines) == 1:
            raise UserError(f"{path}: no metrics rows below the header; the step that wrote it reported nothing.")
        rows = []
        for number, line in enumerate(lines[1:], start=2):
            fields = line.split("\t")
            if len(fields) != len(METRICS_COLUMNS):
                raise UserError(f"{path}: line {number}: expected {len(METRICS_COLUMNS)} tab-separated fields, "
                                f"got {len(fields)}.")
            if fields[0] not in KNOWN_TASKS:
                raise UserError(f"{path}: line {number}: unknown task {fields[0]!r}; the report knows "
                                f"{', '.join(sorted(KNOWN_TASKS))}.")
            try:
                values = [float(field) if field not in ("", "NA", "nan") else float("nan") for field in fields[6:9]]
            except ValueError:
                raise UserError(f"{path}: line {number}: value, ci_low and ci_high must be numbers.") from None
            rows.append(fields[:6] + values + [fields[9]])
        frames.append(pd.DataFrame(rows, columns=METRICS_COLUMNS))
    if not frames:
        return pd.DataFrame(columns=METRICS_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def read_published(directory) -> pd.DataFrame:
    """The studies' numbers (``assets/published/*.tsv``: the metrics format plus ``source``)."""
    paths = sorted(Path(directory).glob("*.tsv"))
    if not paths:
        raise UserError(f"{directory}: no published tables (*.tsv).")
    frames = [pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False) for path in paths]
    table = pd.concat(frames, ignore_index=True)
    table["value"] = pd.to_numeric(table["value"])
    return table


def study_name(card: dict) -> str | None:
    """The study's display name for a model of the run (reference 01 §1), or None when it has no counterpart.

    A card's own ``study_name`` (from its utrbench.json) wins; a model pretrained here on the 3'UTR
    dataset is the study's ``*-3UTR-RNA`` model of its family.
    """
    if card.get("study_name"):
        return card["study_name"]
    if card.get("origin") == "pretrained":
        return {"dnabert": "DNBT-3UTR-RNA", "dnabert2": "DNBT2-3UTR-RNA", "ntv2": "NT-3UTR-RNA",
                "statespace": "STSP-3UTR-RNA"}.get(card.get("family"))
    return None


def _format_ci(low: float, high: float) -> str:
    return "" if pd.isna(low) or pd.isna(high) else f"{low:.3f}–{high:.3f}"


def section_table(metrics: pd.DataFrame, published: pd.DataFrame, section: Section, study_names: dict) -> dict | None:
    """MultiQC custom content (a sortable table) for one section, or None when the task did not run."""
    rows = metrics[(metrics["task"] == section.task) & metrics["metric"].isin(section.metrics)]
    if section.datasets:
        rows = rows[rows["dataset"].isin(section.datasets)]
    if rows.empty:
        return None
    several_datasets = rows["dataset"].nunique() > 1 and section.columns != "dataset"
    study_rows = published[published["task"] == section.task]
    data, headers = {}, {}
    for record in rows.sort_values(["dataset", "model", "predictor", section.columns]).itertuples(index=False):
        record = record._asdict()
        row_name = f"{record['model']} · {record['predictor']}"
        if several_datasets:
            row_name = f"{record['dataset']} · {row_name}"
        pivot = record[section.columns]
        column = pivot if len(section.metrics) == 1 or section.columns == "metric" else f"{pivot} {record['metric']}"
        cells = data.setdefault(row_name, {})
        study = study_names.get(record["model"])
        cells["study model"] = study or ""
        cells[column] = record["value"]
        cells[f"{column} CI"] = _format_ci(record["ci_low"], record["ci_high"])
        cells[f"{column} n"] = record["n"]
        headers.setdefault(column, {"title": column, "format": "{:,.3f}", "scale": "RdYlGn"})
        headers.setdefault(f"{column} CI", {"title": f"{column} 95 % CI"})
        headers.setdefault(f"{column} n", {"title": f"{column} n", "hidden": True})
        if study:
            match = study_rows[study_rows["model"] == study]
            for key in section.published_match:
                match = match[match[key] == record[key]]
            if len(match):
                cells[f"{column} published"] = float(match["value"].iloc[0])
                cells.setdefault("published source", match["source"].iloc[0])
                headers.setdefault(f"{column} published", {"title": f"{column} published", "format": "{:,.3f}"})
    headers = {"study model": {"title": "study model"}, **dict(sorted(headers.items()))}
    if any("published source" in cells for cells in data.values()):
        headers["published source"] = {"title": "published source"}
    return {
        "id": section.id,
        "section_name": section.title,
        "description": section.description + " Columns 'published' give the study's value for the model of the "
                                              "same kind (column 'study model'; reference notes 01 §6, 02 §4).",
        "plot_type": "table",
        "pconfig": {"id": f"{section.id}_table", "title": section.title, "col1_header": "model · predictor",
                    "sort_rows": False},
        "headers": headers,
        "data": data,
    }


def task_sections(metrics: pd.DataFrame, published: pd.DataFrame, study_names: dict) -> list:
    """One table per task that ran (per dataset where the study has one table each), in the studies' order."""
    sections = []
    for section in SECTIONS:
        if section.per_dataset:
            datasets = sorted(set(metrics.loc[metrics["task"] == section.task, "dataset"]))
            sections.extend(replace(section, id=f"{section.id}_{dataset}", datasets=(dataset,),
                                    title=f"{section.title}: {DATASET_TITLES.get(dataset, dataset)}")
                            for dataset in datasets)
        else:
            sections.append(section)
    tables = (section_table(metrics, published, section, study_names) for section in sections)
    return [table for table in tables if table is not None]


def models_section(cards: list) -> dict:
    """The run's models: family, size, parameters, tokenizer, context, species, where each came from."""
    fields = ["family", "size", "parameters", "tokenizer", "context_tokens", "species_aware", "origin",
              "provenance", "study model"]
    data = {}
    for card in sorted(cards, key=lambda card: card["id"]):
        row = {key: card.get(key, "") for key in fields if key != "study model"}
        row["species_aware"] = "yes" if card.get("species_aware") else "no"
        row["study model"] = study_name(card) or ""
        data[card["id"]] = row
    headers = {key: {"title": key} for key in fields}
    headers["parameters"]["format"] = "{:,.0f}"
    return {"id": "provenance_models", "section_name": "Provenance: models",
            "description": "Every model of the run: pretrained here (recipe, selected checkpoint) or a model "
                           "directory (SHA-256 of its source files).",
            "plot_type": "table", "pconfig": {"id": "provenance_models_table", "title": "Models",
                                              "col1_header": "model"},
            "headers": headers, "data": data}


def params_section(params: dict) -> dict:
    """The run's parameters, one row each, as text (a seed is not a quantity to colour or group by thousands)."""
    data = {name: {"value": value if isinstance(value, str) else repr(value)}
            for name, value in sorted(params.items()) if value is not None and not name.startswith("_")}
    return {"id": "provenance_params", "section_name": "Provenance: parameters",
            "description": "The parameters of this run (defaults included).",
            "plot_type": "table", "pconfig": {"id": "provenance_params_table", "title": "Parameters",
                                              "col1_header": "parameter"},
            "headers": {"value": {"title": "value", "scale": False}}, "data": data}


def loss_curves_section(train_logs: dict) -> dict | None:
    """Pretraining loss per step for every run (``{model id: train_log.tsv}``), training and validation."""
    data = {}
    for model, path in sorted(train_logs.items()):
        log = pd.read_csv(path, sep="\t")
        for column, label in (("loss", "train"), ("valid_loss", "valid")):
            if column in log.columns:
                points = log[["step", column]].dropna()
                if len(points):
                    data[f"{model} {label}"] = dict(zip(points["step"].astype(int).tolist(),
                                                        points[column].astype(float).tolist()))
    if not data:
        return None
    return {"id": "provenance_pretraining", "section_name": "Provenance: pretraining loss",
            "description": "Masked-LM loss per optimiser step (train_log.tsv of every pretraining run).",
            "plot_type": "linegraph",
            "pconfig": {"id": "provenance_pretraining_plot", "title": "Pretraining loss", "xlab": "step",
                        "ylab": "loss"},
            "data": data}


def figure_sections(figures) -> dict:
    """``{content file name: (section title, PNG path, task, dataset)}`` for every task figure.

    A figure is named after its task, then (for MPRA) its dataset: ``mpra.toy.pearson_r.png``,
    ``variants_roc.png``; the task is the name up to the first '.' or '_' that names a known task.
    """
    titles = {section.task: section.title for section in SECTIONS}
    images = {}
    for path in sorted(Path(figure) for figure in figures):
        if path.suffix != ".png":
            continue
        task = next((t for t in sorted(titles, key=len, reverse=True)
                     if path.stem == t or path.stem.startswith((f"{t}.", f"{t}_"))), None)
        if task is not None:
            dataset = path.stem[len(task) + 1:].split(".")[0] if path.stem.startswith(f"{task}.") else ""
            images[f"figure_{path.stem.replace('.', '_')}_mqc.png"] = (
                f"{titles[task]}: figure {path.stem}", path, task, dataset)
    return images


def write_content(out_dir, sections: list, images: dict, title: str) -> None:
    """Write ``*_mqc.yaml`` sections, ``*_mqc.png`` figures and ``multiqc_config.yaml`` into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    order = {}
    for rank, section in enumerate(sections):
        (out_dir / f"{section['id']}_mqc.yaml").write_text(yaml.safe_dump(section, sort_keys=False, allow_unicode=True))
        order[section["id"]] = {"order": -rank * 100}  # room for the figures placed after each table
    custom_data, placed = {}, {}
    for name, (image_title, path, task, dataset) in images.items():
        (out_dir / name).write_bytes(Path(path).read_bytes())
        anchor = name.removesuffix("_mqc.png")
        custom_data[anchor] = {"section_name": image_title}
        # right after its task's table (the dataset's own table for per-dataset tasks), in name order
        ids = [s["id"] for s in sections if s["id"] == task or s["id"].startswith(f"{task}_")]
        table = f"{task}_{dataset}" if f"{task}_{dataset}" in ids else (ids[-1] if ids else None)
        placed[table] = placed.get(table, 0) + 1
        order[anchor] = {"order": order[table]["order"] - placed[table] if table else -10_000}
    config = {"title": title, "intro_text": "DNA foundation models on 3'UTR biology and gene expression: "
                                             "this run's results beside the studies' published numbers.",
              "show_analysis_paths": False, "show_analysis_time": False, "report_section_order": order,
              "custom_data": custom_data, "skip_generalstats": True,
              "no_version_check": True}  # no network at run time
    (out_dir / "multiqc_config.yaml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))


def versions_section(versions: dict) -> dict:
    """software_versions.yml as a table: one row per process, one column per library."""
    tools = sorted({tool for entry in versions.values() for tool in entry})
    data = {process: {tool: str(entry.get(tool, "")) for tool in tools} for process, entry in sorted(versions.items())}
    return {"id": "provenance_versions", "section_name": "Provenance: software versions",
            "description": "Versions of the libraries in each process's environment (`<step>.py --version`).",
            "plot_type": "table", "pconfig": {"id": "provenance_versions_table", "title": "Software versions",
                                              "col1_header": "process"},
            "headers": {tool: {"title": tool} for tool in tools}, "data": data}


def render(content_dir, out_dir) -> Path:
    """Run MultiQC on ``content_dir``; returns the path of ``multiqc_report.html`` in ``out_dir``."""
    import multiqc
    from multiqc.core.update_config import ClConfig

    result = multiqc.run(str(content_dir), cfg=ClConfig(
        output_dir=str(out_dir), filename="multiqc_report.html", config_files=[str(Path(content_dir) / "multiqc_config.yaml")],
        make_data_dir=False, force=True, quiet=True, no_ansi=True, strict=True))
    report = Path(out_dir) / "multiqc_report.html"
    if result.sys_exit_code != 0 or not report.is_file():
        raise UserError(f"MultiQC failed on {content_dir}: {result.message}")
    return report
