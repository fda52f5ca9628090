"""RFC 6455 (and permessage-deflate, RFC 7692), server side, sans-I/O.

The framing engine is the `websockets` library's sans-I/O ServerProtocol: it is
conformant (Autobahn), keeps parsing limits while it reads, validates UTF-8
incrementally, and negotiates permessage-deflate. This module adapts it to
geows' protocol interface: whole messages in, mod_websocket's message types,
and the subprotocol chosen by the plugin rather than by a fixed list.

The engine is general but costs tens of microseconds a frame. bench/ measured
that cost as most of geows' per-message time, so the commonest frames take a
short path here. Incoming bytes are cut into whole frames first (so the engine
only ever sees whole frames, and faults are found in arrival order); a final,
masked, uncompressed text or binary frame of an unfragmented message is then
unmasked and delivered directly, and messages sent without an extension are
framed directly (that per-frame work is frames.py's: in C when it is built).
Every other frame (control frames, fragments, compressed frames, anything
malformed) goes to the engine, a frame at a time, so that a parse can stop
after frame_budget frames; an oversized frame, or any byte once closed, hands
the whole stream to it (it discards what comes then). The
tests check the short path against the engine on random frame streams.

Compressed frames are inflated a step at a time (_SteppedInflate, in place of the
engine's own decoder), so that a message is held to MaxMessageSize, and a worker's
incomplete messages to WebSocketMessageMemory (memory.py), as they inflate.
"""

from __future__ import annotations

import codecs
import sys
import zlib
from collections.abc import Callable, Iterable
from logging import getLogger

from websockets.datastructures import Headers as WsHeaders
from websockets.exceptions import InvalidHeader, InvalidState, PayloadTooBig
from websockets.exceptions import ProtocolError as EngineProtocolError
from websockets.extensions.permessage_deflate import (
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import CTRL_OPCODES, Frame, Opcode
from websockets.headers import parse_subprotocol
from websockets.http11 import Request as WsRequest
from websockets.protocol import State as WsState
from websockets.server import ServerProtocol

from geows import limits
from geows.errors import HttpError
from geows.http import Request
from geows.messages import BINARY, CLOSE, PING, PONG, TEXT
from geows.protocols.base import State, WebSocketProtocol, unparsed
from geows.protocols.events import CloseReceived, Message, ProtocolError
from geows.protocols.frames import (
    BUDGET,
    ENGINE,
    INVALID_TEXT,
    OVERSIZED,
    append_frame,
    apply_mask,
    scan_frames,
)
from geows.protocols.memory import MessageMemory

# Versions 7 and 8 (hybi-07/08, which mod_websocket accepted) frame exactly as 13.
SUPPORTED_VERSIONS = ("13", "8", "7")
VERSION_REQUIRED = (("Sec-WebSocket-Version", "13"),)

_STATES = {WsState.CONNECTING: State.CONNECTING, WsState.OPEN: State.OPEN,
           WsState.CLOSING: State.CLOSING, WsState.CLOSED: State.CLOSED}
_DATA_TYPES = {Opcode.TEXT: TEXT, Opcode.BINARY: BINARY}
# Close codes that mean the peer broke the protocol (7.4.1): 1002, 1007, 1009.
_PEER_FAULTS = frozenset({1002, 1007, 1009})
_NORMAL_CLOSURE = (1000).to_bytes(2, "big")
_utf8_decoder = codecs.getincrementaldecoder("utf-8")
_logger = getLogger("geows.rfc6455")


# permessage-deflate with bounded memory per connection (window and memLevel);
# the factory only holds settings, so every connection shares it.
DEFLATE = ServerPerMessageDeflateFactory(
    server_max_window_bits=limits.DEFLATE_WINDOW_BITS,
    client_max_window_bits=limits.DEFLATE_WINDOW_BITS,
    compress_settings={"memLevel": limits.DEFLATE_MEM_LEVEL},
)
# RFC 7692 7.2.2: the sender removed this empty stored block from each message's end.
_MESSAGE_TAIL = b"\x00\x00\xff\xff"
# A final, empty, masked continuation frame (5.2, 5.4).
_END_OF_MESSAGE = b"\x80\x80\x00\x00\x00\x00"


def _over_memory(limit: int) -> str:
    """Why a message that alone would hold more than WebSocketMessageMemory is refused."""
    return f"message over WebSocketMessageMemory ({limit} bytes)"


class _OverMemory(PayloadTooBig):
    """Raised while inflating such a message: the engine closes with 1009, and this reason."""

    def __init__(self, limit: int):
        super().__init__(None, limit)
        self.limit = limit

    def __str__(self) -> str:
        return _over_memory(self.limit)


class _SteppedInflate(PerMessageDeflate):
    """permessage-deflate whose receiving side inflates a frame limits.INFLATE_STEP bytes at
    a time, each step checked against what the message may still add (the engine's
    max_size: MaxMessageSize less what came before) and reported to `inflated` (which counts
    it against WebSocketMessageMemory) before the next: a frame over either limit is
    refused having inflated one step past it, never whole. Sending is websockets' own."""

    def __init__(self, negotiated: PerMessageDeflate, inflated: Callable[[int], None]):
        super().__init__(negotiated.remote_no_context_takeover,
                         negotiated.local_no_context_takeover,
                         negotiated.remote_max_window_bits, negotiated.local_max_window_bits,
                         negotiated.compress_settings)
        self._inflated = inflated

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        if frame.opcode in CTRL_OPCODES:
            return frame
        if frame.opcode is Opcode.CONT:
            if not self.decode_cont_data:  # the message is not compressed
                return frame
            if frame.rsv1:  # RFC 7692 6: RSV1 is set on a message's first frame only
                raise EngineProtocolError("RSV1 bit set in continuation frame")
        else:
            if not frame.rsv1:
                return frame
            if self.remote_no_context_takeover:  # RFC 7692 7.2.2: a fresh window per message
                self.decoder = zlib.decompressobj(wbits=-self.remote_max_window_bits)
        self.decode_cont_data = not frame.fin
        # 7.2.2: a message's last frame lacks the empty block that ends it; a small one
        # takes it at once (one call), a large one after (no copy of the frame).
        data, tail = frame.data, frame.fin
        if tail and len(data) < limits.INFLATE_STEP:
            data, tail = bytes(data) + _MESSAGE_TAIL, False
        pieces, size = [], 0
        while True:
            try:
                piece = self.decoder.decompress(data, limits.INFLATE_STEP)
            except zlib.error as exc:
                raise EngineProtocolError("decompression failed") from exc
            if piece:
                size += len(piece)
                if max_size is not None and size > max_size:
                    raise PayloadTooBig(None, max_size)
                if size > limits.INFLATE_STEP:  # a first step is no more than a read
                    self._inflated(size)
                pieces.append(piece)
            data = self.decoder.unconsumed_tail
            # A full step may leave output inside zlib with no input left: ask again.
            if not data and len(piece) < limits.INFLATE_STEP:
                if not tail:
                    break
                data, tail = _MESSAGE_TAIL, False
        if frame.fin and self.remote_no_context_takeover:
            del self.decoder  # made anew for the next message: an idle one keeps none
        return Frame(frame.opcode, b"".join(pieces), frame.fin, False, frame.rsv2, frame.rsv3)


def is_reserved_code(code: int) -> bool:
    """A close code the maintained mod_websocket takes as reserved or unassigned (1004, 1014,
    1016-2999): refused (1002) unless WebSocketAllowReservedStatusCodes is On. The codes no
    endpoint may send (below 1000, 1005, 1006, 1015, 5000 and up) the engine refuses."""
    return code in (1004, 1014) or 1016 <= code < 3000


class RFC6455(WebSocketProtocol):
    name = "rfc6455"
    has_pings = True

    def __init__(self, request: Request, *, max_message_size: int = limits.MAX_MESSAGE_SIZE,
                 deflate: bool = True, short_path: bool = True,
                 memory: MessageMemory | None = None, frame_budget: int | None = None,
                 allow_reserved_codes: bool = False):
        super().__init__(max_message_size=max_message_size, frame_budget=frame_budget)
        self._allow_reserved_codes = allow_reserved_codes
        version = request.headers.get("Sec-WebSocket-Version")
        if version not in SUPPORTED_VERSIONS:
            raise HttpError(426, f"unsupported Sec-WebSocket-Version {version!r}",
                            VERSION_REQUIRED)
        if not request.headers.get("Host"):
            raise HttpError(400, "RFC 6455 handshake without Host")
        # hybi-07/08 frame as 13 does; websockets knows 13 only.
        headers = WsHeaders(
            (name, "13" if name.lower() == "sec-websocket-version" else value)
            for name, value in request.headers)
        try:
            self._subprotocols = tuple(
                p for value in headers.get_all("Sec-WebSocket-Protocol")
                for p in parse_subprotocol(value))
        except InvalidHeader as exc:
            raise HttpError(400, str(exc)) from None
        # One engine checks the handshake and negotiates extensions; a second one,
        # born open, frames the connection. The first is dropped with the request it
        # parsed, so an idle connection keeps nothing of its handshake.
        handshake = ServerProtocol(extensions=[DEFLATE] if deflate else None, logger=_logger)
        # 4.2.1: "HTTP/1.1 or higher". websockets takes HTTP/1.1 alone; the request parser
        # reads any higher version as 1.1, as httpd does (and mod_websocket upgrades it).
        protocol = "HTTP/1.0" if request.version == "HTTP/1.0" else "HTTP/1.1"
        self._response = handshake.accept(WsRequest(request.target, headers,
                                                    method=request.method, protocol=protocol))
        handshake.parser.close()  # done: a generator that holds its engine (see end())
        if self._response.status_code != 101:
            reason = str(handshake.handshake_exc or self._response.reason_phrase)
            raise HttpError(self._response.status_code, reason,
                            tuple((k, v) for k, v in self._response.headers.raw_items()
                                  if k in ("Allow", "Upgrade")))
        self._extensions = tuple(  # () when none: shared, as every empty container here
            _SteppedInflate(e, self._inflating) if isinstance(e, PerMessageDeflate) else e
            for e in handshake.extensions)
        self._made_engine: ServerProtocol | None = None  # see _engine
        # Without an extension, text and binary frames are framed here (5.2).
        self._frame_directly = short_path and not handshake.extensions
        # A list from a fragmented message's first frame to its end; () between them.
        self._fragments: list[str] | list[bytes] | tuple[()] = ()
        self._held = 0                  # bytes the fragments hold (str: as Python holds them)
        self._memory = memory           # the worker's WebSocketMessageMemory; None: no cap
        self._holding = False           # whether the memory counts this message
        self._message_type = TEXT
        self._decoder: codecs.IncrementalDecoder | None = None
        self._early = b""               # frames sent before the 101 was written
        self._failure_reported = False
        self._short_path = short_path   # False: every frame through the engine (the reference)
        self._engine_reads_all = False  # True once closed, or failing on a frame's size
        self._pending: bytes | bytearray = b""  # an incomplete frame, waiting for its end
        self._in_fragments = False      # the engine holds a fragmented message's start

    @property
    def subprotocols(self) -> tuple[str, ...]:
        return self._subprotocols

    @property
    def label(self) -> str:
        if self._extensions:
            return "+".join([self.name, *(e.name for e in self._extensions)])
        return self.name

    @property
    def _engine(self) -> ServerProtocol:
        """The engine that frames the connection, born open, made when a frame first needs
        it (a control frame, a fragment, a compressed frame, a close, the end): an idle
        connection whose frames all took the short path holds none (about 1.5 KB)."""
        if self._made_engine is None:
            self._made_engine = ServerProtocol(state=WsState.OPEN,
                                               max_size=self.max_message_size, logger=_logger)
            self._made_engine.extensions = list(self._extensions)
        return self._made_engine

    def accept(self, subprotocol: str | None = None,
               headers: Iterable[tuple[str, str]] = ()) -> None:
        if self.state is not State.CONNECTING:
            raise ValueError("the handshake is already answered")
        if subprotocol is not None:
            self._response.headers["Sec-WebSocket-Protocol"] = subprotocol
        for name, value in headers:
            self._response.headers[name] = value
        self._output_buffer().extend(self._response.serialize())
        self._response = None
        self._sync()

    def receive_data(self, data: bytes) -> None:
        if self.state is State.CONNECTING:
            # RFC 6455 4.1: the client must not send frames before the 101;
            # keep them for after the handshake, as websockets would.
            self._early += data
            return
        if self._engine_reads_all:
            self._engine.receive_data(data)
            self._collect()
            return
        self._pending += data
        self._split_frames()

    def _split_frames(self) -> None:
        """Deliver whole frames, up to frame_budget of them: common ones directly
        (frames.scan_frames), the others through the engine."""
        buffer, pos, frames = self._pending, 0, 0
        self.more_to_parse = False
        while True:
            stop, pos, frames, header, end = scan_frames(
                buffer, pos, frames, self.frame_budget, self.max_message_size,
                self._short_path and not self._in_fragments, self._event_list())
            if stop == ENGINE:
                self._through_engine(buffer, pos, header, end)
            elif stop == INVALID_TEXT:
                self._fail_text(apply_mask(buffer[pos + header:end],
                                           buffer[pos + header - 4:pos + header]))
            elif stop == OVERSIZED:
                return self._hand_over(pos)  # the engine answers 1009 from the header
            else:
                self.more_to_parse = stop == BUDGET
                break
            pos = end
            if self.state is State.CLOSED:
                return self._hand_over(pos)
        self._pending = unparsed(buffer, pos)

    def _through_engine(self, buffer: bytes | bytearray, pos: int, header: int,
                        end: int) -> None:
        """The frame at buffer[pos:end] (`header` bytes of it its header), to the engine."""
        first, second = buffer[pos], buffer[pos + 1]
        opcode = first & 0x0F
        if opcode in (0, 1, 2):
            self._in_fragments = not first & 0x80
        elif opcode == 8 and self._in_fragments:
            # 5.4: a close may come between fragments; the unfinished message is
            # dropped and the close answered (Autobahn 7.1.5). websockets would
            # call it an incomplete message (1002), so it is told the message ended:
            # a final empty continuation, whose event is dropped with the message.
            self._in_fragments = False
            self._engine.receive_data(_END_OF_MESSAGE)
            self._engine.events_received()
            self._drop_message()
        frame = bytes(buffer[pos:end])
        if opcode == 8 and end - pos - header >= 2 and second & 0x80:
            frame = self._reserved_close(frame, header)
        if frame:
            self._engine.receive_data(frame)
        self._collect()

    def _reserved_close(self, frame: bytes, header: int) -> bytes:
        """A client's masked close frame, as the engine is to read it: with a reserved code,
        refused here (1002, nothing left for the engine), or under
        WebSocketAllowReservedStatusCodes handed over as 1000, which the engine echoes, as
        mod_websocket answers it. Any other close as it came."""
        mask = frame[header - 4:header]
        code = int.from_bytes(apply_mask(frame[header:header + 2], mask), "big")
        if not is_reserved_code(code):
            return frame
        if not self._allow_reserved_codes:
            self._engine.fail(1002, f"close code {code} is reserved "
                                    "(WebSocketAllowReservedStatusCodes Off)")
            return b""
        return frame[:header] + apply_mask(_NORMAL_CLOSURE, mask) + frame[header + 2:]

    def _hand_over(self, pos: int) -> None:
        """From here on the engine reads every byte: after an oversized frame (which it
        fails) or once closed. Either way it only discards them, which costs nothing."""
        self._engine_reads_all = True
        rest = bytes(self._pending[pos:])
        self._pending = b""
        if rest:
            self._engine.receive_data(rest)
            self._collect()

    def _fail_text(self, payload: bytes) -> None:
        """8.1: a text frame's payload is not UTF-8: fail the connection (1007), saying where."""
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            self._engine.fail(1007, f"invalid UTF-8 at byte {exc.start}")
            self._collect()

    def receive_eof(self) -> None:
        self._engine.receive_eof()
        self._collect()

    def end(self) -> None:
        # The engine's parser is a generator that holds the engine, suspended for good,
        # and the error that ended it (EOF) holds its frame; the inflater calls back into
        # this object (_inflating).
        engine = self._made_engine
        if engine is not None:
            engine.parser.close()
            engine.parser_exc = None
            engine.extensions = []
        self._extensions = ()

    def evict(self) -> None:
        """WebSocketMessageMemory is full and this incomplete message is the oldest: drop
        it and close with 1013, Try Again Later (7.4.1), reading nothing more (7.1.7)."""
        self._drop_message()
        self._engine_reads_all = True  # the engine discards what comes
        self._pending = b""
        self._engine.fail(1013, "WebSocketMessageMemory full: try again later")
        self._sync()

    def _inflating(self, size: int) -> None:
        """A compressed frame has inflated `size` bytes so far: the message holds them too."""
        if not self._hold(self._held + size):
            raise _OverMemory(self._memory.limit)

    def _hold(self, size: int) -> bool:
        """The incomplete message holds `size` bytes; False when that alone is over the cap."""
        if self._memory is None:
            return True
        self._holding = True
        return self._memory.hold(self, size)

    def _drop_message(self) -> None:
        """The incomplete message ended (delivered, dropped or failed): it holds nothing."""
        self._fragments = ()
        self._held = 0
        if self._holding:  # most messages never were: small, whole in one frame
            self._holding = False
            self._memory.release(self)

    def send(self, type: int, data: str | bytes) -> int:
        payload = data.encode("utf-8") if isinstance(data, str) else data
        if type == TEXT and not isinstance(data, str):
            payload.decode("utf-8")  # a text frame must be valid UTF-8 (8.1)
        if type in (TEXT, BINARY) and self._frame_directly:
            if self.state is not State.OPEN:
                raise ValueError(f"cannot send while {self.state.value}")
            append_frame(self._output_buffer(), 1 if type == TEXT else 2, payload)
            return len(payload)
        try:
            if type == TEXT:
                self._engine.send_text(payload)
            elif type == BINARY:
                self._engine.send_binary(payload)
            elif type == PING:
                self._engine.send_ping(payload)
            elif type == PONG:
                self._engine.send_pong(payload)
            elif type == CLOSE:
                self.close()
                return 0
            else:
                raise ValueError(f"unknown message type {type}")
        except InvalidState as exc:
            raise ValueError(f"cannot send while {self.state.value}") from exc
        self._drain()
        return len(payload)

    def close(self, code: int | None = None, reason: str = "") -> None:
        if self.state is State.OPEN:
            self._engine.send_close(code, reason)
            self._sync()

    def _drain(self) -> None:
        """Move what the engine wrote into our output, in order with our own frames."""
        writes = self._engine.data_to_send()
        if writes:
            self._output_buffer().extend(b"".join(writes))

    def _sync(self) -> None:
        engine = self._made_engine
        if engine is None:  # answered, and no frame has needed the engine yet
            self.state = State.OPEN
        else:
            self._drain()
            self.state = _STATES[engine.state]
            if engine.eof_sent:
                # The server closes the TCP connection once close frames crossed (7.1.1).
                self.state = State.CLOSED
                self._drop_message()  # an incomplete message can never end now
        if self._early and self.state is State.OPEN:
            early, self._early = self._early, b""
            self.receive_data(early)

    def _collect(self) -> None:
        for frame in self._engine.events_received():
            if frame.opcode in _DATA_TYPES:
                self._message_type = _DATA_TYPES[frame.opcode]
                self._decoder = _utf8_decoder() if self._message_type == TEXT else None
                self._fragments = []
            elif frame.opcode is Opcode.CLOSE:
                close = self._engine.close_rcvd
                self._event_list().append(CloseReceived(close.code if close else None,
                                                        close.reason if close else ""))
                continue
            elif frame.opcode is not Opcode.CONT:
                continue  # ping (answered by the engine) and pong
            if self._decoder is not None:
                try:
                    # 8.1: validate text as it arrives, so bad UTF-8 fails fast.
                    self._fragments.append(self._decoder.decode(frame.data, final=frame.fin))
                except UnicodeDecodeError as exc:
                    self._engine.fail(1007, f"invalid UTF-8 at byte {exc.start}")
                    break
            else:
                self._fragments.append(frame.data)
            if frame.fin:
                empty = "" if self._message_type == TEXT else b""
                self._event_list().append(Message(self._message_type,
                                                  empty.join(self._fragments)))
                self._drop_message()
                continue
            # Plain and inflated fragments alike count against WebSocketMessageMemory.
            self._held += sys.getsizeof(self._fragments[-1])
            if not self._hold(self._held):
                self._engine.fail(1009, _over_memory(self._memory.limit))
                break
        sent = self._engine.close_sent
        if sent is not None and sent.code in _PEER_FAULTS and not self._failure_reported:
            self._failure_reported = True
            self._event_list().append(ProtocolError(sent.code, sent.reason))
        self._sync()
