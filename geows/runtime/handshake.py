"""The handshake reader: one client connection from accept to close.

`Handshake.handle` reads as the request's life: start TLS, read the head under
mod_reqtimeout's budget, find where httpd would send the request, check access, then
answer OPTIONS * or the status page, forward to a ProxyPass backend, or pick the
WebSocket protocol, check the Origin (WebSocketOriginCheck), ask the plugin and hand the
connection to its `Session` (geows.runtime.session); a request it cannot serve is refused
with an HTTP error. It owns the socket, closes it, and writes the connection's access
record (geows.runtime.record).
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from dataclasses import asdict
from typing import TYPE_CHECKING

from geows import http, limits
from geows.config.model import STATUS_HANDLER, Route
from geows.config.vhosts import RequestLimits, normal_host
from geows.errors import HttpError, RoutedElsewhere
from geows.plugin.api import WebSocketServer
from geows.protocols import select_protocol
from geows.protocols.rfc6455 import RFC6455
from geows.runtime import forward, status
from geows.runtime.record import Record
from geows.runtime.session import Session

if TYPE_CHECKING:
    from geows.runtime.server import Server

log = logging.getLogger("geows.server")
auth_log = logging.getLogger("geows.auth")

# Errors that mean the peer went away: an ordinary end, never a traceback.
PEER_GONE = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError, TimeoutError)

# Each local address connections came in on, as the one tuple their records share: as many
# as the addresses the listeners accept on.
_LOCAL_ADDRESSES: dict[tuple[str, int], tuple[str, int]] = {}


class HandshakeTimeout(Exception):
    """The request head (or draft-76's key3) did not arrive in time."""


class TlsFailed(Exception):
    """The TLS handshake failed or did not end in time: nothing can be answered."""


class Handshake:
    """One client connection until its request is answered (or handed to a `Session`);
    owns its socket and closes it in `handle`."""

    __slots__ = ("server", "sock", "tls_context", "admitted", "record", "session",
                 "_deadline", "_request_limits", "__weakref__")

    def __init__(self, server: Server, sock: socket.socket, address: tuple,
                 tls_context: ssl.SSLContext | None = None, *, admitted: bool):
        """`admitted`: under MaxRequestWorkers when accepted; if not, answered 503 once its
        head is read."""
        self.server = server
        self.admitted = admitted
        self.sock = sock
        self.tls_context = tls_context  # set on a TLS listener: sock is wrapped in _serve
        self.record = Record(address, keep_response_head=server.access_logs.uses("o"))
        self.session: Session | None = None  # once the WebSocket protocol is chosen
        self._deadline = self.record.started + server.config.header_timeout
        self._request_limits: RequestLimits | None = None  # what the head is read with

    def handle(self) -> None:
        record = self.record
        try:
            self._serve()
        except HttpError as exc:
            self._refuse(exc)
        except HandshakeTimeout:
            self._refuse(HttpError(408, "request head not received in time"))
        except TlsFailed as exc:
            record.ending = str(exc)  # no HTTP answer: the client never got past TLS
        except PEER_GONE:
            if record.ending == "open":
                record.ending = "connection dropped"
        except Exception:
            record.ending = "server error"
            log.error("[client %s] internal error", record.client, exc_info=True)
        finally:
            if self.session is not None:
                self.session.end()
            self.sock.close()
            record.write(self.server.config, self.server.access_logs)

    def _serve(self) -> None:
        record = self.record
        if self.tls_context is not None:
            self._start_tls(self.tls_context)
        request = record.request = self._read_head()
        record.ending = "closed during the handshake"
        if not self.admitted:
            raise HttpError(503, f"over MaxRequestWorkers ({self.server.max_connections} "
                                 "connections)")
        if request.path == "*":
            self._answer_options()
            return
        route = record.route = self._route(request)
        if route.endpoint is not None:
            self._upgrade(request, route)
        elif route.handler == STATUS_HANDLER:
            self._check_access(request, route)
            self._answer_status(request, record.local[0])
        else:
            self._forward(request, route)

    def _route(self, request: http.Request) -> Route:
        """Where httpd would send the request (Config.route: once per request)."""
        local_ip, local_port = self.record.local
        return self.server.config.route(request.path, request.host, local_port, local_ip)

    def _upgrade(self, request: http.Request, route: Route) -> None:
        """Pick the protocol, let the plugin accept or refuse, and run the session."""
        user = self._check_access(request, route)
        settings = route.endpoint.settings
        self.record.handler = "websocket-handler"
        protocol = select_protocol(
            request, secure=self.tls_context is not None,
            max_message_size=settings.max_message_size,
            support_draft75=settings.support_draft75, deflate=settings.deflate,
            memory=self.server.message_memory, frame_budget=limits.FRAMES_PER_PARSE,
            allow_reserved_codes=settings.allow_reserved_codes)
        session = self.session = Session(self.server, self.sock, protocol, settings,
                                         self.record)
        refusal = settings.origin_refusal(
            sent_origin(request, protocol.name),
            request_origin(request.host, self.tls_context is not None, route.logs.names.port,
                           request.target_port))
        if refusal is not None:
            raise HttpError(403, refusal)
        plugin = self.server.plugins[settings]
        handle = WebSocketServer(request, self.record.remote_addr, protocol.subprotocols,
                                 session, user, local_addr=self.record.local,
                                 server_names=route.logs.names,
                                 secure=self.tls_context is not None,
                                 locations=route.sections)
        protocol.receive_data(self._after_body(request, protocol.name))
        on_connect = getattr(plugin, "on_connect", None)
        try:
            state = on_connect(handle) if on_connect is not None else None
        except Exception:
            log.error("[client %s] plugin on_connect raised for %s", self.record.client,
                      request.path, exc_info=True)
            raise HttpError(500, "plugin on_connect raised") from None
        if on_connect is not None and state is None:
            raise HttpError(403, "refused by the plugin's on_connect")
        session.run(plugin, state, handle, self._recv_with_budget)

    def _forward(self, request: http.Request, route: Route) -> None:
        """Hand the connection to its ProxyPass backend (geows in front of Apache); 404
        when no line forwards the path."""
        record = self.record
        entry = route.proxy_pass
        if entry is None or entry.backend is None:
            raise HttpError(404, f"no WebSocket location or ProxyPass for {request.path}")
        self._check_access(request, route, proxied=True)
        record.handler = "proxy-server"

        def admit(later: http.Request) -> None:
            """A later request of the connection goes to the same backend only if httpd
            would send it there too (else RoutedElsewhere), and let it through (else
            HttpError, which is answered in its place, after the earlier requests)."""
            later_route = self._route(later)
            if (later_route.endpoint is not None or later_route.handler == STATUS_HANDLER
                    or later_route.proxy_pass is not entry):
                raise RoutedElsewhere(f"{later.path} is not forwarded to the same backend")
            self._check_access(later, later_route, proxied=True)

        relayed = forward.relay(self.sock, request, entry, record.remote_addr[0], record.client,
                                admit, secure=self.tls_context is not None,
                                request_limits=self._request_limits)
        record.status, record.messages_in, record.ending = \
            relayed.status, relayed.requests, relayed.ending
        record.bytes_in += relayed.bytes_in
        record.bytes_out += relayed.bytes_out

    def _answer_status(self, request: http.Request, local_ip: str) -> None:
        """The status page, HTML, or for machines ?auto's text or ?prometheus'; GET and
        HEAD only."""
        if request.method not in ("GET", "HEAD"):
            raise HttpError(405, f"{request.method[:20]} on the status page",
                            (("Allow", "GET, HEAD"),))
        server = self.server
        content_type, content = status.render(
            server.status_snapshots(), started=server.server_started,
            generation=server.generation, master=server.master_figures,
            now=time.time(), server_name=request.host or local_ip,
            form=status.page_form(request.query))
        self._answer(http.message(200, status.HEADERS, content, content_type,
                                  head_only=request.method == "HEAD"), "status page sent")

    def _answer_options(self) -> None:
        """OPTIONS * (or an absolute-form without a path): httpd's http_send_options
        answers 200 with no body, before any section, access rule or handler applies."""
        self._answer(http.options_answer(), "OPTIONS * answered")

    def _answer(self, response: bytes, ending: str) -> None:
        """Send a 200 that geows makes itself, then close."""
        self.sock.sendall(response)
        self.record.bytes_out += len(response)
        self.record.sent_head(response)
        self.record.status = 200
        self.record.ending = ending

    def _check_access(self, request: http.Request, route: Route,
                      proxied: bool = False) -> str | None:
        """Refuse whom httpd would refuse, before any plugin (or backend) sees the
        request; the client is who mod_remoteip says it is from here on (logs, rules,
        plugin). Returns the user Basic authentication let through, if any."""
        record = self.record
        client_ip, decision, file_name = self.server.access.decide(
            request, route, record.peer_ip, record.local[0], proxied)
        record.came_from(client_ip)
        if decision.status is None:
            record.user = decision.user
            return decision.user
        for line in (*decision.log_notes, decision.log_message):
            if line:
                auth_log.error("[client %s] %s", record.client, line)
        raise HttpError(decision.status, f"access denied to {file_name}", decision.headers)

    def _after_body(self, request: http.Request, protocol_name: str) -> bytes:
        """What follows the request's body: an RFC 6455 handshake has no use for one, but a
        proxy in front (Apache) forwards one announced with Content-Length, and the frames
        come after it. (draft-76's Content-Length: 8 is its key3, the protocol's own.)"""
        length = request.content_length  # checked by the parser, as httpd checks it
        if protocol_name != "rfc6455" or length is None:
            return request.trailing
        if length > limits.HANDSHAKE_BODY_LIMIT:
            raise HttpError(413, "a handshake body over limits.HANDSHAKE_BODY_LIMIT")
        data = request.trailing
        while len(data) < length:
            more = self._recv_with_budget()
            if not more:
                raise ConnectionResetError("client closed during the handshake's body")
            data += more
        return data[length:]

    def _start_tls(self, context: ssl.SSLContext) -> None:
        """The TLS handshake, in this greenlet (gevent's SSLSocket waits cooperatively) and
        within the request head's mod_reqtimeout budget, so that a client stalling it is
        dropped as one stalling its head is."""
        self.sock = context.wrap_socket(self.sock, server_side=True,
                                        do_handshake_on_connect=False)
        self.sock.settimeout(self._deadline - time.monotonic())
        try:
            self.sock.do_handshake()
        except (ssl.SSLError, OSError) as exc:  # a timeout is an SSLError in gevent
            raise TlsFailed(f"TLS handshake failed: {exc}") from None
        finally:
            self.sock.settimeout(None)
        self.record.tls = (self.sock.version(), self.sock.cipher()[0])

    def _read_head(self) -> http.Request:
        """The request head, under mod_reqtimeout's header budget and core's LimitRequest*."""
        local = self.sock.getsockname()[:2]
        # Shared: every connection to a listener has the same, and each keeps its record.
        self.record.local = local_ip, local_port = _LOCAL_ADDRESSES.setdefault(local, local)
        limits_here = self._request_limits = self.server.config.request_limits_for(
            local_port, local_ip)
        parser = http.RequestParser(**asdict(limits_here), secure=self.tls_context is not None)
        request = None
        while request is None:
            data = self._recv_with_budget()
            if not data:
                raise ConnectionResetError("client closed before a complete head")
            try:
                request = parser.feed(data)
            except HttpError:
                if parser.request_line is not None:  # the logs show it, as httpd's do
                    self.record.request_line = parser.request_line[:200]
                raise
        return request

    def _recv_with_budget(self) -> bytes:
        # mod_reqtimeout "header=T-MAX,MinRate=R": T seconds to start, one more
        # second per R bytes received, never beyond MAX seconds in all.
        config = self.server.config
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise HandshakeTimeout()
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(limits.RECV_SIZE)
        except TimeoutError:
            raise HandshakeTimeout() from None
        finally:
            self.sock.settimeout(None)
        self.record.bytes_in += len(data)
        if config.header_min_rate:
            self._deadline = min(self._deadline + len(data) / config.header_min_rate,
                                 self.record.started + config.header_timeout_max)
        return data

    def _refuse(self, error: HttpError) -> None:
        record = self.record
        record.status = error.status
        record.ending = error.reason
        log.info("[client %s] %s %s: %s", record.client, record.request_line, error.status,
                 error.reason)
        response = http.response(error.status, error.headers)
        try:
            self.sock.sendall(response)
        except OSError:
            return  # the client is gone; nothing left to tell it
        record.bytes_out += len(response)
        record.sent_head(response)


def sent_origin(request: http.Request, protocol: str) -> str | None:
    """The Origin the client sent, by the protocol served (its name): for RFC 6455,
    Sec-WebSocket-Origin under protocol versions 7 and below (hybi-07), as the maintained
    mod_websocket reads it, Origin for 8 and 13; Origin for draft-76 and draft-75, whatever
    version field they also send."""
    version = request.headers.get("Sec-WebSocket-Version", "")
    old = protocol == RFC6455.name and version.isascii() and version.isdigit() \
        and int(version) <= 7
    return request.headers.get("Sec-WebSocket-Origin" if old else "Origin")


def request_origin(host: str | None, secure: bool, server_port: int | None,
                   target_port: int | None = None) -> str:
    """The request's own origin (RFC 6454) as the maintained mod_websocket builds it for
    WebSocketOriginCheck Same: the connection's scheme (https on TLS), the Host's name as
    httpd keeps it (lowercased, without a trailing dot; an IPv6 literal in brackets), and
    the Host's port (else an absolute-form target's, whatever its scheme; else ServerName's,
    else the scheme's), left out when it is the scheme's default (ap_get_server_port)."""
    scheme, default = ("https", 443) if secure else ("http", 80)
    name = normal_host(host)
    if ":" in name:
        name = f"[{name}]"
    host = host or ""
    digits = (host.rpartition("]")[2] if host.startswith("[") else host).rpartition(":")[2]
    host_port = int(digits) if digits.isascii() and digits.isdigit() else 0
    if target_port is None:
        target_port = server_port or default
    port = host_port or target_port
    return f"{scheme}://{name}" + ("" if port == default else f":{port}")
