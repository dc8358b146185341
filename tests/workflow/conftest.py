"""Keep the pytest-workflow YAML out of the plain `pytest` run.

The YAML tests run Nextflow, which the default test environment does not have; with the
pytest-workflow plugin installed, pytest would otherwise collect them from testpaths=["tests"].
Set UTRBENCH_WORKFLOW_TESTS=1 to run them: UTRBENCH_WORKFLOW_TESTS=1 pytest tests/workflow --git-aware
"""

import os

collect_ignore_glob = [] if os.environ.get("UTRBENCH_WORKFLOW_TESTS") == "1" else ["*.yml", "*.yaml"]
