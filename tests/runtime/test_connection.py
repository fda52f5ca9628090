"""One connection through the real Server, Handshake and Session, in this process: the
client is websockets' sans-I/O ClientProtocol (RFC 6455) or raw bytes (draft-76, refusals),
and each test ends by reading the connection's access record."""

from __future__ import annotations

import gc
import random
import struct
import time
from hashlib import md5

import gevent
import pytest
from gevent import socket
from websockets.client import ClientProtocol
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from geows import limits
from geows.errors import ConnectionClosed
from geows.messages import BINARY, TEXT
from geows.runtime.session import ConnectionGreenlet
from tests.draft76 import make_key
from tests.runtime.conftest import SLEEP, STREAM_FIRST, STREAM_MORE


class Client:
    """An RFC 6455 client: websockets' protocol over a gevent socket."""

    def __init__(self, sock: socket.socket, path: str = "/echo", *,
                 subprotocols: list[str] | None = None, headers: dict[str, str] | None = None):
        self.sock = sock
        self.protocol = ClientProtocol(parse_uri(f"ws://127.0.0.1{path}"),
                                       subprotocols=subprotocols)
        request = self.protocol.connect()
        for name, value in (headers or {}).items():
            request.headers[name] = value
        self.protocol.send_request(request)
        self.events: list[Response | Frame] = []
        self.flush()

    def flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                self.sock.sendall(data)

    def next_event(self) -> Response | Frame | None:
        """The next response or frame; None once the server closed the connection."""
        while not self.events:
            data = self.sock.recv(65536)
            if data:
                self.protocol.receive_data(data)
            else:
                self.protocol.receive_eof()
            self.flush()  # pongs and the close's answer, as a client sends them
            self.events.extend(self.protocol.events_received())
            if not data and not self.events:
                return None
        return self.events.pop(0)

    def send_text(self, text: str) -> None:
        self.protocol.send_text(text.encode())
        self.flush()


def opened(served, path: str = "/echo", spawn=ConnectionGreenlet.spawn):
    """A client whose handshake got its 101, the Handshake and its greenlet."""
    sock, handshake, greenlet = served.connect(spawn)
    client = Client(sock, path)
    response = client.next_event()
    assert isinstance(response, Response) and response.status_code == 101
    return client, handshake, greenlet


def test_rfc6455_echo_and_the_access_record(served):
    client, handshake, greenlet = opened(served, "/echo?id=1")
    client.send_text("hello")
    client.protocol.send_binary(b"\x00\xff")
    client.flush()
    assert client.next_event() == Frame(Opcode.TEXT, b"hello")
    assert client.next_event() == Frame(Opcode.BINARY, b"\x00\xff")
    assert handshake.session.messages == (2, 2)
    assert len(served.server.locations[handshake.session.settings]) == 1
    client.protocol.send_close(1000)
    client.flush()
    assert client.next_event().opcode is Opcode.CLOSE
    greenlet.join(timeout=2)
    assert greenlet.dead
    record = handshake.record
    assert (record.status, record.protocol, record.ending) == (101, "rfc6455", "client closed")
    assert record.request_line == "GET /echo?id=1 HTTP/1.1"
    assert (record.messages_in, record.messages_out) == (2, 2)
    assert record.handler == "websocket-handler"
    assert record.local == served.listener.getsockname()
    assert record.bytes_in > 0 and record.bytes_out > record.head_size > 0
    entry, _ = record.entry(served.server.config)
    assert entry.notes == {"geows-ending": "client closed", "geows-protocol": "rfc6455",
                           "geows-messages-in": "2", "geows-messages-out": "2"}
    assert entry.status == 101 and entry.body_bytes == record.bytes_out - record.head_size
    assert served.plugin.calls == ["on_connect", "on_message 'hello'",
                                   "on_message b'\\x00\\xff'", "on_disconnect"]
    assert not any(served.server.locations.values())
    assert served.server.snapshot()["locations"]["<Location /echo>"] == {
        "rfc6455": {"open": 0, "accepted": 1, "messages_in": 2, "messages_out": 2}}


@pytest.mark.parametrize("spawn", [ConnectionGreenlet.spawn, gevent.spawn],
                         ids=["the server's greenlet", "any greenlet"])
def test_a_reply_goes_out_as_soon_as_the_plugin_blocks_before_it_returns(served, spawn):
    """The reader writes the replies to a read after dispatching it, or, when the plugin
    blocks in on_message first, at once: its ConnectionGreenlet's switch_out, and for a
    reader in any other greenlet a hub callback per reply."""
    client, handshake, greenlet = opened(served, spawn=spawn)
    started = time.monotonic()
    client.send_text("sleep")
    assert client.next_event() == Frame(Opcode.TEXT, b"before the sleep")
    assert time.monotonic() - started < SLEEP / 2   # not held until on_message returned
    assert client.next_event() == Frame(Opcode.TEXT, b"after the sleep")
    assert time.monotonic() - started >= SLEEP
    client.send_text("echoed")   # and the reader goes on as before
    assert client.next_event() == Frame(Opcode.TEXT, b"echoed")


def test_one_flush_waits_behind_a_stalled_write_however_often_the_plugin_yields(served):
    """A plugin that sends while a write to a client who reads nothing is stalled, switching
    to the hub between its sends: one greenlet waits to write what follows, not one per
    switch (each switch of the reader used to schedule another)."""
    client, handshake, greenlet = opened(served)
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    handshake.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)  # it stalls soon
    client.send_text("stream")
    gevent.sleep(0.5)   # the plugin has sent them all; the client has read nothing
    assert served.plugin.calls[-1] == "on_message 'stream'"
    flushers = [g for g in gc.get_objects() if isinstance(g, gevent.Greenlet)
                and not g.dead and getattr(g, "_run", None) == handshake.session._flush_now]
    assert 1 <= len(flushers) <= 2, len(flushers)   # the stalled write, and one waiting
    assert client.next_event() == Frame(Opcode.TEXT, b"x" * STREAM_FIRST)
    for n in range(STREAM_MORE):
        assert client.next_event() == Frame(Opcode.TEXT, f"more {n}".encode())


def test_draft76_handshake_and_message(served):
    sock, handshake, greenlet = served.connect()
    rng = random.Random(76)
    (key1, n1), (key2, n2) = make_key(rng), make_key(rng)
    key3 = b"abcdefgh"
    sock.sendall(f"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: WebSocket\r\n"
                 f"Connection: Upgrade\r\nOrigin: http://127.0.0.1\r\n"
                 f"Sec-WebSocket-Key1: {key1}\r\nSec-WebSocket-Key2: {key2}\r\n\r\n".encode()
                 + key3)
    answer = md5(struct.pack(">II", n1, n2) + key3).digest()
    received = _read_until(sock, answer)
    assert received.startswith(b"HTTP/1.1 101 ")
    sock.sendall(b"\x00hello\xff")
    assert _read_until(sock, b"\xff") == b"\x00hello\xff"
    sock.close()
    greenlet.join(timeout=2)
    record = handshake.record
    assert (record.status, record.protocol) == (101, "hixie-76")
    assert record.ending == "connection dropped"
    assert (record.messages_in, record.messages_out) == (1, 1)
    assert record.head_size == received.index(b"\r\n\r\n") + 4


def test_refused_by_access_is_403_and_never_reaches_the_plugin(served):
    sock, handshake, greenlet = served.connect()
    Client(sock, "/private")
    assert _read_to_the_end(sock).startswith(b"HTTP/1.1 403 ")
    greenlet.join(timeout=2)
    assert handshake.record.status == 403
    assert handshake.record.ending.startswith("access denied to ")
    assert handshake.session is None and served.plugin.calls == []


def test_a_bad_request_is_400(served):
    sock, handshake, greenlet = served.connect()
    sock.sendall(b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nno colon here\r\n\r\n")
    assert _read_to_the_end(sock).startswith(b"HTTP/1.1 400 ")
    greenlet.join(timeout=2)
    assert (handshake.record.status, handshake.record.request_line) == \
        (400, "GET /echo HTTP/1.1")
    assert handshake.record.protocol is None


def test_on_connect_refusing_is_403_without_on_disconnect(served):
    sock, handshake, greenlet = served.connect()
    Client(sock, "/echo?refuse")
    assert _read_to_the_end(sock).startswith(b"HTTP/1.1 403 ")
    greenlet.join(timeout=2)
    assert handshake.record.ending == "refused by the plugin's on_connect"
    assert served.plugin.calls == ["on_connect"]


def test_the_plugin_closes_without_a_code_and_a_raising_plugin_with_1011(served):
    # mod_websocket's close() sends a close frame without a code: the client reads 1005.
    for text, code, ending in (("close", 1005, "closed by the plugin"),
                               ("raise", 1011, "plugin error")):
        client, handshake, greenlet = opened(served)
        client.send_text(text)
        close = client.next_event()
        assert close.opcode is Opcode.CLOSE and Close.parse(close.data).code == code
        assert client.next_event() is None  # the server closes the TCP connection
        greenlet.join(timeout=2)
        assert handshake.record.ending == ending
        assert served.plugin.calls[-1] == "on_disconnect"


def test_stopping_the_server_closes_open_sessions_with_1001(served):
    client, handshake, greenlet = opened(served)
    assert served.server.connections == {handshake}
    stopping = gevent.spawn(served.server.stop, timeout=2)
    close = client.next_event()
    assert close.opcode is Opcode.CLOSE and Close.parse(close.data).code == 1001
    greenlet.join(timeout=2)
    stopping.join(timeout=2)
    assert handshake.record.ending == "server stopping"
    assert served.server.connections == set() and served.server.accepted == 1


def test_a_send_from_an_os_thread_is_handed_over(served):
    client, handshake, greenlet = opened(served)
    client.send_text("thread")
    with gevent.Timeout(2):
        assert client.next_event() == Frame(Opcode.TEXT, b"from a thread")
    assert handshake.session.messages == (1, 1)


def test_a_silent_client_is_pinged_then_dropped_without_a_close_frame(served):
    client, handshake, greenlet = opened(served, "/ping")
    client.sock.settimeout(2)
    # The websockets client answers pings by itself: read raw bytes, answering nothing.
    ping = client.sock.recv(16)
    assert ping == b"\x89\x00"   # FIN + PING, empty, unmasked from a server
    assert client.sock.recv(16) == b""   # dropped: no close frame (RFC 6455 7.1.7)
    greenlet.join(timeout=2)
    assert handshake.record.ending == "no answer to a ping within 0.2s"


def test_writers_take_turns_so_that_frames_arrive_whole_and_in_order(served):
    """Greenlets sending to a client slower than they are (their writes wait mid-frame for
    the kernel), and the reader echoing meanwhile, write one at a time: every frame arrives
    whole, each greenlet's in the order it sent them."""
    client, handshake, greenlet = opened(served)
    session = handshake.session
    size = 300_000  # several of these fill the loopback's buffers

    def sender(letter: str) -> None:
        for n in range(5):
            session.send(TEXT, f"{letter}{n}" + letter * size)

    senders = [gevent.spawn(sender, letter) for letter in "abc"]
    client.send_text("echo me")
    gevent.sleep(0.2)  # the client reads nothing yet
    assert session.unsent > 0, "no write waited for the kernel: the test proves nothing"
    received = []
    with gevent.Timeout(10):
        while len(received) < 16:
            frame = client.next_event()
            assert isinstance(frame, Frame) and frame.opcode is Opcode.TEXT, frame
            received.append(frame.data.decode())
    gevent.joinall(senders, timeout=2, raise_error=True)
    assert "echo me" in received
    for letter in "abc":
        mine = [text for text in received if text.startswith(letter)]
        assert mine == [f"{letter}{n}" + letter * size for n in range(5)]
    assert handshake.session.messages == (1, 16)


def _read_until(sock: socket.socket, end: bytes) -> bytes:
    data = b""
    with gevent.Timeout(2):
        while not data.endswith(end):
            more = sock.recv(4096)
            assert more, f"closed after {data!r}"
            data += more
    return data


def _read_to_the_end(sock: socket.socket) -> bytes:
    """What the server sends until it closes the connection."""
    data = b""
    with gevent.Timeout(2):
        while more := sock.recv(4096):
            data += more
    return data


def test_a_greenlets_send_to_a_client_that_takes_nothing_ends_after_the_timeout(served,
                                                                               monkeypatch):
    """httpd's Timeout (limits.TIMEOUT) bounds a plugin greenlet's send as it bounds an OS
    thread's: the client is closed and the send fails, rather than hold the sender and
    the connection's writer lock for good."""
    monkeypatch.setattr(limits, "TIMEOUT", 0.5)
    client, handshake, greenlet = opened(served)  # then never reads
    session = handshake.session
    sent = 0

    def flood() -> None:
        nonlocal sent
        for _ in range(400):  # 40 MB: past any kernel buffers
            session.send(TEXT, "x" * 100_000)
            sent += 1

    sender = gevent.spawn(flood)
    sender.join(timeout=10)
    sender.kill(timeout=1)  # still sending: failed below
    assert sender.dead and isinstance(sender.exception, ConnectionClosed), sender.exception
    assert 1 <= sent < 400
    greenlet.join(timeout=2)
    assert greenlet.dead
    assert handshake.record.ending == "closed: too slow to read what it was sent " \
                                      "(took nothing for 0.5 s)"
    assert str(sender.exception) == "the peer is gone: the client took nothing for 0.5 s"
    client.sock.close()


def test_a_send_stopped_from_outside_mid_frame_ends_the_connection(served):
    """A plugin's own Timeout around a send to a client that reads nothing stops the write
    mid-frame: the connection ends (its access log says why), rather than go on with the
    next frame read by the client as the cut one's payload."""
    client, handshake, greenlet = opened(served)  # then never reads
    session = handshake.session

    def send_within_a_timeout() -> None:
        with gevent.Timeout(0.3, False):
            session.send(BINARY, b"x" * 8_000_000)  # past any kernel buffers

    sender = gevent.spawn(send_within_a_timeout)
    sender.join(timeout=5)
    assert sender.dead and sender.successful()
    greenlet.join(timeout=5)
    assert greenlet.dead
    assert handshake.record.ending == \
        "closed: a send was interrupted in the middle of a frame"
    with pytest.raises(ConnectionClosed):
        session.send(TEXT, "after")
    client.sock.close()
