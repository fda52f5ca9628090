"""Start the real `geows` CLI as a subprocess on a generated config; fail a test whose tool is
missing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parent.parent

# A config serving the shipped echo plugin on /echo; @PORT@ becomes a free port.
ECHO_CONFIG = """
Listen 127.0.0.1:@PORT@
<Location /echo>
  SetHandler websocket-handler
  WebSocketHandler plugins/echo.py echo_init
</Location>
"""


def missing_tool(reason: str) -> NoReturn:
    """A tool the tests need is missing: a failure, with or without CI, never a skip, so
    that a machine without it cannot pass the suite. `reason` names the tool and the line
    that installs it."""
    pytest.fail(f"{reason}; bash tests/run.sh installs every tool the tests use",
                pytrace=False)


def join_all(threads: list[threading.Thread], seconds: float) -> None:
    """Wait up to `seconds` in all for the threads to end; fail, naming how many, if any
    has not (a hang is a failure, never a pass)."""
    deadline = time.monotonic() + seconds
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    alive = sum(thread.is_alive() for thread in threads)
    assert not alive, f"{alive} of {len(threads)} threads still running after {seconds} s"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def terminate(proc: subprocess.Popen, timeout: float) -> int:
    """SIGTERM, and its exit status within `timeout`; past it, SIGKILL and TimeoutExpired
    (a process that does not stop is a failure)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
    return proc.returncode


def served(port: int, address: str = "127.0.0.1",
           connect: Callable[[tuple[str, int], float], socket.socket] =
           socket.create_connection) -> bool:
    """Whether a worker serves the port: a probe that sends nothing and half-closes is ended
    by the worker that accepts it, or told a TLS alert first (the master listens before its
    workers are ready; a recv that times out means none has accepted it yet). `address` and
    `connect` as GeowsProcess'."""
    try:
        with connect((address, port), 1) as probe:
            probe.shutdown(socket.SHUT_WR)
            probe.recv(1)
            return True
    except OSError:
        return False


def run_cli(*args: str, cwd: Path = REPO, timeout: float = 60,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `python -m geows ARGS` to completion (in `env`, or this process' environment)."""
    return subprocess.run([sys.executable, "-m", "geows", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=env)


class GeowsProcess:
    """A running geows; `stop()` sends SIGTERM and collects its logs."""

    def __init__(self, config_text: str, *, server_root: Path = REPO, extra_files=None,
                 extra_args=(), prefix=(), address: str = "127.0.0.1",
                 connect: Callable[[tuple[str, int], float], socket.socket] =
                 socket.create_connection):
        """`prefix`: a command that runs geows (prlimit, unshare, ip netns exec...), its
        arguments first; `address` and `connect`: where and how to reach the port it
        listens on (tests.cluster.netns' Namespace.connect from another namespace)."""
        self.port = free_port()
        self.address = address
        self._connect = connect
        self.dir = Path(tempfile.mkdtemp(prefix="geows-test-"))
        for name, text in (extra_files or {}).items():
            (self.dir / name).write_text(textwrap.dedent(text))
        self.config = self.dir / "httpd.conf"
        self.config.write_text(textwrap.dedent(config_text).replace("@PORT@", str(self.port))
                               .replace("@DIR@", str(self.dir)))
        self.stdout_path = self.dir / "access.log"
        self.stderr_path = self.dir / "error.log"
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "geows", "-f", str(self.config), "-d", str(server_root),
             *extra_args],
            cwd=server_root, stdout=self.stdout_path.open("w"), stderr=self.stderr_path.open("w"),
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self._wait_listening()

    def _wait_listening(self, timeout: float = 20) -> None:
        """Until a worker answers (see served)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"geows exited {self.proc.returncode}:\n{self.error_log}")
            if served(self.port, self.address, self._connect):
                return
            time.sleep(0.05)
        self.proc.kill()
        raise RuntimeError(f"geows did not listen on {self.port}:\n{self.error_log}")

    @property
    def error_log(self) -> str:
        return self.stderr_path.read_text()

    @property
    def access_log(self) -> str:
        return self.stdout_path.read_text()

    def wait_for_log(self, text: str, timeout: float = 10, access: bool = True) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self.access_log if access else self.error_log
            if text in log:
                return log
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not logged; access log:\n{self.access_log}\n"
                             f"error log:\n{self.error_log}")

    def workers(self) -> set[int]:
        """The worker processes' pids (the master's children running geows.process.worker: piped
        loggers are its children too)."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        workers = set()
        for pid in children.read_text().split():
            try:
                if b"geows.process.worker" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    workers.add(int(pid))
            except OSError:
                pass  # exited meanwhile
        return workers

    def wait_for_workers(self, count: int, timeout: float = 20) -> set[int]:
        """Wait until the master has `count` workers; their pids."""
        deadline = time.monotonic() + timeout
        while len(workers := self.workers()) != count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(workers)} workers, not {count}:\n{self.error_log}")
            time.sleep(0.05)
        return workers

    def stop(self, timeout: float = 20) -> int:
        return terminate(self.proc, timeout)
