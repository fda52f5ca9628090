"""geows/forward.py's sans-I/O parts: the backend's responses framed (ResponseReader), and
what a client sends after an upgrade request held until the backend has answered it
(RequestStream), bytes in and exact bytes out. tests/test_geows_in_front.py runs them
between real clients and a real Apache."""

from __future__ import annotations

import pytest

from geows import limits
from geows.config.paths import ProxyPass
from geows.errors import HttpError
from geows.forward import RequestStream, Response, ResponseReader

LINE = ProxyPass("/", ("b", 80), "/", "f.conf", 1)
XFF = b"X-Forwarded-For: 192.0.2.1\r\n"


def request(target: str = "/", *lines: str, method: str = "GET") -> bytes:
    return "\r\n".join([f"{method} {target} HTTP/1.1", "Host: h", *lines, "", ""]).encode()


def forwarded(raw: bytes) -> bytes:
    """A request head as the backend gets it: X-Forwarded-For added last."""
    return raw[:-2] + XFF + b"\r\n"


UPGRADE_FOO = ("Connection: Upgrade", "Upgrade: foo")
WEBSOCKET = ("Connection: keep-alive, Upgrade", "Upgrade: WebSocket",
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13")
DRAFT76 = ("Connection: Upgrade", "Upgrade: WebSocket", "Sec-WebSocket-Key1: 1 2",
           "Sec-WebSocket-Key2: 3 4")


def streams(line: ProxyPass = LINE, admit=lambda request: None
            ) -> tuple[RequestStream, ResponseReader]:
    stream = RequestStream(line, "192.0.2.1", admit)
    return stream, ResponseReader(stream)


def read(reader: ResponseReader, raw: bytes, step: int) -> list[Response | bytes]:
    """What the reader yields for raw, fed step bytes at a time; the bytes (heads and
    bodies alike) are exactly raw's."""
    pieces = [piece for i in range(0, len(raw), step) for piece in reader.feed(raw[i:i + step])]
    assert b"".join(p.head if isinstance(p, Response) else p for p in pieces) == raw
    return pieces


def statuses(pieces: list[Response | bytes]) -> list[tuple[int, str | None]]:
    return [(p.status, p.request and p.request.target) for p in pieces
            if isinstance(p, Response)]


# The responses to requests /1 (GET) to /7, as a backend may frame them (RFC 9112 6.3).
RESPONSES = (
    b"HTTP/1.1 100 Continue\r\n\r\n"                                # interim: /1 again
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHTTP/"
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"                # /2 is a HEAD
    b"HTTP/1.1 204 No Content\r\nX: 1\r\n\r\n"
    b"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n"
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
    b"3;x=1\r\nHTT\r\n1a\r\n" + b"P" * 26 + b"\r\n0\r\nT: 1\r\n\r\n"
    b"HTTP/1.0 404 Not Found\nContent-Length: 3, 3\nX: a\n  folded\n\n404"
    b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nHTTP/1.1 200 OK\r\n\r\nand more")


@pytest.mark.parametrize("step", [1, 7, 1 << 20])
def test_responses_framed_as_rfc_9112_says(step):
    stream, reader = streams()
    stream.feed(b"".join(request(f"/{n}", method="HEAD" if n == 2 else "GET")
                         for n in range(1, 8)))
    pieces = read(reader, RESPONSES, step)
    assert statuses(pieces) == [(100, "/1"), (200, "/1"), (200, "/2"), (204, "/3"),
                                (304, "/4"), (200, "/5"), (404, "/6"), (200, "/7")]
    last = max(i for i, piece in enumerate(pieces) if isinstance(piece, Response))
    assert b"".join(pieces[last + 1:]) == b"HTTP/1.1 200 OK\r\n\r\nand more"  # until closed
    assert [p.headers.get("X") for p in pieces if isinstance(p, Response)][-2] == "a folded"
    assert not reader.idle and not reader.between


def test_idle_once_every_request_is_answered_in_full():
    stream, reader = streams()
    stream.feed(request("/a") + request("/b"))
    list(reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
    assert reader.between and not reader.idle
    list(reader.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"))
    assert not reader.between
    list(reader.feed(b"\r\n"))
    assert reader.idle
    # More than was asked: passed on, answering nothing.
    assert statuses(read(reader, b"HTTP/1.1 408 Request Timeout\r\n\r\n", 1)) == [(408, None)]


@pytest.mark.parametrize("raw", [
    b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
    b"ICY 200 OK\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX: " + b"x" * limits.RESPONSE_FIELD_SIZE + b"\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * (limits.RESPONSE_HEAD_SIZE // 6),
])
def test_a_head_that_cannot_be_read_is_a_502_before_any_of_it_goes_on(raw):
    stream, reader = streams()
    stream.feed(request())
    with pytest.raises(HttpError) as refused:
        list(reader.feed(raw))
    assert refused.value.status == 502 and reader.between


def test_a_bad_chunk_is_a_502_in_the_middle_of_a_response():
    stream, reader = streams()
    stream.feed(request())
    pieces = reader.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
    assert isinstance(next(pieces), Response)
    with pytest.raises(HttpError) as refused:
        next(pieces)
    assert refused.value.status == 502 and not reader.between


# Held bytes: nothing after an upgrade request is parsed or forwarded before its answer.

SECRET = request("/private/secret.html")


@pytest.mark.parametrize("asked", [UPGRADE_FOO, WEBSOCKET])
def test_after_any_other_answer_the_held_bytes_are_the_next_requests(asked):
    refused = []

    def admit(later):
        refused.append(later.target)
        raise HttpError(403, f"access denied to {later.target}")

    stream, reader = streams(admit=admit)
    upgrade = request("/public/index.html", *asked)
    assert stream.feed(upgrade + SECRET) == forwarded(upgrade)
    assert stream.holding and stream.feed(b"GET /more") == b""
    assert refused == []
    pieces = read(reader, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                          b"Upgrade: foo\r\n\r\nok", 5)  # advertised, not switched
    assert statuses(pieces) == [(200, "/public/index.html")]
    assert not stream.holding and not stream.tunnel
    # The held request passes `admit` like any: refused, nothing of it goes on.
    assert stream.feed(b"") == b""
    assert refused == ["/private/secret.html"] and stream.stopped.status == 403
    assert reader.idle


def test_held_bytes_that_pass_go_on_as_requests():
    stream, reader = streams()
    upgrade = request("/a", *UPGRADE_FOO)
    later = request("/b", "Content-Length: 3") + b"abc"
    assert stream.feed(upgrade + later[:10]) == forwarded(upgrade)
    assert stream.feed(later[10:]) == b""
    list(reader.feed(b"HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n"))
    assert stream.feed(b"") == forwarded(request("/b", "Content-Length: 3")) + b"abc"
    assert [r.target for r in stream.requests] == ["/a", "/b"]


def test_earlier_responses_come_first_and_interim_ones_release_nothing():
    stream, reader = streams()
    stream.feed(request("/a") + request("/ws", *WEBSOCKET) + b"\x81\x85early")
    pieces = read(reader, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
                          b"HTTP/1.1 100 Continue\r\n\r\n", 1)
    assert statuses(pieces) == [(200, "/a"), (100, "/ws")]
    assert stream.holding
    switch = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\n\r\n\x81\x02hi")
    pieces = read(reader, switch, 7)
    assert statuses(pieces) == [(101, "/ws")] and stream.tunnel
    assert stream.feed(b"\x88\x80") == b"\x81\x85early\x88\x80"  # raw, in order
    assert b"".join(reader.feed(b"HTTP/1.1 200 OK\r\n\r\n")) == b"HTTP/1.1 200 OK\r\n\r\n"


def test_draft76_key3_is_the_handshake_body():
    stream, reader = streams()
    handshake = request("/d76", *DRAFT76)
    assert stream.feed(handshake + b"KEY3") == forwarded(handshake) + b"KEY3"
    assert stream.feed(b"BYTE\x00hi\xff") == b"BYTE"  # key3 whole; the frame waits
    assert stream.holding
    list(reader.feed(b"HTTP/1.1 101 WebSocket Protocol Handshake\r\nUpgrade: WebSocket\r\n"
                     b"Connection: Upgrade\r\n\r\n0123456789abcdef"))
    assert stream.tunnel and stream.feed(b"") == b"\x00hi\xff"


@pytest.mark.parametrize(("line", "asked", "switched", "reason"), [
    (LINE, WEBSOCKET, "foo", "Unexpected Upgrade: foo (expecting WebSocket)"),
    (LINE, UPGRADE_FOO, "foo", "Unexpected Upgrade: foo (expecting n/a)"),
    (LINE, WEBSOCKET, None, "Unexpected Upgrade: n/a (expecting WebSocket)"),
    (ProxyPass("/", ("b", 80), "/", "f.conf", 1, ("foo", "bar")), WEBSOCKET, "websocket",
     "Unexpected Upgrade: websocket (expecting n/a)"),
    (LINE, (), "websocket", "Unexpected Upgrade: websocket (expecting n/a)"),
])
def test_a_101_other_than_for_what_was_asked_and_allowed_is_a_502(line, asked, switched,
                                                                   reason):
    stream, reader = streams(line)
    stream.feed(request("/x", *asked) + SECRET)
    upgrade = f"Upgrade: {switched}\r\n" if switched else ""
    with pytest.raises(HttpError) as refused:
        list(reader.feed(f"HTTP/1.1 101 Switching\r\n{upgrade}\r\nRAW".encode()))
    assert (refused.value.status, refused.value.reason) == (502, reason)
    assert reader.between and not stream.tunnel
    assert stream.feed(b"") == b""  # the held request stays held: the connection ends


@pytest.mark.parametrize(("upgrade", "asked"), [
    (("foo", "bar"), "BAR"), (("*",), "anything/2"), (("websocket",), "websocket"),
])
def test_the_upgrade_parameter_says_which_protocols_may_switch(upgrade, asked):
    stream, reader = streams(ProxyPass("/", ("b", 80), "/", "f.conf", 1, upgrade))
    stream.feed(request("/x", "Connection: Upgrade", f"Upgrade: {asked}") + b"raw")
    pieces = read(reader, f"HTTP/1.1 101 OK\r\nUpgrade: {asked.lower()}\r\n\r\n".encode(), 3)
    assert statuses(pieces) == [(101, "/x")]
    assert stream.tunnel and stream.feed(b"") == b"raw"
