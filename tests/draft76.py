"""A small blocking draft-76 client, written here from the draft, for tests."""

from __future__ import annotations

import random
import socket
import struct
from hashlib import md5


def make_key(rng: random.Random) -> tuple[str, int]:
    """Section 4.1 steps 16-22: a key and the number it stands for."""
    spaces = rng.randint(1, 12)
    number = rng.randint(0, 0xFFFFFFFF // spaces)
    chars = list(str(number * spaces))
    for _ in range(rng.randint(1, 12)):
        chars.insert(rng.randint(0, len(chars)), rng.choice("!\"#$%&'()*+,-./:;<=>?@ABCxyz~"))
    for _ in range(spaces):
        chars.insert(rng.randint(1, len(chars) - 1), " ")
    return "".join(chars), number


# Draft76Client's default Origin: the location's own (http://host:port), as a page served
# beside it sends; WebSocketOriginCheck Same, the default, lets it through.
OWN_ORIGIN = "own origin"


class Draft76Client:
    def __init__(self, port: int, path: str = "/echo", *, origin: str | None = OWN_ORIGIN,
                 protocol: str | None = None, content_length: bool = False,
                 host: str = "127.0.0.1", seed: int | None = None, timeout: float = 10,
                 extra_headers: str = "", key3_later: bool = False, after_key3: bytes = b""):
        rng = random.Random(seed)
        key1, n1 = make_key(rng)
        key2, n2 = make_key(rng)
        key3 = bytes(rng.randrange(256) for _ in range(8))
        self.expected = md5(struct.pack(">II", n1, n2) + key3).digest()
        self.sock = socket.create_connection((host, port), timeout=timeout)
        lines = [f"GET {path} HTTP/1.1", "Upgrade: WebSocket", "Connection: Upgrade",
                 f"Host: {host}:{port}", f"Sec-WebSocket-Key1: {key1}",
                 f"Sec-WebSocket-Key2: {key2}"]
        if origin == OWN_ORIGIN:
            origin = f"http://{host}:{port}"
        if origin is not None:
            lines.append(f"Origin: {origin}")
        if protocol is not None:
            lines.append(f"Sec-WebSocket-Protocol: {protocol}")
        if content_length:
            lines.append("Content-Length: 8")
        head = ("\r\n".join(lines) + "\r\n" + extra_headers + "\r\n").encode()
        if key3_later:
            self.sock.sendall(head)
            self.sock.sendall(key3 + after_key3)
        else:
            self.sock.sendall(head + key3 + after_key3)
        self.buffer = b""
        self.response_head = self._read_until(b"\r\n\r\n").decode("latin-1")
        status = self.response_head.split("\r\n", 1)[0]
        if not status.startswith("HTTP/1.1 101"):
            raise ConnectionRefusedError(status)
        answer = self._read_exact(16)
        if answer != self.expected:
            raise ValueError("wrong handshake answer")

    def header(self, name: str) -> str | None:
        for line in self.response_head.split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.lower() == name.lower():
                return value.strip()
        return None

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("server closed the connection")
        self.buffer += data

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self._fill()
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    def _read_exact(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def send(self, text: str) -> None:
        self.sock.sendall(b"\x00" + text.encode() + b"\xff")

    def recv(self) -> str | None:
        """The next text message, or None for the server's closing handshake."""
        frame_type = self._read_exact(1)
        if frame_type == b"\xff":
            self._read_exact(1)
            return None
        assert frame_type == b"\x00", frame_type
        return self._read_until(b"\xff").decode()

    def close(self) -> bool:
        """Closing handshake; True when the server answered 0xFF 0x00."""
        self.sock.sendall(b"\xff\x00")
        try:
            while True:
                if self.recv() is None:
                    return True
        except (EOFError, OSError):
            return False
        finally:
            self.sock.close()
