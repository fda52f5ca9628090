"""The one interface every WebSocket protocol object offers to the server loop."""

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
        self._events: list[Event] = []
        self._output = bytearray()

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
        events, self._events = self._events, []
        return events

    def data_to_send(self) -> bytes:
        data = bytes(self._output)
        self._output.clear()
        return data

    def close_expected(self) -> bool:
        """True while the driver should bound its wait for the peer (closing)."""
        return self.state is State.CLOSING
