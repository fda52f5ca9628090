"""The built documentation site in headless Chromium: the front page and a reference page
open from files, with no console error and no failed request (nothing fetched from
elsewhere), and render: a title, a first heading, a screenshot with something on it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.browser import CHROMIUM, HERE
from tests.docs_site import build_site

PAGES = {"index.html": "geows", "reference/directives.html": "Directives"}


def test_the_front_page_and_a_reference_page_render_without_errors(node, tmp_path):
    site = tmp_path / "site"
    built = build_site(site)
    assert built.returncode == 0, built.stderr[-3000:]
    command = [node, str(HERE / "docs_pages.mjs"), "--out", str(tmp_path), "--chromium",
               CHROMIUM, *(str(site / page) for page in PAGES)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["ok"], (result, done.stderr)
    for seen, heading in zip(result["pages"], PAGES.values(), strict=True):
        assert seen["console"] == [] and seen["failed"] == [], seen
        assert seen["heading"].startswith(heading) and seen["title"], seen
        screenshot = Path(seen["screenshot"])
        assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        # a blank page compresses to a few KB; text and the navigation take far more
        assert screenshot.stat().st_size > 30_000, seen
