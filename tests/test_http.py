"""The request head parser: limits, statuses, and bytes after the head."""

import pytest

from geows import limits
from geows.errors import HttpError
from geows.http import RequestParser, normalize_path, response


def feed_all(data: bytes, **kwargs):
    return RequestParser(**kwargs).feed(data)


def test_head_in_pieces_keeps_trailing_bytes():
    parser = RequestParser()
    raw = b"GET /echo?a=1 HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n  b\r\n\r\nKEY3BYTES\x00hi\xff"
    request = None
    for i in range(len(raw)):
        request = parser.feed(raw[i:i + 1])
        if request:
            break
    assert request.trailing == b""  # fed byte by byte: nothing after the blank line yet
    request = feed_all(raw)
    assert (request.method, request.path, request.query) == ("GET", "/echo", "a=1")
    assert request.headers.get("x-folded") == "a b"
    assert request.trailing == b"KEY3BYTES\x00hi\xff"


def test_bare_lf_and_repeated_headers():
    request = feed_all(b"GET / HTTP/1.1\nConnection: keep-alive\nconnection: Upgrade\n\n")
    assert request.headers.tokens("Connection") == ["keep-alive", "upgrade"]
    assert request.headers.get("CONNECTION") == "keep-alive, Upgrade"


@pytest.mark.parametrize("raw, status", [
    (b"GET /" + b"a" * limits.LIMIT_REQUEST_LINE + b" HTTP/1.1\r\n", 414),
    (b"GET /" + b"a" * limits.LIMIT_REQUEST_LINE, 414),   # no newline yet: refused early
    (b"GET / HTTP/1.1\r\nX: " + b"a" * limits.LIMIT_REQUEST_FIELD_SIZE + b"\r\n", 400),
    (b"GET / HTTP/1.1\r\n" + b"X: 1\r\n" * (limits.LIMIT_REQUEST_FIELDS + 1) + b"\r\n", 400),
    (b"GET / HTTP/2.0\r\n\r\n", 400),
    (b"GET /\r\n\r\n", 400),
    (b"GET relative HTTP/1.1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nno colon\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\n folded-first\r\n\r\n", 400),
    (b"GET /a/../../etc HTTP/1.1\r\n\r\n", 400),
    (b"GET /a%2fb HTTP/1.1\r\n\r\n", 404),
    (b"GET /a%00b HTTP/1.1\r\n\r\n", 400),
])
def test_bad_heads(raw, status):
    with pytest.raises(HttpError) as info:
        feed_all(raw)
    assert info.value.status == status


def test_limits_are_exact():
    line = b"GET /" + b"a" * (limits.LIMIT_REQUEST_LINE - len(b"GET / HTTP/1.1")) + b" HTTP/1.1"
    assert len(line) == limits.LIMIT_REQUEST_LINE
    assert feed_all(line + b"\r\n\r\n") is not None
    fields = b"".join(b"X%d: 1\r\n" % i for i in range(limits.LIMIT_REQUEST_FIELDS))
    assert feed_all(b"GET / HTTP/1.1\r\n" + fields + b"\r\n") is not None


@pytest.mark.parametrize("raw, normal", [
    ("/", "/"), ("/echo", "/echo"), ("/echo/", "/echo/"), ("//echo//x", "/echo/x"),
    ("/a/../echo", "/echo"), ("/echo/.", "/echo/"), ("/ech%6F", "/echo"), ("/a/b/..", "/a/"),
])
def test_normalize_path(raw, normal):
    assert normalize_path(raw) == normal


def test_error_response_shape():
    data = response(426, (("Upgrade", "WebSocket"),))
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 426 Upgrade Required\r\n")
    assert b"\r\nUpgrade: WebSocket\r\n" in head
    assert b"\r\nConnection: close" in head
    assert f"Content-Length: {len(body)}".encode() in head
