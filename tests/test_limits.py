"""Limits that hold end to end, against the real geows CLI: LimitRequest*, MaxRequestWorkers,
WebSocketOrigin and WebSocketPing."""

from __future__ import annotations

import base64
import contextlib
import os
import socket

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.draft76 import Draft76Client
from tests.geows_process import GeowsProcess

HEAD_LIMITS = """
Listen 127.0.0.1:@PORT@
LimitRequestLine 100
LimitRequestFields 6
<Location /echo>
  SetHandler websocket-handler
  WebSocketHandler plugins/echo.py echo_init
</Location>
"""


def handshake(port: int, path: str = "/echo", extra: tuple[str, ...] = (), *,
              host: str | None = None, version: str = "13") -> bytes:
    """A raw RFC 6455 handshake with five header fields plus `extra`; the response's status
    line. `host`: the Host field's value (default 127.0.0.1:port)."""
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {path} HTTP/1.1", f"Host: {host or f'127.0.0.1:{port}'}",
             "Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
             f"Sec-WebSocket-Version: {version}", *extra]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            more = sock.recv(4096)
            if not more:
                break
            data += more
    return data.split(b"\r\n", 1)[0]


@pytest.fixture(scope="module")
def head_limits():
    process = GeowsProcess(HEAD_LIMITS)
    yield process
    assert process.stop() == 0


def test_request_head_limits_come_from_the_config(head_limits):
    port = head_limits.port
    assert handshake(port, extra=("X-One: 1",)) == b"HTTP/1.1 101 Switching Protocols"
    assert handshake(port, "/echo?" + "a" * 100) == b"HTTP/1.1 414 Request-URI Too Long"
    assert handshake(port, extra=("X-One: 1", "X-Two: 2")) == b"HTTP/1.1 400 Bad Request"
    head_limits.wait_for_log("400 - ")
    assert "more request header fields than LimitRequestFields" in head_limits.access_log


ORIGINS = """
Listen 127.0.0.1:@PORT@
<Location /echo>
  SetHandler websocket-handler
  WebSocketHandler plugins/echo.py echo_init
  WebSocketOrigin https://a.test http://b.test
</Location>
"""


@pytest.fixture(scope="module")
def origins():
    process = GeowsProcess(ORIGINS)
    yield process
    assert process.stop() == 0


@pytest.mark.parametrize(("extra", "status"), [
    (("Origin: https://a.test",), b"101"),
    (("Origin: http://b.test",), b"101"),
    (("Origin: HTTP://B.test",), b"403"),   # byte for byte, as WebSocketTrustedOrigin
    ((), b"101"),                                   # no Origin: not a browser
    (("Origin: https://evil.test",), b"403"),
    (("Origin: null",), b"403"),
    # hybi-07's header: version 13 reads Origin alone, as the module does (version 7:
    # tests/test_origin_check.py)
    (("Sec-WebSocket-Origin: https://evil.test",), b"101"),
])
def test_rfc6455_origin_allow_list(origins, extra, status):
    assert handshake(origins.port, extra=extra).split(b" ")[1] == status


def test_draft76_origin_allow_list(origins):
    client = Draft76Client(origins.port, origin="http://b.test")
    client.sock.close()
    with pytest.raises(ConnectionRefusedError, match="403"):
        Draft76Client(origins.port, origin="http://evil.test")
    origins.wait_for_log("Origin 'http://evil.test' is not a WebSocketTrustedOrigin")


CAPPED = """
Listen 127.0.0.1:@PORT@
MaxRequestWorkers 5
<Location /echo>
  SetHandler websocket-handler
  WebSocketHandler plugins/echo.py echo_init
</Location>
"""


def test_max_request_workers_caps_open_connections():
    process = GeowsProcess(CAPPED)
    url = f"ws://127.0.0.1:{process.port}/echo"
    try:
        with contextlib.ExitStack() as stack:
            held = [stack.enter_context(connect(url)) for _ in range(5)]
            with pytest.raises(InvalidStatus) as refused:
                connect(url)
            assert refused.value.response.status_code == 503
            process.wait_for_log("503 - ")
            assert "over MaxRequestWorkers (5 connections)" in process.access_log
            held[0].close()
            process.wait_for_log("client closed")
            with connect(url) as ws:
                ws.send("served")
                assert ws.recv() == "served"
    finally:
        assert process.stop() == 0
