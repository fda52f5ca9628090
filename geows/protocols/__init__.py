"""WebSocket protocols as sans-I/O objects: bytes in, events and bytes out.

Each protocol implements `WebSocketProtocol` (base.py); `select_protocol`
picks one from a request's handshake headers. Nothing here touches a socket.
"""

from geows.protocols.base import State, WebSocketProtocol
from geows.protocols.events import CloseReceived, Event, Message, ProtocolError
from geows.protocols.select import select_protocol

__all__ = [
    "CloseReceived",
    "Event",
    "Message",
    "ProtocolError",
    "State",
    "WebSocketProtocol",
    "select_protocol",
]
