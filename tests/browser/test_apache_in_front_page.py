"""A real browser through Apache in front of geows: headless Chromium opens
examples/client.html as a file, connects to Debian's apache2 (configured with the lines
`geows --apache-snippet` prints, verbatim, in each proxy form), and reads the echo that
geows' /echo location sent back through Apache.

Skips without node, Chromium, playwright-core or apache2; fails instead under CI=true.
"""

from __future__ import annotations

import re

import pytest

from tests.browser import explain, run_client_page
from tests.geows_process import ECHO_CONFIG, GeowsProcess
from tests.test_apache_in_front import part, snippet, start_apache

MESSAGE = "Through Apache \u00e9\u00e8 \u2713"
# Part 3 of the snippet, already in geows' config: the client Apache forwards is the one
# geows logs.
GEOWS_CONFIG = ECHO_CONFIG + "RemoteIPHeader X-Forwarded-For\nRemoteIPInternalProxy 127.0.0.1\n"


@pytest.fixture(scope="module", params=["ws", "upgrade"])
def through_apache(request, node, tmp_path_factory):
    """Run the page once against Apache's port, for one proxy form:
    (the script's JSON result, its stderr, the snippet, geows)."""
    geows = GeowsProcess(GEOWS_CONFIG)
    httpd = None
    try:
        text = snippet(geows.config, "--proxy-form", request.param)
        httpd, port = start_apache(tmp_path_factory.mktemp(f"apache-{request.param}"),
                                   part(text, 1))
        result, stderr = run_client_page(node, f"ws://127.0.0.1:{port}/echo", MESSAGE)
        yield result, stderr, text, geows
    finally:
        if httpd is not None:
            httpd.stop()
        geows.stop()


def test_the_snippet_needs_nothing_more_in_geows_config(through_apache):
    _, _, text, geows = through_apache
    wanted = [line for line in part(text, 3).splitlines() if line and not line.startswith("#")]
    assert wanted and all(line in geows.config.read_text() for line in wanted), text


def test_chromium_echo_through_apache(through_apache):
    result, stderr, _, geows = through_apache
    assert result["ok"] and result["received"] == [MESSAGE], explain(result, stderr, geows)
    assert result["status"] == "Connected"
    # the browser's closing handshake went through Apache and back (1006 would mean the
    # connection ended without a close frame)
    assert result["closeCode"] in (1000, 1005), explain(result, stderr, geows)

    log = geows.wait_for_log('"GET /echo HTTP/1.1" 101 ')
    lines = [line for line in log.splitlines() if '"GET /echo HTTP/1.1" 101 ' in line]
    assert len(lines) == 1, log
    assert re.search(r'" 101 rfc6455(\+\S+)? ', lines[0]), lines[0]
    assert re.search(r"\bin=1 out=1\b", lines[0]), lines[0]


def test_permessage_deflate_is_negotiated_end_to_end(through_apache):
    result, stderr, _, geows = through_apache
    assert result.get("extensions", "").startswith("permessage-deflate"), \
        explain(result, stderr, geows)
