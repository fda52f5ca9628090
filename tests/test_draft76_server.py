"""draft-76 end to end: the real geows CLI as a subprocess, real sockets."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.draft76 import Draft76Client
from tests.geows_process import GeowsProcess, join_all

CONFIG = """
Listen 127.0.0.1:@PORT@
LogLevel info
RequestReadTimeout header=2-4,MinRate=500
LoadModule websocket_module modules/mod_websocket.so
<IfModule mod_websocket.c>
  <Location /echo>
    SetHandler websocket-handler
    WebSocketHandler plugins/echo.py echo_init
  </Location>
  <Location /d75>
    SetHandler websocket-handler
    WebSocketHandler plugins/echo.py echo_init
    SupportDraft75 On
  </Location>
  <Location /life>
    SetHandler websocket-handler
    WebSocketHandler @DIR@/life.py life_init
  </Location>
  <Location /any-origin>
    SetHandler websocket-handler
    WebSocketHandler plugins/echo.py echo_init
    WebSocketOriginCheck Off
  </Location>
</IfModule>
"""

# A plugin that shows its lifecycle in the error log and misbehaves on request.
LIFE = '''
import logging
from geows.plugin import Plugin, TEXT

log = logging.getLogger("geows.life")

def life_init():
    def on_connect(server):
        query = server.request.query
        if query == "refuse":
            return None
        if query == "raise":
            raise RuntimeError("on_connect failed on purpose")
        if query == "pick-second":
            server.subprotocol = server.subprotocols[1]
        server.set_header("X-Life", "yes")
        return {"query": query}

    def on_message(state, server, type, data):
        if data == "raise":
            raise ValueError("on_message failed on purpose")
        if data == "close":
            server.close()
            return
        server.send(TEXT, f"{state['query']}:{data}")

    def on_disconnect(state, server):
        log.warning("on_disconnect %s", state["query"])

    def destroy():
        log.warning("destroy called")

    return Plugin(on_message=on_message, on_connect=on_connect,
                  on_disconnect=on_disconnect, destroy=destroy)
'''


@pytest.fixture(scope="module")
def geows():
    process = GeowsProcess(CONFIG, extra_files={"life.py": LIFE})
    yield process
    assert process.stop() == 0


def raw_request(port: int, data: bytes, timeout: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def test_echo_round_trip(geows):
    client = Draft76Client(geows.port, "/echo")
    assert client.header("Sec-WebSocket-Location") == f"ws://127.0.0.1:{geows.port}/echo"
    assert client.header("Sec-WebSocket-Origin") == f"http://127.0.0.1:{geows.port}"
    for text in ["hello", "", "ünïcødé ☃", "x" * 100_000]:
        client.send(text)
        assert client.recv() == text
    assert client.close() is True
    geows.wait_for_log('"GET /echo HTTP/1.1" 101 hixie-76')


def test_hundred_clients_hundred_messages_in_order(geows):
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            client = Draft76Client(geows.port, "/echo", seed=n)
            for i in range(100):
                client.send(f"{n}-{i}")
            received = [client.recv() for _ in range(100)]
            assert received == [f"{n}-{i}" for i in range(100)]
            assert client.close()
        except BaseException as exc:  # reported below, with the client's number
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(100)]
    for thread in threads:
        thread.start()
    join_all(threads, 60)   # each read times out after 10 s (Draft76Client)
    assert not errors, errors[:3]


@pytest.mark.parametrize("content_length", [False, True])
@pytest.mark.parametrize("key3_later", [False, True])
def test_key3_with_and_without_content_length(geows, content_length, key3_later):
    client = Draft76Client(geows.port, "/echo", content_length=content_length,
                           key3_later=key3_later)
    client.send("ok")
    assert client.recv() == "ok"
    client.close()


def test_frames_pipelined_after_key3(geows):
    frames = b"".join(b"\x00" + f"early-{i}".encode() + b"\xff" for i in range(5))
    client = Draft76Client(geows.port, "/echo", after_key3=frames)
    assert [client.recv() for _ in range(5)] == [f"early-{i}" for i in range(5)]
    client.close()


def test_origin_missing_or_odd(geows):
    client = Draft76Client(geows.port, "/echo", origin=None)
    assert client.header("Sec-WebSocket-Origin") is None
    client.close()
    client = Draft76Client(geows.port, "/any-origin", origin="null")
    assert client.header("Sec-WebSocket-Origin") == "null"
    client.close()


def test_connection_token_list_and_header_case(geows):
    # Firefox sent "Connection: keep-alive, Upgrade"; the module refused it.
    client = Draft76Client(geows.port, "/echo?x=1", extra_headers="X-Any: 1\r\n")
    client.close()
    data = raw_request(geows.port, (
        b"GET /echo HTTP/1.1\r\nupgrade: websocket\r\nCONNECTION: keep-alive, Upgrade\r\n"
        b"host: h\r\nsec-websocket-key1: 1 2\r\nsec-websocket-key2: 3 3\r\n\r\n12345678"
        b"\xff\x00"))
    assert data.startswith(b"HTTP/1.1 101 WebSocket Protocol Handshake\r\n")
    assert b"Sec-WebSocket-Location: ws://h/echo\r\n" in data
    assert data.endswith(b"\xff\x00")


def test_binary_type_frames_are_discarded(geows):
    client = Draft76Client(geows.port, "/echo")
    client.sock.sendall(b"\x80\x03abc" + b"\x81\x81\x00" + b"x" * 128 + b"\x00after\xff")
    assert client.recv() == "after"
    client.close()


def test_closing_handshake_answered_and_logged(geows):
    client = Draft76Client(geows.port, "/echo?closing")
    client.send("one")
    assert client.recv() == "one"
    assert client.close() is True
    log = geows.wait_for_log("GET /echo?closing HTTP/1.1")
    line = next(line for line in log.splitlines() if "/echo?closing" in line)
    assert "in=1 out=1" in line and '"client closed"' in line


def test_unknown_path_404_and_plain_get_426(geows):
    data = raw_request(geows.port, b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(data) == 404
    data = raw_request(geows.port, b"GET /echoes HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(data) == 404
    data = raw_request(geows.port, b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(data) == 426
    assert b"\r\nUpgrade: WebSocket\r\n" in data


def test_bad_keys_get_400_at_once(geows):
    started = time.monotonic()
    data = raw_request(geows.port, (
        b"GET /echo HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nHost: h\r\n"
        b"Sec-WebSocket-Key1: 12345\r\nSec-WebSocket-Key2: 1 2\r\n\r\n12345678"))
    assert status_of(data) == 400
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("head, status", [
    (b"GET /" + b"a" * 8200 + b" HTTP/1.1\r\n\r\n", 414),
    (b"GET /echo HTTP/1.1\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", 400),
    (b"GET /echo HTTP/1.1\r\nX-Big: " + b"b" * 8200 + b"\r\n\r\n", 400),
])
def test_over_limit_heads(geows, head, status):
    assert status_of(raw_request(geows.port, head)) == status


def test_slow_head_gets_408(geows):
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", geows.port), timeout=10) as sock:
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n")
        data = sock.recv(65536)
    assert status_of(data) == 408
    assert 1.5 < time.monotonic() - started < 6


def test_missing_key3_times_out(geows):
    with socket.create_connection(("127.0.0.1", geows.port), timeout=10) as sock:
        sock.sendall(b"GET /echo HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n"
                     b"Host: h\r\nSec-WebSocket-Key1: 1 2\r\nSec-WebSocket-Key2: 3 3\r\n\r\n123")
        assert status_of(sock.recv(65536)) == 408


def test_garbage_never_crashes(geows):
    payloads = [
        b"\x00\xff" * 1000, b"\r\n" * 5000, bytes(range(256)) * 40,
        b"GET / HTTP/1.1\r\n\xff\xfe: \x00\r\n\r\n",
        b"\x16\x03\x01\x02\x00" + b"\x00" * 500,   # a TLS ClientHello's start
    ]
    for payload in payloads:
        try:
            raw_request(geows.port, payload, timeout=5)
        except OSError:
            pass  # a reset is an acceptable answer to garbage
    client = Draft76Client(geows.port, "/echo")
    client.send("still alive")
    assert client.recv() == "still alive"
    client.close()
    assert "Traceback" not in geows.error_log


def test_plugin_lifecycle_refusal_and_errors(geows):
    with pytest.raises(ConnectionRefusedError, match="403"):
        Draft76Client(geows.port, "/life?refuse")
    with pytest.raises(ConnectionRefusedError, match="500"):
        Draft76Client(geows.port, "/life?raise")
    client = Draft76Client(geows.port, "/life?a")
    assert client.header("X-Life") == "yes"
    client.send("hi")
    assert client.recv() == "a:hi"
    client.send("raise")
    assert client.recv() is None           # the server's 0xFF 0x00 after a plugin error
    client.sock.close()
    client = Draft76Client(geows.port, "/life?b")
    client.send("close")
    assert client.recv() is None           # plugin's close(): closing handshake
    client.sock.sendall(b"\xff\x00")
    client.sock.close()
    client = Draft76Client(geows.port, "/life?c")
    client.sock.close()                    # network drop, no closing handshake
    log = geows.wait_for_log("on_disconnect c", access=False)
    assert "on_message failed on purpose" in log and "Traceback" in log
    for query in "abc":
        geows.wait_for_log(f"on_disconnect {query}", access=False)
        assert geows.error_log.count(f"on_disconnect {query}\n") == 1
    assert "on_disconnect refuse" not in geows.error_log


def test_subprotocols(geows):
    client = Draft76Client(geows.port, "/life?x", protocol="chat")
    assert client.header("Sec-WebSocket-Protocol") == "chat"
    client.close()
    client = Draft76Client(geows.port, "/life?pick-second", protocol="chat, superchat")
    assert client.header("Sec-WebSocket-Protocol") == "superchat"
    client.close()
    client = Draft76Client(geows.port, "/echo")
    assert client.header("Sec-WebSocket-Protocol") is None
    client.close()


def test_sigterm_closes_clients_and_runs_callbacks():
    process = GeowsProcess(CONFIG, extra_files={"life.py": LIFE})
    clients = [Draft76Client(process.port, f"/life?s{n}") for n in range(5)]
    echo = Draft76Client(process.port, "/echo")
    for client in clients:
        client.send("x")
        client.recv()
    assert process.stop() == 0
    for client in clients + [echo]:
        assert client.recv() is None   # 0xFF 0x00 from the server
    for n in range(5):
        assert process.error_log.count(f"on_disconnect s{n}\n") == 1
    assert process.error_log.count("destroy called") == 1


DRAFT75_HEAD = (b"GET {path} HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n"
                b"Host: h\r\nOrigin: http://h\r\nWebSocket-Protocol: chat\r\n\r\n")


def test_draft75_only_where_supportdraft75_is_on(geows):
    with socket.create_connection(("127.0.0.1", geows.port), timeout=10) as sock:
        sock.sendall(DRAFT75_HEAD.replace(b"{path}", b"/d75") + b"\x00seventy-five\xff")
        data = b""
        while not data.endswith(b"seventy-five\xff"):
            data += sock.recv(4096)
    assert data == (b"HTTP/1.1 101 Web Socket Protocol Handshake\r\nUpgrade: WebSocket\r\n"
                    b"Connection: Upgrade\r\nWebSocket-Origin: http://h\r\n"
                    b"WebSocket-Location: ws://h/d75\r\nWebSocket-Protocol: chat\r\n\r\n"
                    b"\x00seventy-five\xff")
    data = raw_request(geows.port, DRAFT75_HEAD.replace(b"{path}", b"/echo"))
    assert status_of(data) == 400
