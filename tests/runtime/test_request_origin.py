"""The request's own origin, as the maintained mod_websocket builds it for
WebSocketOriginCheck Same (construct_request_origin: ap_http_scheme, r->hostname and
ap_get_server_port); and which header holds the client's Origin."""

from __future__ import annotations

import pytest

from geows.http import RequestParser
from geows.runtime.handshake import request_origin, sent_origin


@pytest.mark.parametrize(("host", "secure", "server_port", "origin"), [
    ("ws.test:8080", False, None, "http://ws.test:8080"),
    ("ws.test:8080", True, None, "https://ws.test:8080"),
    ("ws.test:80", False, None, "http://ws.test"),          # the default port left out
    ("ws.test:443", True, None, "https://ws.test"),
    ("ws.test:443", False, None, "http://ws.test:443"),
    ("ws.test:80", True, None, "https://ws.test:80"),
    ("ws.test:0080", False, None, "http://ws.test"),        # a port is a number
    ("ws.test", False, None, "http://ws.test"),             # no port: the scheme's
    ("ws.test", False, 8080, "http://ws.test:8080"),        # ... or ServerName's
    ("ws.test:9000", False, 8080, "http://ws.test:9000"),   # the Host's first
    ("WS.Test.", False, None, "http://ws.test"),            # as httpd keeps the name
    ("[::1]:8080", False, None, "http://[::1]:8080"),       # IPv6 bracketed
    ("[FE80::1]", True, None, "https://[fe80::1]"),
    ("127.0.0.1:8080", False, None, "http://127.0.0.1:8080"),
])
def test_request_origin(host, secure, server_port, origin):
    assert request_origin(host, secure, server_port) == origin


@pytest.mark.parametrize(("host", "target_port", "origin"), [
    ("ws.test", 8443, "http://ws.test:8443"),       # an absolute-form's, whatever its scheme
    ("ws.test:9000", 8443, "http://ws.test:9000"),  # the Host's first
    ("ws.test", 0, "http://ws.test:0"),             # the target's 0 is kept, as httpd keeps it
    ("ws.test", 80, "http://ws.test"),
])
def test_request_origin_with_an_absolute_forms_port(host, target_port, origin):
    assert request_origin(host, False, 8080, target_port) == origin


def request(fields: str):
    return RequestParser().feed(f"GET / HTTP/1.1\r\nHost: h\r\n{fields}\r\n".encode())


@pytest.mark.parametrize(("fields", "protocol", "origin"), [
    ("Origin: http://a\r\nSec-WebSocket-Version: 13\r\n", "rfc6455", "http://a"),
    ("Sec-WebSocket-Origin: http://b\r\nSec-WebSocket-Version: 13\r\n", "rfc6455", None),
    ("Origin: http://a\r\nSec-WebSocket-Origin: http://b\r\nSec-WebSocket-Version: 8\r\n",
     "rfc6455", "http://a"),
    ("Origin: http://a\r\nSec-WebSocket-Origin: http://b\r\nSec-WebSocket-Version: 7\r\n",
     "rfc6455", "http://b"),
    ("Origin: http://a\r\nSec-WebSocket-Version: 7\r\n", "rfc6455", None),
    ("Origin: http://a\r\n", "hixie-76", "http://a"),       # draft-76 has no version
    # ... and reads Origin whatever version field it also sends
    ("Origin: http://a\r\nSec-WebSocket-Origin: http://b\r\nSec-WebSocket-Version: 7\r\n",
     "hixie-76", "http://a"),
    ("Origin: http://a\r\nSec-WebSocket-Version: 7\r\n", "hixie-75", "http://a"),
    ("", "rfc6455", None),
])
def test_which_header_holds_the_origin(fields, protocol, origin):
    assert sent_origin(request(fields), protocol) == origin
