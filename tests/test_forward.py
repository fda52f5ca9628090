"""geows/forward.py's sans-I/O parts: the backend's responses framed (ResponseReader), and
what a client sends after an upgrade request held until the backend has answered it
(RequestStream), bytes in and exact bytes out. tests/test_geows_in_front.py runs them
between real clients and a real Apache."""

from __future__ import annotations

import re
from collections import deque

import pytest

from geows import limits
from geows.config.paths import ProxyPass
from geows.config.vhosts import RequestLimits
from geows.errors import HttpError, RoutedElsewhere
from geows.http import RequestParser
from geows.proxy_http import RequestStream, Response, ResponseReader, chunk_size, rewrite_target

LINE = ProxyPass(prefix="/", backend=("b", 80), backend_path="/", file="f.conf", line=1)
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


def test_a_response_length_is_read_as_httpd_reads_it():
    """ap_parse_strict_length: leading zeros however many (int() refuses more than 4,300
    digits)."""
    stream, reader = streams()
    stream.feed(request("/a") + request("/b"))
    raw = (b"HTTP/1.1 200 OK\r\nContent-Length: " + b"0" * 4400 + b"5\r\n\r\nfirst"
           b"HTTP/1.1 204 No Content\r\n\r\n")
    assert statuses(read(reader, raw, 1000)) == [(200, "/a"), (204, "/b")]
    assert reader.idle


@pytest.mark.parametrize("raw", [
    b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: " + b"9" * 4400 + b"\r\n\r\n",
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
    # The held request passes `admit` like any: refused, nothing of it goes on; it is
    # answered in its place, and the connection goes on, as httpd's does.
    assert stream.feed(b"") == b""
    assert refused == ["/private/secret.html"] and stream.stopped is None
    [answer] = reader.due()
    assert (answer.after, answer.status, answer.last) == (1, 403, False)
    assert answer.data.startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert b"Connection: close" not in answer.data
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


@pytest.mark.parametrize("key3", [b"GET /a\r\n", b"^n:ds[4U"])
def test_after_draft76_key3_any_other_answer_ends_the_connection(key3):
    """Key3 went to the backend unannounced, as the handshake's body: after an answer that
    is no 101, the backend may read it as a request of its own (b"GET /a\\r\\n" is an
    HTTP/0.9 one), so the connection ends with that answer; nothing held is parsed or
    forwarded, and nothing the backend sends after its answer goes back."""
    admitted = []
    stream, reader = streams(admit=admitted.append)
    handshake = request("/d76", *DRAFT76)
    assert stream.feed(handshake + key3 + SECRET) == forwarded(handshake) + key3
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    pieces = list(reader.feed(answer[:-1]))
    assert not reader.finished and stream.stopped is not None
    pieces += reader.feed(answer[-1:] + b"<html>the backend's answer to /a</html>")
    assert b"".join(p.head if isinstance(p, Response) else p for p in pieces) == answer
    assert statuses(pieces) == [(200, "/d76")] and reader.finished
    assert stream.feed(b"") == b"" and stream.feed(request("/b")) == b""
    assert admitted == [] and [r.target for r in stream.requests] == ["/d76"]


def test_a_draft76_handshake_with_its_length_goes_on_after_any_other_answer():
    """Content-Length: 8 says what key3 is: the backend reads it as a body, never as a
    request, and the next request is checked and forwarded as any."""
    stream, reader = streams()
    handshake = request("/d76", *DRAFT76, "Content-Length: 8")
    assert stream.feed(handshake + b"GET /a\r\n" + request("/b")) == \
        forwarded(handshake) + b"GET /a\r\n"
    list(reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
    assert stream.feed(b"") == forwarded(request("/b")) and stream.stopped is None


@pytest.mark.parametrize(("line", "asked", "switched", "reason"), [
    (LINE, WEBSOCKET, "foo", "Unexpected Upgrade: foo (expecting WebSocket)"),
    (LINE, UPGRADE_FOO, "foo", "Unexpected Upgrade: foo (expecting n/a)"),
    (LINE, WEBSOCKET, None, "Unexpected Upgrade: n/a (expecting WebSocket)"),
    (ProxyPass(prefix="/", backend=("b", 80), backend_path="/", file="f.conf", line=1,
               upgrade=("foo", "bar")), WEBSOCKET, "websocket",
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
    stream, reader = streams(ProxyPass(prefix="/", backend=("b", 80), backend_path="/",
                                       file="f.conf", line=1, upgrade=upgrade))
    stream.feed(request("/x", "Connection: Upgrade", f"Upgrade: {asked}") + b"raw")
    pieces = read(reader, f"HTTP/1.1 101 OK\r\nUpgrade: {asked.lower()}\r\n\r\n".encode(), 3)
    assert statuses(pieces) == [(101, "/x")]
    assert stream.tunnel and stream.feed(b"") == b"raw"


# Chunk sizes, read as httpd's parse_chunk_size reads them (HttpProtocolOptions Strict), by
# one function for a client's body and a backend's alike.

CHUNK_SIZES_TAKEN = {
    b"5\r\n": 5, b"0000005\r\n": 5, b"A\r\n": 10, b"a\r\n": 10, b"5 \r\n": 5,
    b"5\t \t\r\n": 5, b"5" + b" " * 10 + b"\r\n": 5, b"5;name=value\r\n": 5,
    b"5 ;a=\"b c\";d\t\r\n": 5, b"5;\xe9\r\n": 5, b"0" * 30 + b"5\r\n": 5,
    b"7fffffffffffffff\r\n": 2**63 - 1, b"0\r\n": 0, b"000\r\n": 0,
}
CHUNK_SIZES_REFUSED = {   # 400 for a malformed line, 413 for a size past 2^63 - 1
    b"-5\r\n": 400, b"+5\r\n": 400, b" 5\r\n": 400, b"0x5\r\n": 400, b"0_5\r\n": 400,
    b"\xb5\r\n": 400, b"\r\n": 400, b"5\n": 400, b"5\r\r\n": 400, b"5 5\r\n": 400,
    b"5" + b" " * 11 + b"\r\n": 400, b"5;a\x01\r\n": 400, b"5;a\rb\r\n": 400,
    b"5z\r\n": 400, b"\xef\xbc\x95\r\n": 400,   # a fullwidth 5: int() takes it
    b"8000000000000000\r\n": 413, b"10000000000000005\r\n": 413,
    b"10000000000000000x\r\n": 413,   # the overflow comes first, digit by digit
}


@pytest.mark.parametrize(("line", "size"), CHUNK_SIZES_TAKEN.items())
def test_chunk_sizes_httpd_takes(line, size):
    assert chunk_size(line) == size
    # A client's chunk of that size goes on as sent; a backend's as well.
    stream, reader = streams()
    head = request("/", "Transfer-Encoding: chunked", method="POST")
    body = line + b"x" * min(size, 3)
    assert stream.feed(head + body) == forwarded(head) + body
    assert stream.stopped is None and not stream.answers
    response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    assert read(reader, response, 3)   # passed on byte for byte, no 502


@pytest.mark.parametrize(("line", "status"), CHUNK_SIZES_REFUSED.items())
def test_chunk_sizes_httpd_refuses(line, status):
    with pytest.raises(OverflowError if status == 413 else ValueError):
        chunk_size(line)
    # A client's: nothing of the line goes on, and geows answers it in the backend's
    # place (the backend has its head), as httpd answers it; nothing after it is read.
    stream, reader = streams()
    head = request("/", "Transfer-Encoding: chunked", method="POST")
    assert stream.feed(head + line + b"x" * 5 + request("/next")) == forwarded(head)
    [answer] = stream.answers
    assert (answer.after, answer.status, answer.last) == (0, status, True)
    assert stream.stopped is not None and stream.feed(request("/more")) == b""
    pieces = list(reader.feed(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
    assert pieces == [answer] and reader.finished
    # A backend's: a 502 in the middle of its response.
    stream, reader = streams()
    stream.feed(request())
    pieces = reader.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + line)
    assert isinstance(next(pieces), Response)
    with pytest.raises(HttpError) as refused:
        list(pieces)
    assert refused.value.status == 502


def test_a_chunk_line_is_bounded_by_limit_request_field_size():
    """parse_chunk_size counts the line against LimitRequestFieldSize (413 past it, as
    APR_ENOSPC); the line is held, never passed on, until whole."""
    stream, _ = streams()
    head = request("/", "Transfer-Encoding: chunked", method="POST")
    line = b"5;" + b"e" * (limits.LIMIT_REQUEST_FIELD_SIZE - 4)
    assert stream.feed(head + line) == forwarded(head)
    assert stream.feed(b"\r\n12345") == line + b"\r\n12345"
    stream, _ = streams()
    assert stream.feed(head + line + b"eee") == forwarded(head)
    assert stream.answers[0].status == 413 and stream.stopped is not None


def test_chunk_data_is_followed_by_crlf():
    stream, _ = streams()
    head = request("/", "Transfer-Encoding: chunked", method="POST")
    assert stream.feed(head + b"3\r\n12345\r\n0\r\n\r\n") == forwarded(head) + b"3\r\n123"
    assert stream.answers[0].status == 400 and stream.stopped is not None


# Later requests geows answers itself: in their place among the backend's answers.

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def test_own_answers_come_in_request_order_among_the_backends():
    def admit(later):
        if later.path.startswith("/private"):
            raise HttpError(403, f"access denied to {later.path}")
    stream, reader = streams(admit=admit)
    out = stream.feed(request("/a") + request("/private/1") + request("/private/2")
                      + request("*", method="OPTIONS") + request("/b") + request("/private/3"))
    assert [r.path for r in stream.requests] == ["/a", "/b"]
    assert out == forwarded(request("/a")) + forwarded(request("/b"))
    assert [(a.after, a.status) for a in stream.answers] == [(1, 403), (1, 403), (1, 200),
                                                             (2, 403)]
    # The backend answers /a in two pieces, /b with an interim 100 first.
    pieces = list(reader.feed(OK[:-1]))
    assert pieces == [pieces[0], b"o"] and isinstance(pieces[0], Response)
    assert reader.due() == [] and len(stream.answers) == 4   # /a's answer is not whole yet
    pieces = list(reader.feed(b"k" + b"HTTP/1.1 100 Continue\r\n\r\n" + OK))
    assert pieces[0] == b"k"
    assert [p.status for p in pieces[1:4]] == [403, 403, 200]   # geows', before /b's
    assert pieces[3].data.startswith(b"HTTP/1.1 200 OK\r\n")      # OPTIONS *: no body
    assert pieces[3].data.endswith(b"Content-Length: 0\r\n\r\n")
    assert statuses(pieces[4:]) == [(100, "/b"), (200, "/b")] and pieces[-2] == b"ok"
    assert pieces[-1].status == 403 and not stream.answers
    assert reader.idle and not reader.finished


def test_a_refused_requests_body_is_skipped_and_its_answer_fits_head():
    def admit(later):
        raise HttpError(401, "who?", (("WWW-Authenticate", 'Basic realm="r"'),))
    stream, reader = streams(admit=admit)
    body = request("/hidden")
    out = stream.feed(request("/a") + request("/x", f"Content-Length: {len(body)}",
                                              method="PUT") + body
                      + request("/y", method="HEAD"))
    assert out == forwarded(request("/a")) and stream.stopped is None
    _, _, put, head = reader.feed(OK)
    assert put.data.startswith(b"HTTP/1.1 401 ") and put.data.endswith(b"</html>\n")
    assert b'\r\nWWW-Authenticate: Basic realm="r"\r\n' in put.data
    length = int(re.search(rb"Content-Length: (\d+)", head.data)[1])
    assert head.data.endswith(b"\r\n\r\n") and length == len(put.data.partition(b"\r\n\r\n")[2])


@pytest.mark.parametrize("later", [
    request("/x", "Connection: close"),
    request("/x", "Expect: 100-continue", "Content-Length: 5", method="POST"),
    b"GET /x HTTP/1.0\r\n\r\n",
])
def test_an_own_answer_after_which_httpd_closes_ends_the_connection(later):
    def admit(request):
        raise HttpError(403, "no")
    stream, reader = streams(admit=admit)
    assert stream.feed(request("/a") + later + request("/b")) == forwarded(request("/a"))
    [answer] = stream.answers
    assert answer.last and b"\r\nConnection: close\r\n" in answer.data
    assert stream.stopped == "no"
    pieces = list(reader.feed(OK + OK))   # the backend's more than asked: not passed on
    assert statuses(pieces) == [(200, "/a")] and pieces[-1] is answer and reader.finished


def test_a_later_request_with_thousands_of_digits_in_its_length_is_forwarded():
    first, later = request("/a"), request("/b", "Content-Length: " + "0" * 4400 + "5")
    stream, _ = streams()
    assert stream.feed(first + later + b"hello") == forwarded(first) + forwarded(later) + \
        b"hello"
    assert stream.stopped is None and stream.requests[1].content_length == 5


def test_a_bug_on_a_later_request_leaves_the_earlier_ones_going_on():
    """An exception that is no HttpError (a bug of geows') ends the connection, and no
    more: the requests before it still go to the backend, to be answered; the relay logs
    `failure`."""
    def admit(later):
        if later.target == "/bug":
            raise RuntimeError("a bug")

    stream, reader = streams(admit=admit)
    first, second = request("/a"), request("/b")
    assert stream.feed(first + second + request("/bug") + request("/c")) == \
        forwarded(first) + forwarded(second)
    assert stream.stopped == "internal error" and str(stream.failure) == "a bug"
    assert stream.feed(request("/d")) == b""
    assert statuses(read(reader, b"HTTP/1.1 204 No Content\r\n\r\n" * 2, 5)) == [
        (204, "/a"), (204, "/b")]


@pytest.mark.parametrize(("later", "status"), [
    (request("/" + "x" * 100), 414),                             # LimitRequestLine 100
    (request("/", *(f"X-{n}: 1" for n in range(5))), 400),       # LimitRequestFields 5
    (request("/", "X-Big: " + "a" * 200), 400),                  # LimitRequestFieldSize 200
])
def test_later_requests_are_read_under_the_connections_limits(later, status):
    """As httpd reads every head of a connection: under its address:port's LimitRequest*,
    not core's defaults; over them, httpd's answer in the request's place, and the end."""
    stream = RequestStream(LINE, "192.0.2.1", request_limits=RequestLimits(100, 5, 200))
    first = request("/a")
    assert stream.feed(first + later) == forwarded(first)
    [answer] = stream.answers
    assert (answer.after, answer.status, answer.last) == (1, status, True)
    assert stream.stopped is not None
    assert stream.feed(request("/b")) == b""


def test_a_bad_body_answered_after_the_backend_began_answering_leaves_its_answer():
    stream, reader = streams()
    head = request("/", "Transfer-Encoding: chunked", method="POST")
    stream.feed(head + b"5\r\n")
    pieces = list(reader.feed(OK))   # a backend that answers before it reads the body
    assert statuses(pieces) == [(200, "/")]
    stream.feed(b"12345\r\n-5\r\n")
    assert stream.answers[0].after == 0 and stream.stopped is not None
    assert reader.due() == [] and reader.finished   # its answer stands; nothing follows


def test_mod_proxy_http_forwards_chunked_alone():
    """AH01093: any Transfer-Encoding but "chunked" is a 500, before the backend is
    reached for a first request (the caller answers it), in its place for a later one."""
    stream, _ = streams()
    first = RequestParser().feed(request("/", "Transfer-Encoding: chunked",
                                         "Transfer-Encoding: chunked", method="POST"))
    out = bytearray()
    with pytest.raises(HttpError) as refused:
        stream.start(first, out)
    assert refused.value.status == 500 and stream.requests == [] and out == b""
    stream, _ = streams()
    later = request("/", "Transfer-Encoding: gzip, chunked", method="POST") + b"0\r\n\r\n"
    assert stream.feed(request("/a") + later) == forwarded(request("/a"))
    assert [(a.status, a.last) for a in stream.answers] == [(500, True)]
    stream, _ = streams()
    upper = request("/", "Transfer-Encoding: CHUNKED", method="POST") + b"0\r\n\r\n"
    assert stream.feed(upper) == forwarded(upper[:-5]) + b"0\r\n\r\n"


def test_transfer_encoding_with_content_length_is_the_connections_last_request():
    """ap_read_request closes the connection after it: its body goes on (chunked), and
    nothing after it is read, not even what it would hide with Content-Length."""
    stream, reader = streams()
    hidden = request("/private/secret.html")
    body = b"0\r\n\r\n" + hidden
    first = request("/", f"Content-Length: {len(body)}", "Transfer-Encoding: chunked",
                    method="POST")
    out = stream.feed(first + body[:3])
    assert out.endswith(b"\r\nConnection: close\r\nX-Forwarded-For: 192.0.2.1\r\n\r\n0\r\n")
    assert b"Content-Length" not in out and stream.stopped is None
    assert stream.feed(body[3:]) == b"\r\n" and stream.stopped is not None
    assert stream.answers == deque() and stream.feed(request("/more")) == b""


def test_response_fields_as_ap_proxygetline_reads_them():
    """Found by the mutation run: a fold (space or TAB) joins the last field, a value keeps
    its colons and any whitespace but SP and HTAB, and a length of 0 ends the response at
    its head."""
    stream, reader = streams()
    stream.feed(request("/a") + request("/b"))
    raw = (b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\tfolded\r\nX: a:b\r\nY: \x0cy\x0c \r\n"
           b"Content-Length: 0\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
    pieces = read(reader, raw, 1000)
    assert statuses(pieces) == [(200, "/a"), (204, "/b")]
    headers = pieces[0].headers
    assert [headers.get(name) for name in "ABCXY"] == ["1", "2", "3 folded", "a:b", "\x0cy\x0c"]
    assert reader.idle


@pytest.mark.parametrize(("raw", "reason"), [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", "invalid Content-Length in a response"),
    (b"HTTP/1.1 200 OK\r\n" + b"n" * 50 + b"\r\n\r\n",
     "malformed response header line " + repr(b"n" * 40)),
])
def test_a_head_that_cannot_be_read_says_why(raw, reason):
    stream, reader = streams()
    stream.feed(request())
    with pytest.raises(HttpError) as refused:
        list(reader.feed(raw))
    assert (refused.value.status, refused.value.reason) == (502, reason)


# Found by the mutation run (tests/mutation/RESULTS.md): what each refusal says, the heads
# as they go to the backend, and the framing's edges.

@pytest.mark.parametrize(("body", "status", "reason"), [
    (b"3\r\n12345", 400, "chunk data not followed by CRLF"),
    (b"5;" + b"e" * limits.LIMIT_REQUEST_FIELD_SIZE, 413,
     "chunk-size line longer than LimitRequestFieldSize"),
    (b"0\r\nT: " + b"t" * limits.LIMIT_REQUEST_FIELD_SIZE, 400,
     "trailer line longer than LimitRequestFieldSize"),
    (b"0\r\nT: 1\n", 400, "trailer line not ended by CRLF"),
    (b"g" * 30 + b"\r\n", 400, "chunk-size line not starting with a hex digit: "
                               + repr(b"g" * 20)),
    (b"5" + b"z" * 30 + b"\r\n", 400, "malformed chunk-size line " + repr(b"5" + b"z" * 19)),
    (b"1" + b"0" * 30 + b"\r\n", 413, "chunk size past 2^63 - 1: " + repr(b"1" + b"0" * 19)),
])
def test_a_chunked_body_that_cannot_be_read_says_why(body, status, reason):
    """The reason goes to the error log (a line quoted up to 20 bytes): the client's
    answered in the backend's place, the backend's a 502."""
    stream, _ = streams()
    head = request("/", "Transfer-Encoding: chunked", method="POST")
    stream.feed(head + body)
    [answer] = stream.answers
    assert (answer.status, answer.reason, answer.last) == (status, reason, True)
    assert stream.stopped == reason and stream.failure is None
    stream, reader = streams()
    stream.feed(request())
    with pytest.raises(HttpError) as refused:
        list(reader.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body))
    assert (refused.value.status, refused.value.reason) == (502, reason)


def status_line(size: int) -> bytes:
    """A status line of `size` bytes, its CRLF included."""
    return b"HTTP/1.1 200 " + b"O" * (size - 15) + b"\r\n"


def head_of(size: int) -> bytes:
    """A response head of `size` bytes, framing an empty body, no line longer than
    RESPONSE_FIELD_SIZE."""
    head, end = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n", b"\r\n"
    while len(head) + len(end) < size:
        room = min(limits.RESPONSE_FIELD_SIZE, size - len(head) - len(end))
        head += b"X: " + b"y" * max(room - 5, 0) + b"\r\n"
    assert len(head + end) == size
    return head + end


@pytest.mark.parametrize("earlier", [b"", b"HTTP/1.1 204 No Content\r\n\r\n"])
def test_a_response_line_and_head_may_be_exactly_as_long_as_their_limits(earlier):
    """A line counts its CRLF (ap_rgetline's), for the first response of the connection
    and for a later one."""
    for size, refused in [(limits.RESPONSE_FIELD_SIZE, False),
                          (limits.RESPONSE_FIELD_SIZE + 1, True)]:
        stream, reader = streams()
        stream.feed(request("/a") + request("/b"))
        raw = earlier + status_line(size) + b"Content-Length: 0\r\n\r\n"
        if refused:
            with pytest.raises(HttpError) as error:
                list(reader.feed(raw))
            assert error.value.reason == "response header line longer than ResponseFieldSize"
        else:
            assert read(reader, raw, 1000)
    stream, reader = streams()
    stream.feed(request("/a") + request("/b") + request("/c"))
    raw = earlier + head_of(limits.RESPONSE_HEAD_SIZE)
    assert read(reader, raw, 5000) and reader.between
    with pytest.raises(HttpError) as error:
        list(reader.feed(head_of(limits.RESPONSE_HEAD_SIZE + 1)))
    assert error.value.reason == "response head longer than limits.RESPONSE_HEAD_SIZE"


def test_response_framing_edges():
    """A length of 0 ends the response at its head, even when nothing follows; repeated
    Content-Length fields of one value are that length, as "3, 3" in one field is; a
    Transfer-Encoding that is not chunked frames the body until the backend closes; a
    fold line of spaces alone continues the head (ap_proxygetline's AP_GETLINE_FOLD)."""
    stream, reader = streams()
    stream.feed(request("/a") + request("/b") + request("/c") + request("/d"))
    list(reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
    assert reader.between and not reader.idle
    pieces = read(reader, b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n"
                          b"\r\nabc", 1000)
    assert statuses(pieces) == [(200, "/b")] and reader.between
    pieces = read(reader, b"HTTP/1.1 200 OK\r\nA: 1\r\n \r\nContent-Length: 2\r\n\r\nok", 1000)
    assert statuses(pieces) == [(200, "/c")] and pieces[-1] == b"ok" and reader.between
    pieces = read(reader, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"
                          b"zz\r\nHTTP/1.1 200 OK\r\n\r\n", 1000)
    assert statuses(pieces) == [(200, "/d")] and not reader.between


def test_a_value_keeps_the_letters_at_its_ends():
    stream, reader = streams()
    stream.feed(request())
    [response] = reader.feed(b"HTTP/1.1 204 No Content\r\nZ: X z X\r\n\r\n")
    assert response.headers.get("Z") == "X z X"


def test_a_malformed_status_line_is_quoted_up_to_40_bytes():
    stream, reader = streams()
    stream.feed(request())
    line = b"ICY 200 OK " + b"x" * 50
    with pytest.raises(HttpError) as refused:
        list(reader.feed(line + b"\r\n\r\n"))
    assert refused.value.reason == f"malformed response status line {line[:40]!r}"


def parsed(raw: bytes, secure: bool = False):
    return RequestParser(secure=secure).feed(raw)


APP = ProxyPass(prefix="/app", backend=("b", 80), backend_path="/back", file="f.conf", line=1)


def test_the_target_the_backend_gets():
    """The decoded path with the ProxyPass prefix replaced, re-encoded as
    ap_proxy_canonenc encodes it (bytes that are not UTF-8 as they came), and the query as
    received; a path the line does not map goes as it is."""
    raw = b"GET /app/a%20b%FF%C3%A9~$%41?q=%41 HTTP/1.1\r\nHost: h\r\n\r\n"
    assert rewrite_target(parsed(raw), APP) == "/back/a%20b%FF%C3%A9~$A?q=%41"
    assert rewrite_target(parsed(b"GET /app?x HTTP/1.1\r\nHost: h\r\n\r\n"), APP) == "/back?x"
    assert rewrite_target(parsed(b"GET /other%20x HTTP/1.1\r\nHost: h\r\n\r\n"), APP) == \
        "/other%20x"


@pytest.mark.parametrize(("raw", "sent"), [
    (b"GET /x HTTP/1.0\r\n\r\n", b"GET /x HTTP/1.0\r\n" + XFF + b"\r\n"),
    (b"GET http://abs.example/x HTTP/1.0\r\n\r\n",
     b"GET /x HTTP/1.0\r\nHost: abs.example\r\n" + XFF + b"\r\n"),
    (b"POST /x HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\nContent-Length: 5\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n",
     b"POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
     + XFF + b"\r\n"),
])
def test_the_head_the_backend_gets(raw, sent):
    """HTTP/1.0 stays (without a Host field unless an absolute-form gave one); a request
    httpd closes after has `Connection: close` in place of the client's."""
    stream, _ = streams()
    assert stream.feed(raw) == sent


def test_later_absolute_form_targets_are_read_as_on_the_first_connections_scheme():
    """An https:// target names the vhost's host on TLS only (ap_parse_uri's scheme check),
    and the backend gets that host; on plain HTTP, the Host field stands."""
    first, later = request("/a"), b"GET https://abs.example/x HTTP/1.1\r\nHost: h\r\n\r\n"
    for secure, host in [(True, b"abs.example"), (False, b"h")]:
        stream = RequestStream(LINE, "192.0.2.1", secure=secure)
        assert stream.feed(first + later) == forwarded(first) + forwarded(
            b"GET /x HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
    stream = RequestStream(LINE, "192.0.2.1")
    assert stream.feed(first + later).endswith(b"Host: h\r\n" + XFF + b"\r\n")


def test_an_upgrade_field_without_connection_upgrade_asks_for_nothing():
    stream, _ = streams()
    asking = request("/a", "Upgrade: websocket")
    assert stream.feed(asking + request("/b")) == forwarded(asking) + forwarded(request("/b"))
    assert not stream.holding and stream.upgrade is None


def test_a_101_with_an_empty_upgrade_to_a_protocol_not_allowed_is_a_502():
    stream, reader = streams()
    stream.feed(request("/x", *UPGRADE_FOO))
    with pytest.raises(HttpError) as refused:
        list(reader.feed(b"HTTP/1.1 101 Switching\r\nUpgrade: \r\n\r\nRAW"))
    assert refused.value.reason == "Unexpected Upgrade: n/a (expecting n/a)"
    assert not stream.tunnel


def test_own_answers_say_why():
    """Each Answer's reason is what the error log says of it."""
    def admit(later):
        if later.path == "/private":
            raise HttpError(403, "access denied to /private")

    stream, _ = streams(admit=admit)
    coding = "gzip" + "x" * 50 + ", chunked"
    stream.feed(request("/a") + request("/private") + request("*", method="OPTIONS")
                + request("/b", f"Transfer-Encoding: {coding}", method="POST"))
    assert [(a.status, a.reason) for a in stream.answers] == [
        (403, "access denied to /private"), (200, "OPTIONS * answered"),
        (500, f"{coding[:40]} Transfer-Encoding is not supported by mod_proxy_http")]
    assert stream.stopped == stream.answers[-1].reason and stream.failure is None


def test_an_options_star_after_which_httpd_closes_ends_the_connection():
    stream, _ = streams()
    stream.feed(request("/a") + request("*", "Connection: close", method="OPTIONS")
                + request("/b"))
    [answer] = stream.answers
    assert answer.last and stream.stopped == "OPTIONS * answered"
    assert answer.data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nConnection: close\r\n" in answer.data


def test_a_later_head_that_cannot_be_read_is_answered_with_httpds_page():
    stream = RequestStream(LINE, "192.0.2.1", request_limits=RequestLimits(100, 5, 200))
    stream.feed(request("/a") + request("/" + "x" * 100))
    [answer] = stream.answers
    assert answer.reason == "request line longer than LimitRequestLine"
    assert answer.data.startswith(b"HTTP/1.1 414 Request-URI Too Long\r\n")
    assert answer.data.endswith(b"</html>\n")


def test_a_request_routed_elsewhere_stops_the_stream_unanswered():
    def admit(later):
        raise RoutedElsewhere("/b is another backend's")

    stream, _ = streams(admit=admit)
    assert stream.feed(request("/a") + request("/b") + request("/c")) == \
        forwarded(request("/a"))
    assert stream.stopped == "/b is another backend's" and not stream.answers


def test_a_bad_body_of_a_request_answered_already_stops_the_stream_after_that_answer():
    def admit(later):
        raise HttpError(403, "no")

    stream, _ = streams(admit=admit)
    later = request("/x", "Transfer-Encoding: chunked", method="POST") + b"zz\r\n"
    assert stream.feed(request("/a") + later + request("/b")) == forwarded(request("/a"))
    assert [(a.status, a.last) for a in stream.answers] == [(403, False)]
    assert stream.stopped == "chunk-size line not starting with a hex digit: b'zz\\r\\n'"


def test_the_stop_reasons_of_a_connection_httpd_closes():
    stream, reader = streams()
    stream.feed(request("/d76", *DRAFT76) + b"KEY3BYTE")
    list(reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
    assert stream.stopped == ("the backend answered a draft-76 handshake without a 101, its 8 "
                              "key bytes sent on unannounced")
    stream, _ = streams()
    stream.feed(request("/", "Content-Length: 5", "Transfer-Encoding: chunked", method="POST")
                + b"0\r\n\r\n")
    assert stream.stopped == "Transfer-Encoding with Content-Length: httpd closes after it"
    assert stream.failure is None


@pytest.mark.parametrize(("sent", "reason"), [
    (b"", "the backend closed its connection before answering"),
    (b"HTTP/1.1 20", "the backend closed its connection before answering"),
    (b"\r\n", "the backend closed its connection before answering"),
    (b"HTTP/1.1 200 OK\r\nA: 1\r\n", "the backend closed its connection in the middle of a "
                                     "response head"),
    (OK + b"HTTP/1.1 200 OK\r\nA", "the backend closed its connection in the middle of a "
                                  "response head"),
    # once a first line came whole, whatever it holds (judged with the whole head)
    (b"HTTP/1.1 200 OK\r\n", "the backend closed its connection in the middle of a "
                             "response head"),
    (b"X\r\n", "the backend closed its connection in the middle of a response head"),
    (b"\r\n \r\nHTTP", "the backend closed its connection in the middle of a response head"),
])
def test_a_backend_that_closes_owing_the_first_answer_or_in_a_head_is_a_502(sent, reason):
    """As Debian's apache2 answers (AH01102 for the first request, AH01106 for any): found
    while judging a mutant of _read_head, which told a head cut short from a head refused."""
    stream, reader = streams()
    stream.feed(request("/a") + request("/b"))
    list(reader.feed(sent))
    with pytest.raises(HttpError) as refused:
        reader.closed()
    assert (refused.value.status, refused.value.reason) == (502, reason)
    assert reader.between


@pytest.mark.parametrize("sent", [
    OK,                                                        # the first answered
    OK + b"HTTP/1.1 20",                                       # a later one owed
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc",        # in the middle of a body
])
def test_a_backend_that_closes_after_an_answer_or_in_a_body_closes_the_client_too(sent):
    stream, reader = streams()
    stream.feed(request("/a") + request("/b"))
    list(reader.feed(sent))
    assert reader.closed() is None


def test_a_backend_that_closes_after_geows_answered_in_its_place_owes_nothing():
    stream, reader = streams()
    stream.feed(request("/", "Transfer-Encoding: chunked", method="POST") + b"zz\r\n")
    assert [answer.status for answer in reader.feed(b"")] == [400]
    assert reader.finished and reader.answered == 0 and reader.closed() is None
