"""Chat: every text message goes to everyone connected to the same location,
its sender included (so a client sees the room's order, its own lines in it).

    <Location /chat>
      SetHandler websocket-handler
      WebSocketHandler plugins/chat.py chat_init
    </Location>

Names are the clients' business: examples/chat.html sends "name: text".
"""

from __future__ import annotations

from geows.plugin import TEXT, Plugin, WebSocketServer


def chat_init() -> Plugin:
    def on_message(state: None, server: WebSocketServer, type: int, data: str | bytes) -> None:
        if type == TEXT:  # a room of browsers has no use for binary
            server.broadcast(TEXT, data)

    return Plugin(on_message=on_message)
