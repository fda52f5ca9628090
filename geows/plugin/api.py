"""The plugin API: what a plugin returns from its init function, and the
handle (`WebSocketServer`, after the C struct) it gets for each connection.

A plugin is any object with a callable `on_message`; `on_connect`,
`on_disconnect`, `destroy` and `on_broadcast_gap` are optional. `Plugin` below
is a convenient way to build one from functions:

    def echo_init():
        def on_message(state, server, type, data):
            server.send(type, data)
        return Plugin(on_message=on_message)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from geows import limits
from geows.messages import BINARY, CLOSE, PING, PONG, TEXT, Broadcast

if TYPE_CHECKING:
    from geows.config import LocationSection
    from geows.http import Request
    from geows.log_format import ServerNames

__all__ = ["BINARY", "CLOSE", "PING", "PONG", "TEXT", "Plugin", "WebSocketServer"]


@dataclass
class Plugin:
    """mod_websocket's WebSocketPlugin, as Python callables.

    on_connect(server) -> state
        Runs before the handshake is answered; its result is the connection's
        state, and None refuses the connection (403). Raising answers 500.
        Without on_connect every connection is accepted with state None.
    on_message(state, server, type, data)
        One whole message; `data` is str for TEXT and bytes for BINARY.
        Raising closes that connection alone (1011) and logs the traceback.
    on_disconnect(state, server)
        Once per accepted connection, however it ends.
    destroy()
        Once, when the server stops.
    on_broadcast_gap(location, first, last)
        Broadcasts `first` to `last` (their sequence numbers) of the location
        named `location` (e.g. "<Location /chat>") were lost for this worker's
        clients and cannot be repaired (WebSocketBroadcast: Redis lost them and
        its history no longer holds them); once per lost range, in a greenlet of
        its own, after the error log said so. A plugin may tell its clients to
        resync.

    Any object with these attributes will do; only on_message is required.
    Each callback may block (sleep, sockets, subprocesses): the process is
    monkeypatched, so a callback that waits holds only its own connection.
    """

    on_message: Callable[[Any, WebSocketServer, int, str | bytes], None]
    on_connect: Callable[[WebSocketServer], Any] | None = None
    on_disconnect: Callable[[Any, WebSocketServer], None] | None = None
    destroy: Callable[[], None] | None = None
    on_broadcast_gap: Callable[[str, int, int], None] | None = None


def check_room(room: object) -> str:
    """The room's name if it is one (ValueError else): a str, not empty, at most
    limits.ROOM_NAME_MAX bytes of UTF-8, without NUL (a C plugin could not name it)."""
    if not isinstance(room, str):
        raise ValueError(f"a room's name is a str, not {type(room).__name__}")
    if not room:
        raise ValueError("a room's name cannot be empty")
    if "\0" in room:
        raise ValueError("a room's name cannot hold NUL")
    size = len(room.encode("utf-8"))  # UnicodeEncodeError (lone surrogates) is a ValueError
    if size > limits.ROOM_NAME_MAX:
        raise ValueError(f"a room's name is at most {limits.ROOM_NAME_MAX} bytes of UTF-8, "
                         f"not {size}")
    return room


class _Channel(Protocol):
    """What the server behind a handle provides (geows.runtime.session implements it)."""

    def send(self, type: int, data: str | bytes) -> int: ...
    def broadcast(self, type: int, data: str | bytes, room: str | None,
                  count_timeout: float | None = None) -> Broadcast: ...
    def join(self, room: str) -> None: ...
    def leave(self, room: str) -> None: ...
    # Its rooms: an empty frozenset until it joins one, then a set changed in place (a join
    # costs the same at any count).
    room_set: set[str] | frozenset[str]
    def close(self) -> None: ...
    @property
    def handshake_done(self) -> bool: ...


class WebSocketServer:
    """One connection, as a plugin sees it (mod_websocket's WebSocketServer).

    `send`, `broadcast`, `join`, `leave` and `close` may be called from any
    greenlet and from any OS thread; everything else belongs to the plugin's
    callbacks. geows makes one per connection and passes it to every callback
    of that connection.

    .. attribute:: request
       :type: geows.http.Request

       The handshake request, parsed once as httpd parses it: `method`, `path`
       (decoded, as `<Location>` matches it), `query` (raw, without "?"),
       `host` (the host that picked the virtual host) and `headers`
       (C plugins get it as an httpd request_rec from request()).

    .. attribute:: remote_addr
       :type: tuple[str, int]

       The client's address and port; the client mod_remoteip names when the
       config trusts a proxy (RemoteIPHeader, RemoteIPInternalProxy).

    .. attribute:: user
       :type: str | None

       Who Basic authentication let through (httpd's REMOTE_USER), else None.

    .. attribute:: local_addr
       :type: tuple[str, int] | None

       The address and port the connection came in on (None outside a server).

    .. attribute:: server_names

       The server (the main one or a <VirtualHost>) answering: its `name` and `port`
       (None: the scheme's); None outside a server.

    .. attribute:: secure
       :type: bool

       Whether the connection is TLS.

    .. attribute:: locations

       The <Location> sections that apply, in merge order (Route.sections): a C
       plugin's request() merges its modules' per-directory configs along them.

    .. attribute:: subprotocols
       :type: tuple[str, ...]

       The subprotocols the client offered, in its order
       (C: protocol_count and protocol_index).

    .. attribute:: response_headers
       :type: tuple[tuple[str, str], ...]

       The headers set_header added to the handshake's answer, in order.
    """

    __slots__ = ("request", "remote_addr", "user", "local_addr", "server_names", "secure",
                 "locations", "subprotocols", "response_headers", "_subprotocol", "_channel")

    def __init__(self, request: Request, remote_addr: tuple[str, int],
                 subprotocols: tuple[str, ...], channel: _Channel, user: str | None = None,
                 *, local_addr: tuple[str, int] | None = None,
                 server_names: ServerNames | None = None, secure: bool = False,
                 locations: tuple[LocationSection, ...] = ()):
        self.request = request
        self.remote_addr = remote_addr
        self.user = user   # who Basic authentication let through (httpd's REMOTE_USER)
        self.local_addr = local_addr
        self.server_names = server_names
        self.secure = secure
        self.locations = locations
        self.subprotocols = subprotocols
        self.response_headers: tuple[tuple[str, str], ...] = ()  # shared while empty
        self._subprotocol = subprotocols[0] if subprotocols else None
        self._channel = channel

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol answered: the client's first offer unless changed
        in on_connect (C: protocol_set)."""
        return self._subprotocol

    @subprotocol.setter
    def subprotocol(self, name: str | None) -> None:
        self._check_handshake_pending()
        if name is not None and name not in self.subprotocols:
            raise ValueError(f"the client did not offer subprotocol {name!r}")
        self._subprotocol = name

    def get_header(self, name: str) -> str | None:
        """A request header, None when absent (C: header_get)."""
        return self.request.headers.get(name)

    def set_header(self, name: str, value: str) -> None:
        """Set a handshake response header, replacing one of the same name
        (C: header_set); in on_connect."""
        self._check_handshake_pending()
        if any(c in name + value for c in "\r\n") or ":" in name or not name:
            raise ValueError("header name or value would break the response")
        key = name.lower()
        self.response_headers = (*((n, v) for n, v in self.response_headers if n.lower() != key),
                                 (name, value))

    def send(self, type: int, data: str | bytes) -> int:
        """Send one message; returns its payload size in bytes. Raises
        ConnectionClosed once the connection is closed. From a greenlet it
        returns when the message is written (or, inside on_message, queued for
        the write after it); from an OS thread, once it is handed to the server.
        Before the handshake is answered (in on_connect, or from a greenlet or thread
        it started) the message is held and written right after the 101, in order;
        none of it is sent if on_connect refuses."""
        return self._channel.send(type, data)

    def broadcast(self, type: int, data: str | bytes, room: str | None = None,
                  count_timeout: float | None = None) -> Broadcast:
        """Send one message to every open connection of this location, this one
        included, in every worker (with WebSocketBroadcast, of every host); with `room`,
        to that room's members only (this connection need not be one). Returns a
        Broadcast: an int, how many of this worker's connections it was queued for,
        with the message's `scope` and, through Redis, its `seq` and `epoch`. Never
        waits on a slow reader: one whose unsent output is over limits.SEND_BUFFER is
        closed (1008) instead. ValueError for a bad room name (see join), or a message
        no client could be sent (as send: an unknown type, text that is not UTF-8, a
        ping or pong over 125 bytes).

        `count_timeout` (seconds, up to limits.BROADCAST_COUNT_MAX) asks a broadcast
        through Redis (scope "cluster") for the count across hosts: it then waits, that
        long at most, until every live process (each worker of every host linked to
        Redis) has said how many of its connections took the message; the result's
        `total` sums them and its `missing` says how many processes had not said in
        time (0: `total` is exact). A broadcast of scope "host" or "local", or one from
        an OS thread (handed over, not waited for), has neither (None)."""
        if count_timeout is not None and not 0 < count_timeout <= limits.BROADCAST_COUNT_MAX:
            raise ValueError(f"count_timeout is more than 0 and at most "
                             f"{limits.BROADCAST_COUNT_MAX:g} s, not {count_timeout!r}")
        return self._channel.broadcast(type, data, None if room is None else check_room(room),
                                       count_timeout)

    def join(self, room: str) -> None:
        """Make this connection a member of the room: broadcasts to it reach this
        connection, whichever worker (or host) sends them. A room is a name within
        this location, made by its first member and gone with its last; joining twice
        is one membership. Allowed from on_connect on (nothing reaches the connection
        before its handshake is answered); the connection leaves every room when it
        ends, once on_disconnect has returned (which still sees `rooms`).
        ValueError for a bad name (empty, over limits.ROOM_NAME_MAX bytes of UTF-8, a
        NUL); ConnectionClosed once on_disconnect is due."""
        self._channel.join(check_room(room))

    def leave(self, room: str) -> None:
        """This connection is no member of the room any more (nothing happens if it
        was none)."""
        self._channel.leave(check_room(room))

    @property
    def rooms(self) -> frozenset[str]:
        """The rooms this connection is a member of. A join or leave from an OS thread
        shows here once the server has taken it (in order with that thread's sends)."""
        return frozenset(self._channel.room_set)

    def close(self) -> None:
        """Start the closing handshake with a close frame without a status code (the client
        reads 1005), as mod_websocket's close() sends it; the connection ends within
        limits.CLOSE_TIMEOUT (5 s) even if the peer never answers."""
        self._channel.close()

    def _check_handshake_pending(self) -> None:
        if self._channel.handshake_done:
            raise ValueError("the handshake is already answered")
