"""Load a C plugin built for Apache mod_websocket (a .so) and serve it through
the Python plugin API (WebSocketHandler path/to/plugin.so init_function).

ctypes rather than cffi: it is in the standard library and needs no compiler or build step
(geows' httpd runtime, which plugins written against httpd's API need, is built once, when
geows is installed: setup.py).

How a C plugin runs here:
- its init function runs once per WebSocketHandler line, at configuration time
  (`geows -t` too), and a plugin struct it returns is checked as the module did; a
  crash in it is said at that line (c_runtime.crash_loading);
- on_connect, on_message and on_disconnect run on the event loop, as a Python
  plugin's do, when the library imports nothing that can wait (geows.plugin.c_calls);
  otherwise in an OS thread of run_in_thread's pool while the connection's greenlet
  waits: C cannot be monkeypatched, and a plugin that blocks (a sleep, a socket, a
  mutex held across send while another connection's call wants it) would stop every
  connection, or deadlock the hub, where Apache gave each connection a thread of its
  own. An inline call that computed for over limits.C_INLINE_HOLD (the thread's CPU
  time: a call preempted on a busy machine held nothing) sends the plugin's later
  calls to threads;
- each connection gets a WebSocketServer struct whose `state` field is a key
  into `_live`; the server callbacks are created once, here, and look the
  connection up by that key. The struct lives until on_disconnect returns
  (a plugin's thread may send until then), and keys are never reused, so a
  call after that is logged rather than reaching another connection - as long
  as the freed struct's memory still holds its key: using it is the plugin's bug;
- `request` returns an httpd request_rec made by geows' httpd runtime
  (geows.plugin.c_runtime) on its first call; its pools are destroyed once
  on_disconnect has returned (or the connection was refused);
- a plugin is read before it is loaded: one needing a symbol nothing provides
  is refused at its line (c_runtime.refusal), never loaded to fail later;
- the struct is geows' larger GeowsServer, which starts with the module's and adds
  rooms and broadcasts (join, leave, broadcast), its `size` saying so; a library that
  exports geows_on_broadcast_gap is told of broadcasts lost for good.
"""

from __future__ import annotations

import ctypes
import itertools
import logging
import os
import sys
from collections.abc import Callable
from time import perf_counter, thread_time
from typing import Any

from gevent import monkey

from geows import limits
from geows.config import WebSocketSettings
from geows.errors import ConfigError, ConnectionClosed
from geows.plugin.api import BINARY, CLOSE, PING, PONG, TEXT, WebSocketServer, check_room
from geows.plugin.c_calls import may_wait
from geows.plugin.c_runtime import Request, crash_loading, refusal
from geows.plugin.elf import dynamic_needs
from geows.plugin.threads import run_in_thread

log = logging.getLogger("geows.plugin")

# A real lock: the holders are pool threads, not greenlets.
_os_lock = monkey.get_original("_thread", "allocate_lock")


class _InGeows(monkey.get_original("_thread", "_local")):  # type: ignore[misc]
    """Per OS thread: the seconds its callbacks from C spent in geows (a send, a request()),
    where Python may collect garbage. An inline call's hold is the plugin's own time: a
    full collection in a worker holding thousands of connections takes a tenth of a
    second, which made a C echo look like a plugin that computes (bench/RESULTS.md)."""

    seconds = 0.0


_in_geows = _InGeows()

MESSAGE_TYPES = frozenset((TEXT, BINARY, CLOSE, PING, PONG))

# Request headers arrive decoded as latin-1 (geows.http), so latin-1 gives C the
# bytes the client sent, and any bytes C passes back map to a str.
WIRE = "latin-1"

# Pointers to the server struct travel as plain addresses (c_void_p).
_Request = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)
_HeaderGet = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p)
_HeaderSet = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p)
_ProtocolCount = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p)
_ProtocolIndex = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
_ProtocolSet = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p)
_Send = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p,
                         ctypes.c_size_t)
_Close = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_Join = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p)
_Leave = _Join
_Broadcast = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p,
                              ctypes.c_size_t, ctypes.c_char_p)

_Destroy = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_OnConnect = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)
_OnMessage = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                              ctypes.c_void_p, ctypes.c_size_t)
_OnDisconnect = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)


class _ServerStruct(ctypes.Structure):
    """struct _WebSocketServer (80 bytes on LP64)."""

    _fields_ = [
        ("size", ctypes.c_uint),
        ("version", ctypes.c_uint),
        ("state", ctypes.c_void_p),
        ("request", _Request),
        ("header_get", _HeaderGet),
        ("header_set", _HeaderSet),
        ("protocol_count", _ProtocolCount),
        ("protocol_index", _ProtocolIndex),
        ("protocol_set", _ProtocolSet),
        ("send", _Send),
        ("close", _Close),
    ]


class _GeowsServerStruct(ctypes.Structure):
    """struct _GeowsServer: the module's struct, then geows' rooms and broadcasts."""

    _fields_ = [
        ("server", _ServerStruct),
        ("join", _Join),
        ("leave", _Leave),
        ("broadcast", _Broadcast),
    ]


class _ConnectionStruct(ctypes.Structure):
    """What a connection's server pointer points at: the GeowsServer C sees, then (unknown
    to C) `deliver`, the send of the connection's handle, to which geows.plugin._c_inline
    hands an inline call's sends (None: they go to the send callback)."""

    _fields_ = [("geows", _GeowsServerStruct), ("deliver", ctypes.py_object)]


class _PluginStruct(ctypes.Structure):
    """struct _WebSocketPlugin (40 bytes on LP64)."""

    _fields_ = [
        ("size", ctypes.c_uint),
        ("version", ctypes.c_uint),
        ("destroy", _Destroy),
        ("on_connect", _OnConnect),
        ("on_message", _OnMessage),
        ("on_disconnect", _OnDisconnect),
    ]


class _PluginHead(ctypes.Structure):
    """The two fields every plugin struct has, read before trusting its size."""

    _fields_ = [("size", ctypes.c_uint), ("version", ctypes.c_uint)]


SERVER_VERSION = 1
PLUGIN_VERSION = 0
_STATE_OFFSET = _ServerStruct.state.offset

# Open connections by the key in their struct's `state`.
_live: dict[int, _Connection] = {}
_keys = itertools.count(1)

# Each .so once (by its real path), however many lines name it (dlopen would share it anyway);
# each plugin struct once, so that destroy() runs once for it.
_libraries: dict[str, ctypes.CDLL] = {}
_plugins: dict[int, CPlugin] = {}


class _Misuse(Exception):
    """A plugin called the API wrongly: logged without a traceback."""


class _Connection:
    """One accepted (or being accepted) connection of a C plugin."""

    __slots__ = ("plugin", "handle", "key", "struct", "address", "private", "lock", "request",
                 "_strings")

    def __init__(self, plugin: CPlugin, handle: WebSocketServer):
        self.plugin = plugin
        self.handle = handle
        self.key = next(_keys)
        self.struct = _ConnectionStruct(_GeowsServerStruct(
            _ServerStruct(ctypes.sizeof(_GeowsServerStruct), SERVER_VERSION, self.key,
                          *_SERVER_CALLBACKS), *_GEOWS_CALLBACKS),
            handle.send if plugin.inline else None)
        self.address = ctypes.addressof(self.struct)
        self.private: int | None = None
        # One C call at a time per connection, even if its greenlet is killed
        # while a call runs (at shutdown): on_disconnect then waits for it.
        self.lock = _os_lock()
        self.request = Request()
        # Strings handed to C stay valid for the connection's life.
        self._strings: dict[str, ctypes.Array] = {}
        _live[self.key] = self

    def call(self, function: Callable[..., Any], *args: Any) -> Any:
        """Call into the plugin, in a pool thread."""
        with self.lock:
            return function(*args)

    def c_string(self, text: str) -> int:
        """The address of a NUL-terminated copy of text, kept until the end."""
        buffer = self._strings.get(text)
        if buffer is None:
            # setdefault: two threads asking at once get the same buffer.
            buffer = self._strings.setdefault(text, ctypes.create_string_buffer(text.encode(WIRE)))
        return ctypes.addressof(buffer)

    def end(self) -> None:
        _live.pop(self.key, None)
        self.struct.deliver = None  # the cycle through its handle
        # Its pools go unless a C call still runs (its greenlet was killed at shutdown):
        # then they are left to the process's end rather than freed under the plugin.
        if self.lock.acquire(blocking=False):
            try:
                self.request.destroy()
            finally:
                self.lock.release()

    def __str__(self) -> str:
        host, port = self.handle.remote_addr
        return f"C plugin {self.plugin.path} [client {host}:{port}]"


class CPlugin:
    """A mod_websocket plugin struct behind the Python plugin API.

    The state the server keeps for a connection is its _Connection; C's
    private pointer is in it. on_connect is always defined: without C's, every
    connection is accepted (with a NULL private pointer), as the module did.
    """

    def __init__(self, path: str, plugin: _PluginStruct, address: int,
                 on_gap: Callable[[bytes, int, int], None] | None, inline: bool):
        self.path = path
        self.inline = inline  # callbacks on the event loop, else in pool threads
        self._address = address
        self._destroy = plugin.destroy
        self._on_connect = plugin.on_connect
        self._on_message = plugin.on_message
        self._on_message_address = ctypes.cast(plugin.on_message, ctypes.c_void_p).value
        self._on_disconnect = plugin.on_disconnect
        self._on_gap = on_gap  # the library's geows_on_broadcast_gap, if it exports one
        if inline and _c_inline is not None:
            # What the session calls for each message: C, straight to the plugin's, with
            # no frame of geows' own; without the extension, on_message below.
            self.on_message = _c_inline.OnMessage(self._on_message_address)

    def on_connect(self, server: WebSocketServer) -> _Connection | None:
        connection = _Connection(self, server)
        if not self._on_connect:
            return connection
        try:
            private = self._call(connection, self._on_connect, connection.address)
        except BaseException:
            connection.end()
            raise
        if private is None:
            connection.end()  # refused (403): no on_disconnect follows
            return None
        connection.private = private
        return connection

    def on_message(self, connection: _Connection, server: WebSocketServer, type: int,
                   data: str | bytes) -> None:
        """In a pool thread, or inline through ctypes (the instance's own on_message, an
        _c_inline.OnMessage, stands before this one while the extension calls it)."""
        payload = data.encode("utf-8") if isinstance(data, str) else data
        # A copy C may write to, NUL-terminated for plugins that treat text as a string.
        buffer = ctypes.create_string_buffer(payload, len(payload) + 1)
        self._call(connection, self._on_message, connection.private, connection.address, type,
                   buffer, len(payload))

    def on_disconnect(self, connection: _Connection, server: WebSocketServer) -> None:
        try:
            if self._on_disconnect:
                self._call(connection, self._on_disconnect, connection.private,
                           connection.address)
        finally:
            connection.end()

    def _call(self, connection: _Connection, function: Callable[..., Any], *args: Any) -> Any:
        """One callback: inline on the event loop, its CPU time measured, or in a pool
        thread."""
        if not self.inline:
            return run_in_thread(connection.call, function, *args)
        start, wall, in_geows = thread_time(), perf_counter(), _in_geows.seconds
        try:
            return connection.call(function, *args)
        finally:
            # Its own CPU time: at most the thread's, and at most its wall time less what
            # its callbacks spent in geows (as _c_inline's OnMessage measures it).
            held = min(thread_time() - start,
                       perf_counter() - wall - (_in_geows.seconds - in_geows))
            if held > limits.C_INLINE_HOLD:
                self._held(held)

    def _held(self, seconds: float) -> None:
        """An inline call computed too long on the event loop's thread: the plugin's later
        calls go to threads."""
        if self.inline:
            self.inline = False
            vars(self).pop("on_message", None)  # _c_inline's: this class's from now on
            log.warning("C plugin %s held the event loop for %.2f s of CPU in one call: its "
                        "callbacks run in threads from now on", self.path, seconds)

    def on_broadcast_gap(self, location: str, first: int, last: int) -> None:
        if self._on_gap is not None:
            run_in_thread(self._on_gap, location.encode("utf-8"), first, last)

    def destroy(self) -> None:
        if self._destroy:
            self._destroy(self._address)


def load_c_plugin(settings: WebSocketSettings) -> CPlugin:
    """dlopen the .so, call its init function and check what it returns;
    ConfigError at the WebSocketHandler line for anything the module refused."""

    def fail(message: str) -> ConfigError:
        return ConfigError(f"WebSocketHandler: {message}", settings.file, settings.line)

    path = settings.plugin
    try:
        library = open_library(path)
    except OSError as exc:
        raise fail(f"cannot load C plugin {path}: {exc}") from None
    try:
        init = library[settings.init]  # not getattr: it refuses names like __init__
    except AttributeError:
        raise fail(f"C plugin {path} has no init function {settings.init!r}") from None
    init.restype = ctypes.c_void_p
    init.argtypes = []
    where = f"{settings.init}() in {path}"
    crash_loading(f"{settings.file}:{settings.line}: WebSocketHandler: {where}")
    try:
        address = init()
    finally:
        crash_loading(None)
    if address is None:
        raise fail(f"{where} returned NULL")
    head = _PluginHead.from_address(address)
    if head.version != PLUGIN_VERSION:
        raise fail(f"{where} returned a plugin with version {head.version} "
                   f"(expected {PLUGIN_VERSION})")
    if head.size < ctypes.sizeof(_PluginStruct):
        raise fail(f"{where} returned a plugin of size {head.size} "
                   f"(expected at least {ctypes.sizeof(_PluginStruct)})")
    plugin = _PluginStruct.from_address(address)
    if not plugin.on_message:
        raise fail(f"{where} returned a plugin without on_message")
    if address not in _plugins:
        _plugins[address] = CPlugin(path, plugin, address, _gap_function(library),
                                    _runs_inline(path))
    return _plugins[address]


def open_library(path: str) -> ctypes.CDLL:
    """The plugin's library, loaded once however many lines name it (a LoadModule and a
    WebSocketHandler alike); OSError saying why it cannot be."""
    real = os.path.realpath(path)
    library = _libraries.get(real)
    if library is None:
        reason = refusal(path)
        if reason is not None:
            raise OSError(reason)
        try:
            # As Apache's apr_dso_load: every symbol resolved now, and exported
            # to libraries loaded later.
            library = ctypes.CDLL(path, mode=os.RTLD_NOW | os.RTLD_GLOBAL)
        except OSError as exc:  # the message is dlerror()'s, often led by the path
            raise OSError(str(exc).removeprefix(f"{path}: ")) from None
        _libraries[real] = library
    return library


def _runs_inline(path: str) -> bool:
    """Whether the library's callbacks may run on the event loop (geows.plugin.c_calls);
    which they do is logged."""
    try:
        with open(path, "rb") as file:
            waits = may_wait(dynamic_needs(file.read()).symbols)
    except (OSError, ValueError) as exc:  # it loaded, yet cannot be read: threads
        waits = [f"(unread: {exc})"]
    if waits:
        more = f" and {len(waits) - 3} more" if len(waits) > 3 else ""
        log.info("C plugin %s: callbacks in threads (it imports %s%s, which may wait)",
                 path, ", ".join(waits[:3]), more)
    else:
        log.info("C plugin %s: callbacks on the event loop (it imports nothing that waits)",
                 path)
    return not waits


def _gap_function(library: ctypes.CDLL) -> Callable[[bytes, int, int], None] | None:
    """The library's own geows_on_broadcast_gap (dlsym on its handle looks in it and what
    it needs, never in other plugins), or None."""
    try:
        function = library["geows_on_broadcast_gap"]
    except AttributeError:
        return None
    function.restype = None
    function.argtypes = [ctypes.c_char_p, ctypes.c_ulonglong, ctypes.c_ulonglong]
    return function


# The server callbacks: made once, and kept here so they are never collected.

def _server_callback(type_: Any, safe: Any) -> Callable[[Callable[..., Any]], Any]:
    """Wrap a callback so that nothing raises into C: misuse and errors are
    logged and C gets `safe` instead."""

    def wrap(function: Callable[..., Any]) -> Any:
        name = function.__name__

        def callback(server: int | None, *args: Any) -> Any:
            entered = perf_counter()
            try:
                connection = _connection_at(server)
                if connection is None:
                    log.error("C plugin: %s() on a connection that has ended or is unknown",
                              name)
                    return safe
                return _guarded(connection, name, safe, function, *args)
            finally:
                _spent_in_geows(perf_counter() - entered)

        return type_(callback)

    return wrap


def _spent_in_geows(seconds: float) -> None:
    """A callback from C spent `seconds` in geows: not the hold of the inline call that made
    it, whether ctypes called the plugin (CPlugin._call) or _c_inline did (a broadcast from an
    OnMessage call, where only its sends are _c_inline's own)."""
    _in_geows.seconds += seconds
    if _c_inline is not None:
        _c_inline.spent(seconds)


def _connection_at(server: int | None) -> _Connection | None:
    """The open connection whose server struct is at `server` (its `state` holds the key)."""
    return _live.get(ctypes.c_void_p.from_address(server + _STATE_OFFSET).value) if server \
        else None


def _guarded(connection: _Connection, name: str, safe: Any, function: Callable[..., Any],
             *args: Any) -> Any:
    """function(connection, *args), or `safe` with what went wrong logged: C cannot take
    an exception."""
    try:
        return function(connection, *args)
    except BaseException:
        _log_failure(connection, name)
        return safe


def _log_failure(connection: _Connection, name: str) -> None:
    """Log the exception being handled in callback `name`: misuse without a traceback."""
    exc = sys.exc_info()[1]
    if isinstance(exc, _Misuse):
        log.error("%s: %s", connection, exc)
    else:
        log.error("%s: %s() failed", connection, name, exc_info=True)


@_server_callback(_Request, None)
def request(connection: _Connection) -> int:
    try:
        return connection.request.get(connection.handle)
    except OSError as exc:
        raise _Misuse(f"request() failed: {exc}") from None


@_server_callback(_HeaderGet, None)
def header_get(connection: _Connection, key: bytes | None) -> int | None:
    if key is None:
        raise _Misuse("header_get() with a NULL key")
    value = connection.handle.get_header(key.decode(WIRE))
    return None if value is None else connection.c_string(value)


@_server_callback(_HeaderSet, None)
def header_set(connection: _Connection, key: bytes | None, value: bytes | None) -> None:
    if key is None or value is None:
        raise _Misuse("header_set() with a NULL key or value")
    try:
        connection.handle.set_header(key.decode(WIRE), value.decode(WIRE))
    except ValueError as exc:
        raise _Misuse(f"header_set({key.decode(WIRE)!r}) refused: {exc}") from None


@_server_callback(_ProtocolCount, 0)
def protocol_count(connection: _Connection) -> int:
    return len(connection.handle.subprotocols)


@_server_callback(_ProtocolIndex, None)
def protocol_index(connection: _Connection, index: int) -> int | None:
    offered = connection.handle.subprotocols
    return connection.c_string(offered[index]) if index < len(offered) else None


@_server_callback(_ProtocolSet, None)
def protocol_set(connection: _Connection, protocol: bytes | None) -> None:
    try:
        connection.handle.subprotocol = None if protocol is None else protocol.decode(WIRE)
    except ValueError as exc:
        raise _Misuse(f"protocol_set() refused: {exc}") from None


def _message(call: str, type: int, buffer: int | None, size: int) -> bytes:
    """The message C passes to send() or broadcast(), checked (_Misuse)."""
    if type not in MESSAGE_TYPES:
        raise _Misuse(f"{call}() with unknown message type {type}")
    if buffer is None and size:
        raise _Misuse(f"{call}() with a NULL buffer of size {size}")
    data = ctypes.string_at(buffer, size) if size else b""
    if type == TEXT:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Misuse(f"{call}() of TEXT that is not UTF-8: {exc}") from None
    return data


def _room(call: str, room: bytes) -> str:
    """A room's name C passes, checked as the Python API checks it (_Misuse)."""
    try:
        return check_room(room.decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError too
        raise _Misuse(f"{call}({room[:80]!r}) refused: {exc}") from None


@_server_callback(_Send, 0)
def send(connection: _Connection, type: int, buffer: int | None, size: int) -> int:
    return _send(connection, type, _message("send", type, buffer, size))


def _send(connection: _Connection, type: int, data: str | bytes) -> int:
    """send() to the connection: 0 when it is not open, what else went wrong logged.
    (geows.plugin._c_inline does the same for an inline call's sends, in C.)"""
    try:
        return connection.handle.send(type, data)
    except ConnectionClosed:
        return 0  # the peer may leave at any time: not the plugin's fault
    except BaseException:
        _log_failure(connection, "send")
        return 0


def _inline_send_failed(server: int, exc: BaseException) -> None:
    """_c_inline's word that an inline call's send() to `server` raised `exc` (not
    ConnectionClosed, which is 0 there, as in _send): logged as _send logs it."""
    connection = _connection_at(server)
    if connection is None:
        log.error("C plugin: send() on a connection that has ended or is unknown")
    else:
        log.error("%s: send() failed", connection, exc_info=exc)


@_server_callback(_Close, None)
def close(connection: _Connection) -> None:
    connection.handle.close()


@_server_callback(_Join, 0)
def join(connection: _Connection, room: bytes | None) -> int:
    if room is None:
        raise _Misuse("join() with a NULL room")
    try:
        connection.handle.join(_room("join", room))
    except ConnectionClosed:
        raise _Misuse("join() after the connection ended") from None
    return 1


@_server_callback(_Leave, 0)
def leave(connection: _Connection, room: bytes | None) -> int:
    if room is None:
        raise _Misuse("leave() with a NULL room")
    connection.handle.leave(_room("leave", room))
    return 1


@_server_callback(_Broadcast, 0)
def broadcast(connection: _Connection, type: int, buffer: int | None, size: int,
              room: bytes | None) -> int:
    data = _message("broadcast", type, buffer, size)
    return connection.handle.broadcast(type, data, None if room is None
                                       else _room("broadcast", room))


def _inline_module() -> Any:
    """geows.plugin._c_inline, or None if setup.py did not build it: inline calls
    then go through ctypes. C's send() goes to it, which hands other contexts' sends to
    the ctypes callback."""
    try:
        from geows.plugin import _c_inline  # type: ignore[attr-defined]
    except ImportError:
        return None
    return _c_inline


def _inline_held(on_message: Any, seconds: float) -> None:
    """_c_inline's word that an inline call of `on_message` held the loop `seconds` of CPU."""
    for plugin in _plugins.values():
        if vars(plugin).get("on_message") is on_message:
            plugin._held(seconds)


_c_inline = _inline_module()
_SEND = send if _c_inline is None else _Send(_c_inline.setup(
    ctypes.cast(send, ctypes.c_void_p).value, _ConnectionStruct.deliver.offset,
    limits.C_INLINE_HOLD, _inline_held, ConnectionClosed, _inline_send_failed))
_SERVER_CALLBACKS = (request, header_get, header_set, protocol_count, protocol_index,
                     protocol_set, _SEND, close)
_GEOWS_CALLBACKS = (join, leave, broadcast)
