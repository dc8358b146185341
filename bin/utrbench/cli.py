"""Shared plumbing for the ``bin/*.py`` entry points.

Every script is::

    from utrbench.cli import command

    @command()
    @click.option(...)
    def main(...):
        ...  # call into the package, write outputs atomically

    if __name__ == "__main__":
        main()

:func:`command` adds ``--version``, turns :class:`~utrbench.errors.UserError` into
``error: <message>`` on stderr with exit status 2, and points every cache a library
might write to at the task directory, offline, so no task touches the network or
a shared home directory.
"""

import functools
import os
import platform
import sys
from pathlib import Path

import click

from utrbench import __version__
from utrbench.errors import UserError

# Libraries that cache or phone home; each gets a task-local directory unless the user set one.
_CACHE_VARIABLES = {
    "HF_HOME": "huggingface",
    "HF_HUB_CACHE": "huggingface/hub",
    "TRITON_CACHE_DIR": "triton",
    "XDG_CACHE_HOME": "xdg",
    "TORCH_HOME": "torch",
    "MPLCONFIGDIR": "matplotlib",
    "NUMBA_CACHE_DIR": "numba",
}


# Libraries whose versions decide a step's numbers; `--version` reports those installed, so every
# process's entry in software_versions.yml names the libraries of the environment it ran in.
REPORTED_LIBRARIES = ("torch", "transformers", "tokenizers", "safetensors", "numpy", "scipy", "pandas",
                      "scikit-learn", "optuna", "h5py", "pysam", "bx-python", "pyBigWig", "multiqc")


def version_line() -> str:
    """``utrbench 0.1.0; python 3.11.7; torch 2.13.0+cpu; ...``: the versions topic's text for one process.

    Read from package metadata, so nothing heavy is imported; torch's local version label names its
    build (``+cpu``, ``+cu126``), and a CUDA build adds the CUDA version it was built for.
    """
    from importlib import metadata

    parts = [f"utrbench {__version__}", f"python {platform.python_version()}"]
    for name in REPORTED_LIBRARIES:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        parts.append(f"{name} {version}")
        if name == "torch" and "+cu" in version:
            cuda = version.split("+cu", 1)[1]
            parts.append(f"cuda {cuda[:-1]}.{cuda[-1]}")
    return "; ".join(parts)


def isolate_environment() -> None:
    """Task-local caches and no hub access (models load from local paths only)."""
    root = Path.cwd() / ".cache"
    for name, sub in _CACHE_VARIABLES.items():
        os.environ.setdefault(name, str(root / sub))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # Weight-loading progress bars of transformers would drown the step's own progress output.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def command(**click_kwargs):
    """Decorator: a click command with ``--version`` and clean user-error handling."""

    def decorate(function):
        @functools.wraps(function)
        def run(*args, **kwargs):
            try:
                return function(*args, **kwargs)
            except UserError as error:
                click.echo(f"error: {error}", err=True)
                sys.exit(UserError.exit_code)

        run = click.version_option(__version__, prog_name="utrbench", message=version_line())(run)
        return click.command(**click_kwargs)(run)

    isolate_environment()
    return decorate


def device_option(function):
    """``--device``: 'cpu', 'cuda' or 'auto' (cuda when available)."""
    return click.option(
        "--device",
        type=click.Choice(["auto", "cpu", "cuda"]),
        default="auto",
        show_default=True,
        help="Where to run the model; modules pass 'cuda' when the task has an accelerator.",
    )(function)


def resolve_device(name: str) -> str:
    """Map ``--device`` to a torch device name, failing clearly when CUDA is absent."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was requested but no CUDA device is visible to this task.")
    return name


def alignment_options(function):
    """The UTRs, the genome and the alignment: options of utr_orthologs.py and zooal.py."""
    options = [
        click.option("--bed", required=True, type=click.Path(dir_okay=False), help="UTR BED6 from utr_annotation.py."),
        click.option("--genome", "genome_path", required=True, type=click.Path(dir_okay=False),
                     help="Reference genome FASTA the MAF's reference rows must match."),
        click.option("--maf", "maf_paths", multiple=True, type=click.Path(dir_okay=False),
                     help="MAF (plain, gzip or bgzip), sorted by reference position; repeat for several."),
        click.option("--maf-dir", type=click.Path(file_okay=False), default=None,
                     help="Directory whose *.maf and *.maf.gz files are all read (e.g. one per chromosome)."),
        click.option("--maf-index", type=click.Path(dir_okay=False), default=None,
                     help="bx interval index of a single MAF (maf_index.py): random access instead of streaming."),
        click.option("--reference", default="Homo_sapiens", show_default=True, help="Reference species name in the MAF."),
        click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
                     help="Processes reading the MAFs, one MAF (e.g. chromosome) each; the output is the same for any number."),
    ]
    for option in reversed(options):
        function = option(function)
    return function
