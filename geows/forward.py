"""geows in front of Apache: forward a connection it does not serve to a ProxyPass backend.

Apache cannot proxy draft-76 (its proxy waits for the backend's 101 before it passes on
the 8 key bytes the backend needs to answer), so geows may take the public port: its own
WebSocket locations are served in server.py; a connection whose first request matches a
ProxyPass line comes here, and this and every later request of it go to that backend over
one backend connection, so pipelined responses keep their order.

`RequestStream` is the sans-I/O part: client bytes in, the bytes to send to the backend
out, each head as received plus `X-Forwarded-For`, each body exactly as framed (found
without re-encoding it), and after an Upgrade everything as it comes. `relay` is the
gevent part: two straight-line loops, one each way.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import gevent

from geows import fairness, limits
from geows.config.paths import ProxyPass
from geows.errors import HttpError
from geows.http import Request, RequestParser

log = logging.getLogger("geows.forward")

_HEAD, _BODY, _CHUNK_SIZE, _CHUNK_DATA, _TRAILER, _TUNNEL = range(6)


def rewrite_target(target: str, entry: ProxyPass) -> str:
    """The request target the backend gets: the ProxyPass prefix replaced by the target
    URL's path, the rest (query included) as received."""
    if entry.backend_path == entry.prefix:
        return target  # `ProxyPass / http://b/`: nothing to rewrite
    path, question, query = target.partition("?")
    rewritten = entry.rewrite(path)
    return target if rewritten is None else rewritten + question + query


def forwarded_head(request: Request, entry: ProxyPass, client_ip: str) -> bytes:
    """The head as received, with the target rewritten and `X-Forwarded-For: client_ip`
    added last. A second X-Forwarded-For line rather than an edited one: httpd joins
    repeated request fields with ", ", so the backend reads "earlier, client_ip", as
    mod_proxy's append would give, and the other bytes stay untouched."""
    head = request.head
    target = rewrite_target(request.target, entry)
    if target != request.target:
        line_end = head.index(b"\n")
        line = head[:line_end].replace(request.target.encode("latin-1"),
                                       target.encode("latin-1"), 1)
        head = line + head[line_end:]
    blank = len(head) - (2 if head.endswith(b"\r\n\r\n") else 1)
    return head[:blank] + f"X-Forwarded-For: {client_ip}\r\n".encode("latin-1") + head[blank:]


def is_upgrade(request: Request) -> bool:
    """An `Upgrade` request (RFC 6455, draft-76, anything): a raw tunnel after the head."""
    return "Upgrade" in request.headers and "upgrade" in request.headers.tokens("Connection")


class RequestStream:
    """The client's side of a forwarded connection, sans-I/O: `feed` takes what the client
    sent and returns what goes to the backend; `requests` lists the heads seen so far.

    Framing follows RFC 9112 6.3 for requests, as httpd frames them: chunked when
    Transfer-Encoding is (chunked last), else Content-Length, else no body. After a
    malformed frame (`stopped`), the connection cannot be resynchronised.
    """

    def __init__(self, entry: ProxyPass, client_ip: str,
                 admit: Callable[[Request], None] = lambda request: None):
        self.entry = entry
        self.client_ip = client_ip
        self.admit = admit   # raises HttpError for a later request that may not go on
        self.stopped: HttpError | None = None
        self.requests: list[Request] = []
        self._state = _HEAD
        self._parser = RequestParser()
        self._remaining = 0            # body or chunk bytes still to pass on
        self._line = bytearray()       # a chunk-size or trailer line being read

    @property
    def tunnel(self) -> bool:
        return self._state == _TUNNEL

    def feed(self, data: bytes) -> bytes:
        """What goes to the backend for `data`. Past a request that may not go on (bad
        framing, or refused by `admit`), nothing more does: `stopped` says why, and
        what came before it is still returned, to be answered."""
        out = bytearray()
        try:
            self._feed(data, out)
        except HttpError as exc:
            self.stopped = exc
        return bytes(out)

    def _feed(self, data: bytes, out: bytearray) -> None:
        while data and self.stopped is None:
            if self._state == _TUNNEL:
                out += data
                break
            if self._state == _HEAD:
                request = self._parser.feed(data)
                if request is None:
                    break
                data = self.start(request, out)
            elif self._state in (_BODY, _CHUNK_DATA):
                taken = data[:self._remaining]
                out += taken
                data = data[len(taken):]
                self._remaining -= len(taken)
                if not self._remaining:
                    self._state = _CHUNK_SIZE if self._state == _CHUNK_DATA else _HEAD
            else:
                data = self._chunk_line(data, out)

    def start(self, request: Request, out: bytearray) -> bytes:
        """Begin forwarding `request` (its head into out); returns the bytes after its head,
        still to be fed."""
        if self.requests:
            self.admit(request)
        self.requests.append(request)
        out += forwarded_head(request, self.entry, self.client_ip)
        self._parser = RequestParser()
        if is_upgrade(request):
            self._state = _TUNNEL
        else:
            self._state, self._remaining = _body_framing(request)
        return request.trailing

    def _chunk_line(self, data: bytes, out: bytearray) -> bytes:
        """A chunk-size line, or a trailer line after the last chunk: passed on as it comes,
        and read to find where the chunk (or the body) ends."""
        end = data.find(b"\n")
        piece = data if end < 0 else data[:end + 1]
        out += piece
        self._line += piece
        if len(self._line) > limits.LIMIT_REQUEST_FIELD_SIZE:
            raise HttpError(400, "chunk-size or trailer line longer than LimitRequestFieldSize")
        if end < 0:
            return b""
        line = bytes(self._line).rstrip(b"\r\n")
        self._line.clear()
        if self._state == _TRAILER:
            if not line:
                self._state = _HEAD  # the empty line after the trailers ends the body
        else:
            size = line.split(b";", 1)[0].strip()
            try:
                chunk = int(size, 16)
            except ValueError:
                raise HttpError(400, f"malformed chunk size {size[:20]!r}") from None
            if chunk:
                self._state, self._remaining = _CHUNK_DATA, chunk + 2  # with its CRLF
            else:
                self._state = _TRAILER
        return data[end + 1:]


def _body_framing(request: Request) -> tuple[int, int]:
    """The state after `request`'s head and its body length (RFC 9112 6.3)."""
    codings = request.headers.tokens("Transfer-Encoding")
    if codings:
        if codings[-1] != "chunked":
            raise HttpError(400, "request Transfer-Encoding without chunked last")
        return _CHUNK_SIZE, 0
    lengths = {value.strip() for value in request.headers.get_all("Content-Length")}
    if not lengths:
        return _HEAD, 0
    length = lengths.pop()
    if lengths or not length.isdigit():
        raise HttpError(400, "invalid Content-Length")
    return (_BODY, int(length)) if int(length) else (_HEAD, 0)


@dataclass
class Relayed:
    """How a forwarded connection went, for the access log."""

    status: int | str = "-"   # the backend's first response status
    requests: int = 0
    ending: str = ""
    bytes_in: int = 0         # from the client, after the first request's head
    bytes_out: int = 0        # to the client


def relay(client: socket.socket, request: Request, entry: ProxyPass, client_ip: str,
          client_name: str, admit: Callable[[Request], None]) -> Relayed:
    """Forward `request` and the rest of the client's connection to entry's backend until
    either side closes. HttpError(502) when the backend cannot be reached; the caller
    closes the client socket."""
    host, port = entry.backend  # type: ignore[misc]  # the caller checked it is set
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        backend = socket.create_connection((host, port), timeout=limits.TIMEOUT)
    except OSError as exc:
        log.error("[client %s] cannot reach the ProxyPass backend %s (%s:%d): %s",
                  client_name, where, entry.file, entry.line, exc)
        raise HttpError(502, f"backend {where} unreachable") from None
    with backend:
        result = _Relay(client, backend, RequestStream(entry, client_ip, admit)).run(request)
    result.ending = f"forwarded to {where}: {result.ending}"
    return result


class _Relay:
    """Both directions of one forwarded connection: the client's greenlet forwards
    requests, another copies responses back. Idle means no bytes either way for
    TIMEOUT: a tunnel where only one side talks stays open."""

    def __init__(self, client: socket.socket, backend: socket.socket, stream: RequestStream):
        self.client = client
        self.backend = backend
        self.stream = stream
        self.result = Relayed()
        self.active = time.monotonic()  # when bytes last moved, either way
        client.settimeout(limits.TIMEOUT)

    def run(self, request: Request) -> Relayed:
        back = gevent.spawn(self._copy_back)
        result = self.result
        try:
            out = bytearray()
            data = self.stream.start(request, out)
            while self.stream.stopped is None:
                fairness.give_way()  # recv() and sendall() do not yield while bytes wait
                out += self.stream.feed(data)
                self.backend.sendall(out)
                out.clear()
                if self.stream.stopped is None:
                    data = self._recv(self.client)
                    result.bytes_in += len(data)
                    if not data:
                        break
            if not result.ending:
                result.ending = ("client closed" if self.stream.stopped is None
                                 else f"stopped: {self.stream.stopped.reason}")
                # The backend still answers what it was sent: close its reading side only.
                self.backend.shutdown(socket.SHUT_WR)
                back.join(limits.TIMEOUT)
        except TimeoutError:
            result.ending = "idle too long"
        except OSError as exc:
            result.ending = result.ending or f"connection dropped: {exc}"
        finally:
            back.kill()
        result.requests = len(self.stream.requests)
        if self.stream.tunnel:
            result.ending = f"tunnel, {result.ending}"
        return result

    def _recv(self, sock: socket.socket) -> bytes:
        """The next bytes from sock; TimeoutError only when neither side sent anything
        for TIMEOUT."""
        while True:
            try:
                data = sock.recv(limits.RECV_SIZE)
            except TimeoutError:
                if time.monotonic() - self.active >= limits.TIMEOUT:
                    raise
                continue
            self.active = time.monotonic()
            return data

    def _copy_back(self) -> None:
        """Backend bytes to the client as they come; when the backend closes, so does the
        client's connection (which ends the reader's wait)."""
        result = self.result
        first = b""
        try:
            while data := self._recv(self.backend):
                fairness.give_way()  # recv() and sendall() do not yield while bytes wait
                if len(first) < 12:  # "HTTP/1.1 200": the status for the access log
                    first += data[:12 - len(first)]
                    if first[9:12].isdigit():
                        result.status = int(first[9:12])
                self.client.sendall(data)
                result.bytes_out += len(data)
            result.ending = result.ending or "backend closed"
        except TimeoutError:
            result.ending = result.ending or "idle too long"
        except OSError as exc:
            result.ending = result.ending or f"connection dropped: {exc}"
        try:
            self.client.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # the client is gone already
