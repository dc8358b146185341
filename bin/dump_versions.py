#!/usr/bin/env python3
"""Write software_versions.yml from the (process, tool, version) tuples of the versions topic."""

import re
from pathlib import Path

import click

from utrbench import __version__
from utrbench.cli import command
from utrbench.errors import UserError

# `<script>.py --version` prints "utrbench 0.1.0; python 3.11.7; torch 2.13.0+cpu; ..." (utrbench.cli);
# older entry points and other tools print click's "utrbench, version 0.1.0" or a bare version.
CLICK_VERSION_LINE = re.compile(r"^\S+, version (?P<version>\S+)$")
LIBRARY_VERSION = re.compile(r"^(?P<name>[A-Za-z][\w.-]*) (?P<version>\S+)$")


def parse_versions(tool: str, text: str) -> dict:
    """``{tool: version}`` from one `eval` output: a utrbench library list, click's line or a bare version."""
    text = text.strip()
    parts = [part.strip() for part in text.split(";")]
    named = [LIBRARY_VERSION.match(part) for part in parts]
    if len(parts) > 1 and all(named):
        return {match.group("name"): match.group("version") for match in named}
    match = CLICK_VERSION_LINE.match(text)
    return {tool: match.group("version") if match else text}


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
        process, tool, text = (field.strip() for field in fields)
        for name, version in parse_versions(tool, text).items():
            known = versions.setdefault(process, {}).setdefault(name, version)
            if known != version:
                raise UserError(f"{path}, line {number}: {process} reports {name} as both {known} and {version}.")
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
