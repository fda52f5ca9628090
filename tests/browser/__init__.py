"""Headless Chromium against geows; conftest.py's `node` fixture skips without the tools."""

import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
