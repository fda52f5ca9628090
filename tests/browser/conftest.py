"""What the browser tests need: node, Debian's Chromium and playwright-core."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.browser import CHROMIUM, HERE
from tests.geows_process import in_ci


@pytest.fixture(scope="session")
def node() -> str:
    """The node binary; fails under CI (CI=true), skips elsewhere, when a tool is missing."""
    node = shutil.which("node")
    missing = []
    if node is None:
        missing.append("node (Node.js 20)")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if not (HERE / "node_modules" / "playwright-core" / "package.json").exists():
        missing.append("playwright-core (npm ci --prefix tests/browser)")
    if missing:
        reason = "browser test needs " + ", ".join(missing) + "; tests/run.sh installs them"
        if in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    return node
