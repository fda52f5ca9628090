"""The Python plugin API against the real server: the handle's members, sends
from greenlets and OS threads, broadcast with its slow-reader policy, and the
errors a plugin can cause."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK, InvalidStatus
from websockets.sync.client import connect

from tests.draft76 import Draft76Client
from tests.geows_process import GeowsProcess, join_all

CONFIG = """
Listen 127.0.0.1:@PORT@
LogLevel info
<Location /probe>
  SetHandler websocket-handler
  WebSocketHandler @DIR@/probe.py probe_init
</Location>
<Location /room>
  SetHandler websocket-handler
  WebSocketHandler @DIR@/probe.py room_init
</Location>
<Location /other-room>
  SetHandler websocket-handler
  WebSocketHandler @DIR@/probe.py room_init
</Location>
"""

PROBE = '''
import time

from gevent import monkey

import geows.errors
from geows.plugin import BINARY, TEXT, Plugin, run_in_thread

os_thread = monkey.get_original("_thread", "start_new_thread")
os_sleep = monkey.get_original("time", "sleep")
late_outcomes = []


servers = []


def probe_init():
    def on_connect(server):
        if server.get_header("X-Refuse"):
            return None
        if server.get_header("X-Raise"):
            raise RuntimeError("on_connect failed on purpose")
        if "second" in server.subprotocols:
            server.subprotocol = "second"
        server.set_header("X-Probe", "first")
        server.set_header("x-probe", "replaced")   # set, not add (C: header_set)
        servers.append(server)
        return {"agent": server.get_header("User-Agent")}

    def on_message(state, server, type, data):
        if data == "header":
            server.send(TEXT, server.get_header("X-Custom") or "-")
        elif data == "state":
            server.send(TEXT, state["agent"])
        elif data == "threads":
            # 100 sends from an OS thread, then one from the reader: all in order.
            sizes = run_in_thread(lambda: [server.send(TEXT, f"t{i}") for i in range(100)])
            server.send(TEXT, f"sizes {sum(sizes)}")
        elif data == "thread-close":
            run_in_thread(server.close)
        elif data == "late":
            # A real OS thread that outlives the connection, then sends.
            def late():
                os_sleep(0.5)
                try:
                    server.send(TEXT, "too late")
                    late_outcomes.append("sent")
                except geows.errors.ConnectionClosed:
                    late_outcomes.append("ConnectionClosed")
            os_thread(late, ())
            server.close()
        elif data == "outcomes":
            server.send(TEXT, ",".join(late_outcomes))
        elif data.startswith("hand over "):
            # An OS thread sends 1 MiB messages to the connection named by its port, which
            # does not read; report after 2 s how many it could hand over.
            port = int(data.split()[2])
            target = next(s for s in servers if s.remote_addr[1] == port)
            handed = []

            def push():
                for _ in range(20):
                    target.send(BINARY, bytes(1 << 20))
                    handed.append(1)
            os_thread(push, ())
            time.sleep(2)
            server.send(TEXT, f"handed {len(handed)}")
        elif data == "bad type":
            try:
                server.send(42, "x")
            except ValueError as exc:
                server.send(TEXT, f"ValueError: {exc}")
        elif data == "raise":
            raise ValueError("on_message failed on purpose")
        else:
            server.send(type, data)
    return Plugin(on_connect=on_connect, on_message=on_message)


def room_init():
    def on_message(state, server, type, data):
        if data.startswith(("flood ", "thread flood ")):
            *how, count, size = data.split()
            filler = "x" * int(size)

            def flood():
                for i in range(int(count)):
                    server.broadcast(TEXT, f"{i} {filler}")
            started = time.monotonic()
            run_in_thread(flood) if how == ["thread", "flood"] else flood()
            server.send(TEXT, f"flooded in {time.monotonic() - started:.2f}s")
        elif data == "from thread":
            run_in_thread(server.broadcast, TEXT, "broadcast from a thread")
        else:
            server.send(TEXT, f"reached {server.broadcast(type, data)}")
    return Plugin(on_message=on_message)
'''


@pytest.fixture(scope="module")
def geows():
    process = GeowsProcess(CONFIG, extra_files={"probe.py": PROBE})
    yield process
    assert process.stop() == 0


def url(geows, path="/probe") -> str:
    return f"ws://127.0.0.1:{geows.port}{path}"


def test_headers_subprotocol_and_state(geows):
    with connect(url(geows), subprotocols=["first", "second"], user_agent_header="probe-agent",
                 additional_headers={"X-Custom": "hello"}) as ws:
        assert ws.subprotocol == "second"
        assert ws.response.headers.get_all("X-Probe") == ["replaced"]
        ws.send("header")
        assert ws.recv() == "hello"
        ws.send("state")
        assert ws.recv() == "probe-agent"


def test_draft76_sees_the_same_api(geows):
    client = Draft76Client(geows.port, "/probe", protocol="first, second",
                           extra_headers="X-Custom: draft\r\n")
    assert client.header("Sec-WebSocket-Protocol") == "second"
    assert client.header("X-Probe") == "replaced"
    client.send("header")
    assert client.recv() == "draft"
    assert client.close()


def test_on_connect_refusal_and_error(geows):
    with pytest.raises(InvalidStatus) as refused:
        connect(url(geows), additional_headers={"X-Refuse": "1"})
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as failed:
        connect(url(geows), additional_headers={"X-Raise": "1"})
    assert failed.value.response.status_code == 500
    assert "on_connect failed on purpose" in geows.error_log


def test_sends_from_an_os_thread_arrive_in_order(geows):
    with connect(url(geows)) as ws:
        ws.send("threads")
        assert [ws.recv() for _ in range(100)] == [f"t{i}" for i in range(100)]
        assert ws.recv() == f"sizes {sum(len(f't{i}') for i in range(100))}"


def test_close_from_an_os_thread(geows):
    with connect(url(geows)) as ws:
        ws.send("thread-close")
        with pytest.raises(ConnectionClosedOK):
            ws.recv(timeout=5)
    assert ws.protocol.close_rcvd.code == 1005   # a close frame without a code


def test_send_from_a_thread_after_the_end_fails_cleanly(geows):
    with connect(url(geows)) as ws:
        ws.send("late")
        with pytest.raises(ConnectionClosedOK):
            ws.recv(timeout=5)
    time.sleep(1)
    with connect(url(geows)) as ws:
        ws.send("outcomes")
        assert ws.recv() == "ConnectionClosed"


def test_bad_message_type_is_a_value_error(geows):
    with connect(url(geows)) as ws:
        ws.send("bad type")
        assert ws.recv().startswith("ValueError: unknown message type 42")


def test_plugin_error_closes_that_connection_only(geows):
    with connect(url(geows)) as bystander, connect(url(geows)) as ws:
        ws.send("raise")
        with pytest.raises(ConnectionClosedError):
            ws.recv()
        assert ws.protocol.close_rcvd.code == 1011
        bystander.send("still here")
        assert bystander.recv() == "still here"
    client = Draft76Client(geows.port, "/probe")
    client.send("raise")
    assert client.recv() is None     # draft-76's closing frame, 0xFF 0x00
    assert "on_message failed on purpose" in geows.error_log


def test_broadcast_reaches_every_connection_of_its_location_only(geows):
    with connect(url(geows, "/room")) as a, connect(url(geows, "/room")) as b, \
            connect(url(geows, "/other-room")) as elsewhere:
        draft = Draft76Client(geows.port, "/room")
        a.send("hello room")
        assert a.recv() == "hello room"
        assert a.recv() == "reached 3"
        assert b.recv() == "hello room"
        assert draft.recv() == "hello room"
        draft.send("from thread")
        assert draft.recv() == "broadcast from a thread"
        assert a.recv() == "broadcast from a thread"
        assert b.recv() == "broadcast from a thread"
        with pytest.raises(TimeoutError):
            elsewhere.recv(timeout=0.5)
        assert draft.close()


def stalled_client(port: int, path: str) -> socket.socket:
    """An RFC 6455 client that completes the handshake and then never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101")
    return sock


@pytest.mark.parametrize("flood", ["flood", "thread flood"])
def test_a_reader_that_stalls_is_closed_1008_and_the_others_get_everything(geows, flood):
    count, size = 1500, 10_000   # 15 MB: past any kernel buffers, and the 1 MiB limit
    stalled = stalled_client(geows.port, "/room")
    received: list[str] = []

    def read_all(ws):
        while not received or not received[-1].startswith("flooded"):
            received.append(ws.recv(timeout=30))

    with connect(url(geows, "/room"), compression=None, max_size=None) as sender, \
            connect(url(geows, "/room"), compression=None, max_size=None) as listener:
        heard: list[str] = []
        reader = threading.Thread(
            target=lambda: heard.extend(listener.recv(timeout=30) for _ in range(count)),
            daemon=True)
        reader.start()
        sender.send(f"{flood} {count} {size}")
        read_all(sender)
        join_all([reader], 60)
        assert [m.split(" ", 1)[0] for m in received[:-1]] == [str(i) for i in range(count)]
        assert [m.split(" ", 1)[0] for m in heard] == [str(i) for i in range(count)]
    geows.wait_for_log("too slow to read what it was sent")
    stalled.close()


def test_an_os_thread_sending_to_a_client_that_does_not_read_is_held_back(geows):
    stalled = stalled_client(geows.port, "/probe")
    with connect(url(geows)) as ws:
        ws.send(f"hand over {stalled.getsockname()[1]}")
        handed = int(ws.recv(timeout=10).split()[1])
    # 20 MiB offered: what the kernel buffers take and SEND_BUFFER (1 MiB) allow, no more.
    assert 1 <= handed <= 8, handed
    stalled.close()
