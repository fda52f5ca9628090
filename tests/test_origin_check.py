"""The maintained mod_websocket's directives end to end, on the real geows CLI: the origin
check (WebSocketOriginCheck Same / Trusted / Off, WebSocketTrustedOrigin) on RFC 6455
and draft-76, WebSocketMaxMessageSize, WebSocketAllowReservedStatusCodes, and the plugin's
close().

The module is packaged nowhere the tests can fetch it, so what it answers comes from its
documented behaviour (and its source, mod_websocket.c of the maintained line), stated here:
- Same: the Origin must equal, byte for byte, the request's own origin: http (https on
  TLS), "://", the Host's name (lowercased by httpd; an IPv6 literal in brackets), then
  ":port" unless the port (the Host's, else the server's) is the scheme's default.
- Trusted: the Origin must equal one WebSocketTrustedOrigin byte for byte.
- A handshake without an Origin always passes; versions 7 and below send
  Sec-WebSocket-Origin, 8 and 13 Origin (draft-76 sends Origin).
- A refused Origin gets 403 before the plugin's on_connect, and an info line in the error
  log naming the Origin and why.
- A client's close with a reserved code (1004, 1014, 1016-2999) is answered 1002, or 1000
  under WebSocketAllowReservedStatusCodes On; 1005, 1006, 1015, <1000 and >=5000 1002.
- The plugin's close() sends a close frame without a status code: the client reads 1005.
"""

from __future__ import annotations

import struct

import pytest
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK
from websockets.sync.client import connect

from tests.draft76 import Draft76Client
from tests.geows_process import GeowsProcess
from tests.test_limits import handshake
from tests.test_rfc6455_server import masked, raw_handshake, read_close_code

CONFIG = """
Listen 127.0.0.1:@PORT@
LogLevel info
<Location /same>
  SetHandler websocket-handler
  WebSocketHandler @DIR@/closer.py closer_init
</Location>
<Location /trusted>
  SetHandler websocket-handler
  WebSocketHandler @DIR@/closer.py closer_init
  WebSocketOriginCheck Trusted
  WebSocketTrustedOrigin http://listed.test https://listed.test:8443
  WebSocketTrustedOrigin null
</Location>
<Location /off>
  SetHandler websocket-handler
  WebSocketHandler @DIR@/closer.py closer_init
  WebSocketOriginCheck Off
</Location>
<Location /small>
  SetHandler websocket-handler
  WebSocketHandler @DIR@/closer.py closer_init
  WebSocketMaxMessageSize 4
</Location>
<Location /reserved>
  SetHandler websocket-handler
  WebSocketHandler @DIR@/closer.py closer_init
  WebSocketAllowReservedStatusCodes On
</Location>
"""

# Echoes, closes on "close", and logs its on_connect: a refused handshake never reaches it.
CLOSER = '''
import logging
from geows.plugin import Plugin

log = logging.getLogger("geows.closer")

def closer_init():
    def on_connect(server):
        log.warning("on_connect %s", server.request.path)
        return {}

    def on_message(state, server, type, data):
        if data == "close":
            server.close()
        else:
            server.send(type, data)

    return Plugin(on_connect=on_connect, on_message=on_message)
'''


@pytest.fixture(scope="module")
def geows():
    process = GeowsProcess(CONFIG, extra_files={"closer.py": CLOSER})
    yield process
    assert process.stop() == 0
    assert "Traceback" not in process.error_log, process.error_log


def status(port: int, path: str, fields: tuple[str, ...], **kwargs) -> bytes:
    """The status code a raw RFC 6455 handshake with `fields` added gets."""
    return handshake(port, path, fields, **kwargs).split(b" ")[1]


SAME_CASES = [
    # (Host, Origin fields, status)
    (None, ("Origin: http://127.0.0.1:{port}",), b"101"),      # own
    (None, (), b"101"),                                          # absent: not a browser
    (None, ("Origin: http://evil.test",), b"403"),             # foreign
    (None, ("Origin: http://127.0.0.1:{other}",), b"403"),     # another port
    (None, ("Origin: https://127.0.0.1:{port}",), b"403"),     # another scheme
    (None, ("Origin: http://127.0.0.1",), b"403"),             # port left out
    (None, ("Origin: null",), b"403"),                         # a file:// page
    (None, ("Origin: HTTP://127.0.0.1:{port}",), b"403"),      # byte for byte
    # the Host's port, left out when it is http's default
    ("127.0.0.1:80", ("Origin: http://127.0.0.1",), b"101"),
    ("127.0.0.1:80", ("Origin: http://127.0.0.1:80",), b"403"),
    ("127.0.0.1", ("Origin: http://127.0.0.1",), b"101"),      # no port: the scheme's
    ("ws.test:8080", ("Origin: http://ws.test:8080",), b"101"),
    ("WS.Test.:8080", ("Origin: http://ws.test:8080",), b"101"),  # as httpd keeps the name
    # IPv6: the literal in brackets
    ("[::1]:{port}", ("Origin: http://[::1]:{port}",), b"101"),
    ("[::1]:{port}", ("Origin: http://::1:{port}",), b"403"),
    ("[::1]", ("Origin: http://[::1]",), b"101"),
]


@pytest.mark.parametrize(("host", "fields", "code"), SAME_CASES)
def test_same_on_rfc6455(geows, host, fields, code):
    fields = tuple(field.format(port=geows.port, other=geows.port + 1) for field in fields)
    host = host.format(port=geows.port) if host else None
    assert status(geows.port, "/same", fields, host=host) == code


@pytest.mark.parametrize(("version", "fields", "code"), [
    # versions 7 and below read Sec-WebSocket-Origin alone
    ("7", ("Sec-WebSocket-Origin: http://evil.test",), b"403"),
    ("7", ("Sec-WebSocket-Origin: {own}",), b"101"),
    ("7", ("Origin: http://evil.test",), b"101"),
    # 8 and 13 read Origin alone
    ("8", ("Origin: http://evil.test",), b"403"),
    ("8", ("Sec-WebSocket-Origin: http://evil.test",), b"101"),
    ("13", ("Sec-WebSocket-Origin: http://evil.test",), b"101"),
])
def test_which_header_each_version_reads(geows, version, fields, code):
    fields = tuple(field.format(own=f"http://127.0.0.1:{geows.port}") for field in fields)
    assert status(geows.port, "/same", fields, version=version) == code


@pytest.mark.parametrize(("fields", "code"), [
    (("Origin: http://listed.test",), b"101"),
    (("Origin: https://listed.test:8443",), b"101"),
    (("Origin: null",), b"101"),
    ((), b"101"),
    (("Origin: http://unlisted.test",), b"403"),
    (("Origin: http://listed.test:80",), b"403"),
    (("Origin: HTTP://LISTED.TEST",), b"403"),
    (("Origin: http://127.0.0.1:{port}",), b"403"),      # its own origin is not listed
])
def test_trusted_on_rfc6455(geows, fields, code):
    fields = tuple(field.format(port=geows.port) for field in fields)
    assert status(geows.port, "/trusted", fields) == code


@pytest.mark.parametrize("origin", ["http://evil.test", "null", None])
def test_off_on_rfc6455(geows, origin):
    fields = (f"Origin: {origin}",) if origin else ()
    assert status(geows.port, "/off", fields) == b"101"


@pytest.mark.parametrize(("path", "origin", "allowed"), [
    ("/same", "own", True),
    ("/same", None, True),
    ("/same", "http://evil.test", False),
    ("/same", "http://127.0.0.1", False),
    ("/trusted", "http://listed.test", True),
    ("/trusted", "null", True),
    ("/trusted", "http://unlisted.test", False),
    ("/trusted", "own", False),
    ("/off", "http://evil.test", True),
])
def test_origin_check_on_draft76(geows, path, origin, allowed):
    origin = f"http://127.0.0.1:{geows.port}" if origin == "own" else origin
    if allowed:
        client = Draft76Client(geows.port, path, origin=origin)
        client.send("hi")
        assert client.recv() == "hi"
        client.close()
    else:
        with pytest.raises(ConnectionRefusedError, match="403"):
            Draft76Client(geows.port, path, origin=origin)


@pytest.mark.parametrize(("target", "host", "origin", "code"), [
    # an absolute-form of another scheme: the Host names the host, the target's port stays
    # (httpd keeps r->parsed_uri.port_str; the Host's port would replace it)
    ("https://evil.test:8443/same", "127.0.0.1", "http://127.0.0.1:8443", b"101"),
    ("https://evil.test:8443/same", "127.0.0.1", "http://127.0.0.1", b"403"),
    ("https://evil.test:8443/same", "127.0.0.1:{port}", "http://127.0.0.1:{port}", b"101"),
    ("https://evil.test:/same", "127.0.0.1", "http://127.0.0.1:443", b"101"),  # https's port
    ("https://evil.test:+5/same", "127.0.0.1", "http://127.0.0.1:5", b"101"),   # strtol's
    # the connection's scheme: the target names both
    ("http://ws.test:8080/same", "127.0.0.1", "http://ws.test:8080", b"101"),
    ("http://ws.test/same", "127.0.0.1:{port}", "http://ws.test", b"101"),
])
def test_same_with_an_absolute_form(geows, target, host, origin, code):
    host, origin = host.format(port=geows.port), origin.format(port=geows.port)
    assert status(geows.port, target, (f"Origin: {origin}",), host=host) == code


def test_draft76_reads_origin_whatever_version_it_also_sends(geows):
    """The header follows the protocol served: a draft-76 handshake that also sends
    Sec-WebSocket-Version: 7 is still checked on its Origin."""
    with pytest.raises(ConnectionRefusedError, match="403"):
        Draft76Client(geows.port, "/same", origin="http://evil.test",
                      extra_headers="Sec-WebSocket-Version: 7\r\n"
                                    f"Sec-WebSocket-Origin: http://127.0.0.1:{geows.port}\r\n")


def test_a_refused_origin_is_logged_and_never_reaches_on_connect(geows):
    assert status(geows.port, "/trusted", ("Origin: http://refused.test",)) == b"403"
    line = next(line for line in geows.wait_for_log("http://refused.test", access=False)
                .splitlines() if "refused.test" in line)
    assert ":info] " in line, line   # an info-level error-log line
    assert "Origin 'http://refused.test' is not a WebSocketTrustedOrigin " \
           "(WebSocketOriginCheck Trusted)" in line, line
    assert status(geows.port, "/same", ("Origin: http://other.test",)) == b"403"
    log = geows.wait_for_log("http://other.test", access=False)
    assert (f"Origin 'http://other.test' is not the request's own origin "
            f"'http://127.0.0.1:{geows.port}' (WebSocketOriginCheck Same)") in log, log
    on_connects = log.count("on_connect /trusted")
    status(geows.port, "/trusted", ("Origin: http://listed.test",))
    geows.wait_for_log("on_connect /trusted", access=False)
    assert geows.error_log.count("on_connect /trusted") == on_connects + 1


def test_websocket_max_message_size(geows):
    # Uncompressed, as with the module (which has no permessage-deflate): compressed, a
    # 4-byte message is a 6-byte frame, which the engine measures against the limit.
    with connect(f"ws://127.0.0.1:{geows.port}/small", compression=None) as ws:
        ws.send("abcd")
        assert ws.recv(timeout=5) == "abcd"
        ws.send("abcde")
        with pytest.raises(ConnectionClosedError) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd.code == 1009


def close_answer(port: int, path: str, code: int) -> int:
    """The code geows answers a client's close with `code` on `path` with."""
    with raw_handshake(port, path) as sock:   # no Origin: passes every check
        sock.sendall(masked(0x8, struct.pack("!H", code)))
        return read_close_code(sock)


@pytest.mark.parametrize("code", [1004, 1014, 1016, 2999])
def test_reserved_close_codes(geows, code):
    assert close_answer(geows.port, "/same", code) == 1002
    assert close_answer(geows.port, "/reserved", code) == 1000


@pytest.mark.parametrize("code", [999, 1005, 1006, 1015, 5000])
def test_prohibited_close_codes_either_way(geows, code):
    assert close_answer(geows.port, "/same", code) == 1002
    assert close_answer(geows.port, "/reserved", code) == 1002


@pytest.mark.parametrize("code", [1000, 1001, 3000, 4999])
def test_assigned_close_codes_either_way(geows, code):
    assert close_answer(geows.port, "/same", code) == code
    assert close_answer(geows.port, "/reserved", code) == code


def test_the_plugins_close_has_no_status_code(geows):
    with connect(f"ws://127.0.0.1:{geows.port}/same") as ws:
        ws.send("close")
        with pytest.raises(ConnectionClosedOK) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd.code == 1005   # no status code in the close frame
    client = Draft76Client(geows.port, "/same")   # draft-76's close is 0xFF 0x00, as ever
    client.send("close")
    assert client.sock.recv(2) == b"\xff\x00"
    client.sock.close()
