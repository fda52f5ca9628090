"""Limits that hold end to end, against the real geows CLI: LimitRequest*, MaxRequestWorkers,
WebSocketOrigin and WebSocketPing."""

from __future__ import annotations

import base64
import os
import socket

import pytest

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


def handshake(port: int, path: str = "/echo", extra: tuple[str, ...] = ()) -> bytes:
    """A raw RFC 6455 handshake with five header fields plus `extra`; the response head."""
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13",
             *extra]
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
