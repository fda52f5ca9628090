"""draft-76 as bytes in, events and bytes out: no sockets."""

from itertools import pairwise

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from geows.errors import HttpError
from geows.http import RequestParser
from geows.messages import BINARY, CLOSE, PING, PONG, TEXT
from geows.protocols import CloseReceived, Message, ProtocolError, State
from geows.protocols.hixie76 import Hixie76, challenge_response, key_number

# A second well-known example of the draft's handshake.
KEY1 = "4 @1  46546xW%0l 1 5"
KEY2 = "12998 5 Y3 1  .P00"
KEY3 = b"^n:ds[4U"
ANSWER = b"8jKS'y:G*Co,Wxa-"


def parse(head: str, extra: bytes = b"") -> Hixie76:
    request = RequestParser().feed(head.encode("latin-1").replace(b"\n", b"\r\n") + extra)
    assert request is not None
    protocol = Hixie76(request, max_message_size=64)
    protocol.receive_data(request.trailing)
    return protocol


HEAD = f"""GET /demo?x=1 HTTP/1.1
Host: example.com
Connection: Upgrade
Sec-WebSocket-Key2: {KEY2}
Sec-WebSocket-Protocol: sample
Upgrade: WebSocket
Sec-WebSocket-Key1: {KEY1}
Origin: http://example.com

"""


def open_protocol(**kwargs) -> Hixie76:
    protocol = parse(HEAD, KEY3)
    protocol.accept(protocol.subprotocols[0], **kwargs)
    protocol.data_to_send()
    return protocol


def test_draft_worked_example():
    # draft-76 section 1.3: the keys' numbers and the 16-byte answer.
    key1 = "18x 6]8vM;54 *(5:  {   U1]8  z [  8"
    key2 = "1_ tx7X d  <  nw  334J702) 7]o}` 0"
    assert key_number(key1) == 155712099
    assert key_number(key2) == 173347027
    assert challenge_response(key1, key2, b"Tm[K T2u") == b"fQJ,fN/4F4!~K~MH"


def test_second_example():
    assert challenge_response(KEY1, KEY2, KEY3) == ANSWER


def test_leading_zeros_in_a_key_are_nothing():
    """Section 5.2, step 4: the digits as a base ten integer, however many leading zeros
    (more than the 4,300 digits int() reads)."""
    assert key_number("0" * 4400 + "4 2 ") == 21


@pytest.mark.parametrize("key", ["123456", "1 2 3", "", " ", "4294967296 0 ",
                                 "9" * 4400 + " "])
def test_bad_keys_refused(key):
    with pytest.raises(ValueError):
        key_number(key)


def test_handshake_answer_is_exact_and_one_write():
    protocol = parse(HEAD, KEY3)
    assert protocol.subprotocols == ("sample",)
    assert protocol.state is State.CONNECTING
    protocol.accept("sample", [("X-Extra", "1")])
    assert protocol.state is State.OPEN
    assert protocol.data_to_send() == (
        b"HTTP/1.1 101 WebSocket Protocol Handshake\r\n"
        b"Upgrade: WebSocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Origin: http://example.com\r\n"
        b"Sec-WebSocket-Location: ws://example.com/demo?x=1\r\n"
        b"Sec-WebSocket-Protocol: sample\r\n"
        b"X-Extra: 1\r\n"
        b"\r\n" + ANSWER
    )


def test_subprotocols_split_on_spaces_or_commas():
    for offer in ("chat superchat", "chat, superchat", "chat,superchat"):
        protocol = parse(HEAD.replace("Protocol: sample", f"Protocol: {offer}"), KEY3)
        assert protocol.subprotocols == ("chat", "superchat")


def test_no_origin_no_protocol_lines():
    head = HEAD.replace("Origin: http://example.com\n", "").replace(
        "Sec-WebSocket-Protocol: sample\n", "")
    protocol = parse(head, KEY3)
    assert protocol.subprotocols == ()
    protocol.accept(None)
    out = protocol.data_to_send()
    assert b"Origin" not in out and b"Sec-WebSocket-Protocol" not in out
    assert out.endswith(b"\r\n\r\n" + ANSWER)


def test_key3_in_later_packets_with_crlf_bytes():
    key3 = b"\r\n\r\n\x00\xff\r\n"
    protocol = parse(HEAD)
    protocol.accept("sample")
    assert protocol.data_to_send() == b""      # waits for key3
    protocol.receive_data(key3[:3])
    assert protocol.data_to_send() == b""
    protocol.receive_data(key3[3:] + b"\x00hi\xff")
    assert protocol.data_to_send().endswith(challenge_response(KEY1, KEY2, key3))
    assert protocol.events_received() == [Message(TEXT, "hi")]


def test_frames_pipelined_after_key3_are_kept():
    protocol = parse(HEAD, KEY3 + b"\x00one\xff\x00two\xff\x00thr")
    protocol.accept("sample")
    protocol.receive_data(b"ee\xff")
    assert protocol.events_received() == [
        Message(TEXT, "one"), Message(TEXT, "two"), Message(TEXT, "three")]


def test_text_frames_split_anywhere():
    protocol = open_protocol()
    stream = b"\x00h\xc3\xa9llo\xff\x00\xff\x00world\xff"
    for byte in stream:
        protocol.receive_data(bytes([byte]))
    assert protocol.events_received() == [
        Message(TEXT, "héllo"), Message(TEXT, ""), Message(TEXT, "world")]


def test_invalid_utf8_becomes_replacement_char():
    protocol = open_protocol()
    protocol.receive_data(b"\x00a\xc3b\xff")
    assert protocol.events_received() == [Message(TEXT, "a\ufffdb")]


def test_length_prefixed_frames_are_discarded():
    protocol = open_protocol()
    # A 0x80 frame of length 48 in two length bytes (0x80 0x30), then text.
    protocol.receive_data(b"\x80\x80\x30" + b"x" * 40)
    protocol.receive_data(b"x" * 8 + b"\x00after\xff")
    assert protocol.events_received() == [Message(TEXT, "after")]
    assert protocol.state is State.OPEN


def test_other_sentinel_types_discarded():
    protocol = open_protocol()
    protocol.receive_data(b"\x05junk\xff\x00ok\xff")
    assert protocol.events_received() == [Message(TEXT, "ok")]


def test_closing_handshake_from_client():
    protocol = open_protocol()
    protocol.receive_data(b"\x00bye\xff\xff\x00\x00ignored\xff")
    assert protocol.events_received() == [Message(TEXT, "bye"), CloseReceived()]
    assert protocol.data_to_send() == b"\xff\x00"
    assert protocol.state is State.CLOSED


def test_closing_handshake_from_server():
    protocol = open_protocol()
    protocol.close()
    assert protocol.state is State.CLOSING and protocol.close_expected()
    assert protocol.data_to_send() == b"\xff\x00"
    protocol.receive_data(b"\x00late\xff\xff\x00")
    assert protocol.events_received() == [CloseReceived()]
    assert protocol.data_to_send() == b""
    assert protocol.state is State.CLOSED


def test_oversized_sentinel_frame_closes():
    protocol = open_protocol()   # max_message_size=64
    protocol.receive_data(b"\x00" + b"a" * 64)
    assert protocol.events_received() == []
    protocol.receive_data(b"a")
    assert protocol.events_received() == [ProtocolError(1009, "message longer than MaxMessageSize")]
    assert protocol.data_to_send() == b"\xff\x00"
    assert protocol.state is State.CLOSED


def test_oversized_length_prefixed_frame_closes_before_buffering():
    protocol = open_protocol()
    protocol.receive_data(b"\x80\x81\x00")  # announces 128 bytes > 64
    assert isinstance(protocol.events_received()[0], ProtocolError)
    assert protocol.state is State.CLOSED


def test_send_text_and_refusals():
    protocol = open_protocol()
    assert protocol.send(TEXT, "héllo") == 6
    assert protocol.send(TEXT, b"raw") == 3
    assert protocol.data_to_send() == b"\x00h\xc3\xa9llo\xff\x00raw\xff"
    # BINARY goes out as the module sent it: a 0x80 frame clients discard.
    assert protocol.send(BINARY, b"\x01" * 200) == 200
    assert protocol.data_to_send() == b"\x80\x81\x48" + b"\x01" * 200
    assert protocol.send(PING, b"") == 0 and protocol.send(PONG, b"") == 0
    assert protocol.data_to_send() == b""
    with pytest.raises(ValueError):
        protocol.send(TEXT, b"\xff")
    assert protocol.send(CLOSE, b"") == 0
    assert protocol.data_to_send() == b"\xff\x00"
    with pytest.raises(ValueError):
        protocol.send(TEXT, "after close")


@pytest.mark.parametrize("head", [
    HEAD.replace(f"Sec-WebSocket-Key1: {KEY1}", "Sec-WebSocket-Key1: 1234"),
    HEAD.replace(f"Sec-WebSocket-Key2: {KEY2}", "Sec-WebSocket-Key2: 1 2 3"),
    HEAD.replace("Host: example.com\n", ""),
])
def test_bad_handshakes_are_400(head):
    with pytest.raises(HttpError) as info:
        parse(head)
    assert info.value.status == 400


def test_secure_connection_location_is_wss():
    request = RequestParser().feed(HEAD.encode().replace(b"\n", b"\r\n") + KEY3)
    protocol = Hixie76(request, secure=True)
    protocol.receive_data(request.trailing)
    protocol.accept(None)
    assert b"Sec-WebSocket-Location: wss://example.com/demo?x=1\r\n" in protocol.data_to_send()


def test_absolute_form_target_location():
    protocol = parse(HEAD.replace("GET /demo?x=1", "GET http://example.com/demo?x=1"), KEY3)
    protocol.accept(None)
    assert b"Sec-WebSocket-Location: ws://example.com/demo?x=1\r\n" in protocol.data_to_send()


def test_a_frame_budget_parses_that_many_frames_per_call():
    """As for RFC 6455: at most frame_budget frames per call, the rest kept in order."""
    protocol = open_protocol()
    protocol.frame_budget = 2
    protocol.receive_data(b"\x00a\xff\x80\x00\x00b\xff\x00c\xff")  # the 0x80 frame counts
    assert protocol.events_received() == [Message(TEXT, "a")]
    assert protocol.more_to_parse
    protocol.receive_data(b"")
    assert protocol.events_received() == [Message(TEXT, "b"), Message(TEXT, "c")]
    assert not protocol.more_to_parse


def test_a_frame_ended_in_a_later_read_with_frames_after_it():
    """The end marker arrives with more frames behind it: the scan resumes where the last
    read stopped, then starts afresh at each following frame."""
    protocol = open_protocol()
    for chunk in (b"\x00abc", b"def\xff\x00x\xff", b"\x00y\xff"):
        protocol.receive_data(chunk)
    assert protocol.events_received() == [
        Message(TEXT, "abcdef"), Message(TEXT, "x"), Message(TEXT, "y")]


def test_a_key_number_of_exactly_32_bits_is_accepted():
    assert key_number("4294967295 ") == 0xFFFFFFFF
    assert key_number("8589934590  ") == 0xFFFFFFFF
    protocol = parse(HEAD.replace(KEY1, "42949 67295"), KEY3)  # one space, inside
    protocol.accept("sample")
    assert protocol.state is State.OPEN


def test_length_prefixed_frames_close_only_as_0xff_0x00():
    """Section 5.3: 0xFF with a length of 1, and 0x80 with a length of 0, are frames to
    discard; only 0xFF 0x00 closes."""
    protocol = open_protocol()
    protocol.receive_data(b"\xff\x01x\x00a\xff\x80\x00\x00b\xff")
    assert protocol.events_received() == [Message(TEXT, "a"), Message(TEXT, "b")]
    assert protocol.data_to_send() == b""
    assert protocol.state is State.OPEN


def test_bytes_after_the_close_are_neither_parsed_nor_kept():
    protocol = open_protocol()
    protocol.receive_data(b"\xff\x00\x00early\xff")
    assert protocol.events_received() == [CloseReceived()]
    assert protocol.data_to_send() == b"\xff\x00"
    protocol.receive_data(b"\x00late\xff" + b"x" * 1000)
    assert protocol.events_received() == []
    assert protocol.data_to_send() == b""
    assert protocol.state is State.CLOSED and not protocol._buffer


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(st.text(max_size=15), max_size=8),
       cuts=st.lists(st.integers(0, 130), max_size=6))
@example(texts=["abcdef", "x", "y"], cuts=[4, 11])   # issue 22: "\x00abc" | "def\xff\x00x\xff"
def test_messages_do_not_depend_on_how_the_stream_is_cut(texts, cuts):
    stream = b"".join(b"\x00" + text.encode() + b"\xff" for text in texts)
    protocol = open_protocol()
    bounds = [0, *sorted(cuts), len(stream)]
    for start, end in pairwise(bounds):
        protocol.receive_data(stream[start:end])
    assert protocol.events_received() == [Message(TEXT, text) for text in texts]
