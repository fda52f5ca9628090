"""A real redis-server on a loopback port the test picks, and WebSocket clients that read
in a thread of their own: what the link's tests run against."""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import redis
import websocket

from tests.geows_process import free_port, missing_tool
from tests.test_tls import openssl


class RedisServer:
    """redis-server on 127.0.0.1 (never 6379), without persistence unless `appendonly`
    (fsync'd at every write: a kill -9 loses nothing); its files in a directory of its own,
    kept across restart()."""

    def __init__(self, *, appendonly: bool = False, password: str | None = None,
                 port: int | None = None, tls: bool = False):
        """`tls`: TLS only, with a self-signed certificate for 127.0.0.1 (`self.cert`)."""
        if shutil.which("redis-server") is None:
            missing_tool("redis-server is not installed (apt-get install redis-server)")
        self.port = port or free_port()
        self.password = password
        self.dir = Path(tempfile.mkdtemp(prefix="geows-redis-"))
        self.args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                     "--dir", str(self.dir), "--save", "", "--daemonize", "no",
                     "--appendonly", "yes" if appendonly else "no", "--appendfsync", "always"]
        if password is not None:
            self.args += ["--requirepass", password]
        self.cert = self.dir / "cert.pem" if tls else None
        if self.cert is not None:
            if shutil.which("openssl") is None:
                missing_tool("openssl is not installed (apt-get install openssl)")
            openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    cwd=self.dir)
            self.args[self.args.index("--port") + 1] = "0"
            self.args += ["--tls-port", str(self.port), "--tls-cert-file", "cert.pem",
                          "--tls-key-file", "key.pem", "--tls-ca-cert-file", "cert.pem",
                          "--tls-auth-clients", "no"]
        self.proc: subprocess.Popen | None = None
        self.start()

    def url(self, password: str | None = None) -> str:
        auth = f":{password or self.password}@" if (password or self.password) else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10) -> None:
        self.proc = subprocess.Popen(self.args, stdout=(self.dir / "redis.log").open("a"),
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.client().ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.proc.kill()
                    self.proc.wait(10)
                    raise RuntimeError("redis-server did not start:\n"
                                       + (self.dir / "redis.log").read_text()) from None
                time.sleep(0.05)

    def client(self) -> redis.Redis:
        tls = {} if self.cert is None else {"ssl": True, "ssl_ca_certs": str(self.cert)}
        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password,
                           socket_timeout=5, **tls)

    def kill(self) -> None:
        """kill -9: what it had not written to its append-only file is gone."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


class Reader:
    """A WebSocket client whose thread keeps every text message it receives."""

    def __init__(self, port: int, path: str = "/chat"):
        origin = f"http://127.0.0.1:{port}"
        # No UTF-8 check here: websocket-client makes it in pure Python (~3 MB/s of a core,
        # under the one GIL of every client of the test), slower than geows sends a flood of
        # large messages, which then closes these clients as too slow to read (1008).
        self.ws = websocket.create_connection(f"ws://127.0.0.1:{port}{path}", origin=origin,
                                              timeout=30, skip_utf8_validation=True)
        self.messages: list[str] = []
        self.arrived: list[float] = []  # time.monotonic() of each message
        self.ended: str | None = None  # how its connection ended, once it has
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            while True:
                message = self.ws.recv()
                with self.lock:
                    self.messages.append(message)
                    self.arrived.append(time.monotonic())
        except (websocket.WebSocketException, OSError) as exc:
            self.ended = f"{exc!r} after {len(self.messages)} messages"

    def send(self, text: str) -> None:
        self.ws.send(text)

    def got(self, prefix: str = "") -> list[str]:
        with self.lock:
            return [message for message in self.messages if message.startswith(prefix)]

    def arrivals(self, prefix: str = "") -> list[tuple[float, str]]:
        with self.lock:
            return [(at, message) for at, message in zip(self.arrived, self.messages,
                                                         strict=True)
                    if message.startswith(prefix)]

    def wait_for(self, count: int, prefix: str = "", timeout: float = 20) -> list[str]:
        """The messages that start with `prefix` once there are `count` of them; fails
        with what came, and how its connection ended, if they do not come within `timeout`
        (at once when it has ended)."""
        deadline = time.monotonic() + timeout
        while True:
            ended = self.ended  # read first: every message it kept came before it was set
            if len(got := self.got(prefix)) >= count:
                return got
            assert ended is None and time.monotonic() < deadline, (
                f"{len(got)} of {count} messages '{prefix}...' in {timeout} s, the last: "
                f"{[text[:40] for text in got[-3:]]}; its connection "
                f"{'ended: ' + ended if ended else 'is open'}")
            time.sleep(0.02)

    def close(self) -> None:
        self.ws.close()
        self.thread.join(5)
