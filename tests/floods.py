"""One client flooding a geows WebSocket location with tiny frames, bounded in time: the
hostile load of the fairness tests (tests/test_fairness.py) and of bench/fairness.py."""

from __future__ import annotations

import socket
import threading
import time

from tests.draft76 import Draft76Client
from tests.geows_process import join_all
from tests.test_rfc6455_server import masked, raw_handshake

# What each flood sends over and over; every frame is as small as its kind allows.
FRAMES = {
    "pong": masked(0xA, b""),           # empty Pongs: control frames, nothing to deliver
    "continuation": masked(0x0, b"", fin=False),  # an endless fragmented message
    "message": masked(0x1, b"x"),       # 1-byte text messages: each one echoed
    "draft76": b"\x00\xff",             # empty draft-76 text frames: each one echoed
}
FLOODS = tuple(FRAMES)


class Flood:
    """A thread that opens a connection to `path` and sends `kind` frames as fast as the
    server takes them for `seconds`, reading (and dropping) whatever comes back; then it
    closes the connection. `sent` counts the bytes sent."""

    def __init__(self, port: int, kind: str, seconds: float, path: str = "/echo"):
        if kind == "draft76":
            self.sock = Draft76Client(port, path).sock
        else:
            self.sock = raw_handshake(port, path)
        if kind == "continuation":
            self.sock.sendall(masked(0x1, b"", fin=False))  # the message the frames continue
        self.block = FRAMES[kind] * (65536 // len(FRAMES[kind]))
        self.seconds = seconds
        self.sent = 0
        self._sender = threading.Thread(target=self._send, daemon=True)
        self._reader = threading.Thread(target=self._drain, daemon=True)

    def start(self) -> Flood:
        self._reader.start()
        self._sender.start()
        return self

    def join(self) -> None:
        join_all([self._sender, self._reader], self.seconds + 60)

    def _send(self) -> None:
        deadline = time.monotonic() + self.seconds
        self.sock.settimeout(1)
        try:
            while time.monotonic() < deadline:
                try:
                    self.sent += self.sock.send(self.block)
                except TimeoutError:
                    pass  # the server is busy with other clients: look at the clock again
        finally:
            self.sock.shutdown(socket.SHUT_RDWR)  # ends the reader too

    def _drain(self) -> None:
        try:
            while True:
                try:
                    if not self.sock.recv(65536):
                        break
                except TimeoutError:
                    continue  # the sender's timeout, shared by the socket
        except OSError:
            pass  # reset: the flood is over either way
        finally:
            self._sender.join(self.seconds + 30)
            self.sock.close()
