"""The server: one gevent StreamServer per Listen, one greenlet per connection, and the
watchdog (geows.runtime.watchdog) that says when a plugin call holds them all.

Each accepted connection is a `Handshake` (geows.runtime.handshake), which becomes a
`Session` (geows.runtime.session) once upgraded. The server keeps what they share: the
open connections per location and the members of each of its rooms (what a broadcast
reaches, here and, through the master, in the other workers, or with WebSocketBroadcast
through the link to Redis it is handed, geows.cluster.link, on every host), the work OS
threads hand over, WebSocketMessageMemory, the count of open connections against
MaxRequestWorkers (its own, or the one every worker shares, handed in), and the figures of
the status page.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import resource
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Protocol

import gevent
from gevent import monkey
from gevent.pool import Pool
from gevent.server import StreamServer

from geows import limits
from geows.access.control import AccessControl
from geows.config import Config, Listener, WebSocketSettings
from geows.config.model import host_port
from geows.messages import CLUSTER, HOST, LOCAL, Broadcast
from geows.plugin.threads import wait_for_threads
from geows.protocols.memory import MessageMemory
from geows.runtime import status
from geows.runtime.handshake import Handshake
from geows.runtime.log import AccessLogs
from geows.runtime.session import ConnectionGreenlet, Session
from geows.runtime.watchdog import Watchdog

if TYPE_CHECKING:
    from geows.cluster.figures import LinkFigures
    from geows.cluster.link import Link

log = logging.getLogger("geows.server")

# The real thread primitives: monkeypatching turns threading's into greenlet ones,
# which cannot tell an OS thread (a C plugin's pthread) from the hub's.
_thread_ident = monkey.get_original("_thread", "get_ident")
_os_sleep = monkey.get_original("time", "sleep")
_os_lock = monkey.get_original("_thread", "allocate_lock")


# Hands a broadcast to the other workers: location name, message type, data, room (None:
# the whole location). OSError when they cannot be reached.
Relay = Callable[[str, int, str | bytes, str | None], None]


class Server:
    """Serves every WebSocket location of one configuration."""

    def __init__(self, config: Config, plugins: dict[WebSocketSettings, Any],
                 access: AccessControl, relay: Relay | None = None, generation: int = 0,
                 *, access_logs: AccessLogs, count: OpenCount | None = None):
        """`count`: where the open connections are counted against the cap (a worker's:
        shared with every worker, geows.process.shares); this process's own by default."""
        self.config = config
        self.plugins = plugins
        self.access = access
        self.access_logs = access_logs  # what log.configure(config) opened
        self.connections: set[Handshake] = set()
        # Open connections per WebSocketHandler line: what a broadcast reaches.
        self.locations: dict[WebSocketSettings, set[Session]] = {
            settings: set() for settings in plugins}
        # This worker's members of each room, per location (Server.join): a room holds
        # while it has members here, and every worker keeps its own.
        self.members: dict[WebSocketSettings, dict[str, set[Session]]] = {
            settings: {} for settings in plugins}
        # A broadcast also goes to the other workers' connections of the location, by name:
        # relay(name, type, data, room) hands it on (the worker's: through the master).
        self.relay = relay
        # The link to Redis (WebSocketBroadcast), which the process starts and hands in.
        self.link: Link | None = None
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
        # unbounded; StreamServer needs a Pool, not a Group
        self._group = Pool(greenlet_class=ConnectionGreenlet)
        soft_fds = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if soft_fds == resource.RLIM_INFINITY:
            soft_fds = 1 << 20
        # MaxRequestWorkers counts every worker's connections, as httpd's counts every
        # child's threads (`count` holds them all); without it, the descriptor limit caps
        # this process's own.
        self.max_connections = config.max_connections or \
            max(1, soft_fds - limits.MAX_CONNECTIONS_FD_RESERVE)
        self.count = count or OwnCount()
        self._servers: list[_Listening] = []
        self._watchdog: Watchdog | None = None  # WebSocketWatchdog, while serving
        # What the status page shows of this process (snapshot).
        self.generation = generation  # the server's restarts before this process started
        self.started = time.time()
        self.state = "serving"        # "draining" once stop() begins
        self.accepted = 0             # connections accepted, of any kind
        self.server_started = self.started  # a worker's: the master's, from its assignment
        self.others: list[dict[str, Any]] = []  # the other workers' snapshots (the master's)
        # The master's own (status.render): what the workers that ended counted, its serving
        # generation's empty slots, the broadcasts it dropped for workers that took nothing.
        self.master_figures: dict[str, Any] = {}
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
                server = _Listening(listener, sockets[listener.host, listener.port],
                                    self._handle, contexts[listener], spawn=self._group)
                server.start()
                self._servers.append(server)
        except OSError:
            self.stop()
            raise
        if self.config.watchdog is not None:
            self._watchdog = Watchdog(self, self.config.watchdog)
            self._watchdog.start()

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
            if connection.session is not None:  # 1001: going away (RFC 6455 7.4.1)
                connection.session.close(1001, "server stopping")
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
        if self._watchdog is not None:
            self._watchdog.stop()
        if self.link is not None:
            self.link.stop()

    def broadcast(self, settings: WebSocketSettings, type: int, data: str | bytes,
                  room: str | None = None, count_timeout: float | None = None) -> Broadcast:
        """Queue one message for every open connection of a location (or, with `room`, for
        that room's members): with a link to Redis (WebSocketBroadcast, the location's scope
        cluster), every host's, in the location's one order (geows.cluster.link); otherwise
        this worker's (in the hub's thread) and, through the master, the other workers'.
        Returns how many of this worker's took it, with the message's place in the order
        and its scope, and with `count_timeout` through Redis the count across hosts
        (messages.Broadcast)."""
        name = self.location_names[settings]
        if self.link is not None and settings.broadcast_scope == CLUSTER:
            return self.link.publish(name, type, data, room, count_timeout)
        return Broadcast(self.broadcast_here(name, type, data, room), HOST)

    def broadcast_scope(self, settings: WebSocketSettings) -> str:
        """The scope a broadcast of the location gets now (what an OS thread's broadcast,
        handed over before it is made, is told)."""
        if self.link is None or settings.broadcast_scope != CLUSTER:
            return HOST
        return CLUSTER if self.link.figures().up else LOCAL

    def broadcast_here(self, name: str, type: int, data: str | bytes,
                       room: str | None = None) -> int:
        """To this host's connections of the location of that name (or the room's
        members): this worker's, and the other workers' through the master; how many of
        this worker's took it."""
        sent = self.deliver_relayed(name, type, data, room)
        if self.relay is not None:
            try:
                self.relay(name, type, data, room)
            except OSError:
                log.error("a broadcast could not reach the other workers: the master is gone")
        return sent

    def deliver_relayed(self, name: str, type: int, data: str | bytes,
                        room: str | None = None) -> int:
        """A broadcast from another worker or through Redis: to this worker's connections
        of the location of that name, or to that room's members (none when this worker's
        config has no such location, or the room no member here); how many took it."""
        settings = self._by_name.get(name)
        if settings is None:
            return 0
        return self.deliver(settings, type, data, room)

    def make_room(self, name: str, deadline: float) -> None:
        """Before the link delivers a message read from history (a repair comes as a burst,
        up to WebSocketBroadcastHistory messages): wait while connections of the location
        hold more than half of limits.SEND_BUFFER and take some of it within
        limits.BROADCAST_REPAIR_PROGRESS, until `deadline` at most. A client that reads
        gets the burst at its pace; one that stopped reading is not waited for, and
        send_nowait closes it (1008) as it closes it for any broadcast."""
        settings = self._by_name.get(name)
        if settings is None:
            return
        half = limits.SEND_BUFFER // 2
        holding = {c: c.unsent for c in self.locations[settings] if c.unsent > half}
        while holding and time.monotonic() < deadline:
            gevent.sleep(limits.BROADCAST_REPAIR_PROGRESS)
            holding = {c: c.unsent for c, held in holding.items()
                       if c.is_open and half < c.unsent < held}

    def link_figures(self) -> LinkFigures | None:
        """The link to Redis' figures for the status page; None without one."""
        return None if self.link is None else self.link.figures()

    def audience(self, settings: WebSocketSettings, room: str | None) -> set[Session]:
        """This worker's open connections of the location, or the room's members."""
        return self.locations[settings] if room is None else \
            self.members[settings].get(room, set())

    def deliver(self, settings: WebSocketSettings, type: int, data: str | bytes,
                room: str | None = None) -> int:
        """Queue the message for this worker's open connections of the location, or of
        the room; returns how many took it."""
        connections = list(self.audience(settings, room))
        if gevent.getcurrent() is not self.hub and \
                any(c.unsent > limits.SEND_BUFFER for c in connections):
            # A sender in a tight loop starves the writers: let them hand what they
            # hold to the kernel first, so that only a client that truly stopped
            # reading is still over the limit below.
            gevent.idle()
        return sum(connection.send_nowait(type, data) for connection in connections)

    def join(self, session: Session, room: str) -> None:
        """Make the connection a member of its location's room (in the hub's thread)."""
        self.members[session.settings].setdefault(room, set()).add(session)
        if not session.room_set:  # a session holds no set of its own before it joins
            session.room_set = set()
        session.room_set.add(room)

    def leave(self, session: Session, room: str) -> None:
        """The connection is no member of the room any more; a room without members
        here is forgotten."""
        rooms = self.members[session.settings]
        members = rooms.get(room)
        if members is None or session not in members:
            return
        members.remove(session)
        if not members:
            del rooms[room]
        session.room_set.discard(room)

    def room_counts(self) -> dict[str, dict[str, int]]:
        """Location name -> room -> its members on this worker (rooms with members only)."""
        return {self.location_names[settings]: {room: len(members)
                                                for room, members in rooms.items()}
                for settings, rooms in self.members.items()}

    def report_gap(self, name: str, first: int, last: int) -> None:
        """Broadcasts `first` to `last` (sequence numbers) of the location of that name are
        lost for good (the link could not repair them from history): say so in the error
        log, and call the plugin's on_broadcast_gap in a greenlet of its own, so that it
        may tell its clients to resync."""
        log.error("%s: broadcasts %d to %d are lost: this worker's clients of the location "
                  "never got them", name, first, last)
        settings = self._by_name.get(name)
        if settings is None:
            return
        callback = getattr(self.plugins[settings], "on_broadcast_gap", None)
        if callback is not None:
            gevent.spawn(_call_gap, callback, name, first, last)

    def call_from_thread(self, size: int, function: Any, *args: Any) -> None:
        """From an OS thread: have a greenlet run function(*args) after everything
        handed over before it; `size` bytes count against the threads' bound until then."""
        with self._from_threads_lock:
            self._from_threads.append((size, function, args))
            self.handed += size
        self.hub.loop.run_callback_threadsafe(self._start_thread_worker)

    def in_order(self, function: Callable[..., None], *args: Any) -> None:
        """Run function(*args) after what OS threads handed over before; from an OS
        thread, hand it over (it runs in that thread's order)."""
        if _thread_ident() != self.hub_thread:
            self.call_from_thread(0, function, *args)
            return
        self.catch_up()
        function(*args)

    def wait_for_room(self, deadline: float, connection: Session | None = None) -> bool:
        """In an OS thread: wait while what threads handed over (or this connection's
        unsent output) is over limits.SEND_BUFFER; False if it still is at `deadline`."""
        while self.handed > limits.SEND_BUFFER or (
                connection is not None and connection.may_send
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
        pid, started (Unix time), generation, state, open and accepted connections, per
        WebSocket location name and protocol label the status.COUNTERS, the rooms'
        members (room_counts), and the link to Redis' figures (link_figures, as a dict;
        None without one)."""
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
                "locations": locations, "rooms": self.room_counts(),
                "link": None if (link := self.link_figures()) is None else asdict(link)}

    def status_snapshots(self) -> list[dict[str, Any]]:
        """Every worker process's latest snapshot, which the status page sums: this one's
        as it stands, the others' as the master last passed them on (limits.STATUS_INTERVAL)."""
        return [self.snapshot(), *self.others]

    def websocket_ended(self, connection: Session) -> None:
        """Keep the counts of a WebSocket connection that ends in its location's totals."""
        key = (self.location_names[connection.settings], connection.protocol.label)
        _add(self._ended.setdefault(key, [0, 0, 0, 0]), 0, 1, *connection.messages)

    def end_for_memory(self) -> None:
        """Log the connections WebSocketMessageMemory closed (the protocol queued their close
        frames) and send those frames: the evicted ones' readers are waiting in recv()."""
        limit = self.message_memory.limit
        owners = {c.session.protocol: c.session for c in self.connections
                  if c.session is not None}
        for closed in self.message_memory.take_closed():
            session = owners.get(closed.holder)
            if session is None:
                continue  # it ended meanwhile
            if not closed.evicted:
                log.error("[client %s] closed with 1009: its incomplete message would hold %d "
                          "bytes, more than WebSocketMessageMemory (%d bytes)",
                          session.record.client, closed.held, limit)
                continue
            by = owners.get(closed.by)
            log.error("[client %s] closed with 1013 (Try Again Later): its incomplete message "
                      "held %d bytes, the oldest of this worker's, when [client %s] needed "
                      "room in WebSocketMessageMemory (%d bytes)", session.record.client,
                      closed.held, by.record.client if by else "-", limit)
            session.record.ending = "closed with 1013: WebSocketMessageMemory full"
            gevent.spawn(session.flush_and_wake)

    def _handle(self, tls_context: ssl.SSLContext | None, sock: socket.socket,
                address: tuple) -> None:
        """One accepted connection, to its end, in a greenlet of its own (_Listening); its
        socket is closed however it ends (by the handshake reader, or here if none was made)."""
        self.accepted += 1
        try:
            admitted = self.count.take(self.max_connections,
                                       whole_server=self.config.max_connections is not None)
        except BaseException:
            sock.close()
            raise
        connection = Handshake(self, sock, address, tls_context, admitted=admitted)
        self.connections.add(connection)
        try:
            connection.handle()
        finally:
            self.connections.discard(connection)
            if admitted:
                self.count.give()


class OpenCount(Protocol):
    """Where a server counts its open connections against the cap."""

    def take(self, limit: int, *, whole_server: bool) -> bool:
        """One connection more, if under `limit`: every process's (`whole_server`) or this
        one's own."""

    def give(self) -> None:
        """A connection taken has ended."""


class OwnCount:
    """This process's open connections, when it serves alone (-X)."""

    def __init__(self) -> None:
        self.open = 0

    def take(self, limit: int, *, whole_server: bool) -> bool:
        if self.open >= limit:
            return False
        self.open += 1
        return True

    def give(self) -> None:
        self.open -= 1


def _run_handle(handle: Callable[..., None], tls_context: ssl.SSLContext | None,
                sock: socket.socket, address: tuple) -> None:
    """A connection's greenlet: a plain function, as a bound method or a partial started
    from the greenlet's C code takes more of the C stack than one (measured), calling
    `handle` with its arguments spelled out (f(*args) would be a C call too)."""
    handle(tls_context, sock, address)


class _Listening(StreamServer):
    """A Listen's StreamServer. When accept() fails (out of descriptors: EMFILE, ENFILE;
    out of socket memory), the error log says so with what to raise, at most once per
    limits.LOG_FAILURE_REPORT with how many failed, rather than gevent printing a
    traceback per failure on stderr; accepting pauses meanwhile, doubling the pause up to
    gevent's max_delay as gevent does, and new connections wait in the listen backlog.

    `handle(tls_context, sock, address)` runs in each connection's greenlet, and closes the
    socket itself."""

    def __init__(self, listener: Listener, sock: socket.socket, handle: Callable[..., None],
                 tls_context: ssl.SSLContext | None, spawn: Pool):
        super().__init__(sock, handle, spawn=spawn)
        self.listener = listener
        self.tls_context = tls_context
        self.pause = self.min_delay
        self.failures = 0  # accept()s failed since the last report
        self.said = -math.inf

    def do_handle(self, sock: socket.socket, address: tuple) -> None:
        """gevent's, less its wrapper (_handle_and_close_when_done, which closed the socket
        after `handle`, and called it through a C call): the greenlet runs a plain function
        that calls `handle`, so that its C stack, of which every idle connection's greenlet
        keeps a copy, is about 0.5 KB shallower."""
        try:
            self._spawn(_run_handle, self._handle, self.tls_context, sock, address)
        except BaseException:
            sock.close()
            raise

    def do_read(self) -> tuple[socket.socket, Any] | None:
        try:
            accepted = super().do_read()
        except OSError as exc:
            if self.is_fatal_error(exc):
                raise  # the listening socket itself is gone: gevent closes this server
            self._failed(exc)
            return None
        self.pause = self.min_delay
        return accepted

    def _failed(self, error: OSError) -> None:
        self.failures += 1
        now = time.monotonic()
        if now - self.said >= limits.LOG_FAILURE_REPORT:
            self.said = now
            listener = self.listener
            log.error("%s:%d: Listen %s: accept() failed %d time(s): %s; %s; new connections "
                      "wait in the listen backlog meanwhile", listener.file, listener.line,
                      host_port(listener.host, listener.port), self.failures, error,
                      _accept_advice(error))
            self.failures = 0
        # As gevent's own _do_read pauses after an error (its timer, which close() stops).
        self.stop_accepting()
        self._timer = self.loop.timer(self.pause)
        self._timer.start(self._start_accepting_if_started)
        self.pause = min(self.max_delay, self.pause * 2)


def _accept_advice(error: OSError) -> str:
    """What an accept() error asks of the operator."""
    if error.errno == errno.EMFILE:
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        return (f"this process may have {soft} files open: raise that limit (ulimit -n; "
                "LimitNOFILE= under systemd), or lower MaxRequestWorkers")
    if error.errno == errno.ENFILE:
        return "the system's table of open files is full: raise fs.file-max (sysctl)"
    if error.errno in (errno.ENOBUFS, errno.ENOMEM):
        return "the system is short of memory for sockets"
    return "accepting pauses"


def _call_gap(callback: Callable[[str, int, int], None], name: str, first: int,
              last: int) -> None:
    try:
        callback(name, first, last)
    except Exception:
        log.error("%s: plugin on_broadcast_gap(%d, %d) raised", name, first, last,
                  exc_info=True)


def _add(row: list[int], *values: int) -> None:
    """Add the values to a row of counters, in place."""
    for i, value in enumerate(values):
        row[i] += value

