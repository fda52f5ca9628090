"""The shipped plugins (plugins/*.py) and conf/httpd.conf that serves them, end to end
with the real geows CLI, RFC 6455 (websockets) and draft-76 (tests/draft76.py) clients."""

from __future__ import annotations

import importlib.util
import json
import re
import threading
import time
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from geows.errors import ConnectionClosed
from geows.plugin import TEXT
from tests.draft76 import Draft76Client
from tests.geows_process import REPO, GeowsProcess, run_cli

# conf/httpd.conf's Locations for the Python plugins, on a free port.
CONFIG = """
Listen 127.0.0.1:@PORT@
LogLevel info
<Location /echo>
  SetHandler websocket-handler
  WebSocketHandler plugins/echo.py echo_init
</Location>
<Location /dumb-increment>
  SetHandler websocket-handler
  WebSocketHandler plugins/dumb_increment.py dumb_increment_init
</Location>
<Location /chat>
  SetHandler websocket-handler
  WebSocketHandler plugins/chat.py chat_init
  MaxMessageSize 65536
</Location>
"""

PROTOCOL = "dumb-increment-protocol"
SHIPPED = REPO / "conf" / "httpd.conf"


class Rfc6455Client:
    """websockets' sync client behind Draft76Client's interface: send, recv, close."""

    def __init__(self, port: int, path: str, **kwargs):
        # legacy=True: websockets' documented way to hold a connection outside `with`
        self.ws = connect(f"ws://127.0.0.1:{port}{path}", open_timeout=10, legacy=True, **kwargs)
        self.local_port = self.ws.socket.getsockname()[1]

    def send(self, data: str | bytes) -> None:
        self.ws.send(data)

    def recv(self) -> str | bytes:
        return self.ws.recv(timeout=10)

    def close(self) -> None:
        self.ws.close()


def draft76(port: int, path: str, **kwargs) -> Draft76Client:
    client = Draft76Client(port, path, **kwargs)
    client.local_port = client.sock.getsockname()[1]
    return client


def counter_client(kind: str, port: int, protocols: list[str]):
    if kind == "rfc6455":
        return Rfc6455Client(port, "/dumb-increment", subprotocols=protocols)
    return draft76(port, "/dumb-increment", protocol=", ".join(protocols))


def access_line(geows: GeowsProcess, client) -> str:
    """The access log's line for a client that has gone, found by its port."""
    pattern = re.compile(rf"^127\.0\.0\.1:{client.local_port} .*$", re.M)
    deadline = time.monotonic() + 10
    while (match := pattern.search(geows.access_log)) is None:
        assert time.monotonic() < deadline, f"no line for {client.local_port}:\n{geows.access_log}"
        time.sleep(0.05)
    return match.group()


def wait_for_lines(geows: GeowsProcess, pattern: str, count: int) -> None:
    """Wait until the access log has `count` lines matching the regex `pattern`:
    a connection's line is written when it ends, after the client has moved on."""
    deadline = time.monotonic() + 10
    while len(re.findall(pattern, geows.access_log)) < count:
        assert time.monotonic() < deadline, f"{pattern!r} x{count} not logged:\n{geows.access_log}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def geows():
    process = GeowsProcess(CONFIG)
    yield process
    assert process.stop() == 0
    assert "Traceback" not in process.error_log, process.error_log


# conf/httpd.conf

def test_shipped_config_passes_geows_t():
    result = run_cli("-t", "-f", "conf/httpd.conf")
    assert result.returncode == 0, result.stderr
    assert "Syntax OK" in result.stdout + result.stderr


def test_shipped_config_iffile_blocks_follow_the_c_plugins(tmp_path: Path):
    # <IfFile> is ServerRoot-relative: with -d pointing at a root holding only
    # plugins/c/chat.so, only /c/chat appears beside the Python locations.
    (tmp_path / "plugins" / "c").mkdir(parents=True)
    (tmp_path / "plugins" / "c" / "chat.so").touch()
    result = run_cli("-S", "--json", "-f", str(SHIPPED), "-d", str(tmp_path))
    assert result.returncode == 0, result.stderr
    routes = {route["location"]: route for route in json.loads(result.stdout)["routes"]}
    assert list(routes) == ["/echo", "/dumb-increment", "/chat", "/c/chat"]
    assert routes["/c/chat"]["plugin"] == str(tmp_path / "plugins" / "c" / "chat.so")


def test_shipped_config_serves_every_plugin():
    # The README's first command, on a free port instead of 8080: the Python plugins,
    # and the C ones that `make -C plugins/c` has built.
    text = SHIPPED.read_text()
    assert "Listen 127.0.0.1:8080\n" in text
    # plugin name: (location, subprotocols, what to send, the first answer)
    cases = {"echo": ("/echo", None, "echo?", "echo?"),
             "dumb_increment": ("/dumb-increment", [PROTOCOL], None, "0"),
             "chat": ("/chat", None, "anyone?", "anyone?")}
    locations = {path: rest for path, *rest in cases.values()}
    locations.update({f"/c{path}": rest for name, (path, *rest) in cases.items()
                      if (REPO / "plugins" / "c" / f"{name}.so").exists()})
    process = GeowsProcess(text.replace("Listen 127.0.0.1:8080\n", "Listen 127.0.0.1:@PORT@\n"))
    try:
        for path, (protocols, message, answer) in locations.items():
            with connect(f"ws://127.0.0.1:{process.port}{path}", subprotocols=protocols) as ws:
                if message is not None:
                    ws.send(message)
                assert ws.recv(timeout=10) == answer, path
    finally:
        assert process.stop() == 0
    for path in locations:
        assert f'"GET {path} HTTP/1.1" 101 ' in process.access_log, process.access_log


# dumb_increment

def test_dumb_increment_refuses_clients_without_its_subprotocol(geows):
    for protocols in (None, ["chat"]):
        with pytest.raises(InvalidStatus) as refused:
            connect(f"ws://127.0.0.1:{geows.port}/dumb-increment", subprotocols=protocols)
        assert refused.value.response.status_code == 403
    for protocol in (None, "chat"):
        with pytest.raises(ConnectionRefusedError, match=" 403 "):
            Draft76Client(geows.port, "/dumb-increment", protocol=protocol)
    wait_for_lines(geows, r'"GET /dumb-increment HTTP/1\.1" 403 - .* "refused by the plugin', 4)


@pytest.mark.parametrize("kind", ["rfc6455", "draft76"])
def test_dumb_increment_counts_every_50ms(geows, kind):
    client = counter_client(kind, geows.port, [PROTOCOL])
    values = [int(client.recv())]
    start = time.monotonic()
    while time.monotonic() - start < 0.5:
        values.append(int(client.recv()))
    client.close()
    # From 0, one step at a time; about 11 in 0.5 s at 50 ms, but a busy machine
    # may be slower, and anything much faster would not be 50 ms.
    assert values == list(range(len(values)))
    assert 5 <= len(values) <= 14, values
    line = access_line(geows, client)
    assert '"GET /dumb-increment HTTP/1.1" 101 ' in line and "in=0 " in line, line


@pytest.mark.parametrize("kind", ["rfc6455", "draft76"])
def test_dumb_increment_reset(geows, kind):
    client = counter_client(kind, geows.port, [PROTOCOL])
    values = [int(client.recv()) for _ in range(4)]
    client.send("reset\n")
    # Numbers already under way still arrive; then it starts again from 0.
    while values[-1] != 0:
        values.append(int(client.recv()))
        assert len(values) < 20, values
    after = [int(client.recv()) for _ in range(3)]
    client.close()
    restart = len(values) - 1
    assert values[:restart] == list(range(restart)) and restart >= 4, values
    assert after == [1, 2, 3]
    line = access_line(geows, client)
    assert "in=1 " in line, line


@pytest.mark.parametrize("kind", ["rfc6455", "draft76"])
def test_dumb_increment_picks_its_subprotocol_when_offered_second(geows, kind):
    client = counter_client(kind, geows.port, ["chat", PROTOCOL])
    if kind == "rfc6455":
        assert client.ws.subprotocol == PROTOCOL
    else:
        assert client.header("Sec-WebSocket-Protocol") == PROTOCOL
    assert client.recv() == "0"
    client.close()


class FakeHandle:
    """A WebSocketServer handle's surface, for dumb_increment in plain OS threads."""

    def __init__(self):
        self.subprotocols = ("chat", PROTOCOL)
        self.subprotocol = "chat"
        self.remote_addr = ("127.0.0.1", 4242)
        self.state = "handshake"  # then "open", then "closed"; sent before the 101: held
        self.sent: list[str] = []

    def send(self, type: int, data: str) -> int:
        assert type == TEXT
        if self.state == "closed":
            raise ConnectionClosed("closed")
        self.sent.append(data)
        return len(data)


def tickers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("dumb-increment ")]


def wait_until(condition, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_dumb_increment_ticker_in_plain_threads():
    # Outside geows (no monkeypatching) the plugin's thread is a real one: the same
    # code, and a way to watch it start counting after the handshake and stop.
    spec = importlib.util.spec_from_file_location("dumb_increment", REPO / "plugins" /
                                                  "dumb_increment.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    plugin = module.dumb_increment_init()

    handle = FakeHandle()
    counter = plugin.on_connect(handle)
    assert handle.subprotocol == PROTOCOL and len(tickers()) == 1
    wait_until(lambda: len(handle.sent) >= 2)   # ticks before the 101: held, none skipped
    assert handle.sent[:2] == ["0", "1"]
    handle.state = "open"
    wait_until(lambda: len(handle.sent) >= 6)
    plugin.on_disconnect(counter, handle)
    wait_until(lambda: not tickers())
    assert handle.sent == [str(n) for n in range(len(handle.sent))]

    handle = FakeHandle()
    plugin.on_connect(handle)
    handle.state = "closed"  # a send that finds the connection closed ends it too
    wait_until(lambda: not tickers())

    handle = FakeHandle()
    handle.subprotocols = ("chat",)
    assert plugin.on_connect(handle) is None and not tickers()  # refused: no thread


# chat

def test_chat_every_message_reaches_everyone_in_order(geows):
    clients = {"ann": Rfc6455Client(geows.port, "/chat"),
               "bob": draft76(geows.port, "/chat"),
               "cat": Rfc6455Client(geows.port, "/chat", compression=None)}

    def talk(speakers: dict, rounds: int) -> None:
        for n in range(rounds):
            for name, client in speakers.items():
                client.send(f"{name} {n}")
        for client in speakers.values():
            heard = [client.recv() for _ in range(rounds * len(speakers))]
            for name in speakers:  # each sender's lines, in its order; the sender's own too
                assert [line for line in heard if line.startswith(name + " ")] == \
                    [f"{name} {n}" for n in range(rounds)], heard

    talk(clients, 20)
    # One leaves with a closing handshake, one drops its TCP connection: the others
    # carry on, and hear nothing from either.
    leaver = clients.pop("cat")
    leaver.close()
    dropper = draft76(geows.port, "/chat")
    dropper.sock.close()
    talk(clients, 10)
    for client in clients.values():
        client.close()

    # ann and bob heard 20 rounds of 3, then 10 of 2 (and perhaps nothing of dropper's
    # short life); cat heard the first 60.
    assert re.search(r'"GET /chat HTTP/1\.1" 101 rfc6455\+permessage-deflate .* in=30 out=80 ',
                     access_line(geows, clients["ann"]))
    assert re.search(r'"GET /chat HTTP/1\.1" 101 hixie-76 .* in=30 out=80 ',
                     access_line(geows, clients["bob"]))
    assert re.search(r'"GET /chat HTTP/1\.1" 101 rfc6455 .* in=20 out=60 "client closed"',
                     access_line(geows, leaver))
    assert re.search(r'"GET /chat HTTP/1\.1" 101 hixie-76 .* in=0 out=\d+ ',
                     access_line(geows, dropper))


def test_chat_passes_text_only(geows):
    with connect(f"ws://127.0.0.1:{geows.port}/chat") as ws:
        ws.send(b"\x00binary")
        ws.send("text")
        assert ws.recv(timeout=10) == "text"
