"""RFC 6455 as bytes in, events and bytes out; the short path against the engine."""

import hashlib
import logging
import os
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.frames import Frame, Opcode
from websockets.protocol import Protocol as WsProtocol
from websockets.protocol import Side
from websockets.protocol import State as WsState

from geows import limits
from geows.errors import HttpError
from geows.http import RequestParser
from geows.messages import BINARY, CLOSE, PING, PONG, TEXT
from geows.protocols import CloseReceived, Message, ProtocolError, State
from geows.protocols.rfc6455 import RFC6455

HEAD = ("GET /chat?x=1 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: {version}\r\n{extra}\r\n")


def make(version="13", extra="", **kwargs) -> RFC6455:
    request = RequestParser().feed(HEAD.format(version=version, extra=extra).encode())
    return RFC6455(request, **kwargs)


def opened(**kwargs) -> RFC6455:
    protocol = make(**kwargs)
    protocol.accept(None)
    protocol.data_to_send()
    return protocol


def frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0,
          mask: bytes | None = b"\x37\xfa\x21\x3d") -> bytes:
    head = bytes([(0x80 if fin else 0) | rsv << 4 | opcode])
    flag = 0x80 if mask is not None else 0
    n = len(payload)
    if n < 126:
        head += bytes([flag | n])
    elif n < 65536:
        head += bytes([flag | 126]) + struct.pack("!H", n)
    else:
        head += bytes([flag | 127]) + struct.pack("!Q", n)
    if mask is None:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def test_handshake_answer_rfc_example():
    protocol = make(extra="Sec-WebSocket-Protocol: chat, superchat\r\n")
    assert protocol.subprotocols == ("chat", "superchat")
    protocol.accept("superchat", [("X-Extra", "1")])
    out = protocol.data_to_send()
    assert out.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert b"\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in out   # 1.3
    assert b"\r\nSec-WebSocket-Protocol: superchat\r\n" in out
    assert b"\r\nX-Extra: 1\r\n" in out
    assert protocol.state is State.OPEN


@pytest.mark.parametrize("version", ["13", "8", "7"])
def test_versions_accepted(version):
    assert make(version=version).state is State.CONNECTING


@pytest.mark.parametrize("version", ["12", "6", "14", ""])
def test_other_versions_426(version):
    with pytest.raises(HttpError) as info:
        make(version=version)
    assert info.value.status == 426
    assert ("Sec-WebSocket-Version", "13") in info.value.headers


def test_deflate_offer_negotiated_with_bounded_window():
    protocol = make(extra="Sec-WebSocket-Extensions: permessage-deflate; "
                          "client_max_window_bits\r\n")
    protocol.accept(None)
    out = protocol.data_to_send()
    assert b"permessage-deflate" in out and b"server_max_window_bits=12" in out
    assert protocol.label == "rfc6455+permessage-deflate"
    declined = make(extra="Sec-WebSocket-Extensions: permessage-deflate\r\n", deflate=False)
    declined.accept(None)
    assert b"Sec-WebSocket-Extensions" not in declined.data_to_send()


def test_messages_and_replies():
    protocol = opened()
    protocol.receive_data(frame(1, "héllo".encode()) + frame(2, b"\x00\xff")
                          + frame(1, b"fra", fin=False) + frame(9, b"ping!")
                          + frame(0, b"gment", fin=True))
    assert protocol.events_received() == [
        Message(TEXT, "héllo"), Message(BINARY, b"\x00\xff"), Message(TEXT, "fragment")]
    assert protocol.data_to_send() == b"\x8a\x05ping!"   # 5.5.2: pong
    assert protocol.send(TEXT, "é" * 100) == 200
    assert protocol.send(BINARY, b"x" * 70000) == 70000
    assert protocol.send(PING, b"p") == 1
    out = protocol.data_to_send()
    assert out.startswith(b"\x81\x7e\x00\xc8" + "é".encode())
    assert b"\x82\x7f" + struct.pack("!Q", 70000) in out
    assert out.endswith(b"\x89\x01p")


def test_close_from_client_and_from_server():
    protocol = opened()
    protocol.receive_data(frame(8, struct.pack("!H", 4000) + b"bye"))
    assert protocol.events_received() == [CloseReceived(4000, "bye")]
    assert protocol.data_to_send() == b"\x88\x05\x0f\xa0bye"
    assert protocol.state is State.CLOSED

    protocol = opened()
    protocol.close(1001)
    assert protocol.close_expected()
    assert protocol.data_to_send() == b"\x88\x02\x03\xe9"
    protocol.receive_data(frame(1, b"late") + frame(8, struct.pack("!H", 1001)))
    # Data the client sent before it saw our close is still delivered (7.1.2).
    assert protocol.events_received() == [Message(TEXT, "late"), CloseReceived(1001, "")]
    assert protocol.state is State.CLOSED


def test_close_between_fragments_is_answered_not_a_fault():
    protocol = opened()
    protocol.receive_data(frame(1, b"fra", fin=False) + frame(8, struct.pack("!H", 1000)))
    assert protocol.events_received() == [CloseReceived(1000, "")]
    assert protocol.data_to_send() == b"\x88\x02\x03\xe8"


@pytest.mark.parametrize("data, code", [
    (frame(1, b"\xc3\x28"), 1007),
    (frame(1, b"\xff", fin=False), 1007),          # fails before the message ends
    (frame(1, b"no mask", mask=None), 1002),
    (frame(0, b"no start"), 1002),
    (frame(3, b""), 1002),                         # reserved opcode
    (frame(1, b"x", rsv=1), 1002),                 # RSV1 without deflate
    (frame(9, b"x" * 126), 1002),                  # control frame over 125 bytes
    (frame(1, b"x" * 201), 1009),
    (frame(1, b"x" * 120, fin=False) + frame(0, b"x" * 120), 1009),
])
def test_peer_faults(data, code):
    protocol = opened(max_message_size=200)
    protocol.receive_data(data)
    events = protocol.events_received()
    assert isinstance(events[-1], ProtocolError) and events[-1].code == code
    out = protocol.data_to_send()
    assert out[:1] == b"\x88" and struct.unpack("!H", out[2:4])[0] == code
    assert protocol.state is State.CLOSED


def test_oversized_header_fails_before_the_payload_arrives():
    protocol = opened(max_message_size=1000)
    protocol.receive_data(b"\x82\xff" + struct.pack("!Q", 10**12))
    assert protocol.events_received()[-1].code == 1009


def test_frames_before_the_101_are_kept():
    protocol = make()
    protocol.receive_data(frame(1, b"early"))
    assert protocol.events_received() == []
    protocol.accept(None)
    assert protocol.events_received() == [Message(TEXT, "early")]


# The short path must be invisible: the same bytes give the same events and
# the same output as the websockets engine alone.
payloads = st.one_of(st.binary(max_size=80), st.text(max_size=40).map(str.encode),
                     st.sampled_from([b"\xc3\x28", b"\xe2\x82", os.urandom(200)]))
frames = st.builds(
    frame,
    opcode=st.sampled_from([0, 1, 1, 2, 2, 8, 9, 10, 3]),
    payload=payloads,
    fin=st.booleans() | st.just(True),
    rsv=st.sampled_from([0, 0, 0, 0, 1, 4]),
    mask=st.sampled_from([b"\x00\x00\x00\x00", b"\x37\xfa\x21\x3d", None, b"\x01\x02\x03\x04"]),
)


def cut_into(data: bytes, cuts: list[int]) -> list[bytes]:
    """`data` as reads of the sizes in `cuts`, the rest in a last one."""
    chunks, pos = [], 0
    for cut in cuts:
        chunks.append(data[pos:pos + cut])
        pos += cut
    return [*chunks, data[pos:]]


@settings(max_examples=500, deadline=None)
@given(stream=st.lists(frames, max_size=12), cuts=st.lists(st.integers(1, 60), max_size=8),
       deflate=st.booleans(), echo=st.booleans())
def test_short_path_matches_the_engine(stream, cuts, deflate, echo):
    extra = "Sec-WebSocket-Extensions: permessage-deflate\r\n" if deflate else ""
    chunks = cut_into(b"".join(stream), cuts)
    results = []
    for short_path in (True, False):
        protocol = make(extra=extra, max_message_size=150, short_path=short_path)
        protocol.accept(None)
        protocol.data_to_send()   # the 101, whose Date may differ between the runs
        events, out = [], []
        for chunk in chunks:
            protocol.receive_data(chunk)
            new = protocol.events_received()
            events += new
            if echo and protocol.state is State.OPEN:
                for event in new:
                    if isinstance(event, Message):
                        protocol.send(event.type, event.data)
            out.append(protocol.data_to_send())
        results.append((events, b"".join(out), protocol.state))
    assert results[0] == results[1]


def test_a_frame_budget_parses_that_many_frames_per_call():
    """The server parses at most limits.FRAMES_PER_PARSE frames between two looks at the
    clock: 64 KiB of empty Pongs is 10,922 frames, not one parse."""
    protocol = opened(frame_budget=32)
    pongs = frame(10, b"") * (65536 // 6)
    protocol.receive_data(pongs)
    calls = 1
    while protocol.more_to_parse:
        protocol.receive_data(b"")
        calls += 1
    assert calls == -(-len(pongs) // 6 // 32)  # 342: ceil(10,922 / 32)
    assert protocol.events_received() == []
    protocol.receive_data(frame(1, b"after"))
    assert protocol.events_received() == [Message(TEXT, "after")]
    assert not protocol.more_to_parse


def test_early_frames_wait_for_the_budget_too():
    protocol = make(frame_budget=2)
    protocol.receive_data(frame(1, b"a") + frame(1, b"b") + frame(1, b"c"))
    protocol.accept(None)
    assert protocol.events_received() == [Message(TEXT, "a"), Message(TEXT, "b")]
    assert protocol.more_to_parse
    protocol.receive_data(b"")
    assert protocol.events_received() == [Message(TEXT, "c")]
    assert not protocol.more_to_parse


def run_stream(chunks: list[bytes], *, short_path: bool, budget: int | None,
               close_at: int | None, deflate: bool) -> tuple:
    """Events, output and final state of a stream read in `chunks`, driven as the server
    drives it: parse again while more_to_parse; close from our side before chunk close_at."""
    extra = "Sec-WebSocket-Extensions: permessage-deflate\r\n" if deflate else ""
    protocol = make(extra=extra, max_message_size=150, short_path=short_path,
                    frame_budget=budget)
    protocol.accept(None)
    protocol.data_to_send()   # the 101, whose Date may differ between the runs
    events, out = [], []
    for index, chunk in enumerate(chunks):
        if index == close_at:
            protocol.close(1001)
        protocol.receive_data(chunk)
        while True:
            events += protocol.events_received()
            out.append(protocol.data_to_send())
            if not protocol.more_to_parse:
                break
            protocol.receive_data(b"")
    return events, b"".join(out), protocol.state


@settings(max_examples=500, deadline=None)
@given(stream=st.lists(frames, max_size=12), cuts=st.lists(st.integers(1, 60), max_size=8),
       deflate=st.booleans(), budget=st.sampled_from([None, 1, 2, 3]),
       close_at=st.none() | st.integers(0, 8))
def test_parsing_in_budgeted_steps_changes_nothing(stream, cuts, deflate, budget, close_at):
    """Parsed a few frames at a time, on the short path, the same bytes give what the
    engine alone gives in one parse, a close of ours between reads included (after it,
    frames are still split one by one, so the budget holds while closing too)."""
    chunks = cut_into(b"".join(stream), cuts)
    reference = run_stream(chunks, short_path=False, budget=None, close_at=close_at,
                           deflate=deflate)
    assert run_stream(chunks, short_path=True, budget=budget, close_at=close_at,
                      deflate=deflate) == reference


def test_a_handshake_without_host_is_400():
    """RFC 6455 4.1: the handshake carries Host, even over HTTP/1.0 (which the request
    parser lets through without one), and even when an absolute-form target names one."""
    for target in ("/chat", "http://server.example.com/chat"):
        head = HEAD.format(version="13", extra="") \
            .replace("GET /chat?x=1 HTTP/1.1", f"GET {target} HTTP/1.0") \
            .replace("Host: server.example.com\r\n", "")
        request = RequestParser().feed(head.encode())
        with pytest.raises(HttpError) as refused:
            RFC6455(request)
        assert refused.value.status == 400
        assert refused.value.reason == "RFC 6455 handshake without Host"


def test_text_must_be_valid_utf8_to_be_sent():
    """8.1: send(TEXT, bytes) refuses invalid UTF-8 rather than frame it, on the direct
    path and through the engine (deflate)."""
    for extra in ("", "Sec-WebSocket-Extensions: permessage-deflate\r\n"):
        protocol = opened(extra=extra)
        with pytest.raises(UnicodeDecodeError):
            protocol.send(TEXT, b"ok \xc3\x28")
        assert protocol.data_to_send() == b""
        assert protocol.state is State.OPEN


# Sizes on each side of the length encodings' bounds (5.2): 7 bits up to 125, then 16
# bits up to 65,535, then 64 bits.
BOUNDARY_SIZES = (0, 1, 124, 125, 126, 127, 65534, 65535, 65536, 65537)


def header_size(length: int) -> int:
    """5.2: the minimal number of bytes must be used to encode the length."""
    return 2 if length <= 125 else 4 if length <= 65535 else 10


@pytest.mark.parametrize("size", BOUNDARY_SIZES)
@pytest.mark.parametrize("type", [TEXT, BINARY])
def test_server_frames_across_the_length_bounds_decode_independently(size, type):
    """What geows frames directly, websockets' client side decodes as the same message."""
    payload = bytes(48 + i % 64 for i in range(size))   # ASCII: valid as text too
    protocol = opened(max_message_size=1 << 20)
    protocol.send(type, payload.decode() if type == TEXT else payload)
    out = protocol.data_to_send()
    assert len(out) == header_size(size) + size
    client = WsProtocol(Side.CLIENT, state=WsState.OPEN, max_size=None)
    client.receive_data(out)
    assert client.events_received() == [
        Frame(Opcode.TEXT if type == TEXT else Opcode.BINARY, payload)]
    assert client.state is WsState.OPEN and client.data_to_send() == []


@pytest.mark.parametrize("cut", [None, 1, 3, 4099])
def test_the_short_path_reads_client_frames_across_the_length_bounds(cut):
    """Masked frames websockets' client side builds, in every length encoding, in one
    stream cut every `cut` bytes: the short path delivers each message as it was sent."""
    client = WsProtocol(Side.CLIENT, state=WsState.OPEN, max_size=None)
    sent = []
    for size in BOUNDARY_SIZES:
        payload = bytes(48 + i % 64 for i in range(size))
        client.send_text(payload)
        client.send_binary(payload[::-1])
        sent += [Message(TEXT, payload.decode()), Message(BINARY, payload[::-1])]
    stream = b"".join(client.data_to_send())
    protocol = opened(max_message_size=1 << 20)
    step = cut or len(stream)
    for pos in range(0, len(stream), step):
        protocol.receive_data(stream[pos:pos + step])
    assert protocol.events_received() == sent
    assert protocol.data_to_send() == b""
    assert protocol.state is State.OPEN


# Edges the mutation run (tests/mutation.sh) found untested.

@pytest.mark.parametrize("short_path", [True, False])
def test_send_pong_and_close(short_path):
    protocol = opened(short_path=short_path)
    assert protocol.send(PONG, b"po") == 2
    assert protocol.data_to_send() == b"\x8a\x02po"
    assert protocol.send(CLOSE, b"") == 0
    assert protocol.data_to_send() == b"\x88\x00"     # no code, as mod_websocket's close
    assert protocol.state is State.CLOSING


def test_close_sends_its_code_and_reason():
    protocol = opened()
    protocol.close()
    assert protocol.data_to_send() == b"\x88\x00"     # no code unless told (the peer reads 1005)
    protocol = opened()
    protocol.close(1000)
    assert protocol.data_to_send() == b"\x88\x02\x03\xe8"
    protocol = opened()
    protocol.close(4001, "bye")
    assert protocol.data_to_send() == b"\x88\x05\x0f\xa1bye"


def test_binary_need_not_be_utf8():
    protocol = opened()
    assert protocol.send(BINARY, b"\xff\xfe") == 2
    assert protocol.data_to_send() == b"\x82\x02\xff\xfe"


@pytest.mark.parametrize("short_path", [True, False])   # the refusal is ours, or the engine's
def test_send_refusals_say_why(short_path):
    protocol = opened(short_path=short_path)
    with pytest.raises(ValueError, match="^unknown message type 7$"):
        protocol.send(7, b"")
    protocol.close()
    for type in (TEXT, BINARY):
        with pytest.raises(ValueError, match="^cannot send while closing$"):
            protocol.send(type, b"late")
    protocol.receive_data(frame(8, struct.pack("!H", 1000)))
    for type in (TEXT, BINARY):
        with pytest.raises(ValueError, match="^cannot send while closed$"):
            protocol.send(type, b"late")


def test_nothing_is_read_after_the_close_handshake():
    """Once closed, the engine reads every byte (and discards it): no message after it."""
    protocol = opened()
    protocol.receive_data(frame(8, struct.pack("!H", 1000)) + frame(1, b"after"))
    protocol.receive_data(frame(1, b"later"))
    assert protocol.events_received() == [CloseReceived(1000, "")]


def test_the_engine_path_delivers_every_frame_of_a_read():
    """Without the short path every frame goes through the engine: a ping among them, or a
    message before another, stops none of them."""
    protocol = opened(short_path=False)
    protocol.receive_data(frame(9, b"p") + frame(1, b"x") + frame(10, b"q") + frame(1, b"y"))
    assert protocol.events_received() == [Message(TEXT, "x"), Message(TEXT, "y")]
    assert protocol.data_to_send() == b"\x8a\x01p"


def test_a_fault_is_reported_once():
    protocol = opened()
    protocol.receive_data(frame(1, b"x", rsv=2))
    assert protocol.events_received() == [ProtocolError(1002, "reserved bits must be 0")]
    protocol.receive_data(frame(1, b"y", rsv=2))
    assert protocol.events_received() == []


def test_frames_before_the_101_in_several_reads_are_all_kept_once():
    protocol = make()
    data = frame(1, b"early") + frame(2, b"too")
    protocol.receive_data(data[:4])
    protocol.receive_data(data[4:])
    protocol.accept(None)
    assert protocol.events_received() == [Message(TEXT, "early"), Message(BINARY, b"too")]
    protocol.data_to_send()
    protocol.send(TEXT, "after")
    protocol.receive_data(frame(9, b"p") + frame(1, b"later"))  # the engine's turn again
    assert protocol.events_received() == [Message(TEXT, "later")]
    assert protocol.data_to_send() == b"\x81\x05after\x8a\x01p"


def test_accept_answers_once():
    protocol = opened()
    with pytest.raises(ValueError, match="^the handshake is already answered$"):
        protocol.accept(None)


def test_handshake_refusals_say_why():
    with pytest.raises(HttpError) as info:
        make(version="12")
    assert (info.value.status, info.value.reason) == (426, "unsupported Sec-WebSocket-Version '12'")
    with pytest.raises(HttpError) as info:
        make(extra="Sec-WebSocket-Protocol: a b\r\n")
    assert info.value.status == 400     # websockets' words after its own prefix
    assert info.value.reason.startswith("invalid Sec-WebSocket-Protocol header: ")


@pytest.mark.parametrize(("old", "new", "status", "reason", "headers"), [
    ("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "", 400,
     "missing Sec-WebSocket-Key header", ()),
    ("Upgrade: websocket", "Upgrade: h2c", 426, "invalid Upgrade header: h2c",
     (("Upgrade", "websocket"),)),
    # 4.1: "The method of the request MUST be GET, and the HTTP version MUST be at least 1.1"
    ("GET /chat?x=1 HTTP/1.1", "POST /chat?x=1 HTTP/1.1", 405, "unsupported HTTP method: POST",
     (("Allow", "GET"),)),
    ("GET /chat?x=1 HTTP/1.1", "GET /chat?x=1 HTTP/1.0", 505,
     "unsupported HTTP version: HTTP/1.0", ()),
])
def test_a_handshake_websockets_refuses_keeps_its_status_reason_and_headers(
        old, new, status, reason, headers):
    request = RequestParser().feed(HEAD.format(version="13", extra="").replace(old, new).encode())
    with pytest.raises(HttpError) as refused:
        RFC6455(request)
    assert (refused.value.status, refused.value.reason, refused.value.headers) == (
        status, reason, headers)


@pytest.mark.parametrize("version", ["HTTP/1.2", "HTTP/2.0"])
def test_a_handshake_over_a_version_above_1_1_is_answered(version):
    """4.2.1: "An HTTP/1.1 or higher GET request"; the request parser reads a higher
    version as 1.1 (as httpd does, and mod_websocket upgrades it)."""
    head = HEAD.format(version="13", extra="").replace(" HTTP/1.1", f" {version}")
    protocol = RFC6455(RequestParser().feed(head.encode()))
    protocol.accept(None)
    assert protocol.data_to_send().startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert protocol.state is State.OPEN


def test_the_engines_log_as_geows_rfc6455(caplog):
    """websockets' own lines go to geows.rfc6455, which runtime/log.py keeps to warnings
    below LogLevel debug (they repeat the access log): the handshake's engine and the
    open connection's alike."""
    with caplog.at_level(logging.DEBUG, logger="geows.rfc6455"):
        head = HEAD.format(version="13", extra="").replace("Sec-WebSocket-Key", "X-Key")
        with pytest.raises(HttpError):
            RFC6455(RequestParser().feed(head.encode()))
        protocol = opened()
        protocol.receive_data(frame(8, b"\x03\xe8"))
        protocol.receive_eof()
    lines = [(record.name, record.getMessage()) for record in caplog.records]
    assert ("geows.rfc6455", "! invalid handshake") in lines
    assert ("geows.rfc6455", "connection closed") in lines


def test_messages_are_compressed_at_the_bounded_memory_level():
    """limits.DEFLATE_MEM_LEVEL bounds each connection's compressor (its block size
    follows memLevel, and so do its bytes): a message goes out as zlib compresses it with
    that memLevel and the 4 KiB window, not with zlib's default memLevel."""
    data = b"".join(hashlib.sha256(n.to_bytes(2, "big")).hexdigest()[:8].encode()
                    for n in range(8192))

    def deflated(**settings) -> bytes:
        encoder = zlib.compressobj(wbits=-limits.DEFLATE_WINDOW_BITS, **settings)
        return (encoder.compress(data) + encoder.flush(zlib.Z_SYNC_FLUSH))[:-4]  # RFC 7692 7.2.1

    bounded = deflated(memLevel=limits.DEFLATE_MEM_LEVEL)
    assert bounded != deflated()  # the data tells the two apart
    protocol = opened(extra="Sec-WebSocket-Extensions: permessage-deflate\r\n")
    protocol.send(BINARY, data)
    assert protocol.data_to_send() == frame(2, bounded, rsv=4, mask=None)
