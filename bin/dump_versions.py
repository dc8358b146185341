#!/usr/bin/env python3
"""Write software_versions.yml from the (process, tool, version) tuples of the versions topic."""

import re
from pathlib import Path

import click

from utrbench import __version__
from utrbench.cli import command
from utrbench.errors import UserError

# `<script>.py --version` prints click's "utrbench, version 0.1.0"; the YAML keeps the number only.
CLICK_VERSION_LINE = re.compile(r"^\S+, version (?P<version>\S+)$")


def normalise_version(text: str) -> str:
    """The bare version from an `eval` output: click's version line or a version as is."""
    text = text.strip()
    match = CLICK_VERSION_LINE.match(text)
    return match.group("version") if match else text


def read_versions(path) -> dict:
    """``{process: {tool: version}}`` from lines ``process<TAB>tool<TAB>version`` (blank lines skipped).

    The same process and tool with two different versions is an error: the YAML could show only one.
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: file not found.")
    versions = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 3 or not all(field.strip() for field in fields):
            raise UserError(f"{path}, line {number}: expected 'process<TAB>tool<TAB>version', got {line!r}.")
        process, tool, version = (field.strip() for field in fields)
        version = normalise_version(version)
        known = versions.setdefault(process, {}).setdefault(tool, version)
        if known != version:
            raise UserError(f"{path}, line {number}: {process} reports {tool} as both {known} and {version}.")
    return versions


def software_versions(versions: dict, pipeline_version: str, nextflow_version: str) -> dict:
    """Add the ``Workflow`` entry (Nextflow and utrbench versions) to the per-process versions."""
    if "Workflow" in versions:
        raise UserError("a process named 'Workflow' clashes with the Workflow entry of software_versions.yml.")
    return {**versions, "Workflow": {"Nextflow": nextflow_version, "utrbench": pipeline_version}}


@command()
@click.option("--versions", "versions_path", required=True, type=click.Path(), help="TSV: process, tool, version.")
@click.option("--pipeline-version", default=__version__, show_default=True, help="utrbench version of the run.")
@click.option("--nextflow-version", required=True, help="Nextflow version of the run.")
@click.option("--out", "out", required=True, type=click.Path(), help="YAML file to write.")
def main(versions_path, pipeline_version, nextflow_version, out):
    import yaml

    from utrbench.io import atomic_output

    document = software_versions(read_versions(versions_path), pipeline_version, nextflow_version)
    with atomic_output(out) as tmp:
        Path(tmp).write_text(yaml.safe_dump(document, sort_keys=True, default_flow_style=False))


if __name__ == "__main__":
    main()
