"""A real browser through Apache in front of geows: headless Chromium opens
examples/client.html as a file, connects to Debian's apache2 (configured with the lines
`geows --apache-snippet` prints, verbatim, in each proxy form), and reads the echo that
geows' /echo location sent back through Apache.

Skips without node, Chromium, playwright-core or apache2; fails instead under CI=true.
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
from tests.test_apache_in_front import part, snippet, start_apache

MESSAGE = "Through Apache \u00e9\u00e8 \u2713"
# Part 3 of the snippet, already in geows' config: the client Apache forwards is the one
# geows logs.
GEOWS_CONFIG = trusting_file_pages(ECHO_CONFIG) + (
    "RemoteIPHeader X-Forwarded-For\nRemoteIPInternalProxy 127.0.0.1\n")


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
    assert_echoed_and_logged_once(result, stderr, geows, MESSAGE)


def test_permessage_deflate_is_negotiated_end_to_end(through_apache):
    result, stderr, _, geows = through_apache
    assert result.get("extensions", "").startswith("permessage-deflate"), \
        explain(result, stderr, geows)
