"""The server loop: one gevent StreamServer per Listen, one greenlet per connection.

`Connection.handle` reads as the request's life: read the head under
mod_reqtimeout's budget, find the location, pick the protocol, ask the plugin,
answer the handshake, pump messages, and - however it ends - call
on_disconnect once and close the socket.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import math
import os
import resource
import socket
import ssl
import struct
import termios
import time
from collections import deque
from dataclasses import asdict
from typing import Any

import gevent
from gevent import monkey
from gevent.lock import Semaphore
from gevent.pool import Pool
from gevent.server import StreamServer

from geows import http, limits
from geows.access.control import AccessControl
from geows.config import Config, Listener, WebSocketSettings
from geows.config.logs import ServerLogs
from geows.config.model import STATUS_HANDLER, Route
from geows.config.vhosts import RequestLimits
from geows.errors import ConnectionClosed, HttpError, RoutedElsewhere
from geows.log_format import Entry, escape
from geows.messages import BINARY, CLOSE, PING, PONG, TEXT
from geows.plugin.api import WebSocketServer
from geows.plugin.threads import wait_for_threads
from geows.process.channel import Channel, Kind, broadcast_body, parse_broadcast
from geows.protocols import (
    CloseReceived,
    Message,
    ProtocolError,
    State,
    WebSocketProtocol,
    select_protocol,
)
from geows.protocols.memory import MessageMemory
from geows.runtime import fairness, forward, status
from geows.runtime import log as geows_log

log = logging.getLogger("geows.server")
auth_log = logging.getLogger("geows.auth")
access_log = logging.getLogger("geows.access")

# Errors that mean the peer went away: an ordinary end, never a traceback.
PEER_GONE = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError, TimeoutError)


# The real thread primitives: monkeypatching turns threading's into greenlet ones,
# which cannot tell an OS thread (a C plugin's pthread) from the hub's.
_thread_ident = monkey.get_original("_thread", "get_ident")
_os_sleep = monkey.get_original("time", "sleep")
_os_lock = monkey.get_original("_thread", "allocate_lock")


class HandshakeTimeout(Exception):
    """The request head (or draft-76's key3) did not arrive in time."""


class TlsFailed(Exception):
    """The TLS handshake failed or did not end in time: nothing can be answered."""


class Server:
    """Serves every WebSocket location of one configuration."""

    def __init__(self, config: Config, plugins: dict[WebSocketSettings, Any],
                 access: AccessControl, relay: Channel | None = None, generation: int = 0,
                 processes: int = 1):
        self.config = config
        self.plugins = plugins
        self.access = access
        self.connections: set[Connection] = set()
        # Open connections per WebSocketHandler line: what a broadcast reaches.
        self.locations: dict[WebSocketSettings, set[Connection]] = {
            settings: set() for settings in plugins}
        # A broadcast also goes to the other workers' connections of the location, by name.
        self.relay = relay
        self.location_names = config.location_names()
        self._by_name = {name: settings for settings, name in self.location_names.items()}
        self.hub = gevent.get_hub()
        self.hub_thread = _thread_ident()
        # What OS threads hand over (sends, broadcasts, closes), run in their order by one
        # greenlet, which may wait (a broadcast lets writers run) as a hub callback cannot.
        self._from_threads: deque[tuple[int, Any, tuple]] = deque()
        self._from_threads_lock = _os_lock()
        self._thread_worker: gevent.Greenlet | None = None
        self.handed = 0   # bytes handed over by threads and not yet taken: their bound
        # What this worker's incomplete messages hold together (WebSocketMessageMemory).
        self.message_memory = MessageMemory(config.message_memory)
        self._group = Pool()  # unbounded; StreamServer needs a Pool, not a Group
        soft_fds = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if soft_fds == resource.RLIM_INFINITY:
            soft_fds = 1 << 20
        # MaxRequestWorkers counts every worker's connections, as httpd's counts every
        # child's threads: each of the `processes` serving takes its share.
        self.max_connections = max(1, config.max_connections // processes) \
            if config.max_connections else max(1, soft_fds - limits.MAX_CONNECTIONS_FD_RESERVE)
        self._servers: list[StreamServer] = []
        # What the status page shows of this process (snapshot).
        self.generation = generation  # the server's restarts before this process started
        self.started = time.time()
        self.state = "serving"        # "draining" once stop() begins
        self.accepted = 0             # connections accepted, of any kind
        self.server_started = self.started  # a worker's: the master's, from its assignment
        self.others: list[dict[str, Any]] = []  # the other workers' snapshots (the master's)
        # Per (location name, protocol label): [0, accepted, messages in, messages out] of the
        # WebSocket connections that ended; snapshot() adds the open ones' as they stand.
        self._ended: dict[tuple[str, str], list[int]] = {}

    def start(self, sockets: dict[tuple[str | None, int], socket.socket],
              contexts: dict[Listener, ssl.SSLContext | None]) -> None:
        """Start accepting on every Listen, on its listening socket in `sockets` by (host,
        port) (geows.process.listeners binds them), with its TLS context in `contexts`
        (tls.listener_contexts: None for plain text)."""
        try:
            for listener in self.config.listeners:
                handle = functools.partial(self._handle, tls_context=contexts[listener])
                server = StreamServer(sockets[listener.host, listener.port], handle,
                                      spawn=self._group)
                server.start()
                self._servers.append(server)
        except OSError:
            self.stop()
            raise

    def stop_accepting(self) -> None:
        """Close the listening sockets (a worker's copies: the master and the other workers
        keep theirs, and what waits in the backlog goes to them)."""
        self.state = "draining"
        for server in self._servers:
            server.close()

    def stop(self, timeout: float = limits.SHUTDOWN_TIMEOUT) -> None:
        """Stop accepting, close every connection politely, then end the rest."""
        self.stop_accepting()
        for connection in list(self.connections):
            connection.close(1001, "server stopping")  # 1001: going away (RFC 6455 7.4.1)
        self._group.join(timeout)
        self._group.kill(timeout=limits.CLOSE_TIMEOUT)
        if not wait_for_threads(limits.CLOSE_TIMEOUT):
            # A plugin call stuck in its thread: destroy() may free what it uses.
            log.error("plugin calls still running in threads; destroying the plugins anyway")
        for plugin in {id(p): p for p in self.plugins.values()}.values():
            destroy = getattr(plugin, "destroy", None)
            if destroy is not None:
                try:
                    destroy()
                except Exception:
                    log.exception("plugin destroy() raised")

    def broadcast(self, settings: WebSocketSettings, type: int, data: str | bytes) -> int:
        """Queue one message for every open connection of a location, this worker's (in the
        hub's thread) and, through the master, the other workers'; returns how many of
        this worker's took it."""
        sent = self.deliver(settings, type, data)
        if self.relay is not None:
            try:
                self.relay.send(Kind.BROADCAST,
                                broadcast_body(self.location_names[settings], type, data))
            except OSError:
                log.error("a broadcast could not reach the other workers: the master is gone")
        return sent

    def deliver_relayed(self, body: bytes) -> None:
        """A broadcast from another worker: to this worker's connections of the location
        of that name (none when this worker's config has no such location)."""
        name, type, data = parse_broadcast(body)
        settings = self._by_name.get(name)
        if settings is not None:
            self.deliver(settings, type, data)

    def deliver(self, settings: WebSocketSettings, type: int, data: str | bytes) -> int:
        connections = list(self.locations[settings])
        if gevent.getcurrent() is not self.hub and \
                any(c.unsent > limits.SEND_BUFFER for c in connections):
            # A sender in a tight loop starves the writers: let them hand what they
            # hold to the kernel first, so that only a client that truly stopped
            # reading is still over the limit below.
            gevent.idle()
        return sum(connection.send_nowait(type, data) for connection in connections)

    def call_from_thread(self, size: int, function: Any, *args: Any) -> None:
        """From an OS thread: have a greenlet run function(*args) after everything
        handed over before it; `size` bytes count against the threads' bound until then."""
        with self._from_threads_lock:
            self._from_threads.append((size, function, args))
            self.handed += size
        self.hub.loop.run_callback_threadsafe(self._start_thread_worker)

    def wait_for_room(self, deadline: float, connection: Connection | None = None) -> bool:
        """In an OS thread: wait while what threads handed over (or this connection's
        unsent output) is over limits.SEND_BUFFER; False if it still is at `deadline`."""
        while self.handed > limits.SEND_BUFFER or (
                connection is not None and connection.is_open
                and connection.unsent > limits.SEND_BUFFER):
            if time.monotonic() > deadline:
                return False
            _os_sleep(limits.THREAD_SEND_POLL)
        return True

    def catch_up(self) -> None:
        """Run what threads handed over before the caller goes on: a greenlet that
        waited for a thread (run_in_thread) sends after that thread's sends."""
        while self._from_threads:
            self._start_thread_worker()
            self._thread_worker.join()

    def _start_thread_worker(self) -> None:
        if self._thread_worker is None or self._thread_worker.dead:
            self._thread_worker = gevent.spawn(self._run_from_threads)

    def _run_from_threads(self) -> None:
        while True:
            with self._from_threads_lock:
                if not self._from_threads:
                    return  # without yielding: a later hand-over finds this greenlet dead
                size, function, args = self._from_threads.popleft()
                self.handed -= size
            try:
                function(*args)
            except Exception:
                log.error("work handed over by a plugin's thread failed", exc_info=True)

    def snapshot(self) -> dict[str, Any]:
        """This process's figures for the status page (status.render), JSON-serializable:
        pid, started (Unix time), generation, state, open and accepted connections, and
        per WebSocket location name and protocol label the status.COUNTERS."""
        rows = {key: list(ended) for key, ended in self._ended.items()}
        for settings, connections in self.locations.items():
            name = self.location_names[settings]
            for connection in connections:
                _add(rows.setdefault((name, connection.protocol.label), [0, 0, 0, 0]),
                     1, 1, *connection.messages)
        locations: dict[str, dict[str, dict[str, int]]] = {
            name: {} for name in self.location_names.values()}
        for (name, label), row in sorted(rows.items(), key=lambda item: item[0][1]):
            locations[name][label] = dict(zip(status.COUNTERS, row, strict=True))
        return {"pid": os.getpid(), "started": self.started, "generation": self.generation,
                "state": self.state, "open": len(self.connections), "accepted": self.accepted,
                "locations": locations}

    def status_snapshots(self) -> list[dict[str, Any]]:
        """Every worker process's latest snapshot, which the status page sums: this one's
        as it stands, the others' as the master last passed them on (limits.STATUS_INTERVAL)."""
        return [self.snapshot(), *self.others]

    def websocket_ended(self, connection: Connection) -> None:
        """Keep the counts of a WebSocket connection that ends in its location's totals."""
        key = (self.location_names[connection.settings], connection.protocol.label)
        _add(self._ended.setdefault(key, [0, 0, 0, 0]), 0, 1, *connection.messages)

    def _handle(self, sock: socket.socket, address: tuple,
                tls_context: ssl.SSLContext | None) -> None:
        self.accepted += 1
        connection = Connection(self, sock, address, tls_context)
        self.connections.add(connection)
        try:
            connection.handle()
        finally:
            self.connections.discard(connection)


class Connection:
    """One client connection; owns its socket and closes it in `handle`.

    Writers: the reader greenlet queues replies and writes them after each read;
    other greenlets write under `_lock`; OS threads hand messages over
    (Server.call_from_thread) and never wait for the hub to take them, so a plugin
    that joins its thread in on_disconnect cannot deadlock against a send.
    """

    # Thousands live at once, mostly idle: slots keep each one small.
    __slots__ = ("server", "sock", "client", "remote_addr", "peer_ip", "protocol", "settings",
                 "tls_context", "_lock",
                 "_started", "_request_line", "_status", "_ending", "_messages_in",
                 "_messages_out", "_deadline", "_reader", "_flush_pending", "_queued",
                 "_writing", "_finished", "_close_timer", "_heard", "_pinged", "_ping_timer",
                 # what access log formats may tell (geows.log_format.Entry)
                 "_request", "_local", "_user", "_handler", "_tls", "_bytes_in", "_bytes_out",
                 "_head_size", "_response_head", "_route", "_request_limits", "__weakref__")

    def __init__(self, server: Server, sock: socket.socket, address: tuple,
                 tls_context: ssl.SSLContext | None = None):
        self.server = server
        self.sock = sock
        self.tls_context = tls_context  # set on a TLS listener: sock is wrapped in _serve
        # A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d; httpd (APR) as a.b.c.d.
        ip = address[0].removeprefix("::ffff:") if "." in address[0] else address[0]
        self.client = f"{ip}:{address[1]}"
        self.remote_addr = (ip, address[1])   # mod_remoteip's client, once it has spoken
        self.peer_ip = ip
        self.protocol: WebSocketProtocol | None = None
        self.settings: WebSocketSettings | None = None
        self._lock = Semaphore()   # one writer at a time: sendall can yield mid-frame
        self._started = time.monotonic()
        self._request_line = "-"
        self._status: int | str = "-"
        self._ending = "closed before a complete request"
        self._messages_in = 0
        self._messages_out = 0
        self._deadline = self._started + server.config.header_timeout
        self._reader = gevent.getcurrent()   # the greenlet reading this connection
        self._flush_pending = False
        self._queued = 0           # payload bytes queued since the last write began
        self._writing = 0          # bytes of the write in progress
        self._finished = False     # on_disconnect is due: nothing more is sent
        self._close_timer: gevent.Greenlet | None = None
        self._heard = self._started  # when bytes last came from the client
        self._pinged = 0.0           # when the ping waiting for an answer went out; 0.0: none
        self._ping_timer: Any = None  # WebSocketPing's hub timer: no greenlet per connection
        self._request: http.Request | None = None
        self._local: tuple[str, int] | None = None  # the listening address it came in on
        self._user: str | None = None
        self._handler: str | None = None   # httpd's: websocket-handler, or proxy-server
        self._tls: tuple[str, str] | None = None  # TLS version and cipher
        self._bytes_in = 0   # as mod_logio counts them, TLS taken off
        self._bytes_out = 0
        self._head_size: int | None = None  # of the response head sent
        self._response_head: bytes | None = None  # kept only for an access log's %o
        self._route: Route | None = None  # the first request's
        self._request_limits: RequestLimits | None = None  # what the head is read with

    # The channel a plugin's WebSocketServer handle talks to.

    @property
    def handshake_done(self) -> bool:
        return self.protocol is not None and self.protocol.state is not State.CONNECTING

    @property
    def is_open(self) -> bool:
        return not self._finished and self.protocol is not None \
            and self.protocol.state is State.OPEN

    @property
    def messages(self) -> tuple[int, int]:
        """Messages received and sent so far."""
        return self._messages_in, self._messages_out

    @property
    def unsent(self) -> int:
        """Bytes given to send that the kernel has not taken yet (payload sizes
        for those still queued, near enough)."""
        return self._queued + self._writing

    def send(self, type: int, data: str | bytes) -> int:
        """Send one message (see WebSocketServer.send); from any greenlet or OS thread."""
        if _thread_ident() != self.server.hub_thread:
            return self._send_from_thread(type, data)
        self.server.catch_up()
        if type == CLOSE:
            self.close()
            return 0
        self._check_open()
        if gevent.getcurrent() is self._reader:
            # No lock: queuing never yields, so no other writer can come between,
            # and a writer already in sendall() took its bytes out before ours.
            size = self._queue(type, data)
            if self.unsent > limits.SEND_BUFFER:
                with self._lock:  # a plugin sending in a loop: write as it goes
                    self._flush_or_closed()
            else:
                self._flush_later()
        else:
            with self._lock:
                self._check_open()  # it may have closed while we waited
                size = self._queue(type, data)
                self._flush_or_closed()
        return size

    def send_nowait(self, type: int, data: str | bytes) -> bool:
        """Queue a message without waiting on this client (a broadcast); a
        client that does not read what it is sent is closed with 1008."""
        if type == CLOSE:
            self.close()
            return False
        if not self.is_open:
            return False
        if self.unsent > limits.SEND_BUFFER:
            self.close(1008, "closed: too slow to read what it was sent")
            return False
        self._queue(type, data)
        self._flush_later()
        return True

    def broadcast(self, type: int, data: str | bytes) -> int:
        """Send to every open connection of this location (see WebSocketServer.broadcast);
        from an OS thread, it is handed over and counts the connections open then."""
        if _thread_ident() != self.server.hub_thread:
            size = len(_payload(type, data))  # a bad message fails in the caller's thread
            self.server.wait_for_room(time.monotonic() + limits.TIMEOUT)
            self.server.call_from_thread(size, self.server.broadcast, self.settings, type, data)
            return len(self.server.locations[self.settings])
        self.server.catch_up()
        return self.server.broadcast(self.settings, type, data)

    def _check_open(self) -> None:
        if self.protocol is None or self.protocol.state is State.CONNECTING:
            raise ValueError("the handshake is not answered yet; send once on_connect returns")
        if not self.is_open:
            raise ConnectionClosed("the WebSocket connection is closed")

    def _queue(self, type: int, data: str | bytes) -> int:
        size = self.protocol.send(type, data)
        self._queued += size
        self._messages_out += 1
        return size

    def _send_from_thread(self, type: int, data: str | bytes) -> int:
        """send() from an OS thread: check, then hand over without waiting for the hub
        (it may be blocked joining this very thread in on_disconnect). Wait only while
        the buffers are full, and close a client that takes nothing for limits.TIMEOUT."""
        payload = _payload(type, data)
        if type == CLOSE:
            self.server.call_from_thread(0, self.close)
            return 0
        self._check_open()
        if not self.server.wait_for_room(time.monotonic() + limits.TIMEOUT, self):
            self.server.call_from_thread(0, self.close, 1008,
                                         "closed: too slow to read what it was sent")
            raise ConnectionClosed("the client took nothing for limits.TIMEOUT")
        self._check_open()
        self.server.call_from_thread(len(payload), self._take_from_thread, type, payload)
        return len(payload)

    def _take_from_thread(self, type: int, payload: bytes) -> None:
        if self.is_open:  # it may have closed since the thread looked
            self._queue(type, payload)
            self._flush_later()

    def _flush_later(self) -> None:
        """Replies made while handling a read go out in one write after it, or as
        soon as the plugin blocks (sleeps, waits on I/O) before that; messages
        queued by anyone else go out on the hub's next turn."""
        if not self._flush_pending:
            self._flush_pending = True
            self.server.hub.loop.run_callback(self._flush_if_blocked)

    def _flush_if_blocked(self) -> None:
        # Runs in the hub, which cannot block: a greenlet does the write.
        if self._flush_pending:
            gevent.spawn(self._flush_now)

    def _flush_now(self) -> None:
        with self._lock:
            try:
                self._flush()
            except OSError:
                pass  # the reader sees the broken connection and ends it

    def close(self, code: int = 1000, ending: str = "closed by the plugin") -> None:
        """Start the closing handshake without waiting for it; the connection
        ends when the peer answers, or CLOSE_TIMEOUT later (mod_websocket waited
        forever). Safe from any greenlet or OS thread."""
        if _thread_ident() != self.server.hub_thread:
            self.server.call_from_thread(0, self.close, code, ending)
            return
        if not self.is_open:
            return
        self._ending = ending
        self.protocol.close(code)
        self._close_timer = gevent.spawn_later(limits.CLOSE_TIMEOUT, self._close_timed_out)
        if gevent.getcurrent() is not self._reader:
            gevent.spawn(self._flush_and_wake)
        # else the reader writes the close after its dispatch, as any reply

    def _flush_and_wake(self) -> None:
        self._flush_now()
        if not self.protocol.close_expected():
            self._wake_reader()  # closed without a handshake (draft-75)

    def _close_timed_out(self) -> None:
        if self.protocol.close_expected():
            self._ending += ", close handshake timed out"
            self._wake_reader()

    def _wake_reader(self) -> None:
        """End the reader's wait in recv(): it sees EOF and finishes the connection."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed

    # The connection's life.

    def handle(self) -> None:
        try:
            self._serve()
        except HttpError as exc:
            self._refuse(exc)
        except HandshakeTimeout:
            self._refuse(HttpError(408, "request head not received in time"))
        except TlsFailed as exc:
            self._ending = str(exc)  # no HTTP answer: the client never got past TLS
        except PEER_GONE:
            if self._ending == "open":
                self._ending = "connection dropped"
        except Exception:
            self._ending = "server error"
            log.error("[client %s] internal error", self.client, exc_info=True)
        finally:
            if self._close_timer is not None:
                self._close_timer.kill(block=False)
            if self._ping_timer is not None:
                self._ping_timer.close()
            self.sock.close()
            self._log_access()

    def _serve(self) -> None:
        config = self.server.config
        if self.tls_context is not None:
            self._start_tls(self.tls_context)
        request = self._request = self._read_head()
        self._request_line = f"{request.method} {request.target[:200]} {request.version}"
        self._ending = "closed during the handshake"
        if len(self.server.connections) > self.server.max_connections:  # this one included
            raise HttpError(503, f"over MaxRequestWorkers ({self.server.max_connections} "
                                 "connections)")
        if request.path == "*":
            self._answer_options()
            return
        local_ip, local_port = self._local
        route = self._route = config.route(request.path, request.host, local_port, local_ip)
        endpoint = route.endpoint
        if endpoint is None:
            if route.handler == STATUS_HANDLER:
                self._check_access(request, route, local_ip)
                self._answer_status(request, local_ip)
            else:
                self._forward(request, route, local_ip, local_port)
            return
        user = self._check_access(request, route, local_ip)
        settings = self.settings = endpoint.settings
        self._handler = "websocket-handler"
        self.protocol = select_protocol(
            request, secure=self.tls_context is not None,
            max_message_size=settings.max_message_size,
            support_draft75=settings.support_draft75, deflate=settings.deflate,
            memory=self.server.message_memory, frame_budget=limits.FRAMES_PER_PARSE)
        # RFC 6455 and draft-76 send Origin; hybi-07/08 sent Sec-WebSocket-Origin.
        origin = request.headers.get("Origin", request.headers.get("Sec-WebSocket-Origin"))
        if not settings.origin_allowed(origin):
            raise HttpError(403, f"origin {origin[:100]} not allowed by WebSocketOrigin")
        plugin = self.server.plugins[settings]
        handle = WebSocketServer(request, self.remote_addr, self.protocol.subprotocols, self,
                                 user)
        self.protocol.receive_data(self._after_body(request))
        on_connect = getattr(plugin, "on_connect", None)
        try:
            state = on_connect(handle) if on_connect is not None else None
        except Exception:
            log.error("[client %s] plugin on_connect raised for %s", self.client, request.path,
                      exc_info=True)
            raise HttpError(500, "plugin on_connect raised") from None
        if on_connect is not None and state is None:
            raise HttpError(403, "refused by the plugin's on_connect")
        location = self.server.locations[settings]
        try:
            self.protocol.accept(handle.subprotocol, handle.response_headers)
            self._finish_handshake()
            self._status = 101
            self._ending = "open"
            location.add(self)
            if settings.ping is not None:
                self._watch_liveness(*settings.ping)
            self._pump(plugin, state, handle)
        finally:
            if self._status == 101:  # it was in the location
                self.server.websocket_ended(self)
            location.discard(self)
            self._finished = True  # sends from here on fail, from threads too
            self.protocol.receive_eof()  # the socket closes: an incomplete message is let go
            on_disconnect = getattr(plugin, "on_disconnect", None)
            if on_disconnect is not None:
                try:
                    on_disconnect(state, handle)
                except Exception:
                    log.error("[client %s] plugin on_disconnect raised", self.client,
                              exc_info=True)

    def _forward(self, request: http.Request, route: Route, local_ip: str,
                 local_port: int) -> None:
        """Hand the connection to its ProxyPass backend (geows in front of Apache); 404
        when no line forwards the path."""
        config = self.server.config
        entry = route.proxy_pass
        if entry is None or entry.backend is None:
            raise HttpError(404, f"no WebSocket location or ProxyPass for {request.path}")
        self._check_access(request, route, local_ip, proxied=True)
        self._handler = "proxy-server"

        def admit(later: http.Request) -> None:
            """A later request of the connection goes to the same backend only if httpd
            would send it there too (else RoutedElsewhere), and let it through (else
            HttpError, which is answered in its place, after the earlier requests)."""
            route = config.route(later.path, later.host, local_port, local_ip)
            if (route.endpoint is not None or route.handler == STATUS_HANDLER
                    or route.proxy_pass is not entry):
                raise RoutedElsewhere(f"{later.path} is not forwarded to the same backend")
            self._check_access(later, route, local_ip, proxied=True)

        relayed = forward.relay(self.sock, request, entry, self.remote_addr[0], self.client,
                                admit, secure=self.tls_context is not None,
                                request_limits=self._request_limits)
        self._status, self._messages_in, self._ending = \
            relayed.status, relayed.requests, relayed.ending
        self._bytes_in += relayed.bytes_in
        self._bytes_out += relayed.bytes_out

    def _answer_status(self, request: http.Request, local_ip: str) -> None:
        """The status page, HTML or (?auto) text for machines; GET and HEAD only."""
        if request.method not in ("GET", "HEAD"):
            raise HttpError(405, f"{request.method[:20]} on the status page",
                            (("Allow", "GET, HEAD"),))
        server = self.server
        content_type, content = status.render(
            server.status_snapshots(), started=server.server_started,
            generation=server.generation,
            now=time.time(), server_name=request.host or local_ip,
            auto="auto" in request.query.split("&"))
        self._answer(http.message(200, status.HEADERS, content, content_type,
                                  head_only=request.method == "HEAD"), "status page sent")

    def _answer_options(self) -> None:
        """OPTIONS * (or an absolute-form without a path): httpd's http_send_options
        answers 200 with no body, before any section, access rule or handler applies."""
        self._answer(http.options_answer(), "OPTIONS * answered")

    def _answer(self, response: bytes, ending: str) -> None:
        """Send a 200 that geows makes itself, then close."""
        self.sock.sendall(response)
        self._bytes_out += len(response)
        self._sent_head(response)
        self._status = 200
        self._ending = ending

    def _check_access(self, request: http.Request, route: Route, local_ip: str,
                      proxied: bool = False) -> str | None:
        """Refuse whom httpd would refuse, before any plugin (or backend) sees the
        request; the client is who mod_remoteip says it is from here on (logs, rules,
        plugin). Returns the user Basic authentication let through, if any."""
        client_ip, decision, file_name = self.server.access.decide(
            request, route, self.peer_ip, local_ip, proxied)
        if client_ip != self.remote_addr[0]:
            self.remote_addr = (client_ip, self.remote_addr[1])
            self.client = f"{client_ip}:{self.remote_addr[1]}"
        if decision.status is None:
            self._user = decision.user
            return decision.user
        for line in (*decision.log_notes, decision.log_message):
            if line:
                auth_log.error("[client %s] %s", self.client, line)
        raise HttpError(decision.status, f"access denied to {file_name}", decision.headers)

    def _after_body(self, request: http.Request) -> bytes:
        """What follows the request's body: an RFC 6455 handshake has no use for one, but a
        proxy in front (Apache) forwards one announced with Content-Length, and the frames
        come after it. (draft-76's Content-Length: 8 is its key3, the protocol's own.)"""
        length = request.content_length  # checked by the parser, as httpd checks it
        if self.protocol.name != "rfc6455" or length is None:
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
        self._tls = (self.sock.version(), self.sock.cipher()[0])

    def _read_head(self) -> http.Request:
        """The request head, under mod_reqtimeout's header budget and core's LimitRequest*."""
        self._local = local_ip, local_port = self.sock.getsockname()[:2]
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
                    self._request_line = parser.request_line[:200]
                raise
        return request

    def _finish_handshake(self) -> None:
        """Send the 101 once the protocol has all it needs (draft-76: key3)."""
        with self._lock:
            sent = self._flush()
        while self.protocol.state is State.CONNECTING:
            data = self._recv_with_budget()
            if not data:
                raise ConnectionResetError("client closed during the handshake")
            with self._lock:
                self.protocol.receive_data(data)
                sent += self._flush()
        self._sent_head(sent)

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
        self._bytes_in += len(data)
        if config.header_min_rate:
            self._deadline = min(self._deadline + len(data) / config.header_min_rate,
                                 self._started + config.header_timeout_max)
        return data

    def _pump(self, plugin: Any, state: Any, handle: WebSocketServer) -> None:
        """Read, feed the protocol, hand whole messages to the plugin, until closed."""
        protocol = self.protocol
        while True:
            if self.server.message_memory.closed:
                self._end_for_memory()
            self._dispatch(plugin, state, handle)
            with self._lock:
                self._flush()  # the plugin's replies to this parse, in one write
            if protocol.state is State.CLOSED:
                return
            # recv() does not yield while bytes wait, so turns go by time: this parse and
            # the next are at most limits.FRAMES_PER_PARSE frames, of any kind.
            fairness.give_way()
            if protocol.more_to_parse:
                with self._lock:
                    protocol.receive_data(b"")
                continue
            try:
                data = self.sock.recv(limits.RECV_SIZE)
            except OSError:  # reset by the peer, or woken by _wake_reader: the end
                data = b""
            self._bytes_in += len(data)
            with self._lock:
                if data:
                    self._heard = time.monotonic()
                    protocol.receive_data(data)
                else:
                    if protocol.state is State.OPEN and self._ending == "open":
                        self._ending = "connection dropped"
                    protocol.receive_eof()

    def _end_for_memory(self) -> None:
        """Log the connections WebSocketMessageMemory closed (the protocol queued their close
        frames) and send those frames: the evicted ones' readers are waiting in recv()."""
        limit = self.server.message_memory.limit
        owners = {c.protocol: c for c in self.server.connections if c.protocol is not None}
        for closed in self.server.message_memory.take_closed():
            connection = owners.get(closed.holder)
            if connection is None:
                continue  # it ended meanwhile
            if not closed.evicted:
                log.error("[client %s] closed with 1009: its incomplete message would hold %d "
                          "bytes, more than WebSocketMessageMemory (%d bytes)",
                          connection.client, closed.held, limit)
                continue
            by = owners.get(closed.by)
            log.error("[client %s] closed with 1013 (Try Again Later): its incomplete message "
                      "held %d bytes, the oldest of this worker's, when [client %s] needed "
                      "room in WebSocketMessageMemory (%d bytes)", connection.client,
                      closed.held, by.client if by else "-", limit)
            connection._ending = "closed with 1013: WebSocketMessageMemory full"
            gevent.spawn(connection._flush_and_wake)

    def _dispatch(self, plugin: Any, state: Any, handle: WebSocketServer) -> None:
        for event in self.protocol.events_received():
            if isinstance(event, Message):
                self._messages_in += 1
                try:
                    plugin.on_message(state, handle, event.type, event.data)
                except ConnectionClosed:
                    pass  # the plugin sent after the peer left: an ordinary end
                except Exception:
                    log.error("[client %s] plugin on_message raised; closing the connection",
                              self.client, exc_info=True)
                    self.close(1011, "plugin error")
            elif isinstance(event, CloseReceived):
                if self._ending == "open":
                    self._ending = "client closed"
            elif isinstance(event, ProtocolError):
                log.info("[client %s] protocol error: %s", self.client, event.reason)
                self._ending = f"protocol error: {event.reason}"

    # WebSocketPing: an open connection's liveness, where its location asks for it.

    def _watch_liveness(self, interval: float, timeout: float) -> None:
        """Ping the client after `interval` seconds of silence; fail the connection if
        nothing at all comes `timeout` seconds after the ping. Protocols without pings
        (draft-76) get TCP keepalive: the kernel probes and ends a dead peer's connection."""
        if self.protocol.has_pings:
            self._arm_ping(interval)
            return
        # The kernel counts whole seconds: probes at least 1 s apart span the timeout.
        probes = min(limits.KEEPALIVE_PROBES, max(1, int(timeout)))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, math.ceil(interval))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL,
                             max(1, round(timeout / probes)))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, probes)

    def _arm_ping(self, delay: float) -> None:
        self._ping_timer = self.server.hub.loop.timer(delay)
        self._ping_timer.start(self._ping_due)

    def _ping_due(self) -> None:
        """The ping timer, run by the hub. It is not reset on every read: when it fires, the
        time of the last bytes received says whether to wait longer, ping, or - a ping
        having gone unanswered for the timeout - fail the connection."""
        if not self.is_open:
            return  # closing: CLOSE_TIMEOUT bounds the wait
        interval, timeout = self.settings.ping
        now = time.monotonic()
        if self._pinged and self._heard < self._pinged and not self._unread():
            self._ending = f"no answer to a ping within {timeout:g}s"
            self._wake_reader()  # RFC 6455 7.1.7: close the TCP connection, no close frame
            return
        self._pinged = 0.0
        silent = now - self._heard
        if silent < interval:
            self._arm_ping(interval - silent)
            return
        self.protocol.send(PING, b"")
        self._flush_later()
        self._pinged = now
        self._arm_ping(timeout)

    def _unread(self) -> bool:
        """Whether bytes wait unread in the socket: the client did answer, while the reader
        was held up in a plugin's call."""
        waiting = fcntl.ioctl(self.sock.fileno(), termios.FIONREAD, struct.pack("i", 0))
        return struct.unpack("i", waiting)[0] > 0

    def _flush_or_closed(self) -> None:
        try:
            self._flush()
        except OSError as exc:
            raise ConnectionClosed(f"the peer is gone: {exc}") from exc

    def _flush(self) -> bytes:
        """Write what the protocol queued, and return it; caller holds the lock."""
        self._flush_pending = False
        data = self.protocol.data_to_send()
        self._queued = 0
        if data:
            # Our own loop rather than sendall(): it costs gevent an extra syscall
            # per call, and `unsent` must see what the kernel has not taken yet.
            view = memoryview(data)
            try:
                while view:
                    self._writing = len(view)
                    sent = self.sock.send(view)
                    self._bytes_out += sent
                    view = view[sent:]
            finally:
                self._writing = 0
        return data

    def _sent_head(self, data: bytes) -> None:
        """Note the response head at the start of `data`, which went out."""
        self._head_size = data.find(b"\r\n\r\n") + 4
        if geows_log.uses("o"):
            self._response_head = data[:self._head_size]

    def _refuse(self, error: HttpError) -> None:
        self._status = error.status
        self._ending = error.reason
        log.info("[client %s] %s %s: %s", self.client, self._request_line, error.status,
                 error.reason)
        response = http.response(error.status, error.headers)
        try:
            self.sock.sendall(response)
        except OSError:
            return  # the client is gone; nothing left to tell it
        self._bytes_out += len(response)
        self._sent_head(response)

    def _log_access(self) -> None:
        if geows_log.custom_logs():
            # As httpd: a line for each request answered, none for a connection closed
            # before it sent one (a 408 for one too slow to send it is answered).
            if self._request is not None or self._status != "-":
                geows_log.access(*self._access_entry())
            return
        protocol = self.protocol.label if self.protocol and self._status == 101 else "-"
        access_log.info(
            '%s "%s" %s %s %.3fs in=%d out=%d "%s"',
            self.client, escape(self._request_line), self._status, protocol,
            time.monotonic() - self._started, self._messages_in, self._messages_out,
            escape(self._ending))

    def _access_entry(self) -> tuple[Entry, ServerLogs]:
        """What this connection's access log lines can tell, and its server's logs."""
        config = self.server.config
        request = self._request
        local_ip, local_port = self._local or ("-", 0)
        if self._route is not None:
            logs = self._route.logs
        else:  # not routed: no head, OPTIONS * or over MaxRequestWorkers
            host = request.host if request is not None else None
            vhost = config.virtual_host(host, local_port, local_ip) if self._local else None
            logs = config.logs if vhost is None else vhost.logs
        duration = time.monotonic() - self._started
        ended = time.time()
        websocket = self._status == 101 and self.protocol is not None
        notes = {"geows-ending": self._ending}
        if websocket:
            notes.update({"geows-protocol": self.protocol.label,
                          "geows-messages-in": str(self._messages_in),
                          "geows-messages-out": str(self._messages_out)})
        entry = Entry(
            client_ip=self.remote_addr[0], peer_ip=self.peer_ip,
            remote_port=self.remote_addr[1],
            local_ip=local_ip.removeprefix("::ffff:") if "." in local_ip else local_ip,
            local_port=local_port, began=ended - duration, ended=ended, duration=duration,
            server=logs.names, request=request,
            status=self._status if isinstance(self._status, int) else None,
            response_head=self._response_head,
            body_bytes=None if self._head_size is None
            else max(0, self._bytes_out - self._head_size),
            bytes_in=self._bytes_in, bytes_out=self._bytes_out, user=self._user,
            keepalives=self._messages_in - 1
            if self._handler == "proxy-server" and self._messages_in else 0,
            aborted="dropped" in self._ending,  # "connection dropped", its own or a forwarded one's
            handler=self._handler, tls=self._tls, notes=notes)
        return entry, logs


def _add(row: list[int], *values: int) -> None:
    """Add the values to a row of counters, in place."""
    for i, value in enumerate(values):
        row[i] += value


def _payload(type: int, data: str | bytes) -> bytes:
    """A message's bytes, checked where a plugin's OS thread hands it over, so that a
    bad one raises there (ValueError) rather than in the hub."""
    if type not in (TEXT, BINARY, PING, PONG, CLOSE):
        raise ValueError(f"unknown message type {type}")
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if type == TEXT:
        payload.decode("utf-8")  # UnicodeDecodeError is a ValueError
    return payload
