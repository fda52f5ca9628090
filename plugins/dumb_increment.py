"""Dumb increment: mod_websocket's demo of a server that talks first.

Each connection gets a counter as text, "0", "1", "2"..., one every 50 ms;
the message "reset\\n" starts it again from 0. The client must offer the
subprotocol dumb-increment-protocol (new WebSocket(url, "dumb-increment-protocol")).

    <Location /dumb-increment>
      SetHandler websocket-handler
      WebSocketHandler plugins/dumb_increment.py dumb_increment_init
    </Location>
"""

from __future__ import annotations

import threading

from geows.plugin import TEXT, ConnectionClosed, Plugin, WebSocketServer

PROTOCOL = "dumb-increment-protocol"
INTERVAL = 0.05  # seconds between two numbers


class Counter:
    """One connection's counter and the thread that sends it."""

    def __init__(self, server: WebSocketServer):
        self.server = server
        self.reset = threading.Event()
        self.stopped = threading.Event()
        # A plain thread, as any Python program would write it: geows monkeypatches
        # threading, so this is a greenlet of a few KB, not an OS thread, and the
        # same code runs unchanged outside geows. Event.wait() paces it and also
        # ends the wait at once when the connection goes.
        threading.Thread(target=self.run, name=f"dumb-increment {server.remote_addr}",
                         daemon=True).start()

    def run(self) -> None:
        value = 0  # only this thread writes it; on_message asks through `reset`
        while not self.stopped.wait(INTERVAL):
            if self.reset.is_set():
                self.reset.clear()
                value = 0
            try:
                self.server.send(TEXT, str(value))  # before the 101: sent right after it
            except ConnectionClosed:
                return
            value += 1

    def stop(self) -> None:
        self.stopped.set()


def dumb_increment_init() -> Plugin:
    def on_connect(server: WebSocketServer) -> Counter | None:
        if PROTOCOL not in server.subprotocols:
            return None  # 403: a client that does not speak it would not understand us
        server.subprotocol = PROTOCOL  # it may come after other offers
        return Counter(server)

    def on_message(counter: Counter, server: WebSocketServer, type: int,
                   data: str | bytes) -> None:
        if data == "reset\n":
            counter.reset.set()

    def on_disconnect(counter: Counter, server: WebSocketServer) -> None:
        counter.stop()

    return Plugin(on_message=on_message, on_connect=on_connect, on_disconnect=on_disconnect)
