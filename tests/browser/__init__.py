"""Headless Chromium against geows; conftest.py's `node` fixture skips without the tools."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CLIENT_PAGE = HERE / "client_page.mjs"


def run_client_page(node: str, url: str, message: str) -> tuple[dict, str]:
    """client_page.mjs: examples/client.html sends `message` to `url` and reads the echo;
    (its JSON result, its stderr)."""
    command = [node, str(CLIENT_PAGE), "--url", url, "--message", message,
               "--chromium", CHROMIUM, "--timeout", "20000"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120,
                               stdin=subprocess.DEVNULL)
    try:
        return json.loads(completed.stdout.strip().splitlines()[-1]), completed.stderr
    except (IndexError, ValueError):
        pytest.fail(f"client_page.mjs exited {completed.returncode} without a result:\n"
                    f"stdout: {completed.stdout}\nstderr: {completed.stderr}")


def explain(result: dict, stderr: str, geows) -> str:
    """What a failed assertion shows: the page's result, its stderr, geows' logs."""
    return (f"page result: {json.dumps(result, indent=1, ensure_ascii=False)}\n"
            f"stderr: {stderr[-2000:]}\ngeows access log:\n{geows.access_log}\n"
            f"geows error log (tail):\n" + "\n".join(geows.error_log.splitlines()[-20:]))
