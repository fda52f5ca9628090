"""Whatever bytes a client sends, the parsers answer with events or HttpError,
never another exception, and never buffer past their limits."""

from hypothesis import given, settings
from hypothesis import strategies as st

from geows import limits
from geows.config.paths import ProxyPass
from geows.errors import HttpError
from geows.http import RequestParser
from geows.protocols import State, select_protocol
from geows.protocols.hixie76 import Hixie76
from geows.proxy_http import RequestStream, Response, ResponseReader

HEAD = (b"GET /echo HTTP/1.1\r\nHost: h\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key1: 1 2\r\nSec-WebSocket-Key2: 3 3\r\n\r\n12345678")

chunks = st.lists(st.binary(max_size=300), max_size=40)


@settings(max_examples=400, deadline=None)
@given(prefix=st.sampled_from([b"", b"GET / HTTP/1.1\r\n", b"GET /echo HTTP/1.1\r\nHost: x\r\n"]),
       data=chunks)
def test_request_parser_only_raises_http_error(prefix, data):
    parser = RequestParser(limit_request_line=200, limit_request_field_size=200)
    try:
        for chunk in [prefix, *data]:
            parser.feed(chunk)
            # A line of the limit + 1 bytes (httpd's), and its CR, wait for their LF.
            assert len(parser._buffer) <= 200 + 2 + len(chunk)
    except HttpError as exc:
        assert exc.status in (400, 404, 414)


@settings(max_examples=400, deadline=None)
@given(data=chunks)
def test_hixie76_frames_never_raise_and_stay_bounded(data):
    request = RequestParser().feed(HEAD)
    protocol = Hixie76(request, max_message_size=256)
    protocol.receive_data(request.trailing)
    protocol.accept(None)
    for chunk in data:
        protocol.receive_data(chunk)
        protocol.events_received()
        protocol.data_to_send()
        assert len(protocol._buffer) <= 256 + 1 + len(chunk)
    assert protocol.state in (State.OPEN, State.CLOSED)



RFC_HEAD = (b"GET /echo HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
# Valid masked frames to splice between random bytes, so the parser goes deep.
FRAMES = [
    b"\x81\x82\x00\x00\x00\x00hi",           # text "hi"
    b"\x01\x81\x00\x00\x00\x00a",            # first fragment
    b"\x80\x80\x00\x00\x00\x00",             # final continuation
    b"\x89\x80\x00\x00\x00\x00",             # ping
    b"\xc1\x80\x00\x00\x00\x00",             # compressed (RSV1) empty text
    b"\x88\x82\x00\x00\x00\x00\x03\xe8",     # close 1000
]


@settings(max_examples=400, deadline=None)
@given(data=st.lists(st.one_of(st.binary(max_size=200), st.sampled_from(FRAMES)), max_size=30))
def test_rfc6455_frames_never_raise(data):
    request = RequestParser().feed(RFC_HEAD)
    protocol = select_protocol(request, max_message_size=256)
    protocol.accept(None)
    for chunk in data:
        protocol.receive_data(chunk)
        protocol.events_received()
        protocol.data_to_send()
    protocol.receive_eof()
    protocol.events_received()
    assert protocol.state is State.CLOSED


FORWARD_HEAD = b"POST /app/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
# Pieces of chunked bodies and heads, to splice between random bytes.
FORWARD_PIECES = [b"5\r\nhello\r\n", b"0\r\n\r\n", b"3;ext=1\r\nabc\r\n", b"T: 1\r\n",
                  b"GET /app/y HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nok",
                  b"GET /app/z HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                  b"Connection: upgrade\r\n\r\n"]


@settings(max_examples=400, deadline=None)
@given(data=st.lists(st.one_of(st.binary(max_size=200), st.sampled_from(FORWARD_PIECES)),
                     max_size=30))
def test_forwarded_request_stream_never_raises_and_stays_bounded(data):
    """The forwarder's framing (geows in front of Apache) takes whatever a client sends:
    it passes on no more than it was given, or stops with a reason, and never buffers
    a line past httpd's limit."""
    stream = RequestStream(ProxyPass(prefix="/app", backend=("b", 80), backend_path="/app",
                                     file="f.conf", line=1), "192.0.2.1")
    given = sent = 0
    for chunk in [FORWARD_HEAD, *data]:
        given += len(chunk)
        sent += len(stream.feed(chunk))
        # What came in, plus one X-Forwarded-For line per request head passed on.
        assert sent <= given + len(b"X-Forwarded-For: 192.0.2.1\r\n") * len(stream.requests)
        assert len(stream._line) <= limits.LIMIT_REQUEST_FIELD_SIZE + len(chunk)
        if stream.stopped is not None:
            # httpd's answer, the connection's last: 400, or 413 for a chunk size past
            # 2^63 - 1 or a chunk-size line past LimitRequestFieldSize (parse_chunk_size).
            assert stream.answers[-1].last and stream.answers[-1].status in (400, 413)
            assert stream.feed(b"more") == b""
            break


# Pieces of responses, to splice between random bytes.
RESPONSE_PIECES = [b"HTTP/1.1 200 OK\r\n", b"Content-Length: 3\r\n", b"\r\n", b"abc",
                   b"Transfer-Encoding: chunked\r\n", b"5\r\nhello\r\n", b"0\r\n\r\n",
                   b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 204 No Content\r\n\r\n",
                   b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"]


@settings(max_examples=400, deadline=None)
@given(data=st.lists(st.one_of(st.binary(max_size=200), st.sampled_from(RESPONSE_PIECES)),
                     max_size=30))
def test_forwarded_response_reader_never_raises_and_passes_on_what_it_got(data):
    """Whatever a backend sends, the response reader passes it on byte for byte (a head,
    or a line of the chunked framing, once whole) or stops with a 502, and never holds
    more of a head or a line than its limit."""
    stream = RequestStream(ProxyPass(prefix="/", backend=("b", 80), backend_path="/",
                                     file="f.conf", line=1), "192.0.2.1")
    stream.feed(b"GET / HTTP/1.1\r\nHost: h\r\n\r\nHEAD / HTTP/1.1\r\nHost: h\r\n\r\n"
                b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                b"Connection: upgrade\r\n\r\n")
    assert len(stream.requests) == 3
    reader = ResponseReader(stream)
    given = passed = 0
    for chunk in data:
        given += len(chunk)
        try:
            for piece in reader.feed(chunk):
                passed += len(piece.head if isinstance(piece, Response) else piece)
        except HttpError as exc:
            assert exc.status == 502
            break
        assert passed + len(reader._head) + len(reader._line) == given
        assert len(reader._head) <= limits.RESPONSE_HEAD_SIZE
        assert len(reader._line) <= limits.LIMIT_REQUEST_FIELD_SIZE
