"""Pick the protocol object a handshake asks for, or the HTTP status refusing it."""

from __future__ import annotations

from geows import limits
from geows.errors import HttpError
from geows.http import Request
from geows.protocols.base import WebSocketProtocol
from geows.protocols.hixie76 import Hixie75, Hixie76, is_draft76
from geows.protocols.memory import MessageMemory
from geows.protocols.rfc6455 import RFC6455

UPGRADE_REQUIRED = (("Upgrade", "WebSocket"), ("Connection", "Upgrade"))


def select_protocol(request: Request, *, secure: bool = False, deflate: bool = True,
                    support_draft75: bool = False,
                    max_message_size: int = limits.MAX_MESSAGE_SIZE,
                    memory: MessageMemory | None = None,
                    frame_budget: int | None = None,
                    allow_reserved_codes: bool = False) -> WebSocketProtocol:
    """The protocol for this handshake, parsing at most frame_budget frames per
    receive_data call; HttpError when it cannot be served. `memory`: the worker's
    WebSocketMessageMemory, which RFC 6455's incomplete messages count against (draft-76
    has neither fragments nor compression: it holds what the client sent).
    `allow_reserved_codes`: WebSocketAllowReservedStatusCodes (RFC 6455's close codes)."""
    headers = request.headers
    if "websocket" not in headers.tokens("Upgrade"):
        raise HttpError(426, "not a WebSocket handshake", UPGRADE_REQUIRED)
    if request.method != "GET":
        raise HttpError(405, f"{request.method} is not a WebSocket handshake",
                        (("Allow", "GET"),))
    if "upgrade" not in headers.tokens("Connection"):
        raise HttpError(400, "Connection header lacks the Upgrade token")
    if is_draft76(headers):
        return Hixie76(request, secure=secure, max_message_size=max_message_size,
                       frame_budget=frame_budget)
    if "Sec-WebSocket-Key" in headers or "Sec-WebSocket-Version" in headers:
        return RFC6455(request, max_message_size=max_message_size, deflate=deflate,
                       memory=memory, frame_budget=frame_budget,
                       allow_reserved_codes=allow_reserved_codes)
    if support_draft75:
        return Hixie75(request, secure=secure, max_message_size=max_message_size,
                       frame_budget=frame_budget)
    raise HttpError(400, "handshake is neither draft-76 nor a protocol this server speaks")
