"""Generic checks of every bin/*.py entry point: executable, --help and --version work.

The scripts are found at collection time, so a new bin/ script is tested without editing this file.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from utrbench import __version__

BIN_DIR = Path(__file__).resolve().parents[1] / "bin"
SCRIPTS = sorted(BIN_DIR.glob("*.py"))
SCRIPT_IDS = [script.name for script in SCRIPTS]


def run_script(script, *args):
    # This interpreter, not the shebang's python3: the test environment's packages must be importable.
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=120)


def test_there_are_scripts():
    assert SCRIPTS, f"no scripts in {BIN_DIR}"


@pytest.mark.parametrize("script", SCRIPTS, ids=SCRIPT_IDS)
def test_script_is_executable_with_python_shebang(script):
    assert os.access(script, os.X_OK), f"{script.name} is not executable (chmod +x)"
    assert script.read_text().splitlines()[0] == "#!/usr/bin/env python3"


@pytest.mark.parametrize("script", SCRIPTS, ids=SCRIPT_IDS)
def test_version(script):
    result = run_script(script, "--version")
    assert result.returncode == 0, result.stderr
    # One line of the libraries of this environment, read back by dump_versions.py.
    assert result.stdout.startswith(f"utrbench {__version__}; python ")
    assert "; torch 2.13.0" in result.stdout and "; scikit-learn " in result.stdout
    assert result.stdout.count("\n") == 1


@pytest.mark.parametrize("script", SCRIPTS, ids=SCRIPT_IDS)
def test_help(script):
    result = run_script(script, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Usage: {script.name} [OPTIONS]")
    assert "--version" in result.stdout
