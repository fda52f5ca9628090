"""The one interface every WebSocket protocol object offers to the server loop, and the
buffer helper its implementations share."""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Iterable

from geows import limits
from geows.protocols.events import Event


class State(enum.Enum):
    CONNECTING = "connecting"   # handshake not answered yet
    OPEN = "open"
    CLOSING = "closing"         # our close is sent; waiting for the peer's
    CLOSED = "closed"           # nothing more to read or send but data_to_send()


class WebSocketProtocol(ABC):
    """A sans-I/O WebSocket connection, server side.

    The driver feeds `receive_data`/`receive_eof`, takes `events_received()`
    and writes `data_to_send()` to the socket after every call, and calls
    `receive_data` again while `more_to_parse` (given a frame_budget). Peer
    misbehaviour never raises: it becomes a ProtocolError event and queued
    close bytes. Misuse by the caller raises ValueError.
    """

    name: str  # for logs: "hixie-76", "rfc6455"
    # Whether the protocol has ping frames (RFC 6455 5.5.2); draft-76 has none.
    has_pings = False

    def __init__(self, *, max_message_size: int = limits.MAX_MESSAGE_SIZE,
                 frame_budget: int | None = None):
        self.max_message_size = max_message_size
        # The most frames one receive_data() call parses (None: all it can). The rest
        # waits, buffered, with more_to_parse set, so that the driver can take turns with
        # other connections between calls (limits.FRAMES_PER_PARSE).
        self.frame_budget = frame_budget
        self.more_to_parse = False
        self.state = State.CONNECTING
        # Events and bytes to send, each made with its first (_event_list, _output_buffer):
        # an idle connection holds neither.
        self._events: list[Event] | tuple[()] = ()
        self._output: bytearray | None = None

    @property
    @abstractmethod
    def subprotocols(self) -> tuple[str, ...]:
        """Subprotocols the client offered, in its order."""

    @abstractmethod
    def accept(self, subprotocol: str | None = None,
               headers: Iterable[tuple[str, str]] = ()) -> None:
        """Answer the handshake (as soon as the protocol has all it needs)."""

    @abstractmethod
    def receive_data(self, data: bytes) -> None:
        """Take bytes read from the peer, and parse up to frame_budget frames of what
        waits; while more_to_parse, call again (with b"" if nothing new came)."""

    def receive_eof(self) -> None:
        """The peer closed its side: nothing more will arrive."""
        self.state = State.CLOSED

    def end(self) -> None:
        """The connection is over (its socket closes) and nothing calls this object again:
        let go of what refers back to it, so that reference counting frees the connection
        at once. A worker runs the cyclic collector seldom (limits.GC_YOUNG_OBJECTS)."""
        return None  # draft-76's and draft-75's objects make no cycle (RFC6455.end)

    @abstractmethod
    def send(self, type: int, data: str | bytes) -> int:
        """Queue one message; returns the payload size in bytes."""

    @abstractmethod
    def close(self, code: int | None = None, reason: str = "") -> None:
        """Start the closing handshake; code None: a close frame without a status code (the
        peer reads 1005), as mod_websocket's close() sends it."""

    @property
    def label(self) -> str:
        """The protocol, with any negotiated extension, for the access log."""
        return self.name

    def events_received(self) -> list[Event]:
        events, self._events = self._events, ()
        return events or []

    def data_to_send(self) -> bytes | bytearray:
        """The bytes to send, handed over (the protocol starts a buffer of its own for more):
        no copy of them."""
        output, self._output = self._output, None
        return b"" if output is None else output

    def close_expected(self) -> bool:
        """True while the driver should bound its wait for the peer (closing)."""
        return self.state is State.CLOSING

    def _event_list(self) -> list[Event]:
        """The list that new events are appended to."""
        if type(self._events) is tuple:
            self._events = []
        return self._events

    def _output_buffer(self) -> bytearray:
        """The buffer that bytes to send are appended to."""
        if self._output is None:
            self._output = bytearray()
        return self._output


def unparsed(buffer: bytes | bytearray, pos: int) -> bytes | bytearray:
    """What waits past `pos` in a buffer of bytes received, for more to come: b"" when
    nothing does (an idle connection holds no buffer), else a bytearray, which the next
    bytes extend in place (the commonest read, whole frames, is parsed where it came)."""
    if pos >= len(buffer):
        return b""
    if isinstance(buffer, bytearray):
        del buffer[:pos]
        return buffer
    return bytearray(memoryview(buffer)[pos:])
