"""Plugins written as plain blocking Python never stall the server: monkeypatched
sleeps, sockets, urllib and subprocesses cooperate, and `run_in_thread` takes
calls that block inside C off the hub.

The bounds below are far from the serial times (200 s, 20 s) rather than
benchmarks: each test prints what it measured."""

from __future__ import annotations

import asyncio
import http.server
import socketserver
import threading
import time

import pytest
from websockets.asyncio.client import connect

from tests.geows_process import GeowsProcess

CONFIG = """
Listen 127.0.0.1:@PORT@
<Location /cooperative>
  SetHandler websocket-handler
  WebSocketHandler @DIR@/blocking.py cooperative_init
</Location>
<Location /tools>
  SetHandler websocket-handler
  WebSocketHandler @DIR@/blocking.py tools_init
</Location>
<Location /in-thread>
  SetHandler websocket-handler
  WebSocketHandler @DIR@/blocking.py in_thread_init
</Location>
<Location /holding>
  SetHandler websocket-handler
  WebSocketHandler @DIR@/blocking.py holding_init
</Location>
"""

BLOCKING = '''
import socket
import subprocess
import time
import urllib.request

from gevent import monkey

from geows.plugin import TEXT, Plugin, run_in_thread

# time.sleep as it was before monkeypatching: it stands for a call that holds
# its OS thread inside C (a database driver, sqlite3, heavy hashing).
c_sleep = monkey.get_original("time", "sleep")


def cooperative_init():
    def on_message(state, server, type, port):
        time.sleep(1)
        with socket.create_connection(("127.0.0.1", int(port))) as sock:
            sock.sendall(b"ping\\n")
            answer = sock.makefile().readline().strip()
        server.send(TEXT, answer)
    return Plugin(on_message=on_message)


def tools_init():
    def on_message(state, server, type, port):
        subprocess.run(["sleep", "1"], check=True)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as response:
            server.send(TEXT, response.read().decode())
    return Plugin(on_message=on_message)


def in_thread_init():
    def on_message(state, server, type, data):
        run_in_thread(c_sleep, 1)
        server.send(TEXT, "done")
    return Plugin(on_message=on_message)


def holding_init():
    def on_message(state, server, type, data):
        c_sleep(1)   # what run_in_thread is for: this holds the whole process
        server.send(TEXT, "done")
    return Plugin(on_message=on_message)
'''


@pytest.fixture(scope="module")
def geows():
    process = GeowsProcess(CONFIG, extra_files={"blocking.py": BLOCKING})
    yield process
    assert process.stop() == 0
    assert "Traceback" not in process.error_log


class PongHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        if self.rfile.readline() == b"ping\n":
            self.wfile.write(b"pong\n")


class HelloHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"hello over http")

    def log_message(self, *args) -> None:
        pass


class LocalServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    request_queue_size = 512   # 200 connect at once; the default 5 drops SYNs


@pytest.fixture(scope="module")
def local_server(request):
    """A threaded TCP or HTTP server on 127.0.0.1 for plugins to call."""
    server = LocalServer(("127.0.0.1", 0), request.param)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def round_trip_all(port: int, path: str, count: int, message: str) -> tuple[float, list[str]]:
    """Open `count` connections, send one message on each at once; the seconds
    until every answer is in, and the answers."""
    async def run():
        clients = [await connect(f"ws://127.0.0.1:{port}{path}", open_timeout=30)
                   for _ in range(count)]
        started = time.monotonic()
        await asyncio.gather(*(ws.send(message) for ws in clients))
        answers = await asyncio.gather(*(asyncio.wait_for(ws.recv(), 60) for ws in clients))
        elapsed = time.monotonic() - started
        await asyncio.gather(*(ws.close() for ws in clients))
        return elapsed, answers
    return asyncio.run(run())


@pytest.mark.parametrize("local_server", [PongHandler], indirect=True)
def test_200_sleeping_socket_plugins_answer_together(geows, local_server):
    elapsed, answers = round_trip_all(geows.port, "/cooperative", 200, str(local_server))
    print(f"200 x (sleep 1 s + socket round trip): {elapsed:.2f} s")
    assert answers == ["pong"] * 200
    assert elapsed < 10   # serially: 200 s


@pytest.mark.parametrize("local_server", [HelloHandler], indirect=True)
def test_subprocess_and_urllib_cooperate(geows, local_server):
    elapsed, answers = round_trip_all(geows.port, "/tools", 20, str(local_server))
    print(f"20 x (subprocess sleep 1 + urllib GET): {elapsed:.2f} s")
    assert answers == ["hello over http"] * 20
    assert elapsed < 8    # serially: 20 s


def test_run_in_thread_takes_c_blocking_calls_off_the_hub(geows):
    elapsed, answers = round_trip_all(geows.port, "/in-thread", 200, "go")
    print(f"200 x run_in_thread(1 s call holding its thread): {elapsed:.2f} s")
    assert answers == ["done"] * 200
    assert elapsed < 10   # serially: 200 s


def test_without_run_in_thread_such_a_call_holds_every_connection(geows):
    """The control: the same call made directly serialises the process, so the
    test above measures run_in_thread and not a call that cooperates anyway."""
    elapsed, answers = round_trip_all(geows.port, "/holding", 3, "go")
    print(f"3 x the same call without run_in_thread: {elapsed:.2f} s")
    assert answers == ["done"] * 3
    assert elapsed >= 2.9
