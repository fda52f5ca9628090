"""Name-based virtual hosts, end to end: the Host header picks the location."""

import json

import pytest
import websocket  # websocket-client

from tests.draft76 import Draft76Client
from tests.geows_process import GeowsProcess, run_cli

CONFIG = """
Listen 127.0.0.1:@PORT@
<VirtualHost *:@PORT@>
  ServerName a.test
  <Location /ws>
    SetHandler websocket-handler
    WebSocketHandler @DIR@/tag.py a_init
  </Location>
</VirtualHost>
<VirtualHost *:@PORT@>
  ServerName b.test
  ServerAlias *.b.test
  <Location /ws>
    SetHandler websocket-handler
    WebSocketHandler @DIR@/tag.py b_init
  </Location>
</VirtualHost>
"""

TAG = '''
from geows.plugin import Plugin, TEXT

def tagged(tag):
    return Plugin(on_message=lambda state, server, type, data: server.send(TEXT, f"{tag}:{data}"))

def a_init():
    return tagged("a")

def b_init():
    return tagged("b")
'''


@pytest.fixture(scope="module")
def geows():
    process = GeowsProcess(CONFIG, extra_files={"tag.py": TAG})
    yield process
    assert process.stop() == 0


@pytest.mark.parametrize("host, tag", [
    ("a.test", "a"), ("b.test", "b"), ("x.b.test", "b"),
    ("unknown.test", "a"),   # the first vhost of an address:port is its default
])
def test_host_header_selects_the_vhost(geows, host, tag):
    # the Origin a page at http://HOST/ sends (WebSocketOriginCheck Same: the request's own)
    ws = websocket.create_connection(f"ws://127.0.0.1:{geows.port}/ws", host=host,
                                     origin=f"http://{host}", timeout=10)
    ws.send("hi")
    assert ws.recv() == f"{tag}:hi"
    ws.close()


def test_an_absolute_form_host_selects_the_vhost(geows):
    """RFC 9112 3.2.2: the absolute-form's host picks the vhost (httpd's r->hostname), not
    the Host header, here 127.0.0.1:port, which picks the default a.test; draft-76's
    Sec-WebSocket-Location names the host that picked it, as mod_websocket's reads the Host
    httpd put in its place."""
    # No Origin (passes any check): this is about the vhost; a browser sends no
    # absolute-form.
    client = Draft76Client(geows.port, "http://B.test/ws?x=1", origin=None)
    assert client.header("Sec-WebSocket-Location") == "ws://b.test/ws?x=1"
    client.send("hi")
    assert client.recv() == "b:hi"
    assert client.close()
    client = Draft76Client(geows.port, "//ws")   # a path, never the host "ws"
    client.send("hi")
    assert client.recv() == "a:hi"
    assert client.close()


def test_show_lists_vhost_routes(geows):
    result = run_cli("-S", "--json", "-f", str(geows.config))
    routes = json.loads(result.stdout)["routes"]
    assert [(r["location"], r["vhost"]["server_name"]) for r in routes] == [
        ("/ws", "a.test"), ("/ws", "b.test")]
