#!/usr/bin/env python3
"""The run's MultiQC report: every task's metrics as the studies' tables beside the published values, plus provenance."""

import json
from pathlib import Path

import click

from utrbench.cli import command


@command()
@click.option("--metrics", "metrics_paths", multiple=True, type=click.Path(dir_okay=False), help="Metrics TSV (repeatable).")
@click.option("--published", "published_dir", required=True, type=click.Path(file_okay=False),
              help="Folder of the studies' numbers (assets/published).")
@click.option("--figure", "figures", multiple=True, type=click.Path(dir_okay=False), help="Task figure PNG (repeatable).")
@click.option("--model-card", "cards", multiple=True, type=click.Path(dir_okay=False), help="Model card JSON (repeatable).")
@click.option("--pretraining-run", "runs", multiple=True, type=click.Path(file_okay=False),
              help="Pretraining run folder <model id>_run with train_log.tsv (repeatable).")
@click.option("--params", "params_path", type=click.Path(dir_okay=False), help="The run's parameters as JSON.")
@click.option("--versions", "versions_path", type=click.Path(dir_okay=False), help="software_versions.yml.")
@click.option("--title", default="utrbench", show_default=True, help="Report title.")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False),
              help="Folder for multiqc_report.html and the custom content it was built from.")
def main(metrics_paths, published_dir, figures, cards, runs, params_path, versions_path, title, out_dir):
    import yaml

    from utrbench.errors import UserError
    from utrbench.io import atomic_output
    from utrbench.report import multiqc as content

    metrics = content.read_metrics_files(metrics_paths)
    published = content.read_published(published_dir)
    model_cards = [json.loads(Path(path).read_text()) for path in cards]
    study_names = {**content.BASELINE_STUDY_NAMES,
                   **{card["id"]: name for card in model_cards if (name := content.study_name(card))}}
    sections = content.task_sections(metrics, published, study_names)
    if not sections:
        raise UserError("no task metrics to report: none of the metrics files has a row.")
    if params_path:
        sections.append(content.params_section(json.loads(Path(params_path).read_text())))
    if model_cards:
        sections.append(content.models_section(model_cards))
    logs = {Path(run).name.removesuffix("_run"): Path(run) / "train_log.tsv" for run in runs
            if (Path(run) / "train_log.tsv").is_file()}
    if (curves := content.loss_curves_section(logs)) is not None:
        sections.append(curves)
    if versions_path:
        sections.append(content.versions_section(yaml.safe_load(Path(versions_path).read_text())))

    with atomic_output(out_dir) as tmp:
        content_dir = Path(tmp) / "multiqc_content"
        content.write_content(content_dir, sections, content.figure_sections(figures), title)
        content.render(content_dir, Path(tmp))
    click.echo(f"{len(sections)} sections -> {Path(out_dir) / 'multiqc_report.html'}", err=True)


if __name__ == "__main__":
    main()
