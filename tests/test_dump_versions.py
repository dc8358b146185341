"""bin/dump_versions.py: software_versions.yml from the versions topic, deterministic."""

import importlib.util
from pathlib import Path

import pytest
from click.testing import CliRunner

SCRIPT = Path(__file__).resolve().parents[1] / "bin" / "dump_versions.py"


def load_script():
    """The script as a module, so the command runs in-process (no interpreter start per case)."""
    spec = importlib.util.spec_from_file_location("dump_versions", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DUMP_VERSIONS = load_script()


def dump(tmp_path, tsv_text):
    versions = tmp_path / "versions.tsv"
    versions.write_text(tsv_text)
    out = tmp_path / "software_versions.yml"
    arguments = ["--versions", str(versions), "--nextflow-version", "25.10.2", "--pipeline-version", "0.1.0", "--out", str(out)]
    return CliRunner().invoke(DUMP_VERSIONS.main, arguments), out


def test_writes_sorted_yaml_with_bare_versions(tmp_path):
    tsv = (
        "UTRBENCH:IMPORT_MODEL\tutrbench\tutrbench, version 0.1.0\n"
        "\n"
        "EMBED\tpysam\t0.24.1\n"
        "EMBED\ttorch\t2.13.0\n"
        "UTRBENCH:IMPORT_MODEL\tutrbench\tutrbench, version 0.1.0\n"
    )
    result, out = dump(tmp_path, tsv)
    assert result.exit_code == 0, result.output
    assert out.read_text() == (
        "EMBED:\n"
        "  pysam: 0.24.1\n"
        "  torch: 2.13.0\n"
        "UTRBENCH:IMPORT_MODEL:\n"
        "  utrbench: 0.1.0\n"
        "Workflow:\n"
        "  Nextflow: 25.10.2\n"
        "  utrbench: 0.1.0\n"
    )


def test_library_list_of_an_entry_point_becomes_one_version_per_library(tmp_path):
    # What `<script>.py --version` prints (utrbench.cli.version_line) in a CUDA image.
    tsv = "UTRBENCH:EMBED\tutrbench\tutrbench 0.1.0; python 3.11.7; torch 2.13.0+cu126; cuda 12.6; scikit-learn 1.9.1\n"
    result, out = dump(tmp_path, tsv)
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith(
        "UTRBENCH:EMBED:\n"
        "  cuda: '12.6'\n"
        "  python: 3.11.7\n"
        "  scikit-learn: 1.9.1\n"
        "  torch: 2.13.0+cu126\n"
        "  utrbench: 0.1.0\n"
    )


def test_version_line_of_this_environment_round_trips(tmp_path):
    from utrbench.cli import version_line

    result, out = dump(tmp_path, f"P\tutrbench\t{version_line()}\n")
    assert result.exit_code == 0, result.output
    import yaml

    document = yaml.safe_load(out.read_text())
    assert document["P"]["torch"].startswith("2.13.0") and document["P"]["utrbench"] == "0.1.0"


def test_line_order_does_not_change_the_output(tmp_path):
    lines = ["A\tx\t1.0\n", "B\ty\t2\n", "A\tz\t3.1\n"]
    first, out = dump(tmp_path, "".join(lines))
    expected = out.read_bytes()
    second, out = dump(tmp_path, "".join(reversed(lines)))
    assert first.exit_code == second.exit_code == 0
    assert out.read_bytes() == expected
    assert b"x: '1.0'" in expected  # a version stays a string, never a float


@pytest.mark.parametrize(
    "tsv, message",
    [
        ("A\tx\n", "line 1: expected 'process<TAB>tool<TAB>version', got 'A\\tx'"),
        ("A\tx\t1\nA\tx\t2\n", "line 2: A reports x as both 1 and 2"),
        ("Workflow\tx\t1\n", "clashes with the Workflow entry"),
    ],
)
def test_bad_input_is_one_error_line_and_no_output(tmp_path, tsv, message):
    result, out = dump(tmp_path, tsv)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not out.exists()
