"""What geows.protocols.rfc6455 relies on in the `websockets` engine beyond its documented
API (setup.cfg accepts websockets>=17): each test fails if the installed version
changes that behaviour, before a client sees the difference."""

import struct
import zlib

from websockets.exceptions import PayloadTooBig
from websockets.extensions.base import Extension
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

from geows.protocols.rfc6455 import _END_OF_MESSAGE
from tests.protocols.test_rfc6455 import frame


class Recording(Extension):
    """An extension that passes frames through, noting the max_size each decode is given."""

    name = "x-recording"

    def __init__(self, refuse_over: int | None = None):
        self.sizes: list[int | None] = []
        self.refuse_over = refuse_over

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        self.sizes.append(max_size)
        if self.refuse_over is not None and len(frame.data) > self.refuse_over:
            raise TooBig(None, 1)
        return frame

    def encode(self, frame: Frame) -> Frame:
        return frame


class TooBig(PayloadTooBig):
    def __str__(self) -> str:
        return "over geows' limit"


def engine(extension: Extension, max_size: int = 1000) -> ServerProtocol:
    """The engine as RFC6455 builds it: born open, its extensions set after."""
    protocol = ServerProtocol(state=State.OPEN, max_size=max_size)
    protocol.extensions = [extension]
    return protocol


def test_decode_is_given_what_the_message_may_still_add():
    """_SteppedInflate checks MaxMessageSize across fragments with max_size alone."""
    recording = Recording()
    protocol = engine(recording)
    protocol.receive_data(frame(1, b"a" * 300, fin=False) + frame(0, b"b" * 200, fin=False)
                          + frame(0, b"c" * 10) + frame(2, b"d"))
    assert recording.sizes == [1000, 700, 500, 1000]


def test_payload_too_big_from_decode_closes_1009_with_its_text():
    """_OverMemory reaches the client as a 1009 close whose reason is its str()."""
    protocol = engine(Recording(refuse_over=5))
    protocol.receive_data(frame(2, b"x" * 6))
    out = b"".join(protocol.data_to_send())
    assert out == b"\x88\x13" + struct.pack("!H", 1009) + b"over geows' limit"
    assert protocol.state is State.CLOSING and protocol.eof_sent


def test_a_final_empty_continuation_ends_a_fragmented_message():
    """How RFC6455 drops an unfinished message when a close comes between fragments."""
    protocol = engine(Recording())
    protocol.receive_data(frame(1, b"fra", fin=False))
    protocol.receive_data(_END_OF_MESSAGE)
    events = protocol.events_received()
    assert [(e.opcode, e.fin, e.data) for e in events] == \
        [(Opcode.TEXT, False, b"fra"), (Opcode.CONT, True, b"")]
    protocol.receive_data(frame(8, struct.pack("!H", 1000)))
    assert b"".join(protocol.data_to_send()) == b"\x88\x02\x03\xe8"   # answered, not 1002


def test_per_message_deflate_keeps_what_stepped_inflate_subclasses():
    """_SteppedInflate is built from the negotiated extension's constructor arguments and
    inflates with the decoder and the continuation flag its base class keeps."""
    extension = PerMessageDeflate(False, True, 12, 15, {"memLevel": 5})
    assert (extension.remote_no_context_takeover, extension.local_no_context_takeover,
            extension.remote_max_window_bits, extension.local_max_window_bits,
            extension.compress_settings) == (False, True, 12, 15, {"memLevel": 5})
    assert extension.decode_cont_data is False
    encoder = zlib.compressobj(wbits=-12)
    data = encoder.compress(b"hello") + encoder.flush(zlib.Z_SYNC_FLUSH)
    assert extension.decoder.decompress(data) == b"hello"   # a window of 2**12: takeover
    assert not hasattr(PerMessageDeflate(True, True, 12, 15), "decoder")
