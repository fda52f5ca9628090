"""geows in front of Apache: forward a connection it does not serve to a ProxyPass backend.

Apache cannot proxy draft-76 (its proxy waits for the backend's 101 before it passes on
the 8 key bytes the backend needs to answer), so geows may take the public port: its own
WebSocket locations are served by handshake.py and session.py; a connection whose first
request matches a ProxyPass line comes here (from handshake.py), and this and every later
request of it go to that backend over one backend connection, so pipelined responses keep
their order. What goes each way is decided sans-I/O in geows/proxy_http.py; `relay` is
the gevent part: two straight-line loops, one each way.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import gevent
from gevent.event import Event
from gevent.lock import Semaphore

from geows import http, limits
from geows.config.paths import ProxyPass
from geows.config.vhosts import RequestLimits
from geows.errors import HttpError
from geows.http import Request
from geows.proxy_http import Answer, RequestStream, Response, ResponseReader
from geows.runtime import fairness

log = logging.getLogger("geows.forward")


@dataclass
class Relayed:
    """How a forwarded connection went, for the access log."""

    status: int | str = "-"   # the status of the backend's (or geows') first answer
    requests: int = 0
    ending: str = ""
    bytes_in: int = 0         # from the client, after the first request's head
    bytes_out: int = 0        # to the client


def relay(client: socket.socket, request: Request, entry: ProxyPass, client_ip: str,
          client_name: str, admit: Callable[[Request], None], *, secure: bool,
          request_limits: RequestLimits) -> Relayed:
    """Forward `request` and the rest of the client's connection to entry's backend until
    either side closes (`secure`: the client's connection is TLS; `request_limits`: its
    LimitRequest*, under which `request` was read and the later ones are). HttpError when
    mod_proxy_http refuses `request` (before the backend is reached) or the backend cannot
    be reached (502); the caller closes the client socket."""
    stream = RequestStream(entry, client_ip, admit, secure, request_limits)
    head = bytearray()
    data = stream.start(request, head)
    host, port = entry.backend  # type: ignore[misc]  # the caller checked it is set
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        backend = socket.create_connection((host, port), timeout=limits.TIMEOUT)
    except OSError as exc:
        log.error("[client %s] cannot reach the ProxyPass backend %s (%s:%d): %s",
                  client_name, where, entry.file, entry.line, exc)
        raise HttpError(502, f"backend {where} unreachable") from None
    with backend:
        name = f"[client {client_name}] the ProxyPass backend {where} ({entry.file}:{entry.line})"
        result = _Relay(client, backend, stream, name).run(bytes(head), data)
    result.ending = f"forwarded to {where}: {result.ending}"
    return result


class _Relay:
    """Both directions of one forwarded connection: the client's greenlet forwards
    requests, another copies responses back and tells it when an upgrade request is
    answered. Either sends geows' own answers when their turn comes (whichever sees it
    first: the backend may have answered everything before), one at a time (`writing`).
    Idle means no bytes either way for TIMEOUT: a tunnel where only one side talks stays
    open."""

    def __init__(self, client: socket.socket, backend: socket.socket, stream: RequestStream,
                 name: str):
        self.client = client
        self.backend = backend
        self.stream = stream
        self.responses = ResponseReader(stream)
        self.name = name              # the client and the backend, for the error log
        self.answer = Event()         # set when the backend answered stream.upgrade
        self.writing = Semaphore()    # held while sending to the client: whole pieces, in order
        self.result = Relayed()
        self.active = time.monotonic()  # when bytes last moved, either way
        client.settimeout(limits.TIMEOUT)

    def run(self, head: bytes, data: bytes) -> Relayed:
        """Send the first request's head, then forward the rest (`data` onwards); once the
        client closes or nothing more may go on, the backend still answers what it was
        sent. An exception that is a bug of geows' is logged and ends the connection the
        same way: no answer already due is lost to it."""
        back = gevent.spawn(self._copy_back)
        result = self.result
        try:
            try:
                self._forward(head, data, back)
                failure = self.stream.failure
            except OSError:
                raise  # the connection is gone (TimeoutError included): below
            except Exception as bug:
                failure = bug
            if failure is not None:
                log.error("%s: internal error", self.name, exc_info=failure)
            if not result.ending:  # the backend neither closed nor failed
                result.ending = ("internal error" if failure is not None
                                 else "client closed" if self.stream.stopped is None
                                 else f"stopped: {self.stream.stopped}")
                if not self.responses.finished:
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

    def _forward(self, head: bytes, data: bytes, back: gevent.Greenlet) -> None:
        """Forward the client's bytes until it closes, the stream stops, or `back` (the
        copy back) ends while the stream holds them."""
        out = head + self.stream.feed(data)
        while True:
            fairness.give_way()  # recv() and sendall() do not yield while bytes wait
            self.backend.sendall(out)
            if self.stream.answers:
                with self.writing:
                    self._pass_on(self.responses.due())
            if self.stream.stopped is not None:
                return
            if self.stream.holding:
                gevent.wait([self.answer, back], count=1)
                self.answer.clear()
                if back.dead:
                    return
                data = b""  # what was held, if answered
            else:
                data = self._recv(self.client)
                self.result.bytes_in += len(data)
                if not data:
                    return
            out = self.stream.feed(data)

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
        """Backend bytes to the client as they come, response by response, geows' own
        answers in their turn; when the backend closes, or geows' last answer is sent, so
        does the client's connection (which ends the reader's wait)."""
        result = self.result
        try:
            while not self.responses.finished and (data := self._recv(self.backend)):
                fairness.give_way()  # recv() and sendall() do not yield while bytes wait
                with self.writing:
                    self._pass_on(self.responses.feed(data))
            if not self.responses.finished:
                result.ending = result.ending or "backend closed"
                self.responses.closed()   # httpd's 502, where it answers one
                with self.writing:  # what geows answers after the backend's last answer
                    self._pass_on(self.responses.due())
        except HttpError as exc:  # the backend's answer cannot be passed on
            log.error("%s: %s", self.name, exc.reason)
            result.ending = exc.reason
            self.responses.finished = True
            if self.responses.between:
                with self.writing:
                    self._send(http.response(exc.status, exc.headers), exc.status)
        except TimeoutError:
            result.ending = result.ending or "idle too long"
        except OSError as exc:
            result.ending = result.ending or f"connection dropped: {exc}"
        except Exception:  # a bug of geows': what was passed on stands, nothing more goes
            log.error("%s: internal error", self.name, exc_info=True)
            result.ending = "internal error"
            self.responses.finished = True
        try:
            self.client.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # the client is gone already

    def _pass_on(self, pieces: Iterable[Response | Answer | bytes]) -> None:
        """Send the backend's responses and geows' answers to the client, in order; the
        caller holds `writing`. A final response wakes the client's greenlet, whose held
        bytes it may release."""
        for piece in pieces:
            if isinstance(piece, Response):
                final = piece.status == 101 or piece.status >= 200
                self._send(piece.head, piece.status if final else None)
                if final:
                    self.answer.set()
            elif isinstance(piece, Answer):
                log.info("%s: a later request answered by geows with %d: %s", self.name,
                         piece.status, piece.reason)
                self._send(piece.data, piece.status)
            else:
                self._send(piece)

    def _send(self, data: bytes, status: int | None = None) -> None:
        """Send data to the client; `status`: that of an answer it begins, the first of
        which the access log shows."""
        self.client.sendall(data)
        self.result.bytes_out += len(data)
        if status is not None and self.result.status == "-":
            self.result.status = status
