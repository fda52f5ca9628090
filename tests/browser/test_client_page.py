"""A real browser: headless Chromium (Debian's `chromium`) opens examples/client.html as a
file, connects to geows' echo location, sends a message and reads the echo from the page.

tests/browser/client_page.mjs drives the page with playwright-core (tests/run.sh runs
`npm ci` in tests/browser/); it prints one JSON object, read here.
"""

from __future__ import annotations

import pytest

from tests.browser import (
    assert_echoed_and_logged_once,
    explain,
    run_client_page,
    trusting_file_pages,
)
from tests.geows_process import ECHO_CONFIG, GeowsProcess

MESSAGE = "Hello from Chromium \u00e9\u00e8 \u2713"


@pytest.fixture(scope="module")
def geows(node):
    process = GeowsProcess(trusting_file_pages(ECHO_CONFIG))
    yield process
    assert process.stop() == 0


@pytest.fixture(scope="module")
def page_run(node, geows):
    """Run the page once against geows: (the script's JSON result, its stderr)."""
    return run_client_page(node, f"ws://127.0.0.1:{geows.port}/echo", MESSAGE)


def test_chromium_client_page_echo(geows, page_run):
    result, stderr = page_run
    assert_echoed_and_logged_once(result, stderr, geows, MESSAGE)


def test_chromium_negotiates_permessage_deflate(geows, page_run):
    result, stderr = page_run
    assert result.get("extensions", "").startswith("permessage-deflate"), \
        explain(result, stderr, geows)
