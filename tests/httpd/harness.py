"""Run the real httpd (Debian's apache2) beside geows on the same config files.

- `build_standin` compiles mod_websocket_standin.c with apxs, so httpd knows the module's
  directives and its handler reports which WebSocket configuration wins for a request.
- `httpd_check` is `apache2 -t`; `GeowsChecker` runs `geows -t` (the real CLI's main) on
  many files in one subprocess, because starting Python and gevent per file is slow.
- `Httpd` runs httpd in one process (-X) on loopback ports; `instrument` copies a config
  tree with a `Header always add X-Route <n>` line in each <Location>, so every response
  lists, in merge order, the sections httpd applied to the request.
- `Geows` runs the real geows CLI the same way; `handshake` sends a WebSocket upgrade GET
  from a chosen loopback source address to either of them.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from geows.config.lexer import logical_lines, read_word

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
APACHE2 = shutil.which("apache2") or "/usr/sbin/apache2"
APXS = shutil.which("apxs") or shutil.which("apxs2") or "/usr/bin/apxs"
MODULES = Path("/usr/lib/apache2/modules")
ROUTE = "X-Route"
WEBSOCKET = "X-WebSocket"  # set by the stand-in's handler: plugin init max_size draft75
URI = "X-Uri"
# For a config's server level (mod_headers loaded): every answer, error pages included, tells
# the path httpd made of the target (r->uri: decoded, dot segments and slashes merged).
URI_HEADER = f'Header always set {URI} "expr=%{{REQUEST_URI}}"'


def available() -> str | None:
    """Why the differential tests cannot run here, or None."""
    for tool in (APACHE2, APXS):
        if not os.access(tool, os.X_OK):
            return f"{tool} not installed (apt-get install apache2 apache2-dev)"
    return None


def build_standin(dest: Path) -> Path:
    """Compile the stand-in module into dest; return the .so path."""
    source = dest / "mod_websocket_standin.c"
    shutil.copy(HERE / "mod_websocket_standin.c", source)
    # plugins/c: websocket_plugin.h, for the C plugins it runs
    subprocess.run([APXS, "-c", f"-I{REPO / 'plugins' / 'c'}", "-o", "mod_websocket_standin.so",
                    source.name], cwd=dest, check=True, capture_output=True, text=True)
    return dest / ".libs" / "mod_websocket_standin.so"


# Ports handed out here may be bound only later (a session's lab ports, for each httpd it
# starts): taken from below the kernel's ephemeral range, so that none of the thousands of
# outgoing test connections can be sitting on one by then (EADDRINUSE).
_EPHEMERAL_LOW = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
_PORTS = range(max(1024, _EPHEMERAL_LOW - 12_000), _EPHEMERAL_LOW)


def _unused_port(addresses: tuple[str, ...]) -> int:
    """A port below the ephemeral range that is free on every one of `addresses`."""
    for port in random.sample(_PORTS, 200):
        try:
            for address in addresses:
                family = socket.AF_INET6 if ":" in address else socket.AF_INET
                with socket.socket(family) as sock:
                    sock.bind((address, port))
        except OSError:
            continue
        return port
    raise RuntimeError(f"no port free on {', '.join(addresses)}")


def free_port() -> int:
    return _unused_port(("127.0.0.1",))


def free_dual_port() -> int:
    """A port free on both 127.0.0.1 and [::1] (other test runs share this machine)."""
    return _unused_port(("127.0.0.1", "::1"))


def httpd_env(run_dir: Path, extra: Mapping[str, str] = ()) -> dict[str, str]:
    """The environment Debian's apache2ctl gives httpd (envvars), pointed into run_dir."""
    for name in ("run", "lock", "log"):
        (run_dir / name).mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("APACHE_")}
    env.update(APACHE_RUN_USER="www-data", APACHE_RUN_GROUP="www-data",
               APACHE_PID_FILE=str(run_dir / "run/apache2.pid"),
               APACHE_RUN_DIR=str(run_dir / "run"), APACHE_LOCK_DIR=str(run_dir / "lock"),
               APACHE_LOG_DIR=str(run_dir / "log"), LANG="C")
    env.update(extra)
    return env


@dataclass(frozen=True)
class Verdict:
    ok: bool
    output: str


def httpd_check(conf: Path, root: Path, env: Mapping[str, str]) -> Verdict:
    """`apache2 -t`: does httpd accept the config?"""
    done = subprocess.run([APACHE2, "-t", "-d", str(root), "-f", str(conf)], env=dict(env),
                          capture_output=True, text=True, timeout=30)
    return Verdict(done.returncode == 0, (done.stdout + done.stderr).strip())


# One subprocess runs `geows -t` for every file: the real CLI's main, its stderr captured.
_GEOWS_DRIVER = """
import contextlib, io, json, os, sys
from geows.__main__ import main
out = []
for conf, root, env in json.load(sys.stdin):
    os.environ.clear()
    os.environ.update(env)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["-t", "-d", root, "-f", conf])
    out.append([code, err.getvalue()])
print(json.dumps(out))
"""


def geows_check_all(jobs: list[tuple[Path, Path, Mapping[str, str]]]) -> list[Verdict]:
    """`geows -t` for each (conf, root, env)."""
    payload = json.dumps([[str(conf), str(root), dict(env)] for conf, root, env in jobs])
    done = subprocess.run([sys.executable, "-c", _GEOWS_DRIVER], input=payload, cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=True)
    return [Verdict(code == 0, err.strip()) for code, err in json.loads(done.stdout)]


# Routing


_LOCATION_OPEN = re.compile(r"<\s*location(match)?\b", re.IGNORECASE)


def instrument(src: Path, dest: Path) -> dict[str, tuple[str, int]]:
    """Copy the tree src to dest with a `Header always add X-Route <n>` line after each
    <Location>/<LocationMatch> opening line; return n -> (file in dest, line of the section).

    The marker is `add`, not `set`: mod_headers appends the Header lines of every section
    merged into the request, in merge order, so the response lists them all.
    """
    markers: dict[str, tuple[str, int]] = {}
    shutil.copytree(src, dest, symlinks=False, dirs_exist_ok=True)
    for path in sorted(p for p in dest.rglob("*") if p.is_file() and not p.is_symlink()):
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        if not _LOCATION_OPEN.search(text):
            continue
        physical = text.split("\n")
        inserts: dict[int, str] = {}  # after this 1-based physical line: this marker
        for line, logical in logical_lines(text):
            word, _ = read_word(logical)
            if _LOCATION_OPEN.fullmatch(word.rstrip(">")):
                last = line + _continuations(physical, line)
                # Earlier markers in this file push the section down one line each.
                markers[str(len(markers) + 1)] = (str(path), line + len(inserts))
                inserts[last] = str(len(markers))
        out = []
        for number, piece in enumerate(physical, 1):
            out.append(piece)
            if number in inserts:
                out.append(f"Header always add {ROUTE} {inserts[number]}")
        path.write_text("\n".join(out))
    return markers


def _continuations(physical: list[str], line: int) -> int:
    """How many physical lines after `line` its logical line continues over."""
    extra = 0
    while physical[line - 1 + extra].rstrip("\r").endswith("\\"):
        extra += 1
    return extra


@dataclass(frozen=True)
class Answer:
    status: int
    routes: tuple[str, ...]   # X-Route values, in merge order
    websocket: str | None     # the stand-in's X-WebSocket, if its handler answered
    uri: str | None           # X-Uri (URI_HEADER), as bytes decode in geows' paths


# Opens a TCP connection: (address, port), timeout.
Connect = Callable[[tuple[str, int], float], socket.socket]


def listening(port: int, address: str = "127.0.0.1",
               connect: Connect = socket.create_connection) -> bool:
    """Whether something accepts TCP connections on the port."""
    try:
        connect((address, port), 0.2).close()
        return True
    except OSError:
        return False


class Httpd:
    """A running httpd (-X: one process; with one_process=False its MPM's parent in the
    foreground, and the children it starts) on the config; `stop()` always ends it.
    `prefix`, `address` and `connect` as GeowsProcess' (another network namespace's)."""

    def __init__(self, conf: Path, root: Path, env: Mapping[str, str], ports: list[int],
                 log: Path, *, prefix: tuple[str, ...] = (), address: str = "127.0.0.1",
                 connect: Connect = socket.create_connection, one_process: bool = True):
        self.ports = ports
        self.log = log
        mode = "-X" if one_process else "-DFOREGROUND"
        self.proc = subprocess.Popen([*prefix, APACHE2, mode, "-d", str(root), "-f", str(conf)],
                                     env=dict(env), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20   # a loaded CI machine: be patient
        while not all(listening(port, address, connect) for port in ports):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"httpd did not start: {self.proc.stderr.read()}"
                                   f"{log.read_text() if log.exists() else ''}")
            time.sleep(0.02)

    def get(self, path: str, host: str, port: int, address: str = "127.0.0.1") -> Answer:
        conn = http.client.HTTPConnection(address, port, timeout=5)
        try:
            conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", host)
            conn.endheaders()
            response = conn.getresponse()
            response.read()
            uri = response.getheader(URI)
            return Answer(response.status, tuple(response.msg.get_all(ROUTE) or ()),
                          response.getheader(WEBSOCKET),
                          uri and uri.encode("latin-1").decode("utf-8", "surrogateescape"))
        finally:
            conn.close()

    def children(self) -> set[int]:
        """The pids of the processes httpd's parent started (its MPM's children)."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return {int(pid) for pid in children.read_text().split()} if children.exists() \
            else set()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextmanager
def running_httpd(conf: Path, root: Path, env: Mapping[str, str], ports: list[int],
                  log: Path, one_process: bool = True) -> Iterator[Httpd]:
    httpd = Httpd(conf, root, env, ports, log, one_process=one_process)
    try:
        yield httpd
    finally:
        httpd.stop()


# Handshakes: the same request to httpd and to geows, from a chosen source address.


# Whom httpd's children run as (the preludes' User and Group). geows' workers run as root:
# this machine's Python lives under /root, which www-data cannot read, and a worker that
# dropped to www-data could import nothing more (geows refuses to start so).
RUN_AS = {"GEOWS_RUN_USER": "www-data", "GEOWS_RUN_GROUP": "www-data"}
GEOWS_RUN_AS = {"GEOWS_RUN_USER": "#0", "GEOWS_RUN_GROUP": "#0"}


class Geows:
    """The real geows CLI on a config (`python -m geows -f conf -d root`), started without
    waiting; `wait()` until it listens on every port, `stop()` always ends it."""

    def __init__(self, conf: Path, root: Path, env: Mapping[str, str], ports: list[int],
                 log: Path):
        self.ports = ports
        self.log = log
        with log.open("w") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "geows", "-f", str(conf),
                                          "-d", str(root)], cwd=root,
                                         env={**env, **GEOWS_RUN_AS},
                                         stdout=subprocess.DEVNULL, stderr=err)

    def wait(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not all(listening(port) for port in self.ports):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"geows did not start:\n{self.log.read_text()}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextmanager
def running_geows(conf: Path, root: Path, env: Mapping[str, str], ports: list[int],
                  log: Path) -> Iterator[Geows]:
    geows = Geows(conf, root, env, ports, log)
    try:
        geows.wait()
        yield geows
    finally:
        geows.stop()


@dataclass(frozen=True)
class Reply:
    status: int
    www_authenticate: str | None
    websocket: str | None   # the stand-in's X-WebSocket: httpd ran the WebSocket handler


def handshake(port: int, path: str, *, host: str = "main.test", source: str = "127.0.0.1",
              headers: tuple[str, ...] = ()) -> Reply:
    """An RFC 6455 upgrade GET to 127.0.0.1:port (::1 when source is IPv6) from a client
    socket bound to source; only the response head is read (status 0: none came)."""
    family = socket.AF_INET6 if ":" in source else socket.AF_INET
    with socket.socket(family) as sock:
        sock.settimeout(10)
        sock.bind((source, 0))
        sock.connect(("::1" if family == socket.AF_INET6 else "127.0.0.1", port))
        request = [f"GET {path} HTTP/1.1", f"Host: {host}", "Upgrade: websocket",
                   "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                   "Sec-WebSocket-Version: 13", *headers, "", ""]
        sock.sendall("\r\n".join(request).encode("latin-1"))
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
    if not head:
        return Reply(0, None, None)  # closed without a response
    lines = head.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    fields: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields.setdefault(name.strip().lower(), value.strip())
    return Reply(int(lines[0].split()[1]), fields.get("www-authenticate"),
                 fields.get(WEBSOCKET.lower()))
