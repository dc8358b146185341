#!/usr/bin/env python3
"""The run's MultiQC report: every task's metrics as the studies' tables beside the published values, plus provenance."""

import fnmatch
import json
import os
from pathlib import Path

import click

from utrbench.cli import command


def found(paths, pattern: str) -> list:
    """Files matching ``pattern`` under each folder of ``paths`` (recursively), files as given; sorted.

    A folder that does not exist holds nothing: Nextflow creates a staging folder only for inputs
    that have files (a run without pretraining has no train logs). Links are followed: Nextflow stages
    a folder input (a pretraining run) as a link, which ``Path.rglob`` would not enter.
    """
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(sorted(Path(root) / name for root, _, names in os.walk(path, followlinks=True)
                                for name in fnmatch.filter(names, pattern)))
        elif path.exists():
            files.append(path)
    return files


@command()
@click.option("--metrics", "metrics_paths", multiple=True, type=click.Path(), help="Metrics TSV, or a folder of them (repeatable).")
@click.option("--published", "published_dir", required=True, type=click.Path(file_okay=False),
              help="Folder of the studies' numbers (assets/published).")
@click.option("--figure", "figures", multiple=True, type=click.Path(), help="Task figure PNG, or a folder of them (repeatable).")
@click.option("--model-card", "cards", multiple=True, type=click.Path(), help="Model card JSON, or a folder of them (repeatable).")
@click.option("--pretraining-run", "runs", multiple=True, type=click.Path(),
              help="train_log.tsv of a run folder <model id>_run, or a folder of run folders (repeatable).")
@click.option("--params", "params_path", type=click.Path(dir_okay=False), help="The run's parameters as JSON.")
@click.option("--versions", "versions_path", type=click.Path(dir_okay=False), help="software_versions.yml.")
@click.option("--title", default="utrbench", show_default=True, help="Report title.")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False),
              help="Folder for multiqc_report.html and the custom content it was built from.")
def main(metrics_paths, published_dir, figures, cards, runs, params_path, versions_path, title, out_dir):
    import yaml

    from utrbench.io import atomic_output
    from utrbench.report import multiqc as content

    metrics = content.read_metrics_files(found(metrics_paths, "*.tsv"))
    published = content.read_published(published_dir)
    model_cards = [json.loads(path.read_text()) for path in found(cards, "*.card.json")]
    study_names = {**content.BASELINE_STUDY_NAMES,
                   **{card["id"]: name for card in model_cards if (name := content.study_name(card))}}
    # A run without tasks (pretraining only, say) still gets its provenance report.
    sections = content.task_sections(metrics, published, study_names)
    if params_path:
        sections.append(content.params_section(json.loads(Path(params_path).read_text())))
    if model_cards:
        sections.append(content.models_section(model_cards))
    logs = {log.parent.name.removesuffix("_run"): log for log in found(runs, "train_log.tsv")}
    if (curves := content.loss_curves_section(logs)) is not None:
        sections.append(curves)
    if versions_path:
        sections.append(content.versions_section(yaml.safe_load(Path(versions_path).read_text())))

    with atomic_output(out_dir) as tmp:
        content_dir = Path(tmp) / "multiqc_content"
        content.write_content(content_dir, sections, content.figure_sections(found(figures, "*.png")), title)
        content.render(content_dir, Path(tmp))
    click.echo(f"{len(sections)} sections -> {Path(out_dir) / 'multiqc_report.html'}", err=True)


if __name__ == "__main__":
    main()
