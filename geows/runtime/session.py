"""A WebSocket session: the 101 answered, then the message pump, until it closes.

`Session.run` answers the handshake, hands each whole message to the plugin, writes what
the plugin sends (from any greenlet, or handed over from OS threads; what it sends before
the 101 is out is held and written right after it, in order), pings a silent
client where WebSocketPing asks for it, and - however it ends - calls on_disconnect once.
It is the channel behind the plugin's `WebSocketServer` handle. It writes to the socket the
handshake reader gives it, and notes what it does in the connection's access record.
"""

from __future__ import annotations

import fcntl
import logging
import math
import socket
import struct
import termios
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gevent
from gevent import Greenlet, monkey
from gevent.event import Event
from gevent.socket import socket as GeventSocket

from geows import limits
from geows.config import WebSocketSettings
from geows.errors import ConnectionClosed
from geows.messages import BINARY, CLOSE, PING, PONG, TEXT, Broadcast
from geows.plugin.api import WebSocketServer
from geows.protocols import CloseReceived, Message, ProtocolError, State, WebSocketProtocol
from geows.runtime import fairness
from geows.runtime.record import Record

if TYPE_CHECKING:
    from geows.runtime.server import Server

log = logging.getLogger("geows.server")

# Who writes what a session has queued: nobody needs to (NOTHING); the reader, after it
# dispatches the read, or its ConnectionGreenlet's switch_out if its plugin blocks first
# (AFTER_DISPATCH); a hub callback already scheduled, which writes all that is queued by then
# (SCHEDULED), so that one is scheduled at a time however many sends and switches come.
NOTHING, AFTER_DISPATCH, SCHEDULED = range(3)

# The rooms of every session that never joined one: a set costs 216 bytes per connection.
NO_ROOMS: frozenset[str] = frozenset()

# The real thread primitive: monkeypatching turns threading's into a greenlet one, which
# cannot tell an OS thread (a C plugin's pthread) from the hub's.
_thread_ident = monkey.get_original("_thread", "get_ident")


class ConnectionGreenlet(Greenlet):
    """The greenlet that serves one connection (the server's Pool makes them). gevent calls
    `switch_out` before every switch to the hub: when the greenlet's session holds replies
    to the read it is dispatching (its plugin blocked in on_message after sending), they go
    out then, on the hub's next turn. A hub callback per reply did that before, and in a
    worker each one's object stayed in memory for good, about 125 bytes a message
    (bench/RESULTS-soak.md)."""

    __slots__ = ("session",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session: Session | None = None

    def switch_out(self) -> None:
        session = self.session
        if session is not None and session._unwritten == AFTER_DISPATCH:
            session.flush_later()


class Session:
    """One WebSocket connection after its protocol is chosen.

    Writers: the reader greenlet queues replies and writes them after each read;
    other greenlets queue and write at once; one writes at a time (`_flush`: a write
    the kernel does not take whole waits, and the next writer waits for it); OS threads
    hand messages over (Server.call_from_thread) and never wait for the hub to take
    them, so a plugin that joins its thread in on_disconnect cannot deadlock against a
    send.
    """

    # Thousands live at once, mostly idle: slots keep each one small.
    __slots__ = ("server", "sock", "protocol", "settings", "record", "_write_done", "_reader",
                 "_held", "_unwritten", "_queued", "_writing", "_finished", "_close_timer",
                 "heard", "_pings", "room_set", "__weakref__")

    def __init__(self, server: Server, sock: socket.socket, protocol: WebSocketProtocol,
                 settings: WebSocketSettings, record: Record):
        self.server = server
        self.sock = sock
        self.protocol = protocol
        self.settings = settings
        self.record = record
        # Set while a write waits for the kernel (it yields mid-frame): the next writer
        # waits for it. Made by such a write only: an idle connection holds none.
        self._write_done: Event | None = None
        self._reader = gevent.getcurrent()   # the greenlet reading this connection
        if isinstance(self._reader, ConnectionGreenlet):
            self._reader.session = self  # it writes the replies when it switches out
        self._held: HeldSends | None = HeldSends()  # None once the 101 is out
        self._unwritten = NOTHING  # who writes what is queued
        self._queued = 0           # payload bytes queued since the last write began
        self._writing = 0          # bytes of the write in progress
        self._finished = False     # on_disconnect is due: nothing more is sent
        self._close_timer: gevent.Greenlet | None = None
        self.heard = record.started  # when bytes last came from the client
        self._pings: _Pings | None = None  # WebSocketPing, on protocols with pings
        # Its rooms (Server.join and leave change it): none of its own until it joins one.
        self.room_set: set[str] | frozenset[str] = NO_ROOMS

    # The channel a plugin's WebSocketServer handle talks to.

    @property
    def handshake_done(self) -> bool:
        return self.protocol.state is not State.CONNECTING

    @property
    def is_open(self) -> bool:
        return not self._finished and self.protocol.state is State.OPEN

    @property
    def messages(self) -> tuple[int, int]:
        """Messages received and sent so far."""
        return self.record.messages_in, self.record.messages_out

    @property
    def unsent(self) -> int:
        """Bytes given to send that the kernel has not taken yet (payload sizes
        for those still queued or held, near enough)."""
        return self._queued + self._writing + (self._held.size if self._held else 0)

    @property
    def may_send(self) -> bool:
        """Open, or its handshake not answered yet (a message is then held)."""
        return not self._finished and self.protocol.state in (State.CONNECTING, State.OPEN)

    def send(self, type: int, data: str | bytes) -> int:
        """Send one message (see WebSocketServer.send); from any greenlet or OS thread."""
        if _thread_ident() != self.server.hub_thread:
            return self._send_from_thread(type, data)
        self.server.catch_up()
        if type == CLOSE:
            self.close()
            return 0
        self._check_open()
        if self._held is not None:
            return self._held.add(type, _payload(type, data))
        # Queuing never yields, so no other writer can come between, and a write under way
        # took its bytes out before ours.
        size = self._queue(type, data)
        reader = self._reader
        if gevent.getcurrent() is reader and self.unsent <= limits.SEND_BUFFER:
            # With the other replies to this read, in one write after it, or when the
            # reader switches out before that (ConnectionGreenlet).
            if not isinstance(reader, ConnectionGreenlet):
                self.flush_later()
            elif self._unwritten == NOTHING:
                self._unwritten = AFTER_DISPATCH
        else:
            self._flush_or_closed()  # another greenlet, or a plugin sending in a loop
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
        self.flush_later()
        return True

    def broadcast(self, type: int, data: str | bytes, room: str | None = None,
                  count_timeout: float | None = None) -> Broadcast:
        """Send to the location's open connections, or the room's members (see
        WebSocketServer.broadcast); from an OS thread, handed over: what it reaches and
        its scope as they stand then, and no place in the order or count across hosts
        yet."""
        size = len(_payload(type, data))  # a bad one fails here, not where it is delivered
        if _thread_ident() != self.server.hub_thread:
            self.server.wait_for_room(time.monotonic() + limits.TIMEOUT)
            self.server.call_from_thread(size, self.server.broadcast, self.settings, type, data,
                                         room)
            return Broadcast(len(self.server.audience(self.settings, room)),
                             self.server.broadcast_scope(self.settings))
        self.server.catch_up()
        return self.server.broadcast(self.settings, type, data, room, count_timeout)

    def join(self, room: str) -> None:
        """Become a member of the room (see WebSocketServer.join); from an OS thread it is
        handed over, in order with that thread's sends and broadcasts."""
        if self._finished:
            raise ConnectionClosed("the WebSocket connection has ended")
        self.server.in_order(self._join_unless_ended, room)

    def leave(self, room: str) -> None:
        """Be no member of the room (see WebSocketServer.leave); handed over as join."""
        self.server.in_order(self.server.leave, self, room)

    def leave_rooms(self) -> None:
        """The connection has ended (after on_disconnect, or refused): it leaves every room,
        and joins none from here on."""
        self._finished = True
        for room in list(self.room_set):
            self.server.leave(self, room)

    def _join_unless_ended(self, room: str) -> None:
        if not self._finished:  # it may have ended since a thread asked: it left them all
            self.server.join(self, room)

    def _check_open(self) -> None:
        if not self.may_send:
            raise ConnectionClosed("the WebSocket connection is closed")

    def drop_held(self) -> None:
        """The connection ends before its 101 went out (refused, or the client left): what
        the plugin sent is let go, and the error log says so (its threads' too: taken first)."""
        if self._held is not None:
            self.server.catch_up()
        if self._held:
            log.info("[client %s] %d message(s) the plugin sent before the handshake was "
                     "answered not sent: the connection ended first", self.record.client,
                     len(self._held.to_send()[0]))
        self._held = None

    def _queue(self, type: int, data: str | bytes) -> int:
        size = self.protocol.send(type, data)
        self._queued += size
        self.record.messages_out += 1
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
        if self._held is not None and self.may_send:
            self._held.add(type, payload)
        elif self.is_open:  # it may have closed since the thread looked
            self._queue(type, payload)
            self.flush_later()

    def flush_later(self) -> None:
        """Replies made while handling a read go out in one write after it, or as
        soon as the plugin blocks (sleeps, waits on I/O) before that; messages
        queued by anyone else go out on the hub's next turn."""
        if self._unwritten != SCHEDULED:  # one at a time: it writes all that is queued
            self._unwritten = SCHEDULED
            self.server.hub.loop.run_callback(self._flush_if_blocked)

    def _flush_if_blocked(self) -> None:
        # Runs in the hub, which cannot block: a greenlet does the write.
        if self._unwritten != NOTHING:
            gevent.spawn(self._flush_now)

    def _flush_now(self) -> None:
        try:
            self._flush()
        except OSError:
            pass  # the reader sees the broken connection and ends it

    def close(self, code: int | None = None, ending: str = "closed by the plugin") -> None:
        """Start the closing handshake without waiting for it; the connection
        ends when the peer answers, or CLOSE_TIMEOUT later (mod_websocket waited
        forever). Safe from any greenlet or OS thread. Without a code, the close frame
        has none (the client reads 1005), as mod_websocket's close() sends it."""
        if _thread_ident() != self.server.hub_thread:
            self.server.call_from_thread(0, self.close, code, ending)
            return
        if self._held is not None and self.may_send:
            self._held.add(CLOSE)  # after the 101 and what came before it
            return
        if not self.is_open:
            return
        self.record.ending = ending
        self.protocol.close(code)
        self._close_timer = gevent.spawn_later(limits.CLOSE_TIMEOUT, self._close_timed_out)
        if gevent.getcurrent() is not self._reader:
            gevent.spawn(self.flush_and_wake)
        # else the reader writes the close after its dispatch, as any reply

    def flush_and_wake(self) -> None:
        """Write the close frame the protocol queued, and end the reader's wait where no
        answer to it is due."""
        self._flush_now()
        if not self.protocol.close_expected():
            self.wake_reader()  # closed without a handshake (draft-75)

    def _close_timed_out(self) -> None:
        if self.protocol.close_expected():
            self.record.ending += ", close handshake timed out"
            self.wake_reader()

    def wake_reader(self) -> None:
        """End the reader's wait in recv(): it sees EOF and finishes the connection."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed

    # The session's life.

    def run(self, plugin: Any, state: Any, handle: WebSocketServer,
            recv_head: Callable[[], bytes]) -> None:
        """Answer the handshake (with what on_connect chose), pump messages until the
        connection closes, then call on_disconnect, however it ended. `recv_head`
        reads what the handshake still needs (draft-76's key3) under its time budget."""
        record = self.record
        location = self.server.locations[self.settings]
        try:
            self.protocol.accept(handle.subprotocol, handle.response_headers)
            record.sent_head(self._finish_handshake(recv_head))
            del recv_head  # a bound method: this frame lasts as long as the connection
            record.status = 101
            record.protocol = self.protocol.label  # with the extensions accept() agreed on
            if self.is_open:  # else the plugin closed it before the 101 went out
                record.ending = "open"
            location.add(self)
            if self.settings.ping is not None and self.protocol.has_pings:
                self._pings = _Pings(self, self.settings.ping[0])
            elif self.settings.ping is not None:  # draft-76: the kernel probes
                _keep_alive(self.sock, *self.settings.ping)
            self._pump(plugin, state, handle)
        finally:
            if record.status == 101:  # it was in the location
                self.server.websocket_ended(self)
            location.discard(self)
            self._finished = True  # sends from here on fail, from threads too
            self.protocol.receive_eof()  # the socket closes: an incomplete message is let go
            on_disconnect = getattr(plugin, "on_disconnect", None)
            if on_disconnect is not None:
                try:
                    on_disconnect(state, handle)
                except Exception:
                    log.error("[client %s] plugin on_disconnect raised", record.client,
                              exc_info=True)

    def end(self) -> None:
        """The connection ends, its socket about to close: its timers let go, what it held
        for after the 101 dropped, its rooms left, and what refers back to it (its
        protocol's cycles, its reader greenlet) broken, so that it is freed at once."""
        self.stop_timers()
        self.drop_held()
        self.leave_rooms()
        self.protocol.end()
        if isinstance(self._reader, ConnectionGreenlet):
            self._reader.session = None

    def stop_timers(self) -> None:
        """Let the close and ping timers go, as the socket closes."""
        if self._close_timer is not None:
            self._close_timer.kill(block=False)
        if self._pings is not None:
            self._pings.timer.close()
            self._pings = None  # it refers back to the session

    def _finish_handshake(self, recv_head: Callable[[], bytes]) -> bytes:
        """Send the 101 once the protocol has all it needs (draft-76: key3); returns
        what was sent, the response head first."""
        sent = bytes(self._flush_answered())
        while self.protocol.state is State.CONNECTING:
            data = recv_head()
            if not data:
                raise ConnectionResetError("client closed during the handshake")
            self.protocol.receive_data(data)
            sent += self._flush_answered()
        return sent

    def _flush_answered(self) -> bytes | bytearray:
        """Write the 101 once the protocol has made it, and what was held right after it."""
        if self._held is not None and self.protocol.state is not State.CONNECTING:
            messages, closing = self._held.to_send()
            self._held = None
            for type, payload in messages:
                self._queue(type, payload)
            if closing:
                self.close()
        return self._flush()

    def _pump(self, plugin: Any, state: Any, handle: WebSocketServer) -> None:
        """Read, feed the protocol, hand whole messages to the plugin, until closed."""
        protocol = self.protocol
        record = self.record
        while True:
            if self.server.message_memory.closed:
                self.server.end_for_memory()
            self._dispatch(plugin, state, handle)
            self._flush()  # the plugin's replies to this parse, in one write
            if protocol.state is State.CLOSED:
                return
            if protocol.more_to_parse:
                # Each parse is at most limits.FRAMES_PER_PARSE frames, of any kind: the rest
                # waits its turn.
                fairness.give_way()
                protocol.receive_data(b"")
                continue
            try:
                data = _recv(self.sock)
            except OSError:  # reset by the peer, or woken by wake_reader: the end
                data = b""
            record.bytes_in += len(data)
            if data:
                self.heard = time.monotonic()
                protocol.receive_data(data)
            else:
                if protocol.state is State.OPEN and record.ending == "open":
                    record.ending = "connection dropped"
                protocol.receive_eof()

    def _dispatch(self, plugin: Any, state: Any, handle: WebSocketServer) -> None:
        record = self.record
        for event in self.protocol.events_received():
            if isinstance(event, Message):
                record.messages_in += 1
                try:
                    plugin.on_message(state, handle, event.type, event.data)
                except ConnectionClosed:
                    pass  # the plugin sent after the peer left: an ordinary end
                except Exception:
                    log.error("[client %s] plugin on_message raised; closing the connection",
                              record.client, exc_info=True)
                    self.close(1011, "plugin error")
            elif isinstance(event, CloseReceived):
                if record.ending == "open":
                    record.ending = "client closed"
            elif isinstance(event, ProtocolError):
                log.info("[client %s] protocol error: %s", record.client, event.reason)
                record.ending = f"protocol error: {event.reason}"

    def _flush_or_closed(self) -> None:
        try:
            self._flush()
        except OSError as exc:
            raise ConnectionClosed(f"the peer is gone: {exc}") from exc

    def _flush(self) -> bytes | bytearray:
        """Write what the protocol queued, once any write under way has ended (frames
        must not interleave), and return it."""
        while self._write_done is not None:
            self._write_done.wait()  # bounded: that write takes at most limits.TIMEOUT
        self._unwritten = NOTHING
        data = self.protocol.data_to_send()
        self._queued = 0
        if data:
            _write(self, data)
        return data


def _write(session: Session, data: bytes | bytearray) -> None:
    """Write it all to the session's socket (as its one writer: see Session._flush), counting
    what the kernel has not taken yet in its `unsent`. A client that takes nothing for httpd's
    Timeout (limits.TIMEOUT) is closed: whoever writes to it would otherwise wait for good."""
    # Our own loop rather than sendall(): it costs gevent an extra syscall per call.
    sock = session.sock
    sent = 0
    if type(sock) is GeventSocket:
        # Most writes are taken whole by the kernel at once: tried on the OS socket
        # (non-blocking, so nothing can come between) first, they cost no timer (1.7 us)
        # and no memoryview.
        try:
            sent = sock._sock.send(data)
        except BlockingIOError:
            pass
        session.record.bytes_out += sent
        if sent == len(data):
            return
    view = memoryview(data)[sent:]
    took_nothing = gevent.Timeout(
        limits.TIMEOUT, TimeoutError(f"the client took nothing for {limits.TIMEOUT:g} s"))
    done = session._write_done = Event()  # it yields from here on: other writers wait
    try:
        while view:
            session._writing = len(view)
            took_nothing.start()
            sent = sock.send(view)
            took_nothing.cancel()
            session.record.bytes_out += sent
            view = view[sent:]
    except TimeoutError:
        session.record.ending = ("closed: too slow to read what it was sent (took nothing "
                                 f"for {limits.TIMEOUT:g} s)")
        session.wake_reader()
        raise
    except BaseException as stopped:
        # Stopped from outside (a Timeout of the plugin's around its send, a kill): the rest
        # of a frame goes with it, and the client must not read what follows as its payload.
        # (An OSError is the connection's own end, which the reader sees and says.)
        if view and not isinstance(stopped, OSError):
            session.record.ending = "closed: a send was interrupted in the middle of a frame"
            session.wake_reader()
        raise
    finally:
        took_nothing.close()
        session._writing = 0
        session._write_done = None
        done.set()


# A ping's or pong's payload (RFC 6455 5.5: a control frame's).
CONTROL_PAYLOAD_MAX = 125


class _Pings:
    """WebSocketPing on an open connection: ping the client after `interval` seconds of
    silence; fail the connection if nothing at all comes `timeout` seconds after the ping.
    A hub timer (no greenlet per connection), not reset on every read: when it fires, the
    time of the last bytes received says whether to wait longer, ping, or - a ping having
    gone unanswered for the timeout - fail the connection."""

    __slots__ = ("session", "pinged", "timer")

    def __init__(self, session: Session, interval: float):
        self.session = session
        self.pinged = 0.0  # when the ping waiting for an answer went out; 0.0: none
        self.timer: Any = None
        self._arm(interval)

    def _arm(self, delay: float) -> None:
        self.timer = self.session.server.hub.loop.timer(delay)
        self.timer.start(self._due)

    def _due(self) -> None:
        session = self.session
        if not session.is_open:
            return  # closing: CLOSE_TIMEOUT bounds the wait
        interval, timeout = session.settings.ping
        now = time.monotonic()
        if self.pinged and session.heard < self.pinged and not _unread(session.sock):
            session.record.ending = f"no answer to a ping within {timeout:g}s"
            session.wake_reader()  # RFC 6455 7.1.7: close the TCP connection, no close frame
            return
        self.pinged = 0.0
        silent = now - session.heard
        if silent < interval:
            self._arm(interval - silent)
            return
        session.protocol.send(PING, b"")
        session.flush_later()
        self.pinged = now
        self._arm(timeout)


class HeldSends:
    """What a plugin sends before its connection's 101 is out (from on_connect, or a
    greenlet or thread it started), kept to be written right after the 101 in the order
    sent, as mod_websocket's plugins' threads waited on the connection's lock across
    on_connect. A close ends them: nothing held after it is sent."""

    __slots__ = ("messages", "size")

    def __init__(self) -> None:
        self.messages: list[tuple[int, bytes]] = []  # (type, payload), CLOSE for the close
        self.size = 0  # their payload bytes

    def __bool__(self) -> bool:
        return bool(self.messages)

    def add(self, type: int, payload: bytes = b"") -> int:
        self.messages.append((type, payload))
        self.size += len(payload)
        return len(payload)

    def to_send(self) -> tuple[list[tuple[int, bytes]], bool]:
        """The messages to write, in order, and whether a close comes after them."""
        for n, (type, _) in enumerate(self.messages):
            if type == CLOSE:
                return self.messages[:n], True
        return self.messages, False


def _recv(sock: socket.socket) -> bytes:
    """sock.recv(limits.RECV_SIZE), from the reader, after its turn. On a plain socket it
    first waits on the socket's own io watcher, even when bytes already wait: that wait is
    the connection's turn, as libev runs each ready watcher once per poll, so a client
    that keeps it busy is read once per pass of the hub's loop like every other, at the
    cost of no timer (fairness.give_way's) and no recv() that finds nothing (ping-pong's
    commonest read; bench/RESULTS.md: 1.3x the messages per second). It waits right here
    rather than in gevent's recv, whose wait runs four calls deeper: a waiting greenlet
    keeps a copy of its C stack, about 1 KB less this way for every idle connection. A
    close from another greenlet ends the wait as it ends gevent's (cancel_wait_ex, an
    OSError), as the watcher is the one gevent cancels. On TLS, bytes read and decrypted
    may wait in the SSL object, which the watcher cannot see: gevent's recv reads them, and
    give_way() takes the turn."""
    if type(sock) is GeventSocket:
        watcher = sock._read_event
        watcher.start(gevent.getcurrent().switch)
        try:
            gevent.get_hub().switch()  # the watcher switches back
        finally:
            watcher.stop()
    else:
        fairness.give_way()
    return sock.recv(limits.RECV_SIZE)


def _keep_alive(sock: socket.socket, interval: float, timeout: float) -> None:
    """TCP keepalive for protocols without pings: the kernel probes after `interval`
    seconds of silence and ends a dead peer's connection within `timeout`."""
    # The kernel counts whole seconds: probes at least 1 s apart span the timeout.
    probes = min(limits.KEEPALIVE_PROBES, max(1, int(timeout)))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, math.ceil(interval))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, max(1, round(timeout / probes)))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, probes)


def _unread(sock: socket.socket) -> bool:
    """Whether bytes wait unread in the socket: the client did answer, while the reader
    was held up in a plugin's call."""
    waiting = fcntl.ioctl(sock.fileno(), termios.FIONREAD, struct.pack("i", 0))
    return struct.unpack("i", waiting)[0] > 0


def _payload(type: int, data: str | bytes) -> bytes:
    """A message's bytes, checked where a plugin's OS thread hands it over or a plugin
    broadcasts, so that a bad one raises there (ValueError) rather than in the hub or in
    the workers a broadcast reaches."""
    if type not in (TEXT, BINARY, PING, PONG, CLOSE):
        raise ValueError(f"unknown message type {type}")
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if type == TEXT:
        payload.decode("utf-8")  # UnicodeDecodeError is a ValueError
    if type in (PING, PONG) and len(payload) > CONTROL_PAYLOAD_MAX:
        raise ValueError(f"a ping or pong carries at most {CONTROL_PAYLOAD_MAX} bytes, "
                         f"not {len(payload)}")
    return payload
