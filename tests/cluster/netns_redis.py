"""A real redis-server (Debian's) for the tests across hosts, started in a namespace of
tests.cluster.netns, without persistence unless asked, stopped by the test."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.cluster.netns import Namespace
from tests.geows_process import missing_tool, terminate

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
PORT = 6380  # inside the namespace: never the system's 6379


class RedisServer:
    """redis-server listening on `namespace`'s address; `url` is what
    WebSocketBroadcast names."""

    def __init__(self, namespace: Namespace, *extra: str, port: int = PORT):
        if not os.access(REDIS_SERVER, os.X_OK):
            missing_tool(f"{REDIS_SERVER} not installed (apt-get install redis-server)")
        self.namespace = namespace
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="geows-redis-"))
        self.log = self.dir / "redis.log"
        self.proc = subprocess.Popen(
            [*namespace.run, REDIS_SERVER, "--port", str(port), "--bind", namespace.address,
             "--protected-mode", "no", "--save", "", "--appendonly", "no", "--dir",
             str(self.dir), "--logfile", str(self.log), *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self.wait_answering()

    @property
    def url(self) -> str:
        return f"redis://{self.namespace.address}:{self.port}"

    def ping(self, source: Namespace, timeout: float = 1) -> bool:
        """Does a PING from `source`'s namespace get its PONG within `timeout`?"""
        try:
            with source.connect((self.namespace.address, self.port), timeout) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64) == b"+PONG\r\n"
        except OSError:
            return False

    def wait_answering(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not self.ping(self.namespace):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"redis-server does not answer:\n{self._log_text()}")
            time.sleep(0.05)

    def _log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else "(no log)"

    def stop(self, timeout: float = 10) -> None:
        terminate(self.proc, timeout)
        shutil.rmtree(self.dir, ignore_errors=True)
