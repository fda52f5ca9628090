"""Memory in proportion to what a client sends: MaxMessageSize as a compressed message
inflates, and one worker's WebSocketMessageMemory shared by its connections."""

import random
import struct
import sys
import tracemalloc
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.exceptions import PayloadTooBig
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame, Opcode

from geows import limits
from geows.messages import BINARY, TEXT
from geows.protocols import Message, ProtocolError, State
from geows.protocols.memory import MessageMemory
from geows.protocols.rfc6455 import _SteppedInflate
from tests.protocols.test_rfc6455 import frame, make

MIB = 1 << 20
DEFLATE = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"


def deflated(data: bytes, final: bool = True) -> bytes:
    """A frame's payload as a client compresses it (RFC 7692 7.2.1, window of 4 KiB);
    a message's final frame without the empty block's 00 00 ff ff."""
    encoder = zlib.compressobj(wbits=-12)
    payload = encoder.compress(data) + encoder.flush(zlib.Z_SYNC_FLUSH)
    return payload[:-4] if final else payload


def deflated_zeros(size: int) -> bytes:
    """`size` zero bytes compressed (about 1,000 to 1), without holding them: one MiB
    deflated and ended by a full flush refers to nothing before it, so copies of it are one
    valid stream (compressing the whole size took seconds, each mutant of a mutation run)."""
    encoder = zlib.compressobj(wbits=-12)
    return (encoder.compress(bytes(MIB)) + encoder.flush(zlib.Z_FULL_FLUSH)) * (size // MIB)


def compressed(opcode: int, data: bytes, *, fin: bool = True) -> bytes:
    """A message's first frame, compressed (RSV1)."""
    return frame(opcode, deflated(data, fin), fin=fin, rsv=4)


def deflating(**kwargs):
    protocol = make(extra=DEFLATE, **kwargs)
    protocol.accept(None)
    protocol.data_to_send()
    assert protocol.label == "rfc6455+permessage-deflate"
    return protocol


def close_code(protocol) -> int:
    out = protocol.data_to_send()
    assert out[:1] == b"\x88", out[:20]
    return struct.unpack("!H", out[2:4])[0]


class Holder:
    """What MessageMemory needs of a protocol: evict()."""

    def __init__(self):
        self.evicted = False

    def evict(self):
        self.evicted = True


def test_memory_evicts_the_oldest_others_first_and_refuses_one_alone_over_the_cap():
    memory = MessageMemory(100)
    a, b, c, d = Holder(), Holder(), Holder(), Holder()
    assert memory.hold(a, 40) and memory.hold(b, 30) and memory.hold(c, 20)
    assert memory.hold(a, 45)           # growing keeps a's place: still the oldest
    assert memory.total == 95 and memory.closed == []
    assert memory.hold(d, 30)           # a (45) goes, then 30 + 20 + 30 fit
    assert (a.evicted, b.evicted, c.evicted) == (True, False, False)
    assert memory.total == 80
    [closed] = memory.take_closed()
    assert (closed.holder, closed.held, closed.evicted, closed.by) == (a, 45, True, d)
    assert memory.hold(c, 60)           # the grower itself is never evicted: b goes
    assert b.evicted and not c.evicted and memory.total == 90
    assert not memory.hold(d, 101)      # alone over the cap: refused, nothing evicted
    assert not c.evicted and memory.total == 60
    assert [(x.holder, x.held, x.evicted) for x in memory.take_closed()] == \
        [(b, 30, True), (d, 101, False)]
    assert memory.release(c) == 60 and memory.total == 0


def test_a_compressed_bomb_is_refused_as_it_inflates_in_one_frame():
    protocol = deflating(max_message_size=MIB)
    bomb = frame(2, deflated_zeros(512 * MIB)[:-4], rsv=4)   # about 500 KiB
    tracemalloc.start()
    try:
        protocol.receive_data(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    events = protocol.events_received()
    assert isinstance(events[-1], ProtocolError) and events[-1].code == 1009
    assert close_code(protocol) == 1009
    assert peak < 8 * MIB   # copies of the frame, and one MiB inflated: never 512 MiB


def test_a_compressed_message_is_refused_as_it_inflates_across_fragments():
    protocol = deflating(max_message_size=MIB)
    protocol.receive_data(compressed(2, bytes(MIB - 100), fin=False))
    assert protocol.events_received() == [] and protocol.state is State.OPEN
    rest = frame(0, deflated_zeros(256 * MIB)[:-4])  # its own deflate stream: still valid
    tracemalloc.start()
    try:
        protocol.receive_data(rest)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert protocol.events_received()[-1].code == 1009
    assert close_code(protocol) == 1009
    assert peak < 8 * MIB


def test_a_compressed_message_within_the_limits_arrives_whole():
    memory = MessageMemory(8 * MIB)
    protocol = deflating(max_message_size=4 * MIB, memory=memory)
    text = "x" * (3 * MIB)
    protocol.receive_data(compressed(1, text.encode()))
    assert protocol.events_received() == [Message(TEXT, text)]
    assert memory.total == 0  # delivered: no longer held
    encoder = zlib.compressobj(wbits=-12)
    pieces = [encoder.compress(bytes([n]) * MIB) + encoder.flush(zlib.Z_SYNC_FLUSH)
              for n in range(3)]
    protocol.receive_data(frame(2, pieces[0], fin=False, rsv=4) + frame(0, pieces[1], fin=False))
    assert memory.total > 2 * MIB
    protocol.receive_data(frame(0, pieces[2][:-4]))
    assert protocol.events_received() == [Message(BINARY, b"\0" * MIB + b"\1" * MIB + b"\2" * MIB)]
    assert memory.total == 0


def test_an_idle_compressed_fragment_is_evicted_by_a_newer_message_1013():
    memory = MessageMemory(5 * MIB)
    idle, active = deflating(memory=memory), deflating(memory=memory)
    idle.receive_data(compressed(2, bytes(3 * MIB), fin=False))
    assert memory.total > 3 * MIB and idle.state is State.OPEN
    active.receive_data(compressed(2, b"a" * (3 * MIB), fin=False))
    assert idle.state is State.CLOSED and close_code(idle) == 1013
    assert idle.events_received() == []   # not the client's fault: no ProtocolError
    [closed] = memory.take_closed()
    assert (closed.holder, closed.evicted, closed.by) == (idle, True, active)
    assert closed.held > 3 * MIB
    idle.receive_data(compressed(2, bytes(3 * MIB), fin=False))  # read no more
    assert memory.total < 4 * MIB
    active.receive_data(frame(0, deflated(b"b")))
    assert active.events_received() == [Message(BINARY, b"a" * (3 * MIB) + b"b")]
    assert memory.total == 0


def test_plain_fragments_count_against_the_same_memory():
    memory = MessageMemory(200_000)
    idle, active = deflating(memory=memory), make(memory=memory)
    active.accept(None)
    active.data_to_send()
    idle.receive_data(compressed(1, b"i" * 150_000, fin=False))
    active.receive_data(frame(2, b"a" * 60_000, fin=False))
    assert idle.state is State.CLOSED and close_code(idle) == 1013
    assert 60_000 < memory.total < 61_000
    active.receive_data(frame(0, b"a" * 60_000, fin=False) * 3)
    events = active.events_received()       # 240,000 bytes: alone over the cap
    assert events[-1] == ProtocolError(1009, "message over WebSocketMessageMemory "
                                             "(200000 bytes)")
    assert close_code(active) == 1009 and memory.total == 0


def test_the_cap_refuses_a_compressed_message_alone_over_it_as_it_inflates():
    memory = MessageMemory(2 * MIB)
    protocol = deflating(memory=memory)
    protocol.receive_data(compressed(2, bytes(64 * MIB)))
    assert protocol.events_received()[-1] == \
        ProtocolError(1009, f"message over WebSocketMessageMemory ({2 * MIB} bytes)")
    assert close_code(protocol) == 1009 and memory.total == 0
    [closed] = memory.take_closed()
    assert closed.holder is protocol and not closed.evicted
    assert 2 * MIB < closed.held <= 2 * MIB + 65_536


def test_text_counts_as_python_holds_it():
    """One astral character makes a str hold 4 bytes a character: counted so."""
    memory = MessageMemory(10 * MIB)
    protocol = deflating(memory=memory)
    protocol.receive_data(compressed(1, "\U0001F600".encode() + b"a" * MIB, fin=False))
    assert memory.total > 4 * MIB


@pytest.mark.parametrize("end", ["eof", "close", "fault"])
def test_an_incomplete_message_that_can_never_end_holds_nothing(end):
    memory = MessageMemory(10 * MIB)
    protocol = deflating(memory=memory)
    protocol.receive_data(compressed(2, bytes(MIB), fin=False)
                          + frame(0, deflated(bytes(10), final=False), fin=False))
    assert memory.total > MIB
    if end == "eof":
        protocol.receive_eof()
    elif end == "close":   # 5.4: a close between fragments is answered
        protocol.receive_data(frame(8, struct.pack("!H", 1000)))
        assert close_code(protocol) == 1000
    else:
        protocol.receive_data(frame(1, b"not a continuation"))
        assert close_code(protocol) == 1002
    assert protocol.state is State.CLOSED and memory.total == 0


# _SteppedInflate against websockets' own decoder, which it replaces: the same frames give
# the same messages, and the same refusals of a message over MaxMessageSize.
messages = st.lists(st.tuples(st.binary(max_size=3000) | st.sampled_from([bytes(70_000)]),
                              st.lists(st.integers(0, 3000), max_size=3)),
                    min_size=1, max_size=4)


@settings(max_examples=300, deadline=None)
@given(messages=messages, max_size=st.sampled_from([None, 100, 2500, 65_536, 70_000]),
       takeover=st.booleans())
def test_stepped_inflate_decodes_as_websockets_does(messages, max_size, takeover):
    negotiated = PerMessageDeflate(not takeover, False, 12, 12)
    theirs, ours = PerMessageDeflate(not takeover, False, 12, 12), \
        _SteppedInflate(negotiated, lambda size: None)
    encoder = zlib.compressobj(wbits=-12)
    for data, cuts in messages:
        if not takeover:
            encoder = zlib.compressobj(wbits=-12)
        bounds = sorted({0, len(data), *(min(cut, len(data)) for cut in cuts)})
        pieces = [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)] or [b""]
        for n, piece in enumerate(pieces):
            payload = encoder.compress(piece) + encoder.flush(zlib.Z_SYNC_FLUSH)
            last = n == len(pieces) - 1
            sent = Frame(Opcode.CONT if n else Opcode.BINARY, payload[:-4] if last else payload,
                         fin=last, rsv1=n == 0)
            results = []
            for extension in (theirs, ours):
                try:
                    results.append(extension.decode(sent, max_size=max_size).data)
                except PayloadTooBig:
                    results.append("too big")
            assert results[0] == results[1]
            if results[0] == "too big":
                return  # the engine fails the connection: nothing more is decoded


def test_an_evicted_connection_says_why_and_reads_nothing_more():
    """Found by the mutation run: the 1013 carries its reason, and a plain frame after the
    eviction is not delivered."""
    memory = MessageMemory(200_000)
    idle, active = deflating(memory=memory), deflating(memory=memory)
    idle.receive_data(compressed(2, b"i" * 150_000, fin=False))
    active.receive_data(frame(2, b"a" * 60_000, fin=False))
    reason = b"WebSocketMessageMemory full: try again later"
    assert idle.data_to_send() == b"\x88" + bytes([2 + len(reason)]) + b"\x03\xf5" + reason
    idle.receive_data(frame(1, b"late"))
    assert idle.events_received() == []
    assert idle.state is State.CLOSED


def test_inflating_in_steps_loses_nothing_at_a_step_boundary():
    """Four full steps of zeros from a few bytes of input (zlib keeps output with no input
    left), and a frame whose compressed data alone is over a step (the message's tail
    is fed after it): both arrive whole."""
    protocol = deflating()
    protocol.receive_data(compressed(2, bytes(4 * limits.INFLATE_STEP)))
    assert protocol.events_received() == [Message(BINARY, bytes(4 * limits.INFLATE_STEP))]
    noise = random.Random(22).randbytes(2 * limits.INFLATE_STEP)
    protocol.receive_data(compressed(2, noise))
    assert protocol.events_received() == [Message(BINARY, noise)]


@pytest.mark.parametrize(("data", "reason"), [
    (frame(2, b"garbage!", rsv=4), "decompression failed"),
    (compressed(2, b"abc", fin=False) + frame(0, deflated(b"x"), rsv=4),
     "RSV1 bit set in continuation frame"),     # RFC 7692 6: the first frame's alone
])
def test_compressed_faults_say_why(data, reason):
    protocol = deflating()
    protocol.receive_data(data)
    assert protocol.events_received() == [ProtocolError(1002, reason)]


def test_a_message_that_ended_leaves_nothing_counted_for_the_next():
    memory = MessageMemory(10 * MIB)
    protocol = make(memory=memory)
    protocol.accept(None)
    protocol.receive_data(frame(2, b"a" * 1000, fin=False) + frame(0, b"b"))
    assert memory.total == 0
    protocol.receive_data(frame(2, b"c" * 1000, fin=False))
    assert memory.total == sys.getsizeof(b"c" * 1000)


def test_a_first_inflating_step_is_not_counted():
    """A frame that inflates to one step (no more than a read would hold) evicts no one:
    counting starts past the first step."""
    measure = MessageMemory(10 * MIB)
    deflating(memory=measure).receive_data(compressed(2, bytes(1000), fin=False))
    held = measure.total
    memory = MessageMemory(held + limits.INFLATE_STEP - 1)
    idle, active = deflating(memory=memory), deflating(memory=memory)
    idle.receive_data(compressed(2, bytes(1000), fin=False))
    assert memory.total == held
    active.receive_data(compressed(2, bytes(limits.INFLATE_STEP)))
    assert active.events_received() == [Message(BINARY, bytes(limits.INFLATE_STEP))]
    assert idle.state is State.OPEN and memory.total == held


def test_a_first_fragment_holding_exactly_the_cap_is_taken():
    """A connection's first incomplete message counts what its fragments hold (as Python
    holds them) and nothing more: exactly WebSocketMessageMemory is taken."""
    fragment = bytes(100)
    memory = MessageMemory(sys.getsizeof(fragment))
    protocol = make(memory=memory)
    protocol.accept(None)
    protocol.receive_data(frame(2, fragment, fin=False))
    assert protocol.events_received() == [] and protocol.state is State.OPEN
    assert memory.total == sys.getsizeof(fragment)
    protocol.receive_data(frame(0, b""))
    assert protocol.events_received() == [Message(BINARY, fragment)]
    assert memory.total == 0
