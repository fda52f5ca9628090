"""geows.plugin.c_loader in this process: real C plugins loaded through ctypes and served
by a runtime Server, their clients websockets' sans-I/O protocol over gevent sockets
(tests/runtime); each callback of the server struct driven by the plugin's C; what the
loader refuses at a WebSocketHandler line; where callbacks run and what is logged."""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import gevent
import pytest
from gevent import socket
from websockets.frames import Frame, Opcode
from websockets.http11 import Response

from geows import limits
from geows.access.control import AccessControl
from geows.config import Config, load_config
from geows.errors import ConfigError
from geows.messages import PING, TEXT
from geows.plugin import c_loader
from geows.plugin.c_calls import may_wait
from geows.plugin.c_loader import CPlugin, load_c_plugin, open_library
from geows.plugin.elf import dynamic_needs
from geows.plugin.loading import load_plugins
from geows.runtime.log import AccessLogs
from geows.runtime.server import Server
from geows.runtime.session import ConnectionGreenlet
from tests.c_bridge.conftest import build
from tests.runtime.conftest import Served
from tests.runtime.test_connection import Client

CONFIG = """\
Listen 127.0.0.1:{port}
<Location /echo>
  SetHandler websocket-handler
  WebSocketHandler echo.so echo_init
</Location>
<Location /gate>
  SetHandler websocket-handler
  WebSocketHandler test_plugins.so gate_init
</Location>
<Location /api>
  SetHandler websocket-handler
  WebSocketHandler test_plugins.so api_init
</Location>
<Location /pusher>
  SetHandler websocket-handler
  WebSocketHandler test_plugins.so pusher_init
</Location>
<Location /rooms>
  SetHandler websocket-handler
  WebSocketHandler rooms.so rooms_init
</Location>
<Location /report>
  SetHandler websocket-handler
  WebSocketHandler request_rec.so request_rec_init
</Location>
<Location /spinner>
  SetHandler websocket-handler
  WebSocketHandler spinner.so spinner_init
</Location>
<Location /waiter>
  SetHandler websocket-handler
  WebSocketHandler waiter.so waiter_init
</Location>
<Location /probe>
  SetHandler websocket-handler
  WebSocketHandler probe.so probe_init
</Location>
<Location /bare>
  SetHandler websocket-handler
  WebSocketHandler probe.so bare_init
</Location>
<Location /threaded-bare>
  SetHandler websocket-handler
  WebSocketHandler probe_threaded.so bare_init
</Location>
"""

# Two plugins that say what the loader passes them: probe (on_connect returns the server
# pointer as its private one, and computes for 0.3 s of CPU first when asked by the
# X-Spin header; on_message echoes if it gets that pointer back; on_disconnect counts the
# calls that get it; destroy says whether it got its own struct) and bare (no on_connect:
# on_message answers whether its private pointer is NULL). Built once importing nothing
# that waits (inline) and once with usleep (THREADED: in threads).
PROBE = r"""
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "websocket_plugin.h"

EXPORT int probe_disconnects, probe_destroyed;

static double cpu_now(void)
{
    struct timespec at;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &at);
    return (double)at.tv_sec + (double)at.tv_nsec / 1e9;
}

static void *CALLBACK probe_connect(const WebSocketServer *server)
{
    if (server->header_get(server, "X-Spin") != NULL) {
        double until = cpu_now() + 0.3;
        while (cpu_now() < until)
            ;
    }
    return (void *)server;
}

static size_t CALLBACK probe_message(void *private, const WebSocketServer *server,
                                     const int type, unsigned char *buffer, const size_t size)
{
#ifdef THREADED
    if (size == 12345678)
        usleep(1);
#endif
    if (private == server)
        return server->send(server, type, buffer, size);
    return server->send(server, MESSAGE_TYPE_TEXT, (const unsigned char *)"wrong private", 13);
}

static void CALLBACK probe_disconnect(void *private, const WebSocketServer *server)
{
    if (private == server)
        probe_disconnects++;
}

static WebSocketPlugin probe;

static void CALLBACK probe_destroy(WebSocketPlugin *plugin)
{
    probe_destroyed = plugin == &probe ? 1 : 2;
}

static WebSocketPlugin probe = {sizeof(WebSocketPlugin), WEBSOCKET_PLUGIN_VERSION_0,
                                probe_destroy, probe_connect, probe_message, probe_disconnect};

EXPORT WebSocketPlugin *CALLBACK probe_init(void)
{
    return &probe;
}

static size_t CALLBACK bare_message(void *private, const WebSocketServer *server,
                                    const int type, unsigned char *buffer, const size_t size)
{
    const char *said = private == NULL ? "private=NULL" : "private=set";
    (void)type, (void)buffer;
#ifdef THREADED
    if (size == 12345678)
        usleep(1);
#else
    (void)size;
#endif
    return server->send(server, MESSAGE_TYPE_TEXT, (const unsigned char *)said, strlen(said));
}

static WebSocketPlugin bare = {sizeof(WebSocketPlugin), WEBSOCKET_PLUGIN_VERSION_0, NULL, NULL,
                               bare_message, NULL};

EXPORT WebSocketPlugin *CALLBACK bare_init(void)
{
    return &bare;
}
"""


@pytest.fixture(scope="module")
def probes(c_build: Path) -> Path:
    """probe.so and probe_threaded.so, beside the other plugins."""
    source = c_build / "probe.c"
    if not source.exists() or source.read_text() != PROBE:
        source.write_text(PROBE)
    build(c_build, {name: how for name, how in (("probe", (source, [])),
                                                 ("probe_threaded", (source, ["-DTHREADED"])))
                    if not (c_build / f"{name}.so").exists()})
    return c_build


@pytest.fixture
def fresh_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loader as a new process has it: no library opened, no plugin struct seen (the
    libraries stay loaded: dlopen gives the same handle again)."""
    monkeypatch.setattr(c_loader, "_libraries", {})
    monkeypatch.setattr(c_loader, "_plugins", {})


def config_in(directory: Path, text: str, **values: object) -> Config:
    (directory / "httpd.conf").write_text(textwrap.dedent(text).format(**values))
    return load_config("httpd.conf", server_root=directory)


class CServed(Served):
    """Served (tests/runtime) with C plugins, by their location."""

    def __init__(self, server: Server, plugins: dict[str, CPlugin], listener: socket.socket):
        super().__init__(server, None, listener)  # type: ignore[arg-type]
        self.plugins = plugins

    def open(self, path: str, spawn: Callable[..., gevent.Greenlet] = ConnectionGreenlet.spawn,
             **options) -> Client:
        """A client whose handshake got its 101 (its reader spawned by `spawn`)."""
        client = self.start(path, spawn, **options)
        response = client.next_event()
        assert isinstance(response, Response) and response.status_code == 101, response
        client.response = response
        return client

    def start(self, path: str, spawn: Callable[..., gevent.Greenlet] = ConnectionGreenlet.spawn,
              **options) -> Client:
        sock, _, _ = self.connect(spawn)
        return Client(sock, path, **options)


@pytest.fixture
def served(fresh_loader: None, c_build: Path, probes: Path) -> Iterator[CServed]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    config = config_in(c_build, CONFIG, port=listener.getsockname()[1])
    plugins = load_plugins(config)
    server = Server(config, plugins, AccessControl(config), access_logs=AccessLogs())
    by_path = {section.pattern: plugins[section.websocket] for section in config.locations}
    served = CServed(server, by_path, listener)
    yield served
    gevent.killall(served.greenlets, timeout=2)
    listener.close()


def text(client: Client) -> str:
    frame = client.next_event()
    assert isinstance(frame, Frame) and frame.opcode is Opcode.TEXT, frame
    return frame.data.decode()


def send(client: Client, message: str | bytes) -> None:
    if isinstance(message, str):
        client.protocol.send_text(message.encode())
    else:
        client.protocol.send_binary(message)
    client.flush()


def close(client: Client) -> None:
    client.protocol.send_close(1000)
    client.flush()
    while client.next_event() is not None:
        pass


def ended(served: CServed) -> None:
    """Every connection's greenlet ended (on_disconnect has returned)."""
    gevent.joinall(served.greenlets, timeout=5)
    assert all(greenlet.dead for greenlet in served.greenlets)


def test_echo_is_called_inline_and_answers_text_binary_and_empty(served: CServed) -> None:
    assert served.plugins["/echo"].inline
    live = len(c_loader._live)
    client = served.open("/echo")
    assert len(c_loader._live) == live + 1
    for message in ("héllo, wörld", bytes(range(256)), "", b""):
        send(client, message)
        frame = client.next_event()
        assert frame.data == (message.encode() if isinstance(message, str) else message)
        assert frame.opcode is (Opcode.TEXT if isinstance(message, str) else Opcode.BINARY)
    close(client)
    ended(served)
    assert len(c_loader._live) == live


def test_on_connect_refuses_by_header(served: CServed) -> None:
    assert not served.plugins["/gate"].inline   # test_plugins.so imports pthread_*
    live = len(c_loader._live)
    refused = served.start("/gate").next_event()
    assert isinstance(refused, Response) and refused.status_code == 403
    refused = served.start("/gate", headers={"X-Let-In": "no"}).next_event()
    assert isinstance(refused, Response) and refused.status_code == 403
    ended(served)
    assert len(c_loader._live) == live   # a refused connection is forgotten
    client = served.open("/gate", headers={"X-Let-In": "yes"})
    send(client, "in")
    assert text(client) == "in"
    close(client)


def test_headers_and_subprotocols_through_the_api(served: CServed,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    client = served.open("/api", headers={"X-Echo-Me": "hello there"},
                         subprotocols=["first", "second", "third"])
    headers = client.response.headers
    assert headers["X-Echoed"] == "hello there"
    assert headers.get_all("X-Replaced") == ["second"]
    assert headers["X-Early-Send"] == "5"   # held, and sent right after the 101
    assert "X-Bad" not in headers and "X-Injected" not in headers
    assert headers["Sec-WebSocket-Protocol"] == "second"
    assert text(client) == "early"
    send(client, "report")
    assert text(client) == ("count=3 0=first 1=second past-end=NULL absent=NULL "
                            "request=set stable=yes size=104 version=1 nul=yes")
    for message in (b"\x00binary\x00with NULs\xff", b"", "", "t\u00e9xt"):   # in threads
        send(client, message)
        frame = client.next_event()
        assert frame.data == (message.encode() if isinstance(message, str) else message)
        assert frame.opcode is (Opcode.TEXT if isinstance(message, str) else Opcode.BINARY)
    close(client)
    assert "header_set('X-Bad') refused: header name or value would break the response" \
        in caplog.text
    assert "protocol_set() refused: the client did not offer subprotocol 'never-offered'" \
        in caplog.text


def test_a_plugin_offered_no_subprotocol_counts_none(served: CServed) -> None:
    client = served.open("/api")
    assert "Sec-WebSocket-Protocol" not in client.response.headers
    send(client, "report")
    assert text(client).startswith("count=0 0=NULL 1=NULL past-end=NULL absent=NULL ")
    close(client)


MISUSE = ("send() with unknown message type 7", "send() of TEXT that is not UTF-8",
          "send() with a NULL buffer of size 5", "header_get() with a NULL key",
          "header_set() with a NULL key or value",
          "header_set('X-Too-Late') refused: the handshake is already answered",
          "protocol_set() refused: the handshake is already answered")


def test_api_misuse_is_logged_without_a_traceback(served: CServed, c_build: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    client = served.open("/api")
    send(client, "misuse")
    assert text(client) == "survived 0 0 0 NULL"
    send(client, "still open")
    assert text(client) == "still open"
    close(client)
    port = client.sock.getsockname()[1]
    for message in MISUSE:
        (record,) = [record for record in caplog.records if message in record.getMessage()]
        assert record.getMessage().startswith(
            f"C plugin {c_build / 'test_plugins.so'} [client 127.0.0.1:{port}]: ")
        assert (record.levelno, record.name, record.exc_info) == (logging.ERROR,
                                                                  "geows.plugin", None)


def test_misuse_from_four_threads_at_once_is_all_logged(
        served: CServed, caplog: pytest.LogCaptureFixture) -> None:
    client = served.open("/api")
    send(client, "noise")
    assert [text(client) for _ in range(5)] == ["done"] * 4 + ["quiet"]
    close(client)
    assert caplog.text.count("send() with unknown message type 7") == 400


def test_close_from_the_plugin_sends_no_code(served: CServed) -> None:
    client = served.open("/api")
    send(client, "close")
    frame = client.next_event()
    assert frame.opcode is Opcode.CLOSE and frame.data == b""   # the client reads 1005
    ended(served)


def test_pusher_threads_send_and_on_disconnect_joins_them(served: CServed) -> None:
    first = served.open("/pusher")
    assert [int(text(first)) for _ in range(3)] == [0, 1, 2]
    close(first)
    ended(served)
    client = served.open("/pusher")
    send(client, "count")
    replies = [text(client) for _ in range(4)]
    assert "threads=1" in replies, replies   # the first connection's thread was joined
    close(client)
    ended(served)


def test_the_extension_rooms_and_broadcasts_from_c(served: CServed,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    member, other = served.open("/rooms"), served.open("/rooms")
    send(member, "size")
    assert text(member) == "size=104 join=1 leave=1 broadcast=1"
    send(member, "module")   # under mod_websocket: no extension, nothing joined or sent
    assert text(member) == "module 0 0 0"
    send(member, "join red")
    assert text(member) == "join red 1"
    send(other, "to red for red")
    send(other, "all for all")
    assert text(member) == "for red"
    assert text(member) == text(other) == "for all"   # red's message never reached other
    send(member, "leave red")
    assert text(member) == "leave red 1"
    send(other, "to red nobody")
    send(other, "all again")
    assert text(member) == "again"
    send(member, "bad")
    assert text(member) == "bad 0 0 0 0 0 0 0"
    close(member)
    close(other)
    for message in ("join(b'') refused: a room's name cannot be empty",
                    "join(b'" + "x" * 80 + "') refused: a room's name is at most 255 bytes",
                    "join() with a NULL room", "join(b'\\xff\\xfe') refused: 'utf-8' codec "
                    "can't decode byte 0xff", "leave() with a NULL room",
                    "broadcast() with unknown message type 7",
                    "broadcast(b'') refused: a room's name cannot be empty"):
        assert message in caplog.text
    assert "Traceback" not in caplog.text


def test_request_rec_is_made_once_and_its_pools_go_with_the_connection(
        served: CServed) -> None:
    client = served.open("/report?x=1")
    (connection,) = [c for c in c_loader._live.values() if c.plugin is served.plugins["/report"]]
    assert connection.request.address is not None   # on_connect asked for it
    send(client, "report")
    said = text(client)
    assert "the_request=GET /report?x=1 HTTP/1.1 " in said and said.endswith(" same=yes")
    close(client)
    ended(served)
    assert connection.request.address is None


def test_an_inline_call_that_holds_the_loop_sends_its_plugin_to_threads(
        served: CServed, caplog: pytest.LogCaptureFixture, c_build: Path) -> None:
    assert limits.C_INLINE_HOLD < 0.3   # spinner.c computes for 0.3 s of CPU
    plugin = served.plugins["/spinner"]
    assert plugin.inline
    client = served.open("/spinner")
    assert loop_cpu(client, "spin") >= 0.25   # on the event loop's thread
    assert not plugin.inline
    (warning,) = [record for record in caplog.records if "held the event loop" in
                  record.getMessage()]
    assert warning.levelno == logging.WARNING
    assert warning.getMessage().startswith(
        f"C plugin {c_build / 'spinner.so'} held the event loop for 0.3")
    assert warning.getMessage().endswith(" s of CPU in one call: its callbacks run in threads "
                                         "from now on")
    assert loop_cpu(client, "spin") < 0.15   # in a thread now, and said once
    send(client, "bad")    # through ctypes now: refused there too
    assert text(client) == "bad"
    close(client)
    assert caplog.text.count("held the event loop") == 1
    assert "send() of TEXT that is not UTF-8" in caplog.text


def loop_cpu(client: Client, message: str) -> float:
    """The CPU time this thread (the event loop's) spent while the plugin echoed
    `message`."""
    start = time.thread_time()
    send(client, message)
    assert text(client) == message
    return time.thread_time() - start


@pytest.fixture
def no_inline_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loader as it is where setup.py did not build geows.plugin._c_inline: inline
    calls through ctypes (the struct's send stays _c_inline's, which hands a send made
    without the GIL, as every ctypes call's is, to the ctypes callback)."""
    monkeypatch.setattr(c_loader, "_c_inline", None)


def test_without_the_inline_module_inline_calls_go_through_ctypes_and_a_hold_to_threads(
        no_inline_module: None, served: CServed, caplog: pytest.LogCaptureFixture) -> None:
    plugin = served.plugins["/spinner"]
    assert plugin.inline and plugin.on_message.__func__ is CPlugin.on_message
    client = served.open("/spinner")
    assert loop_cpu(client, "echoed") < 0.15
    assert loop_cpu(client, "spin") >= 0.25   # on the event loop's thread
    assert not plugin.inline
    assert loop_cpu(client, "spin") < 0.15   # in a thread now
    close(client)
    assert caplog.text.count("held the event loop") == 1


@contextmanager
def slow_collection_in(call: str) -> Iterator[list[float]]:
    """Meanwhile, the first garbage collection that runs inside geows' Session.<call> (its
    send, its broadcast), or in a ctypes callback's wrapper, computes for twice
    limits.C_INLINE_HOLD, as a full collection of a
    worker holding thousands of connections can: collections are made to run at almost
    every allocation. Gives the CPU seconds each such collection took."""
    taken: list[float] = []

    # geows' own frames a plugin's call goes through: the session's, and on the ctypes path
    # the wrapper of every callback (its arguments' tuple may be where Python collects)
    ours = {(call, "session.py"), ("callback", "c_loader.py")}

    def collecting(phase: str, info: dict) -> None:
        frame = sys._getframe(1)
        while frame is not None and (frame.f_code.co_name, Path(frame.f_code.co_filename).name
                                     ) not in ours:
            frame = frame.f_back
        if phase == "start" and frame is not None and not taken:
            start = time.thread_time()
            while time.thread_time() - start < 2 * limits.C_INLINE_HOLD:
                pass
            taken.append(time.thread_time() - start)

    threshold = gc.get_threshold()
    gc.callbacks.append(collecting)
    gc.set_threshold(1)
    try:
        yield taken
    finally:
        gc.set_threshold(*threshold)
        gc.callbacks.remove(collecting)


@pytest.fixture(params=["inline module", "ctypes"])
def inline_calls(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """How an inline plugin is called: by geows.plugin._c_inline, or through ctypes as where
    setup.py did not build it (as no_inline_module; before `served` loads the plugins)."""
    if request.param == "ctypes":
        monkeypatch.setattr(c_loader, "_c_inline", None)
    return request.param


@pytest.mark.parametrize(("message", "call"), [("echoed", "send"), ("all echoed", "broadcast")])
def test_a_collection_in_geows_is_not_the_plugins_hold(
        inline_calls: str, served: CServed, message: str, call: str,
        caplog: pytest.LogCaptureFixture) -> None:
    """A send or a broadcast of an inline call, in which Python collected garbage for 0.2 s:
    geows' time, not the plugin's, which stays on the event loop."""
    plugin = served.plugins["/spinner"]
    assert plugin.inline
    assert isinstance(vars(plugin).get("on_message"), c_loader._c_inline.OnMessage
                      if inline_calls == "inline module" else type(None))
    # Its reader in a greenlet of its own, not the server's: each reply schedules a hub
    # callback, an object made in geows' send, where Python may collect (a send from the
    # server's ConnectionGreenlet makes none).
    client = served.open("/spinner", spawn=gevent.spawn)
    with slow_collection_in(call) as taken:
        send(client, message)
        assert text(client) == "echoed"
    assert taken and taken[0] > limits.C_INLINE_HOLD
    assert plugin.inline   # its own call computed for microseconds
    assert "held the event loop" not in caplog.text
    close(client)


def test_an_inline_call_that_computes_then_waits_in_its_sends_still_held_the_loop(
        inline_calls: str, served: CServed, caplog: pytest.LogCaptureFixture) -> None:
    """The plugin computes for 0.3 s of CPU, then sends more than the socket takes while its
    client reads nothing for a second: its sends wait 0.7 s, idle, geows' time and not the
    plugin's; the 0.3 s held the loop all the same (a wait after it takes nothing from it:
    the wait's wall time taken from the call's CPU time said -0.4 s)."""
    plugin = served.plugins["/spinner"]
    client = served.open("/spinner")
    send(client, "spin, then flood")
    gevent.sleep(1.0)  # the plugin computes 0.3 s of it, then its sends wait for the client
    for _ in range(256):
        frame = client.next_event()
        assert isinstance(frame, Frame) and len(frame.data) == 65536, frame
    assert not plugin.inline
    assert caplog.text.count("held the event loop for 0.3") == 1
    close(client)


def test_an_inline_send_that_is_not_utf8_is_refused(served: CServed,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    client = served.open("/spinner")
    send(client, "bad")
    assert text(client) == "bad"   # the refused message never went out
    close(client)
    assert "send() of TEXT that is not UTF-8" in caplog.text
    assert served.plugins["/spinner"].inline


def test_a_send_that_fails_is_logged_with_its_traceback_and_answers_0(
        served: CServed, caplog: pytest.LogCaptureFixture) -> None:
    client = served.open("/echo")
    (connection,) = [c for c in c_loader._live.values() if c.plugin is served.plugins["/echo"]]
    assert c_loader._send(connection, PING, b"x" * 126) == 0   # over a control frame's 125
    (record,) = [record for record in caplog.records if "send() failed" in record.getMessage()]
    assert record.getMessage() == f"{connection}: send() failed"
    assert record.exc_info and record.exc_info[0] is not None   # with its traceback
    assert record.levelno == logging.ERROR
    assert c_loader._send(connection, TEXT, "fine") == 4
    assert text(client) == "fine"
    close(client)
    ended(served)
    assert c_loader._send(connection, TEXT, "gone") == 0   # closed: not the plugin's fault
    assert caplog.text.count("send() failed") == 1


def test_an_inline_send_that_fails_is_logged_for_its_connection_and_a_closed_one_gives_0(
        served: CServed, caplog: pytest.LogCaptureFixture) -> None:
    plugin = served.plugins["/spinner"]
    client = served.open("/spinner")
    (connection,) = [c for c in c_loader._live.values() if c.plugin is plugin]
    assert connection.struct.deliver is not None   # the sends below are _c_inline's
    send(client, "ping")
    assert text(client) == "ping gave 0"   # refused, and the connection goes on
    (record,) = [record for record in caplog.records if "send() failed" in record.getMessage()]
    assert record.getMessage() == f"{connection}: send() failed"
    assert record.exc_info and record.exc_info[0] is not None   # with its traceback
    assert record.levelno == logging.ERROR
    send(client, "close")   # closes, then sends: 0, nothing logged and nothing sent
    frame = client.next_event()
    assert isinstance(frame, Frame) and frame.opcode is Opcode.CLOSE, frame
    ended(served)
    assert plugin.inline
    assert caplog.text.count("send() failed") == 1
    assert "Exception ignored" not in caplog.text and "not UTF-8" not in caplog.text


def test_a_callback_on_an_ended_or_unknown_connection_is_logged_and_answers_safely(
        served: CServed, caplog: pytest.LogCaptureFixture) -> None:
    client = served.open("/echo")
    (connection,) = [c for c in c_loader._live.values() if c.plugin is served.plugins["/echo"]]
    assert c_loader.protocol_count(connection.address) == 0
    close(client)
    ended(served)
    assert c_loader.protocol_count(connection.address) == 0
    assert c_loader.send(connection.address, TEXT, None, 0) == 0
    assert c_loader.header_get(None, b"Host") is None
    assert c_loader.join(None, b"room") == 0
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "C plugin: protocol_count() on a connection that has ended or is unknown",
        "C plugin: send() on a connection that has ended or is unknown",
        "C plugin: header_get() on a connection that has ended or is unknown",
        "C plugin: join() on a connection that has ended or is unknown"]


def settings_for(directory: Path, handler: str):
    config = config_in(directory, """\
        Listen 127.0.0.1:80
        <Location /x>
          SetHandler websocket-handler
          WebSocketHandler {handler}
        </Location>
        """, handler=handler)
    return config.locations[0].websocket


REFUSALS = {
    "test_plugins.so null_init": "null_init() in @SO@ returned NULL",
    "test_plugins.so version_init":
        "version_init() in @SO@ returned a plugin with version 3 (expected 0)",
    "test_plugins.so small_init":
        "small_init() in @SO@ returned a plugin of size 16 (expected at least 40)",
    "test_plugins.so no_message_init": "no_message_init() in @SO@ returned a plugin without "
                                       "on_message",
    "test_plugins.so no_such_init": "C plugin @SO@ has no init function 'no_such_init'",
    "test_plugins.so __init__": "C plugin @SO@ has no init function '__init__'",
    "undefined.so undefined_init": "cannot load C plugin @SO@: undefined symbol: "
                                   "geows_test_undefined (no library it loads provides it)",
    "missing.so missing_init": "cannot load C plugin @SO@: cannot open shared object file: "
                               "No such file or directory",
    "junk.so junk_init": "cannot load C plugin @SO@: invalid ELF header",
}


@pytest.mark.parametrize("handler", REFUSALS)
def test_the_loader_refuses_at_the_websockethandler_line(fresh_loader: None, c_build: Path,
                                                         handler: str) -> None:
    (c_build / "junk.so").write_text("not a shared object\n" * 10)
    settings = settings_for(c_build, handler)
    with pytest.raises(ConfigError) as refused:
        load_c_plugin(settings)
    so = c_build / handler.split()[0]
    assert (refused.value.file, refused.value.line) == (str(c_build / "httpd.conf"), 4)
    assert refused.value.message == "WebSocketHandler: " + REFUSALS[handler].replace(
        "@SO@", str(so))


def test_a_library_is_opened_once_and_a_plugin_struct_made_once(
        fresh_loader: None, c_build: Path, tmp_path: Path) -> None:
    api = load_c_plugin(settings_for(c_build, "test_plugins.so api_init"))
    assert load_c_plugin(settings_for(c_build, "test_plugins.so api_init")) is api
    gate = load_c_plugin(settings_for(c_build, "test_plugins.so gate_init"))
    assert gate is not api and gate.path == api.path == str(c_build / "test_plugins.so")
    (tmp_path / "link.so").symlink_to(c_build / "test_plugins.so")
    library = open_library(str(c_build / "test_plugins.so"))
    assert open_library(str(tmp_path / "link.so")) is library   # by its real path
    assert len(c_loader._libraries) == 1


def test_where_callbacks_run_is_logged(fresh_loader: None, c_build: Path,
                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    assert load_c_plugin(settings_for(c_build, "echo.so echo_init")).inline
    assert not load_c_plugin(settings_for(c_build, "sleeper.so sleeper_init")).inline
    assert not load_c_plugin(settings_for(c_build, "test_plugins.so api_init")).inline
    waits = may_wait(dynamic_needs((c_build / "test_plugins.so").read_bytes()).symbols)
    assert len(waits) > 3
    assert [record.getMessage() for record in caplog.records] == [
        f"C plugin {c_build / 'echo.so'}: callbacks on the event loop (it imports nothing "
        "that waits)",
        f"C plugin {c_build / 'sleeper.so'}: callbacks in threads (it imports usleep, which "
        "may wait)",
        f"C plugin {c_build / 'test_plugins.so'}: callbacks in threads (it imports "
        f"{', '.join(waits[:3])} and {len(waits) - 3} more, which may wait)"]
    assert {record.levelno for record in caplog.records} == {logging.INFO}


def test_a_library_that_cannot_be_read_is_called_in_threads(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    assert not c_loader._runs_inline(str(tmp_path / "gone.so"))
    (tmp_path / "junk.so").write_bytes(b"junk")
    assert not c_loader._runs_inline(str(tmp_path / "junk.so"))
    assert [record.getMessage() for record in caplog.records] == [
        f"C plugin {tmp_path / 'gone.so'}: callbacks in threads (it imports (unread: [Errno 2] "
        f"No such file or directory: '{tmp_path / 'gone.so'}'), which may wait)",
        f"C plugin {tmp_path / 'junk.so'}: callbacks in threads (it imports (unread: not an "
        "ELF file), which may wait)"]


def test_a_library_exporting_geows_on_broadcast_gap_is_told_of_lost_ranges(
        fresh_loader: None, c_build: Path, capfd: pytest.CaptureFixture[str]) -> None:
    rooms = load_c_plugin(settings_for(c_build, "rooms.so rooms_init"))
    api = load_c_plugin(settings_for(c_build, "test_plugins.so api_init"))
    api.on_broadcast_gap("<Location /api>", 1, 1)   # no function of its own: nothing
    rooms.on_broadcast_gap("<Location /rooms>", 3, 2**64 - 1)
    said = ""
    for _ in range(100):
        said += capfd.readouterr().err
        if "rooms.c: " in said:
            break
        gevent.sleep(0.05)
    gevent.sleep(0.1)
    said += capfd.readouterr().err
    assert said == f"rooms.c: <Location /rooms> lost 3 to {2**64 - 1}\n"


def test_destroy_runs_the_plugins_own_once_asked(fresh_loader: None, c_build: Path,
                                                 capfd: pytest.CaptureFixture[str]) -> None:
    api = load_c_plugin(settings_for(c_build, "test_plugins.so api_init"))
    echo = load_c_plugin(settings_for(c_build, "echo.so echo_init"))
    capfd.readouterr()
    echo.destroy()   # echo.c has none
    api.destroy()
    assert capfd.readouterr().err == "api plugin destroyed\n"


def test_the_struct_c_sees(served: CServed) -> None:
    client = served.open("/echo")
    (connection,) = [c for c in c_loader._live.values() if c.plugin is served.plugins["/echo"]]
    struct = c_loader._GeowsServerStruct.from_address(connection.address)
    assert (struct.server.size, struct.server.version) == (104, 1)
    assert struct.server.state == connection.key
    assert ctypes.sizeof(c_loader._ServerStruct) == 80
    close(client)


def test_a_server_callback_finds_its_connection_by_the_key_in_its_struct(
        served: CServed, caplog: pytest.LogCaptureFixture) -> None:
    """_server_callback's wrapper, made afresh: the connection from the struct's `state`,
    C's arguments passed on, and `safe` for an unknown connection or a failure."""
    client = served.open("/echo")
    (connection,) = [c for c in c_loader._live.values() if c.plugin is served.plugins["/echo"]]
    seen = []

    def probe(found, value: int) -> int:
        seen.append((found, value))
        return value * 2

    def failing(found, value: int) -> int:
        raise RuntimeError("failing on purpose")

    wrap = c_loader._server_callback(ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p,
                                                      ctypes.c_size_t), 7)
    assert wrap(probe)(connection.address, 21) == 42
    assert seen == [(connection, 21)]
    assert wrap(failing)(connection.address, 1) == 7
    (failure,) = caplog.records
    assert failure.getMessage() == f"{connection}: failing() failed"
    assert failure.exc_info and failure.exc_info[0] is RuntimeError
    assert failure.levelno == logging.ERROR
    assert wrap(probe)(None, 1) == 7
    close(client)
    ended(served)
    assert wrap(probe)(connection.address, 1) == 7
    assert seen == [(connection, 21)]
    assert [record.getMessage() for record in caplog.records[1:]] == [
        "C plugin: probe() on a connection that has ended or is unknown"] * 2


def test_the_inline_module_is_built() -> None:
    from geows.plugin import _c_inline  # type: ignore[attr-defined]

    assert c_loader._inline_module() is _c_inline


@pytest.mark.parametrize("path", ["/probe", "/bare", "/threaded-bare"])
def test_the_private_pointer_c_returned_comes_back_and_null_without_on_connect(
        served: CServed, path: str) -> None:
    plugin = served.plugins[path]
    assert plugin.inline == (path != "/threaded-bare")
    client = served.open(path)
    send(client, "mine?")
    assert text(client) == {"/probe": "mine?", "/bare": "private=NULL",
                            "/threaded-bare": "private=NULL"}[path]
    send(client, b"\x00\x01")
    assert client.next_event().data == (b"\x00\x01" if path == "/probe" else b"private=NULL")
    close(client)
    ended(served)
    assert plugin.inline == (path != "/threaded-bare")   # nothing held the loop


def test_an_inline_on_connect_and_on_disconnect_get_what_c_expects(
        served: CServed, probes: Path, caplog: pytest.LogCaptureFixture) -> None:
    library = ctypes.CDLL(str(probes / "probe.so"))
    disconnects = ctypes.c_int.in_dll(library, "probe_disconnects")
    before = disconnects.value
    plugin = served.plugins["/probe"]
    client = served.open("/probe")
    close(client)
    ended(served)
    assert disconnects.value == before + 1 and plugin.inline
    client = served.open("/probe", headers={"X-Spin": "yes"})   # on_connect holds the loop
    assert not plugin.inline
    (warning,) = [record for record in caplog.records if "held the event loop" in
                  record.getMessage()]
    assert warning.getMessage().startswith(f"C plugin {probes / 'probe.so'} held the event "
                                           "loop for 0.3")
    send(client, "in a thread")
    assert text(client) == "in a thread"
    close(client)
    ended(served)
    assert disconnects.value == before + 2


def test_destroy_gets_the_plugins_own_struct(fresh_loader: None, probes: Path) -> None:
    library = ctypes.CDLL(str(probes / "probe.so"))
    destroyed = ctypes.c_int.in_dll(library, "probe_destroyed")
    destroyed.value = 0
    load_c_plugin(settings_for(probes, "probe.so probe_init")).destroy()
    assert destroyed.value == 1


def test_a_call_in_a_thread_holds_its_connections_lock_and_its_pools_outlive_it(
        served: CServed) -> None:
    waiting, other = served.open("/waiter"), served.open("/waiter")
    (connection,) = [c for c in c_loader._live.values()
                     if c.plugin is served.plugins["/waiter"] and c.handle.remote_addr[1]
                     == waiting.sock.getsockname()[1]]
    assert connection.request.get(connection.handle) is not None   # pools to keep
    send(other, "shut")   # an earlier "release" in this process opened it
    assert text(other) == "shut"
    send(waiting, "wait")   # waits in pthread_cond_wait, in a thread, holding the lock
    deadline = gevent.get_hub().loop.now() + 5
    while not connection.lock.locked():
        assert gevent.get_hub().loop.now() < deadline, "the call never took the lock"
        gevent.sleep(0.01)
    connection.end()   # as at shutdown, its greenlet killed: the pools stay for the call
    assert connection.request.address is not None
    send(other, "release")
    assert text(other) == "release"
    deadline = gevent.get_hub().loop.now() + 5
    while connection.lock.locked():   # the call returned: its "released" reached no one
        assert gevent.get_hub().loop.now() < deadline, "the call never returned"
        gevent.sleep(0.01)
    close(waiting)
    close(other)
    ended(served)
    assert connection.request.address is None   # destroyed once the call returned


def test_a_plugin_library_exports_its_symbols_to_those_loaded_after(
        fresh_loader: None, tmp_path: Path) -> None:
    """As Apache's apr_dso_load: RTLD_GLOBAL, so a module's functions serve the plugins
    loaded after it."""
    # a name of this test's own: an earlier run in this process (or the one it was forked
    # from) may have loaded a library exporting another
    name = f"geows_test_provided_{os.getpid()}_{time.monotonic_ns()}"
    (tmp_path / "provider.c").write_text(f"int {name}(void) {{ return 42; }}\n")
    (tmp_path / "user.c").write_text(f"extern int {name}(void);\n"
                                     f"int geows_test_use(void) {{ return {name}(); }}\n")
    build(tmp_path, {"provider": (tmp_path / "provider.c", []),
                     "user": (tmp_path / "user.c", [])})
    open_library(str(tmp_path / "provider.so"))
    assert open_library(str(tmp_path / "user.so")).geows_test_use() == 42


@pytest.mark.parametrize("count", [3, 4])
def test_three_waiting_imports_are_named_and_more_are_counted(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, count: int) -> None:
    names = [f"geows_wait_{n}" for n in range(count)]
    calls = "".join(f" {name}();" for name in names)
    (tmp_path / "waits.c").write_text("".join(f"extern void {name}(void);\n" for name in names)
                                      + f"void all(void) {{{calls} }}\n")
    build(tmp_path, {"waits": (tmp_path / "waits.c", [])})
    caplog.set_level(logging.INFO)
    assert not c_loader._runs_inline(str(tmp_path / "waits.so"))
    waits = may_wait(dynamic_needs((tmp_path / "waits.so").read_bytes()).symbols)
    assert sorted(waits) == names
    more = " and 1 more" if count == 4 else ""
    assert caplog.records[0].getMessage() == (
        f"C plugin {tmp_path / 'waits.so'}: callbacks in threads (it imports "
        f"{', '.join(waits[:3])}{more}, which may wait)")
