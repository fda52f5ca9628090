"""The short path's per-frame work in C (geows.protocols._frames) against the same in pure
Python (geows.protocols.frames): on random frame streams, RFC 6455's and draft-76's, read in
random pieces, both give the same events, stops and positions; both frame replies alike.
The C one must be built (setup.py build_ext): without it this module fails, as a missing
tool does."""

import struct
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

import geows.protocols
from geows.messages import BINARY, TEXT
from geows.protocols import Message, _frames, frames  # type: ignore[attr-defined]
from geows.protocols.frames import (
    BUDGET,
    ENGINE,
    INVALID_TEXT,
    OVERSIZED,
    OVERSIZED_TEXT,
    PEER_CLOSE,
    PURE_PYTHON_ENV,
    WAIT,
    python_append_frame,
    python_scan_draft76,
    python_scan_frames,
)
from tests.protocols.test_rfc6455 import cut_into

PURE = (frames.python_scan_frames, frames.python_append_frame, frames.python_scan_draft76)
COMPILED = (_frames.scan_frames, _frames.append_frame, _frames.scan_draft76)


def test_the_compiled_frames_run_unless_the_environment_asks_for_pure_python(monkeypatch):
    """The flavour as chosen when geows starts (`geows --version` prints it): GEOWS_PURE_PYTHON
    unset, empty or "0" leaves the compiled frames; any other value picks the pure ones."""
    for value in (None, "", "0"):
        if value is None:
            monkeypatch.delenv(PURE_PYTHON_ENV, raising=False)
        else:
            monkeypatch.setenv(PURE_PYTHON_ENV, value)
        assert frames._chosen() == ("compiled (geows.protocols._frames)", *COMPILED)
    for value in ("1", "yes", "00"):
        monkeypatch.setenv(PURE_PYTHON_ENV, value)
        assert frames._chosen() == (f"pure Python ({PURE_PYTHON_ENV} is set)", *PURE)


def test_the_pure_frames_run_where_the_compiled_ones_are_not_built(monkeypatch):
    """An install without a C compiler has no geows.protocols._frames: None in sys.modules
    makes its import fail as it then does."""
    monkeypatch.delenv(PURE_PYTHON_ENV, raising=False)
    monkeypatch.setitem(sys.modules, "geows.protocols._frames", None)
    monkeypatch.delattr(geows.protocols, "_frames")
    assert frames._chosen() == ("pure Python (geows.protocols._frames is not built)", *PURE)


# Lengths on each side of the length encodings' bounds (RFC 6455 5.2).
BOUNDARY_SIZES = (0, 1, 2, 3, 7, 8, 9, 125, 126, 127, 65535, 65536)
# Byte sequences that are not UTF-8: a stray byte, a cut sequence, an overlong form, a
# surrogate, a code point past U+10FFFF.
NOT_UTF8 = (b"\xff", b"\x80", b"\xc3", b"\xe2\x82", b"\xc0\xaf", b"\xed\xa0\x80",
            b"\xf4\x90\x80\x80")


def frame(opcode: int, payload: bytes, *, fin: bool, rsv: int, mask: bytes | None,
          length_bytes: int | None) -> bytes:
    """A client frame; length_bytes asks for a 2- or 8-byte extended length where a
    shorter one would do (5.2 asks for the shortest, which the scanners do not check)."""
    head = bytes([(0x80 if fin else 0) | rsv << 4 | opcode])
    flag = 0x80 if mask is not None else 0
    size = len(payload)
    shortest = 0 if size < 126 else 2 if size < 65536 else 8
    length_bytes = max(shortest, length_bytes or 0)
    if length_bytes == 0:
        head += bytes([flag | size])
    elif length_bytes == 2:
        head += bytes([flag | 126]) + struct.pack("!H", size)
    else:
        head += bytes([flag | 127]) + struct.pack("!Q", size)
    if mask is None:
        return head + payload
    whole = (mask * (size // 4 + 1))[:size]
    return head + mask + bytes(a ^ b for a, b in zip(payload, whole, strict=True))


@st.composite
def payloads(draw) -> bytes:
    kind = draw(st.sampled_from(["text", "bad text", "bytes", "boundary"]))
    if kind == "boundary":
        size = draw(st.sampled_from(BOUNDARY_SIZES))
        return bytes(48 + i % 64 for i in range(size))   # ASCII: text too
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    text = draw(st.text(max_size=60)).encode("utf-8", "surrogatepass")
    if kind == "bad text":   # anywhere in it: first byte, last, inside a sequence
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(NOT_UTF8)) + text[at:]
    return text


masks = st.binary(min_size=4, max_size=4)
# The frames the short path delivers (final, masked, no RSV bit, text or binary)...
short_path_frames = st.builds(frame, opcode=st.sampled_from([1, 2]), payload=payloads(),
                              fin=st.just(True), rsv=st.just(0), mask=masks,
                              length_bytes=st.sampled_from([None, None, None, 2, 8]))
# ...and any others: fragments, control frames, reserved opcodes, RSV bits, unmasked.
other_frames = st.builds(
    frame,
    opcode=st.sampled_from([0, 1, 2, 3, 8, 9, 10, 11]),
    payload=payloads(),
    fin=st.booleans(),
    rsv=st.sampled_from([0, 1, 2, 4, 7]),
    mask=st.none() | masks,
    length_bytes=st.sampled_from([None, 2, 8]),
)
# A frame whose 64-bit length is past anything (and past 2^63).
HUGE = (b"\x82\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00",
        b"\x81\xff\x7f\xff\xff\xff\xff\xff\xff\xff")
frame_lists = st.lists(st.one_of(short_path_frames, short_path_frames, short_path_frames,
                                 other_frames), max_size=14)
# Garbage, put somewhere among the frames (or nowhere): what follows it is read out of step.
junk = st.just(b"") | st.binary(min_size=1, max_size=40) | st.sampled_from(HUGE)


def drive(scan, chunks: list[bytes], *, budget: int | None, max_size: int,
          deliver_after: list[bool]) -> list:
    """Read `chunks` the way rfc6455.py does: scan, take each stop, scan on; an engine's
    frame or a text that is not UTF-8 is stepped over; after each the next scan delivers
    (or not) as `deliver_after` says (a fragmented message's frames go to the engine)."""
    buffer, seen, deliver, turn = bytearray(), [], True, 0
    for chunk in chunks:
        buffer += chunk
        pos, frames = 0, 0
        while True:
            events: list = []
            stop, pos, frames, header, end = scan(buffer, pos, frames, budget, max_size,
                                                  deliver, events)
            seen.append((stop, pos, frames, header, end, events))
            if stop in (ENGINE, INVALID_TEXT):
                assert pos < end <= len(buffer) and 2 <= header <= end - pos
                deliver = deliver_after[turn % len(deliver_after)]
                turn += 1
                pos = end
            elif stop == OVERSIZED:
                return seen
            elif stop == BUDGET:
                assert frames == budget and pos > 0   # it cut frames: the loop ends
                del buffer[:pos]
                pos, frames = 0, 0
            else:
                assert stop == WAIT
                break
        del buffer[:pos]
    return seen


@settings(max_examples=800, deadline=None)
@given(stream=frame_lists, garbage=junk, garbage_at=st.integers(0, 14),
       cuts=st.lists(st.integers(1, 70000), max_size=8),
       budget=st.sampled_from([None, 1, 2, 5]),
       max_size=st.sampled_from([0, 125, 126, 65535, 65536, 1 << 20, 1 << 20, (1 << 63) - 1]),
       deliver_after=st.lists(st.sampled_from([True, True, True, False]), min_size=1,
                                     max_size=4))
def test_compiled_and_pure_scans_agree(stream, garbage, garbage_at, cuts, budget, max_size,
                                       deliver_after):
    stream.insert(garbage_at, garbage)
    chunks = cut_into(b"".join(stream), cuts)
    compiled = drive(_frames.scan_frames, chunks, budget=budget, max_size=max_size,
                     deliver_after=deliver_after)
    pure = drive(python_scan_frames, chunks, budget=budget, max_size=max_size,
                 deliver_after=deliver_after)
    assert compiled == pure


def test_the_scans_deliver_what_was_sent_across_the_length_bounds():
    """Every length encoding, masked, each frame read whole and its events right, by both."""
    mask = b"\x37\xfa\x21\x3d"
    stream, sent = b"", []
    for size in BOUNDARY_SIZES:
        payload = bytes(48 + i % 64 for i in range(size))
        stream += frame(1, payload, fin=True, rsv=0, mask=mask, length_bytes=None)
        stream += frame(2, payload[::-1], fin=True, rsv=0, mask=mask, length_bytes=None)
        sent += [Message(TEXT, payload.decode()), Message(BINARY, payload[::-1])]
    for scan in (_frames.scan_frames, python_scan_frames):
        events: list = []
        assert scan(bytearray(stream), 0, 0, None, 1 << 20, True, events) \
            == (WAIT, len(stream), len(sent), 0, 0)
        assert events == sent


def test_a_text_that_is_not_utf8_stops_the_scan_at_its_frame():
    mask = b"\x01\x02\x03\x04"
    good = frame(1, "é".encode(), fin=True, rsv=0, mask=mask, length_bytes=None)
    bad = frame(1, b"ok\xc3\x28", fin=True, rsv=0, mask=mask, length_bytes=None)
    for scan in (_frames.scan_frames, python_scan_frames):
        events: list = []
        assert scan(good + bad + good, 0, 0, None, 125, True, events) \
            == (INVALID_TEXT, len(good), 2, 6, len(good + bad))
        assert events == [Message(TEXT, "é")]


def test_a_frame_whose_extended_length_is_cut_waits_for_the_rest():
    """After a frame, a 16- or 64-bit length cut after its first byte: the scans wait for
    the rest, even where that byte alone would be over max_size."""
    empty = frame(2, b"", fin=True, rsv=0, mask=b"\x01\x02\x03\x04", length_bytes=None)
    for cut in (b"\x82\xfe\x05", b"\x82\xff\x05"):
        for scan in (_frames.scan_frames, python_scan_frames):
            events: list = []
            assert scan(empty + cut, 0, 0, None, 3, True, events) \
                == (WAIT, len(empty), 2, 0, 0)
            assert events == [Message(BINARY, b"")]


@settings(max_examples=200, deadline=None)
@given(opcode=st.sampled_from([1, 2, 8, 9, 10]),
       size=st.sampled_from(BOUNDARY_SIZES) | st.integers(0, 300),
       before=st.binary(max_size=20))
def test_compiled_and_pure_framing_agree(opcode, size, before):
    payload = bytes(i % 251 for i in range(size))
    compiled, pure = bytearray(before), bytearray(before)
    _frames.append_frame(compiled, opcode, payload)
    python_append_frame(pure, opcode, payload)
    assert compiled == pure
    assert len(pure) == len(before) + (2 if size < 126 else 4 if size < 65536 else 10) + size


# Draft-76 (section 5.3): sentinel frames (a type byte under 0x80, then bytes up to 0xFF),
# length-prefixed frames (a type byte from 0x80, the length in 7-bit groups), 0xFF 0x00.
def length_prefix(length: int) -> bytes:
    groups = [length & 0x7F]
    while length >> 7:
        length >>= 7
        groups.append(0x80 | length & 0x7F)
    return bytes(reversed(groups))


draft76_frames = st.one_of(
    st.builds(lambda kind, text: bytes([kind]) + text + b"\xff",
              st.sampled_from([0x00, 0x00, 0x00, 0x01, 0x7f]),
              st.text(max_size=40).map(str.encode) | st.binary(max_size=80).map(
                  lambda data: data.replace(b"\xff", b""))),   # not UTF-8: U+FFFD
    st.builds(lambda kind, length: bytes([kind]) + length_prefix(length) + b"x" * length,
              st.sampled_from([0x80, 0x81, 0xfe, 0xff]),
              st.sampled_from([0, 1, 127, 128, 16383, 16384]) | st.integers(0, 300)),
    st.just(b"\xff\x00"),
    st.just(b"\x80" + b"\xff" * 12 + b"\x01"),   # a length past 2^63
)
draft76_streams = st.lists(draft76_frames | st.binary(min_size=1, max_size=30), max_size=12)


def drive_draft76(scan, chunks: list[bytes], *, budget: int | None, max_size: int,
                  deliver: bool) -> list:
    """Read `chunks` as hixie76.py does: scan the buffer, drop what it cut, scan again while
    the budget stopped it; a close or an oversized frame ends the stream."""
    buffer, skip, scanned, seen = bytearray(), 0, 1, []
    for chunk in chunks:
        buffer += chunk
        while True:
            events: list = []
            stop, pos, skip, scanned = scan(buffer, budget, max_size, skip, scanned, deliver,
                                            events)
            seen.append((stop, pos, skip, scanned, events))
            del buffer[:pos]
            if stop in (PEER_CLOSE, OVERSIZED, OVERSIZED_TEXT):
                return seen
            if stop == WAIT:
                break
            assert stop == BUDGET and pos > 0   # it cut frames: the loop ends
    return seen


@settings(max_examples=600, deadline=None)
@given(stream=draft76_streams, cuts=st.lists(st.integers(1, 400), max_size=8),
       budget=st.sampled_from([None, 1, 2, 5]),
       max_size=st.sampled_from([0, 1, 64, 127, 128, 16384, 1 << 20, (1 << 63) - 1]),
       deliver=st.booleans() | st.just(True))
def test_compiled_and_pure_draft76_scans_agree(stream, cuts, budget, max_size, deliver):
    chunks = cut_into(b"".join(stream), cuts)
    assert drive_draft76(_frames.scan_draft76, chunks, budget=budget, max_size=max_size,
                         deliver=deliver) \
        == drive_draft76(python_scan_draft76, chunks, budget=budget, max_size=max_size,
                         deliver=deliver)
