"""Memory in proportion to what a client sends, against the geows CLI: compressed frames
refused as they inflate (MaxMessageSize), and WebSocketMessageMemory, which closes the
connections holding the oldest incomplete messages when a worker's would pass it. Hostile
clients are raw sockets compressing with zlib; the legitimate one is `websockets`."""

from __future__ import annotations

import os
import re
import socket
import struct
import zlib
from pathlib import Path

from websockets.sync.client import connect

from geows import limits
from tests.geows_process import ECHO_CONFIG, GeowsProcess, run_cli
from tests.protocols.test_message_memory import deflated, deflated_zeros
from tests.protocols.test_rfc6455 import frame

MIB = 1 << 20
PING, PONG, CLOSE = 0x9, 0xA, 0x8
SMALL_LIMIT_CONFIG = ECHO_CONFIG + """
<Location /small>
  SetHandler websocket-handler
  WebSocketHandler plugins/echo.py echo_init
  MaxMessageSize 1048576
</Location>
"""


class RawClient:
    """A client that offers permessage-deflate and sends whatever frames it is told."""

    def __init__(self, port: int, path: str = "/echo"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.port = self.sock.getsockname()[1]
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
            .encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(4096)
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101") and b"permessage-deflate" in head, head

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def next_frame(self) -> tuple[int, bytes]:
        """The server's next frame (unmasked, under 64 KiB): its opcode and payload."""
        self._fill(2)
        length, header = self.buffer[1] & 0x7F, 2
        if length == 126:
            self._fill(4)
            length, header = struct.unpack("!H", self.buffer[2:4])[0], 4
        self._fill(header + length)
        opcode, payload = self.buffer[0] & 0x0F, self.buffer[header:header + length]
        self.buffer = self.buffer[header + length:]
        return opcode, payload

    def _fill(self, size: int) -> None:
        while len(self.buffer) < size:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError(f"closed without a frame; got {self.buffer!r}")
            self.buffer += data

    def answers_ping(self) -> bool:
        """Whether the connection is still open: everything sent before was read."""
        self.send(frame(PING, b"?"))
        return self.next_frame() == (PONG, b"?")

    def close_code(self) -> int:
        opcode, payload = self.next_frame()
        assert opcode == CLOSE, (opcode, payload)
        try:  # and the connection ends: a FIN, or a RST when geows closed with bytes unread
            ended = self.sock.recv(1) == b""
        except ConnectionResetError:
            ended = True
        assert ended
        return struct.unpack("!H", payload[:2])[0]


def pin(port: int, fragment: bytes) -> RawClient:
    """A client that sends the first fragment of a message, then idles."""
    client = RawClient(port)
    client.send(fragment)
    assert client.answers_ping()   # read, inflated and held
    return client


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (its peak) of a process, in KiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return {key: int(re.search(rf"^{key}:\s+(\d+) kB", status, re.M)[1])
            for key in ("VmRSS", "VmHWM")}


def legit_echo(port: int, size: int) -> None:
    """A `websockets` client's compressed message of `size` bytes comes back whole."""
    text = os.urandom(size // 2).hex()   # compresses about 2 to 1
    with connect(f"ws://127.0.0.1:{port}/echo", max_size=2 * size, open_timeout=30,
                 close_timeout=30) as ws:
        assert ws.protocol.extensions[0].name == "permessage-deflate"
        ws.send(text)
        assert ws.recv(timeout=60) == text


def test_idle_clients_pinning_compressed_fragments_grow_a_worker_by_at_most_160_mib():
    """The issue's figure: 20 clients each send 30 KiB that inflate to 30 MiB and idle
    (without a cap the worker grows by over 600 MiB: bench/RESULTS-inflate.md). The oldest
    are closed with 1013 as newer ones come, and a legitimate 30 MiB compressed message
    still arrives whole."""
    geows = GeowsProcess(ECHO_CONFIG)
    try:
        [worker] = geows.wait_for_workers(1)
        legit_echo(geows.port, MIB)   # the echo path warmed up: growth is the pinners'
        before = memory_kib(worker)
        fragment = frame(2, deflated_zeros(30 * MIB), fin=False, rsv=4)
        assert len(fragment) < 31 * 1024
        pinners = [pin(geows.port, fragment) for _ in range(20)]
        after = memory_kib(worker)
        assert after["VmHWM"] - before["VmHWM"] <= 160 * 1024, (before, after)
        # 64 MiB hold two: each newer one evicted the oldest, and the last two hold theirs.
        assert [p.close_code() for p in pinners[:18]] == [1013] * 18
        assert all(p.answers_ping() for p in pinners[18:])
        lines = [line for line in geows.error_log.splitlines() if "closed with 1013" in line]
        assert len(lines) == 18
        for n, line in enumerate(lines):   # in order: the oldest first
            assert (f"[client 127.0.0.1:{pinners[n].port}] closed with 1013 (Try Again "
                    "Later): its incomplete message held 31457313 bytes, the oldest of this "
                    f"worker's, when [client 127.0.0.1:{pinners[n + 2].port}] needed room in "
                    f"WebSocketMessageMemory ({limits.MESSAGE_MEMORY} bytes)") in line, line
        legit_echo(geows.port, 30 * MIB)
        assert pinners[18].close_code() == 1013   # the oldest made room for it
        assert pinners[19].answers_ping()         # 30 + 30 MiB fit together
    finally:
        geows.stop()


def test_a_compressed_frame_over_max_message_size_is_refused_as_it_inflates():
    geows = GeowsProcess(SMALL_LIMIT_CONFIG)
    try:
        [worker] = geows.wait_for_workers(1)
        before = memory_kib(worker)["VmHWM"]
        bomb = RawClient(geows.port, "/small")   # 1 MiB that inflates to 1 GiB, in one frame
        bomb.send(frame(2, deflated_zeros(1024 * MIB)[:-4], rsv=4))
        assert bomb.close_code() == 1009
        assert memory_kib(worker)["VmHWM"] - before < 32 * 1024   # not 1 GiB
        fragments = RawClient(geows.port, "/small")   # 1009 once the second one passes 1 MiB
        fragments.send(frame(2, deflated(bytes(600 * 1024), final=False), fin=False, rsv=4))
        assert fragments.answers_ping()
        fragments.send(frame(0, deflated_zeros(1024 * MIB)[:-4]))
        assert fragments.close_code() == 1009
        assert memory_kib(worker)["VmHWM"] - before < 32 * 1024
    finally:
        geows.stop()


def test_the_oldest_incomplete_messages_make_room_compressed_or_plain():
    geows = GeowsProcess(ECHO_CONFIG + "WebSocketMessageMemory 2500000\n")
    try:
        compressed = frame(2, deflated(bytes(MIB), final=False), fin=False, rsv=4)
        plain = frame(2, bytes(MIB), fin=False)
        first, second = pin(geows.port, compressed), pin(geows.port, plain)  # 2 MiB: they fit
        third = pin(geows.port, compressed)
        assert first.close_code() == 1013 and second.answers_ping()
        fourth = pin(geows.port, plain)
        assert second.close_code() == 1013
        assert third.answers_ping() and fourth.answers_ping()
        fourth.send(frame(0, b"!"))   # the survivors' messages complete as ever
        opcode, payload = fourth.next_frame()   # the echo, compressed (RFC 7692 7.2.1)
        assert (opcode, zlib.decompressobj(wbits=-15).decompress(payload + b"\0\0\xff\xff")) \
            == (2, bytes(MIB) + b"!")
        # A message the cap cannot hold on its own makes room as it grows (third goes:
        # the oldest), then is refused with 1009.
        alone = RawClient(geows.port)
        alone.send(frame(2, deflated(bytes(3 * MIB), final=False), fin=False, rsv=4))
        assert alone.close_code() == 1009
        assert third.close_code() == 1013 and fourth.answers_ping()
        log = geows.error_log
        for old, new in ((first, third), (second, fourth), (third, alone)):
            assert (f"[client 127.0.0.1:{old.port}] closed with 1013 (Try Again Later): its "
                    "incomplete message held 1048609 bytes, the oldest of this worker's, when "
                    f"[client 127.0.0.1:{new.port}] needed room in WebSocketMessageMemory "
                    "(2500000 bytes)") in log
        assert log.index(f"127.0.0.1:{first.port}]") < log.index(f"127.0.0.1:{second.port}]")
        assert re.search(rf"\[client 127\.0\.0\.1:{alone.port}\] closed with 1009: its "
                         r"incomplete message would hold \d+ bytes, more than "
                         r"WebSocketMessageMemory \(2500000 bytes\)", log), log
    finally:
        geows.stop()
    assert "closed with 1013: WebSocketMessageMemory full" in geows.access_log


def test_websocket_message_memory_refused_at_its_line(tmp_path):
    conf = tmp_path / "httpd.conf"
    conf.write_text("Listen 127.0.0.1:8099\nWebSocketMessageMemory 64M\n")
    done = run_cli("-t", "-f", str(conf))
    assert done.returncode == 1
    assert done.stderr.startswith(f"{conf}:2: WebSocketMessageMemory '64M': expected a "
                                  "positive number of bytes (digits only)"), done.stderr
    conf.write_text("Listen 127.0.0.1:8099\nWebSocketMessageMemory 67108864\n")
    assert run_cli("-t", "-f", str(conf)).returncode == 0
