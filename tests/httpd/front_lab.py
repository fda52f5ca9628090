"""Two fronts with the same rules before one Apache backend that has none: what the
hostile-request differential (test_hostile_differential.py) and the routing property test
(test_routing_property.py) share.

    client --raw bytes--> front A: the geows CLI       --ProxyPass--> backend apache2,
                          front B: apache2 + mod_proxy --ProxyPass--> static files only

Both fronts read one config text, FRONT (per-front values come from the environment:
`${ORACLE_PORT}`, `${ORACLE_BACKEND}`, `${ORACLE_LOGS}`); httpd serves its WebSocket
locations with the mod_websocket stand-in (with STANDIN_ECHO=1 it answers a handshake
with 101 and X-WebSocket naming the plugin and init), geows with PLUGIN, whose every
`<name>_init` names itself in X-WebSocket on its 101. The init names (chat_init,
public_init, other_init) say which WebSocket location, of which vhost, served.

The backend listens on two ports, one per front, and logs each request it receives, as
received, in a log for that port: what each front forwarded, and as what.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from tests.httpd import harness
from tests.test_geows_in_front import read_response

# mod_log_forensic writes a request's line and headers when it is read (post_read_request),
# before any answer: whatever a front got back from the backend, the backend has already
# logged. Its id is in the access log too, with the status, once the request is done.
# One pair of logs per front, by the port the front forwards to.
BACKEND = """\
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule dir_module {modules}/mod_dir.so
LoadModule log_forensic_module {modules}/mod_log_forensic.so
User ${{GEOWS_RUN_USER}}
Group ${{GEOWS_RUN_GROUP}}
PidFile {dir}/backend.pid
ErrorLog {dir}/backend-error.log
ServerName backend.test
LogFormat "%{{forensic-id}}n %>s" status
DocumentRoot {dir}/www
Listen 127.0.0.1:{port_a}
Listen 127.0.0.1:{port_b}
<VirtualHost 127.0.0.1:{port_a}>
  ForensicLog {dir}/seen-{port_a}.log
  CustomLog {dir}/status-{port_a}.log status
</VirtualHost>
<VirtualHost 127.0.0.1:{port_b}>
  ForensicLog {dir}/seen-{port_b}.log
  CustomLog {dir}/status-{port_b}.log status
</VirtualHost>
"""

# The rules under test, one text for both fronts. Main server: /private and /admin denied,
# /public/closed/ denied below it (a trailing slash: not /public/closed itself), paths of
# the client's /docs/secret... denied (matched before the mapping), a WebSocket location
# on any path ending in /chat, /docs mapped onto the backend's /public/. Vhosts (name-based
# on the one port): public.test (the default) forwards everything else as it is and serves
# /ws itself; admin.test denies everything; other.test
# (and *.other.test) forwards under /other/, serves /ws with its own plugin and opens
# /private/open again. Each vhost's ProxyPass prefix names it in what the backend sees.
FRONT = """\
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule proxy_module {modules}/mod_proxy.so
LoadModule proxy_http_module {modules}/mod_proxy_http.so
LoadModule proxy_wstunnel_module {modules}/mod_proxy_wstunnel.so
LoadModule websocket_module {standin}
User ${{GEOWS_RUN_USER}}
Group ${{GEOWS_RUN_GROUP}}
PidFile ${{ORACLE_LOGS}}/front.pid
ErrorLog ${{ORACLE_LOGS}}/error.log
LogLevel info
LogFormat "%h %>s %r" front
CustomLog ${{ORACLE_LOGS}}/access.log front
Listen 127.0.0.1:${{ORACLE_PORT}}
ServerName public.test
# geows forwards the Host header as received; mod_proxy_http does so with this.
ProxyPreserveHost On

<Location /private>
  Require all denied
</Location>
<Location /admin>
  Require all denied
</Location>
<Location /public/closed/>
  Require all denied
</Location>
<LocationMatch "^/docs/secret">
  Require all denied
</LocationMatch>
<LocationMatch "/chat$">
  SetHandler websocket-handler
  WebSocketHandler {plugin} chat_init
</LocationMatch>
# mod_proxy's handler runs first and takes whatever ProxyPass mapped, SetHandler or not
# (mod_proxy.c, proxy_handler at APR_HOOK_FIRST): httpd needs its WebSocket locations
# excluded. geows' own WebSocket locations win anyway; it does not read ProxyPassMatch.
ProxyPassMatch "/chat$" !
ProxyPass /docs http://127.0.0.1:${{ORACLE_BACKEND}}/public/

<VirtualHost *:${{ORACLE_PORT}}>
  ServerName public.test
  <Location /ws>
    SetHandler websocket-handler
    WebSocketHandler {plugin} public_init
  </Location>
  ProxyPass /ws !
  ProxyPass / http://127.0.0.1:${{ORACLE_BACKEND}}/
</VirtualHost>

<VirtualHost *:${{ORACLE_PORT}}>
  ServerName admin.test
  <Location />
    Require all denied
  </Location>
  ProxyPass / http://127.0.0.1:${{ORACLE_BACKEND}}/admin-vhost/
</VirtualHost>

<VirtualHost *:${{ORACLE_PORT}}>
  ServerName other.test
  ServerAlias *.other.test
  <Location /ws>
    SetHandler websocket-handler
    WebSocketHandler {plugin} other_init
  </Location>
  <Location /private/open>
    Require all granted
  </Location>
  ProxyPass /ws !
  ProxyPass / http://127.0.0.1:${{ORACLE_BACKEND}}/other/
</VirtualHost>
"""

PLUGIN = '''\
"""Every <name>_init: a plugin that names itself in X-WebSocket on its 101, and echoes."""

from geows.plugin import Plugin


def __getattr__(name):
    if not name.endswith("_init"):
        raise AttributeError(name)

    def on_connect(server):
        server.set_header("X-WebSocket", f"{__file__} {name}")
        return name

    def on_message(state, server, type, data):
        server.send(type, data)

    return lambda: Plugin(on_message=on_message, on_connect=on_connect)
'''

# The backend's files: what each front may expose, and what the mapping never does.
FILES = {
    "index.html": "backend root\n",
    "public/index.html": "public page\n",
    "private/secret.html": "THE SECRET\n",
    "private/open/index.html": "private but open on other.test\n",
    "adminonly.html": "ADMIN ONLY\n",
    "admin/chat": "ADMIN CHAT (a file: only a front's WebSocket location may answer)\n",
    "docs/index.html": "BACKEND DOCS (no ProxyPass maps /docs here)\n",
    "admin-vhost/index.html": "ADMIN VHOST\n",
    "other/index.html": "other vhost\n",
}


@dataclass(frozen=True)
class Front:
    name: str   # "geows" or "httpd"
    port: int
    backend_port: int   # the backend port this front forwards to
    logs: Path          # its error.log and access.log


@dataclass(frozen=True)
class Seen:
    """A request the backend received from a front: its method, target and the status the
    backend answered (None: still unanswered after a while). The protocol version is left
    out: mod_proxy_http speaks HTTP/1.1 to its backend whatever the client spoke, geows
    passes the client's version on; neither changes what is served."""
    method: str
    target: str
    status: int | None


def _new_lines(log: Path, offset: int) -> tuple[list[str], int]:
    """The whole lines of log from offset on, and the offset after them."""
    data = log.read_bytes()[offset:] if log.exists() else b""
    data = data[:data.rfind(b"\n") + 1]
    return data.decode("latin-1").splitlines(), offset + len(data)


class Backend:
    """The backend's logs, a pair per front: `received()` reads what each front forwarded
    since the previous call."""

    def __init__(self, base: Path, ports: tuple[int, ...]):
        self.base = base
        self.ports = ports
        self.offsets = {(kind, port): 0 for kind in ("seen", "status") for port in ports}
        self.statuses: dict[str, int] = {}   # forensic id -> status

    def _read(self, kind: str, port: int) -> list[str]:
        lines, self.offsets[kind, port] = _new_lines(self.base / f"{kind}-{port}.log",
                                                     self.offsets[kind, port])
        return lines

    def received(self, wait: float = 5) -> dict[int, list[Seen]]:
        """Backend port -> the requests it read since the previous call, each with its
        status once the backend has answered it (waiting up to `wait` seconds for that)."""
        requests: dict[int, list[tuple[str, str]]] = {}
        for port in self.ports:
            for line in self._read("seen", port):
                if line.startswith("+"):   # +ID|request line|Name:value...; "-ID" ends it
                    fields = line[1:].split("|")
                    requests.setdefault(port, []).append((fields[0], fields[1]))
        deadline = time.monotonic() + wait
        pending = {id for entries in requests.values() for id, _ in entries}
        while True:
            for port in self.ports:
                for line in self._read("status", port):
                    id, status = line.split(" ")
                    self.statuses[id] = int(status)
            if pending <= self.statuses.keys() or time.monotonic() > deadline:
                break
            time.sleep(0.002)
        seen: dict[int, list[Seen]] = {}
        for port, entries in requests.items():
            for id, escaped in entries:
                # mod_log_forensic writes %hh for '%', '|', ':' and what is not printable:
                # unquoting gives the bytes back.
                method, _, rest = unquote(escaped, encoding="latin-1").partition(" ")
                seen.setdefault(port, []).append(Seen(method, rest.rsplit(" ", 1)[0],
                                                      self.statuses.pop(id, None)))
        return seen


# What httpd's core answers when it cannot take a message in (a head or body it cannot
# frame, a body over its limit) before any handler runs: a request the backend refused so
# was received but not served. geows streams a head to the backend before the body behind it
# has come; mod_proxy_http reads up to 16 KiB of a body before it connects at all
# (ap_proxy_http_prefetch, MAX_MEM_SPOOL), so for a malformed chunked body the backend
# answers 400 to geows where httpd's front answers 400 alone. Neither serves anything.
REFUSED_BY_BACKEND = (400, 413)


def served(seen: list[Seen]) -> tuple[Seen, ...]:
    """What the backend received and did not refuse as a message."""
    return tuple(request for request in seen if request.status not in REFUSED_BY_BACKEND)


def _www(base: Path) -> None:
    www = base / "www"
    for name, text in FILES.items():
        (www / name).parent.mkdir(parents=True, exist_ok=True)
        (www / name).write_text(text)
    for path in [base, *base.rglob("*")]:
        path.chmod(0o755)   # the backend serves as www-data


# A request each front answers itself (403), never forwarding: is it still answering?
_LIVENESS = b"GET /admin HTTP/1.1\r\nHost: public.test\r\nConnection: close\r\n\r\n"


class Fronts:
    """The backend, geows and httpd's mod_proxy on the same rules, all on loopback, in a
    directory of their own; `close()` stops them. `env`: httpd's environment (the lab's,
    with its User and Group)."""

    def __init__(self, standin: Path, env: dict[str, str]):
        self.base = base = Path(tempfile.mkdtemp(prefix="geows-oracle-"))
        self.env = env
        self._stack = ExitStack()
        self._stack.callback(shutil.rmtree, base, ignore_errors=True)
        _www(base)
        ports = {name: harness.free_port() for name in ("backend-a", "backend-b", "a", "b")}
        backend_conf = base / "backend.conf"
        backend_conf.write_text(BACKEND.format(modules=harness.MODULES, dir=base,
                                               port_a=ports["backend-a"],
                                               port_b=ports["backend-b"]))
        plugin = base / "oracle_plugin.py"
        plugin.write_text(PLUGIN)
        self.conf = base / "front.conf"
        self.conf.write_text(FRONT.format(modules=harness.MODULES, standin=standin,
                                          plugin=plugin))
        self.geows = Front("geows", ports["a"], ports["backend-a"], base / "geows-logs")
        self.httpd = Front("httpd", ports["b"], ports["backend-b"], base / "httpd-logs")
        self.backend = Backend(base, (ports["backend-a"], ports["backend-b"]))
        self._log_offsets: dict[tuple[str, str], int] = {}
        try:
            self._stack.enter_context(harness.running_httpd(
                backend_conf, base, env, [ports["backend-a"], ports["backend-b"]],
                base / "backend-error.log"))
            self._stack.enter_context(harness.running_httpd(
                self.conf, base, {**self._env(self.httpd), "STANDIN_ECHO": "1"},
                [self.httpd.port], self.httpd.logs / "error.log"))
            self._geows: harness.Geows | None = None
            self._stack.callback(self._stop_geows)
            self._start_geows()
        except BaseException:
            self.close()
            raise

    @property
    def both(self) -> tuple[Front, Front]:
        return self.geows, self.httpd

    def _env(self, front: Front) -> dict[str, str]:
        front.logs.mkdir(mode=0o755, exist_ok=True)
        return {**self.env, "ORACLE_PORT": str(front.port),
                "ORACLE_BACKEND": str(front.backend_port), "ORACLE_LOGS": str(front.logs)}

    def _start_geows(self) -> None:
        self._geows = harness.Geows(self.conf, self.base, self._env(self.geows),
                                    [self.geows.port], self.base / "geows-stderr.log")
        self._geows.wait()

    def _stop_geows(self) -> None:
        """Stop geows, its workers first (the master's children, by pid): a worker stuck
        in a loop never acts on SIGTERM."""
        if self._geows is None:
            return
        master = self._geows.proc.pid
        children = Path(f"/proc/{master}/task/{master}/children")
        for pid in children.read_text().split() if children.exists() else ():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._geows.stop()

    def new_log_lines(self, front: Front) -> list[str]:
        """The lines of the front's error and access logs written since the last call."""
        lines = []
        for name in ("error.log", "access.log"):
            new, self._log_offsets[front.name, name] = _new_lines(
                front.logs / name, self._log_offsets.get((front.name, name), 0))
            lines += new
        return lines

    def still_answering(self) -> list[str]:
        """The fronts that no longer answer; geows is restarted if it is one of them, so
        that one request that wedges it fails one test, not every later one."""
        silent = [front.name for front in self.both
                  if not exchange(front.port, _LIVENESS)]
        if self.geows.name in silent:
            self._stop_geows()
            self._start_geows()
        return silent

    def close(self) -> None:
        self._stack.close()


# Talking to a front: raw bytes in, the responses' heads out.


@dataclass(frozen=True)
class Response:
    status: int
    head: str   # latin-1
    body: bytes

    def header(self, name: str) -> str | None:
        match = re.search(rf"\r\n{re.escape(name)}:[ \t]*([^\r]*)", self.head, re.IGNORECASE)
        return match[1].strip() if match else None

    @property
    def handler(self) -> str | None:
        """Which WebSocket handler answered: "<plugin file> <init>" from X-WebSocket (the
        stand-in adds the size limit and the draft-75 flag)."""
        value = self.header(harness.WEBSOCKET)
        return None if value is None else " ".join(value.split()[:2])


def _response(raw: bytes) -> Response:
    head, _, body = raw.partition(b"\r\n\r\n")
    text = head.decode("latin-1")
    return Response(int(text.split(" ", 2)[1]), text, body)


def _http09(body: bytes) -> Response:
    """An HTTP/0.9 answer has no status line: the status of the error page it carries
    (httpd's and geows' say it in <title>), else 0."""
    title = re.search(rb"<title>(\d{3}) ", body)
    return Response(int(title[1]) if title else 0, "", body)


def outcome(response: Response) -> tuple[int, str | None]:
    """(status, WebSocket handler) as compared between the fronts. A GET that is no
    handshake, to a WebSocket location: the stand-in answers 200 with its X-WebSocket
    report, geows 426 (it serves WebSocket only); both say the location took the request,
    which is what is compared, as 426."""
    if response.handler is not None and response.status != 101:
        return 426, None
    return response.status, response.handler


def exchange(port: int, raw: bytes, expected: int = 1, timeout: float = 3) -> list[Response]:
    """Send `raw` to 127.0.0.1:port in one write; read responses until the front closes
    the connection (or resets it, or stays silent for `timeout`), or answers 101. Past the
    `expected` count, a front silent for a moment is taken to have no more to say."""
    responses: list[Response] = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        buffer = bytearray()
        try:
            sock.sendall(raw)
            while not responses or responses[-1].status != 101:
                if len(responses) >= expected:
                    sock.settimeout(0.3)
                responses.append(_response(read_response(sock, buffer)))
        except (EOFError, ConnectionResetError, BrokenPipeError, TimeoutError):
            # What is left is a body delimited by the close (RFC 9112 6.3), or, before any
            # status line, an HTTP/0.9 answer: a body alone.
            if buffer and not responses and not buffer.startswith(b"HTTP/"):
                responses.append(_http09(bytes(buffer)))
    return responses


class Connection:
    """A keep-alive connection to a front: `ask` sends one request and reads its response.
    A front may close a connection rather than answer a later request on it (geows ends a
    forwarded connection at a request it would not forward): the request is then sent
    again on a new connection, as an HTTP client retries an idempotent request (RFC 9112
    9.3.1). None: closed without an answer on a connection of its own."""

    def __init__(self, port: int):
        self.port = port
        self.sock: socket.socket | None = None
        self.buffer = bytearray()

    def ask(self, raw: bytes, alone: bool = False) -> Response | None:
        """`alone`: on a connection of its own, closed after the answer."""
        if alone:
            self.close()
        while True:
            fresh = self.sock is None
            if fresh:
                self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            try:
                self.sock.sendall(raw)
                response = _response(read_response(self.sock, self.buffer))
            except (EOFError, ConnectionResetError, BrokenPipeError):
                self.close()
                if fresh:
                    return None
                continue
            if alone or response.status == 101 or "close" in (
                    response.header("Connection") or "").lower():
                self.close()
            return response

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.buffer.clear()
