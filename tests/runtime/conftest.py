"""A runtime Server in this process, and connections to it over loopback TCP pairs.

No subprocess and no monkeypatching: the test talks through gevent's sockets, and each
connection's Handshake runs in a greenlet of this process, as it would in a worker. The
pairs are TCP rather than socket.socketpair()'s AF_UNIX: the handshake routes by the local
address it came in on (getsockname), and WebSocketPing sets TCP options.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest
from gevent import monkey, socket

from geows.access.control import AccessControl
from geows.config import load_config
from geows.messages import TEXT
from geows.runtime.handshake import Handshake
from geows.runtime.log import AccessLogs
from geows.runtime.server import Server
from geows.runtime.session import ConnectionGreenlet

# How long the echo plugin's "sleep" blocks in on_message between its two replies.
SLEEP = 1.0
# The echo plugin's "stream": a reply larger than a socket's buffers, then this many small
# ones, each after a switch to the hub.
STREAM_FIRST, STREAM_MORE = 200_000, 200

CONFIG = """\
Listen 127.0.0.1:{port}
<Location /echo>
  SetHandler websocket-handler
  WebSocketHandler echo.py echo_init
</Location>
<Location /private>
  SetHandler websocket-handler
  WebSocketHandler echo.py echo_init
  Require all denied
</Location>
<Location /ping>
  SetHandler websocket-handler
  WebSocketHandler echo.py echo_init
  WebSocketPing 0.1 0.2
</Location>
"""


class Echo:
    """A plugin object: echoes, and notes every call; "close", "raise", "thread" and
    "join ROOM" are commands ("thread": the echo is sent from an OS thread). A query
    "room=NAME" joins that room in on_connect, and "refuse" (alone or after "&") refuses."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.rooms_at_disconnect: list[frozenset[str]] = []
        self.gaps: list[tuple[str, int, int]] = []

    def on_connect(self, server: Any) -> Any:
        self.calls.append("on_connect")
        query = server.request.query
        if query.startswith("room="):
            server.join(query.split("&")[0].removeprefix("room="))
        return None if "refuse" in query.split("&") else {"query": query}

    def on_message(self, state: Any, server: Any, type: int, data: str | bytes) -> None:
        self.calls.append(f"on_message {data!r}")
        if data == "close":
            server.close()
        elif data == "raise":
            raise RuntimeError("on_message failed on purpose")
        elif isinstance(data, str) and data.startswith("join "):
            server.join(data.removeprefix("join "))
        elif data == "sleep":  # replies, then blocks before it returns
            server.send(TEXT, "before the sleep")
            gevent.sleep(SLEEP)
            server.send(TEXT, "after the sleep")
        elif data == "stream":  # a large reply, then small ones, yielding between them
            server.send(TEXT, "x" * STREAM_FIRST)
            for n in range(STREAM_MORE):
                gevent.sleep(0)
                server.send(TEXT, f"more {n}")
        elif data == "thread":
            thread = monkey.get_original("threading", "Thread")(
                target=server.send, args=(TEXT, "from a thread"))
            thread.start()
        else:
            server.send(type, data)

    def on_disconnect(self, state: Any, server: Any) -> None:
        self.calls.append("on_disconnect")
        self.rooms_at_disconnect.append(server.rooms)

    def on_broadcast_gap(self, location: str, first: int, last: int) -> None:
        self.gaps.append((location, first, last))
        if first == 13:
            raise RuntimeError("on_broadcast_gap failed on purpose")


class Served:
    """The server, its plugin, and a way to open connections to it."""

    def __init__(self, server: Server, plugin: Echo, listener: socket.socket):
        self.server = server
        self.plugin = plugin
        self.listener = listener
        self.greenlets: list[gevent.Greenlet] = []

    def connect(self, spawn: Callable[..., gevent.Greenlet] = ConnectionGreenlet.spawn
                ) -> tuple[socket.socket, Handshake, gevent.Greenlet]:
        """A client socket, and the Handshake serving its other end, as the server's
        StreamServer would start it (Server._handle, in a ConnectionGreenlet unless
        `spawn` says otherwise), waiting for the request."""
        client = socket.create_connection(self.listener.getsockname(), timeout=2)
        sock, address = self.listener.accept()
        before = set(self.server.connections)
        greenlet = spawn(self.server._handle, None, sock, address)
        gevent.idle()  # it runs until it waits for the request
        (handshake,) = self.server.connections - before
        self.greenlets.append(greenlet)
        return client, handshake, greenlet


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    (tmp_path / "echo.py").write_text("def echo_init():\n    raise AssertionError\n")
    (tmp_path / "httpd.conf").write_text(
        textwrap.dedent(CONFIG.format(port=listener.getsockname()[1])))
    config = load_config("httpd.conf", server_root=tmp_path)
    plugin = Echo()
    plugins = {section.websocket: plugin for section in config.locations
               if section.websocket is not None}
    server = Server(config, plugins, AccessControl(config), access_logs=AccessLogs())
    served = Served(server, plugin, listener)
    yield served
    gevent.killall(served.greenlets, timeout=1)
    listener.close()
