"""Build the documentation site (docs/) as CI does: warnings as errors, every
cross-reference checked; fail the test, naming the install line, when Sphinx is missing."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from tests.geows_process import REPO, missing_tool

# The landing page (issue 19): what geows is, the set-up commands, links into docs/.
LANDING = REPO / "README.md"


def build_site(out: Path, source: Path = REPO / "docs") -> subprocess.CompletedProcess:
    """sphinx-build -W -n of `source` into `out`; the finished run, whatever it printed."""
    for module in ("sphinx", "myst_parser", "furo"):
        if importlib.util.find_spec(module) is None:
            missing_tool(f"{module} is missing (pip install -e '.[docs]', in tests/run.sh)")
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-n", "--keep-going", "-E", "-q", "-b", "html",
         str(source), str(out)],
        capture_output=True, text=True, timeout=600, cwd=REPO)
