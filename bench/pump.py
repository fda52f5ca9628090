"""What Session._pump costs per message on ping-pong, without the socket's waits (issue 18):
the real pump (give_way, the read, receive_data, the dispatch to an echo plugin, its send,
the flush to a real loopback socket, the record's updates), in one process, over a connection
whose every read returns one masked text frame at once (`session._recv` stands in), COUNT of
them and then the end. A greenlet reads the replies meanwhile. Run it on two trees to compare
them:

    PYTHONPATH=. .venv/bin/python bench/pump.py [--size 32] [--count 5000]

Best of --repeats runs, in microseconds per message; pin it (taskset -c 1) on a busy machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import gevent
from gevent import socket

from geows.access.control import AccessControl
from geows.config import load_config
from geows.plugin import Plugin
from geows.plugin.api import WebSocketServer
from geows.runtime import session as session_module
from geows.runtime.handshake import Handshake
from geows.runtime.log import AccessLogs
from geows.runtime.server import Server

CONFIG = """Listen 127.0.0.1:{port}
<Location /echo>
  SetHandler websocket-handler
  WebSocketHandler echo.py echo_init
</Location>
"""


def echo(state: Any, server: WebSocketServer, type: int, data: str | bytes) -> None:
    server.send(type, data)


def masked_text_frame(size: int) -> bytes:
    """A final text frame of `size` bytes, masked with a zero key (RFC 6455 5.2)."""
    if size < 126:
        header = bytes((0x81, 0x80 | size))
    elif size < 65536:
        header = bytes((0x81, 0x80 | 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 0x80 | 127)) + size.to_bytes(8, "big")
    return header + bytes(4) + b"x" * size


class Bench:
    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        root = Path(tempfile.mkdtemp())
        (root / "echo.py").write_text("def echo_init():\n    raise AssertionError\n")
        (root / "httpd.conf").write_text(CONFIG.format(port=self.listener.getsockname()[1]))
        config = load_config("httpd.conf", server_root=root)
        self.plugin = Plugin(on_message=echo)
        plugins = {section.websocket: self.plugin for section in config.locations
                   if section.websocket is not None}
        self.server = Server(config, plugins, AccessControl(config), access_logs=AccessLogs())

    def opened(self) -> tuple[socket.socket, Handshake]:
        """A client past its 101, and the Handshake serving it (its reader waiting)."""
        client = socket.create_connection(self.listener.getsockname())
        sock, address = self.listener.accept()
        before = set(self.server.connections)
        gevent.spawn(self.server._handle, None, sock, address)
        client.sendall(b"GET /echo HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\n"
                       b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       b"Sec-WebSocket-Version: 13\r\n\r\n")
        head = client.recv(4096)  # the 101 alone: nothing else is sent before a frame comes
        assert head.startswith(b"HTTP/1.1 101 ") and head.endswith(b"\r\n\r\n"), head
        (handshake,) = self.server.connections - before
        return client, handshake

    def seconds(self, frame: bytes, count: int) -> float:
        """How long the pump takes for `count` frames, each read on its own."""
        client, handshake = self.opened()
        session = handshake.session
        handle = WebSocketServer(handshake.record.request, ("127.0.0.1", 1), (), session)
        left = count

        def recv(sock: socket.socket) -> bytes:
            nonlocal left
            if not left:
                raise OSError("the end")  # the pump ends as on a reset
            left -= 1
            return frame

        def drain() -> None:
            while client.recv(1 << 20):
                pass

        def pump() -> float:
            session._reader = gevent.getcurrent()
            real_recv, session_module._recv = session_module._recv, recv
            try:
                began = time.perf_counter()
                session._pump(self.plugin, None, handle)
                return time.perf_counter() - began
            finally:
                session_module._recv = real_recv

        drainer = gevent.spawn(drain)
        took = gevent.spawn(pump).get()
        drainer.kill()
        client.close()
        assert session.record.messages_out == count, session.record.messages_out
        return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=32, help="message bytes")
    parser.add_argument("--count", type=int, default=5000, help="messages per run")
    parser.add_argument("--repeats", type=int, default=15, help="runs, the best kept")
    args = parser.parse_args()
    bench = Bench()
    frame = masked_text_frame(args.size)
    bench.seconds(frame, 1000)  # warm up
    best = min(bench.seconds(frame, args.count) for _ in range(args.repeats))
    print(f"{best / args.count * 1e6:.2f} us per {args.size}-byte message "
          f"(best of {args.repeats} x {args.count})")


if __name__ == "__main__":
    main()
