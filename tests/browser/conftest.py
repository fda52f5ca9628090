"""What the browser tests need: node, Debian's Chromium and playwright-core."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.browser import CHROMIUM, HERE
from tests.geows_process import missing_tool


@pytest.fixture(scope="session")
def node() -> str:
    """The node binary; fails when a tool is missing."""
    node = shutil.which("node")
    missing = []
    if node is None:
        missing.append("node (apt-get install nodejs npm)")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if not (HERE / "node_modules" / "playwright-core" / "package.json").exists():
        missing.append("playwright-core (npm ci --prefix tests/browser)")
    if missing:
        missing_tool("the browser tests need " + ", ".join(missing))
    return node
