"""RFC 6455 end to end with third-party clients (websockets, websocket-client)
against the real geows CLI."""

from __future__ import annotations

import os
import socket
import struct
import threading
import time

import pytest
import websocket  # websocket-client
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK, InvalidStatus
from websockets.sync.client import connect

from tests.draft76 import Draft76Client
from tests.geows_process import GeowsProcess, join_all

CONFIG = """
Listen 127.0.0.1:@PORT@
LogLevel info
<Location /echo>
  SetHandler websocket-handler
  WebSocketHandler plugins/echo.py echo_init
</Location>
<Location /small>
  SetHandler websocket-handler
  WebSocketHandler plugins/echo.py echo_init
  MaxMessageSize 1024
</Location>
<Location /life>
  SetHandler websocket-handler
  WebSocketHandler @DIR@/life.py life_init
</Location>
<Location /plain>
  SetHandler websocket-handler
  WebSocketHandler plugins/echo.py echo_init
  WebSocketDeflate Off
</Location>
"""

LIFE = '''
import time

from geows.plugin import Plugin, TEXT

def life_init():
    def on_message(state, server, type, data):
        if data == "slow":
            server.send(TEXT, "before")
            time.sleep(1.5)      # blocking, as plugins may: the process is monkeypatched
            server.send(TEXT, "after")
            return
        if data == "raise":
            raise ValueError("on_message failed on purpose")
        if data == "close":
            server.close()
        else:
            server.send(TEXT, data)
    return Plugin(on_message=on_message)
'''


@pytest.fixture(scope="module")
def geows():
    process = GeowsProcess(CONFIG, extra_files={"life.py": LIFE})
    yield process
    assert process.stop() == 0


def url(geows, path="/echo") -> str:
    return f"ws://127.0.0.1:{geows.port}{path}"


def test_text_binary_large_fragmented(geows):
    with connect(url(geows), max_size=None) as ws:
        ws.send("héllo")
        assert ws.recv() == "héllo"
        ws.send(b"\x00\x01\xff")
        assert ws.recv() == b"\x00\x01\xff"
        big = os.urandom(1 << 20)
        ws.send(big)
        assert ws.recv() == big
        ws.send(["frag", "men", "ted"])
        assert ws.recv() == "fragmented"
        ws.send([b"a" * 70000, b"b" * 70000])
        assert ws.recv() == b"a" * 70000 + b"b" * 70000
    geows.wait_for_log("101 rfc6455+permessage-deflate")


def test_deflate_negotiated_and_can_be_declined(geows):
    with connect(url(geows)) as ws:
        [extension] = ws.protocol.extensions
        assert extension.name == "permessage-deflate"
        text = "compressible " * 10000
        ws.send(text)
        assert ws.recv() == text
    with connect(url(geows), compression=None) as ws:
        assert ws.protocol.extensions == []
        ws.send("plain")
        assert ws.recv() == "plain"


def test_websocketdeflate_off_declines_the_offer(geows):
    with connect(url(geows, "/plain")) as ws:   # offers permessage-deflate
        assert ws.protocol.extensions == []
        ws.send("not compressed")
        assert ws.recv() == "not compressed"


def test_ping_pong_and_close_codes(geows):
    with connect(url(geows)) as ws:
        assert ws.ping(b"are you there").wait(5)
        ws.close(4000, "bye")
    assert ws.protocol.close_rcvd.code == 4000   # the server echoes the client's code


def test_websocket_client_library(geows):
    ws = websocket.create_connection(url(geows), timeout=10)
    ws.send("wc")
    assert ws.recv() == "wc"
    ws.send_binary(b"\x01\x02")
    assert ws.recv() == b"\x01\x02"
    ws.ping("p")
    opcode, frame = ws.recv_data_frame(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_PONG and frame.data == b"p"
    ws.close(status=1000)


def test_subprotocol_default_is_first_offered(geows):
    with connect(url(geows), subprotocols=["chat", "superchat"]) as ws:
        assert ws.subprotocol == "chat"


def test_message_size_limit_closes_1009(geows):
    with connect(url(geows, "/small"), compression=None) as ws:
        ws.send("x" * 1024)
        assert ws.recv() == "x" * 1024
        ws.send("x" * 1025)
        with pytest.raises(ConnectionClosedError):
            ws.recv()
    assert ws.protocol.close_rcvd.code == 1009


def test_fragmented_message_over_limit_closes_1009(geows):
    with connect(url(geows, "/small"), compression=None) as ws:
        # The client ends a list with an empty final frame, which may find the server's
        # 1009 already in: the send raises then, as the recv does otherwise.
        with pytest.raises(ConnectionClosedError):
            ws.send(["x" * 600, "x" * 600])
            ws.recv()
    assert ws.protocol.close_rcvd.code == 1009


def raw_handshake(port: int, path: str = "/echo", version: str = "13") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  f"Sec-WebSocket-Version: {version}\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    assert b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head   # RFC 6455 1.3's worked example
    return sock


def masked(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    mask = b"\x01\x02\x03\x04"
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([(0x80 if fin else 0) | opcode, 0x80 | len(payload)]) + mask + body


def read_close_code(sock: socket.socket) -> int:
    data = b""
    while len(data) < 4:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    assert data[0] == 0x88, data
    return struct.unpack(">H", data[2:4])[0]


def test_invalid_utf8_closes_1007(geows):
    sock = raw_handshake(geows.port)
    sock.sendall(masked(0x1, b"ok \xc3\x28"))
    assert read_close_code(sock) == 1007


def test_invalid_utf8_fails_fast_in_the_first_fragment(geows):
    sock = raw_handshake(geows.port)
    sock.sendall(masked(0x1, b"\xff\xfe", fin=False))   # no final fragment ever sent
    assert read_close_code(sock) == 1007


def test_protocol_error_closes_1002(geows):
    sock = raw_handshake(geows.port)
    sock.sendall(b"\x81\x02hi")   # unmasked client frame (RFC 6455 5.1)
    assert read_close_code(sock) == 1002


def test_plugin_error_closes_1011(geows):
    with connect(url(geows, "/life")) as ws:
        ws.send("raise")
        with pytest.raises(ConnectionClosedError):
            ws.recv()
    assert ws.protocol.close_rcvd.code == 1011
    assert "on_message failed on purpose" in geows.error_log


def test_a_reply_goes_out_before_the_plugin_blocks(geows):
    with connect(url(geows, "/life")) as ws:
        ws.send("slow")
        ws.send("queued")
        started = time.monotonic()
        assert ws.recv() == "before"
        assert time.monotonic() - started < 1.0
        assert ws.recv() == "after"
        assert ws.recv() == "queued"
        assert time.monotonic() - started > 1.4


def test_server_close_is_bounded_when_the_client_never_answers(geows):
    sock = raw_handshake(geows.port, "/life")
    sock.sendall(masked(0x1, b"close"))
    started = time.monotonic()
    # the plugin's close, without a code (mod_websocket's); never answered
    assert sock.recv(4) == b"\x88\x00"
    while sock.recv(4096):
        pass
    assert 3 < time.monotonic() - started < 10   # limits.CLOSE_TIMEOUT is 5 s


def test_stop_sends_going_away_to_rfc6455_clients():
    process = GeowsProcess(CONFIG, extra_files={"life.py": LIFE})
    with connect(url(process)) as ws:
        ws.send("x")
        assert ws.recv() == "x"
        assert process.stop() == 0
        with pytest.raises(ConnectionClosedOK):
            ws.recv()
    assert ws.protocol.close_rcvd.code == 1001
    assert '"server stopping"' in process.access_log


@pytest.mark.parametrize("version", ["8", "7"])
def test_hybi_versions_7_and_8_accepted(geows, version):
    sock = raw_handshake(geows.port, version=version)
    sock.sendall(masked(0x1, b"v"))
    assert sock.recv(3) == b"\x81\x01v"
    sock.close()


def test_unsupported_version_426(geows):
    with socket.create_connection(("127.0.0.1", geows.port), timeout=10) as sock:
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     b"Sec-WebSocket-Version: 12\r\n\r\n")
        data = sock.recv(4096)
    assert data.startswith(b"HTTP/1.1 426 ")
    assert b"\r\nSec-WebSocket-Version: 13\r\n" in data


def test_bad_key_400(geows):
    with pytest.raises(InvalidStatus) as info:
        connect(url(geows), additional_headers={"Sec-WebSocket-Key": "short"})
    assert info.value.response.status_code == 400


def test_both_protocols_on_one_location_at_once(geows):
    errors: list[BaseException] = []

    def rfc(n: int) -> None:
        try:
            with connect(url(geows)) as ws:
                for i in range(50):
                    ws.send(f"r{n}-{i}")
                    assert ws.recv(timeout=30) == f"r{n}-{i}"
        except BaseException as exc:
            errors.append(exc)

    def hixie(n: int) -> None:
        try:
            client = Draft76Client(geows.port, "/echo", seed=n)
            for i in range(50):
                client.send(f"h{n}-{i}")
                assert client.recv() == f"h{n}-{i}"
            client.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=f, args=(n,), daemon=True)
               for n in range(20) for f in (rfc, hixie)]
    for thread in threads:
        thread.start()
    join_all(threads, 60)
    assert not errors, errors[:3]


def handshake_with_body(port: int, length: str, body: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"GET /echo HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                 b"Content-Length: " + length.encode() + b"\r\n\r\n" + body)
    return sock


def test_a_body_announced_on_the_handshake_is_dropped_before_the_frames(geows):
    # As a proxy in front forwards it (Apache's upgrade=websocket form), in two writes.
    sock = handshake_with_body(geows.port, "300", b"x" * 100)
    time.sleep(0.2)
    sock.sendall(b"y" * 200 + masked(0x1, b"after the body"))
    data = b""
    while not data.endswith(b"after the body"):
        chunk = sock.recv(4096)
        assert chunk, data
        data += chunk
    assert data.startswith(b"HTTP/1.1 101") and data.endswith(b"\r\n\r\n\x81\x0eafter the body")


def read_to_eof(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (each recv bounded by the socket's
    timeout)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


@pytest.mark.parametrize("protocol", ["rfc6455", "draft76"])
def test_frames_before_the_101_and_before_a_half_close_are_all_answered(geows, protocol):
    """Frames in the handshake's own write (more than one parse's 32), more sent before the
    101 is read, then the client's FIN at once: each is echoed, in order, before the server
    sees the end and closes. What came with the handshake is parsed first; what waits in
    the kernel is read when the reader's wait on its socket ends, data and FIN alike."""
    early = [f"early {i}" for i in range(40)]
    later = [f"later {i}" for i in range(40)]
    if protocol == "rfc6455":
        frames = [masked(0x1, text.encode()) for text in early + later]
        sock = socket.create_connection(("127.0.0.1", geows.port), timeout=10)
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     b"Sec-WebSocket-Version: 13\r\n\r\n" + b"".join(frames[:40]))
        echoed = [bytes([0x81, len(text)]) + text.encode() for text in early + later]
    else:
        client = Draft76Client(geows.port, "/plain", key3_later=True, after_key3=b"".join(
            b"\x00" + text.encode() + b"\xff" for text in early))
        sock = client.sock
        frames = [b"\x00" + text.encode() + b"\xff" for text in early + later]
        echoed = frames
    with sock:
        sock.sendall(b"".join(frames[40:]))
        sock.shutdown(socket.SHUT_WR)
        answered = read_to_eof(sock)
    if protocol == "rfc6455":
        head, _, answered = answered.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
    else:
        answered = client.buffer + answered  # what the client read past the 101 and its key
    assert answered == b"".join(echoed)


@pytest.mark.parametrize(("length", "status"), [("65537", b"413"), ("5x", b"400")])
def test_a_handshake_body_too_big_or_malformed_is_refused(geows, length, status):
    with handshake_with_body(geows.port, length, b"") as sock:
        assert sock.recv(4096).split(b" ")[1] == status
