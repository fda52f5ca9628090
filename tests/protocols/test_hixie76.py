"""draft-76 as bytes in, events and bytes out: no sockets."""

from itertools import pairwise

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from geows.errors import HttpError
from geows.http import Headers, RequestParser
from geows.messages import BINARY, CLOSE, PING, PONG, TEXT
from geows.protocols import CloseReceived, Message, ProtocolError, State
from geows.protocols.hixie76 import (
    Hixie75,
    Hixie76,
    challenge_response,
    is_draft76,
    key_number,
)

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


# Edges the mutation run (tests/mutation.sh) found untested.

def test_either_key_makes_a_draft76_handshake():
    assert is_draft76(Headers([("Sec-WebSocket-Key1", KEY1)]))
    assert is_draft76(Headers([("Sec-WebSocket-Key2", KEY2)]))
    assert not is_draft76(Headers([("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")]))


@pytest.mark.parametrize(("key", "why"), [
    ("123456", "key has no spaces or no digits"),
    ("a b", "key has no spaces or no digits"),
    ("1 2 3", "key number is not a multiple of its spaces"),
    ("42949 67296", "key number does not fit 32 bits"),   # one space: 2^32
])
def test_a_refused_key_says_why_in_its_400(key, why):
    with pytest.raises(HttpError) as info:
        parse(HEAD.replace(KEY1, key))
    assert (info.value.status, info.value.reason) == (400, f"invalid draft-76 key: {why}")


def test_a_missing_key_is_a_400():
    """Either key alone makes a draft-76 handshake; the other missing refuses it."""
    for key in (f"Sec-WebSocket-Key1: {KEY1}\n", f"Sec-WebSocket-Key2: {KEY2}\n"):
        with pytest.raises(HttpError) as info:
            parse(HEAD.replace(key, ""))
        assert (info.value.status, info.value.reason) == (
            400, "invalid draft-76 key: key has no spaces or no digits")


def test_no_host_is_a_400_that_says_so():
    with pytest.raises(HttpError) as info:
        parse(HEAD.replace("HTTP/1.1\nHost: example.com", "HTTP/1.0"))
    assert (info.value.status, info.value.reason) == (400, "hixie-76 handshake without Host")


def test_the_frame_budget_given_at_creation_holds():
    request = RequestParser().feed(HEAD.encode().replace(b"\n", b"\r\n") + KEY3)
    protocol = Hixie76(request, frame_budget=1)
    protocol.receive_data(request.trailing)
    protocol.accept(None)
    protocol.receive_data(b"\x00a\xff\x00b\xff")
    assert protocol.events_received() == [Message(TEXT, "a")]
    assert protocol.more_to_parse


@pytest.mark.parametrize(("length", "prefix"), [
    (0, b"\x00"), (127, b"\x7f"), (128, b"\x81\x00"), (256, b"\x82\x00"),
    (16383, b"\xff\x7f"), (16384, b"\x81\x80\x00"), (65536, b"\x84\x80\x00"),
])
def test_binary_frames_carry_their_length_in_7_bit_groups(length, prefix):
    protocol = open_protocol()
    assert protocol.send(BINARY, b"\x01" * length) == length
    assert protocol.data_to_send() == b"\x80" + prefix + b"\x01" * length


def test_a_length_prefixed_frame_of_two_length_bytes_is_skipped_exactly():
    """0x81 0x00 is 128: the frame's bytes (0xFF among them) are dropped, the next kept."""
    protocol = open_protocol()
    protocol.max_message_size = 200
    protocol.receive_data(b"\x80\x81\x00" + b"\xff" * 128 + b"\x00next\xff")
    assert protocol.events_received() == [Message(TEXT, "next")]


def test_a_length_prefixed_frame_of_exactly_max_message_size_is_skipped():
    protocol = open_protocol()   # max_message_size=64
    protocol.receive_data(b"\x80\x40" + b"x" * 64 + b"\x00after\xff")
    assert protocol.events_received() == [Message(TEXT, "after")]
    assert protocol.state is State.OPEN


def test_accept_answers_once():
    protocol = parse(HEAD)           # key3 not arrived: the answer waits
    protocol.accept("sample")
    with pytest.raises(ValueError, match="^the handshake is already answered$"):
        protocol.accept("sample")
    protocol.receive_data(KEY3)
    assert protocol.state is State.OPEN
    with pytest.raises(ValueError, match="^the handshake is already answered$"):
        protocol.accept("sample")


def test_close_before_the_handshake_ends_it_silently():
    protocol = parse(HEAD, KEY3)
    protocol.close()
    assert protocol.state is State.CLOSED
    assert protocol.data_to_send() == b""


def test_a_second_close_sends_nothing_more():
    protocol = open_protocol()
    protocol.close()
    protocol.close()
    assert protocol.state is State.CLOSING
    assert protocol.data_to_send() == b"\xff\x00"


def test_send_refusals_say_why():
    protocol = open_protocol()
    with pytest.raises(ValueError, match="^unknown message type 7$"):
        protocol.send(7, b"")
    protocol.close()
    with pytest.raises(ValueError, match="^cannot send while closing$"):
        protocol.send(TEXT, "late")


def test_draft75_has_no_keys_no_key3_and_no_closing_frame():
    request = RequestParser().feed(
        b"GET /demo HTTP/1.1\r\nHost: example.com\r\nUpgrade: WebSocket\r\n"
        b"Connection: Upgrade\r\nOrigin: http://example.com\r\n\r\n\x00hi\xff")
    protocol = Hixie75(request)
    protocol.receive_data(request.trailing)
    protocol.accept(None)
    assert protocol.data_to_send() == (
        b"HTTP/1.1 101 Web Socket Protocol Handshake\r\n"
        b"Upgrade: WebSocket\r\n"
        b"Connection: Upgrade\r\n"
        b"WebSocket-Origin: http://example.com\r\n"
        b"WebSocket-Location: ws://example.com/demo\r\n"
        b"\r\n")
    assert protocol.events_received() == [Message(TEXT, "hi")]
    protocol.close()
    assert protocol.state is State.CLOSED
    assert protocol.data_to_send() == b""


def test_an_oversized_length_prefixed_frame_says_why():
    protocol = open_protocol()     # max_message_size=64
    protocol.receive_data(b"\x80\x81\x00")
    assert protocol.events_received() == [
        ProtocolError(1009, "frame longer than MaxMessageSize")]
