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
