"""WebSocketOriginCheck Same (the default) in headless Chromium: examples/client.html served
over HTTP from another origin (a page server on its own port) is refused, and the same
page served from the location's own origin (through geows, which forwards /pages/ to that
server with ProxyPass) connects and gets its echo."""

from __future__ import annotations

import functools
import http.server
import threading

import pytest

from tests.browser import assert_echoed_and_logged_once, explain, run_client_page
from tests.geows_process import REPO, GeowsProcess

MESSAGE = "Same origin \u00e9\u2713"

CONFIG = """
Listen 127.0.0.1:@PORT@
LogLevel info
ProxyPass /pages/ http://127.0.0.1:{pages}/
<Location /echo>
  SetHandler websocket-handler
  WebSocketHandler plugins/echo.py echo_init
</Location>
"""


@pytest.fixture(scope="module")
def pages():
    """examples/ over HTTP, on a port of its own: another origin than geows'."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(REPO / "examples"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def geows(node, pages):
    process = GeowsProcess(CONFIG.format(pages=pages))
    yield process
    assert process.stop() == 0


def test_a_page_from_another_origin_is_refused(node, pages, geows):
    result, stderr = run_client_page(node, f"ws://127.0.0.1:{geows.port}/echo", MESSAGE,
                                     page=f"http://127.0.0.1:{pages}/client.html")
    assert not result["ok"] and result["status"] != "Connected", explain(result, stderr, geows)
    log = geows.wait_for_log('"GET /echo HTTP/1.1" 403 ')
    assert (f"Origin 'http://127.0.0.1:{pages}' is not the request's own origin "
            f"'http://127.0.0.1:{geows.port}' (WebSocketOriginCheck Same)") in log, log


def test_the_same_page_from_the_locations_own_origin_connects(node, geows):
    result, stderr = run_client_page(node, f"ws://127.0.0.1:{geows.port}/echo", MESSAGE,
                                     page=f"http://127.0.0.1:{geows.port}/pages/client.html")
    assert_echoed_and_logged_once(result, stderr, geows, MESSAGE)
