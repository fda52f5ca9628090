"""A real browser: headless Chromium (Debian's `chromium`) opens examples/client.html as a
file, connects to geows' echo location, sends a message and reads the echo from the page.

tests/browser/client_page.mjs drives the page with playwright-core (tests/run.sh runs
`npm ci` in tests/browser/); it prints one JSON object, read here.
"""

from __future__ import annotations

import re

import pytest

from tests.browser import explain, run_client_page
from tests.geows_process import ECHO_CONFIG, GeowsProcess

MESSAGE = "Hello from Chromium \u00e9\u00e8 \u2713"


@pytest.fixture(scope="module")
def geows(node):
    process = GeowsProcess(ECHO_CONFIG)
    yield process
    assert process.stop() == 0


@pytest.fixture(scope="module")
def page_run(node, geows):
    """Run the page once against geows: (the script's JSON result, its stderr)."""
    return run_client_page(node, f"ws://127.0.0.1:{geows.port}/echo", MESSAGE)


def test_chromium_client_page_echo(geows, page_run):
    result, stderr = page_run
    assert result["ok"] and result["received"] == [MESSAGE], explain(result, stderr, geows)
    assert result["status"] == "Connected"
    # Disconnect: the browser's close handshake completed (1005: a close frame without a
    # code, echoed; 1006 would mean the TCP connection ended without one).
    assert result["closeCode"] in (1000, 1005), explain(result, stderr, geows)

    log = geows.wait_for_log('"GET /echo HTTP/1.1" 101 ')
    lines = [line for line in log.splitlines() if '"GET /echo HTTP/1.1" 101 ' in line]
    assert len(lines) == 1, log
    # "rfc6455", or "rfc6455+permessage-deflate" with the extension
    assert re.search(r'" 101 rfc6455(\+\S+)? ', lines[0]), f"not logged as rfc6455: {lines[0]}"
    assert re.search(r"\bin=1 out=1\b", lines[0]), lines[0]


def test_chromium_negotiates_permessage_deflate(geows, page_run):
    result, stderr = page_run
    assert result.get("extensions", "").startswith("permessage-deflate"), \
        explain(result, stderr, geows)
