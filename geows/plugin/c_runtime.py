"""geows' httpd runtime for C plugins (geows/plugin/httpd_runtime, built by setup.py
into _httpd_runtime*.so when httpd's and APR's headers are there): loaded once per
process, RTLD_GLOBAL, before any C plugin, so that a plugin's ap_* and apr_* symbols
resolve to it and to Debian's libapr-1 and libaprutil-1, which it links.

- `start(config)` loads it (if built) and gives it ServerRoot, LogLevel and the
  servers (the main one and each <VirtualHost>, as server_recs);
- `refusal(path)` reads a plugin's undefined symbols before it is loaded and says
  which one nothing provides, so that a plugin is refused at its line, never
  crashed later;
- `Request` makes the request_rec a plugin's request() returns, on its first call,
  and destroys its pools (the connection's, the request's) after on_disconnect;
- the ap_log_* lines reach geows' error log through `_log_line`, under the logger
  "geows.<module>": "geows." for now, which the error log shows as httpd shows a line of
  a module it does not know, [:level];
- `report_crashes` has a crash in a C plugin (SIGSEGV...) said in the error log, by the
  runtime's signal handler, before the process dies of it.
"""

from __future__ import annotations

import ctypes
import importlib.machinery
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path

from gevent import monkey

from geows.config import Config, LocationSection
from geows.config.logs import LEVELS
from geows.config.modules.core import LOG_LEVELS
from geows.log_format import ServerNames
from geows.plugin.api import WebSocketServer
from geows.plugin.elf import dynamic_needs

# Where setup.py builds it (an extension's file name, though it is no Python module).
RUNTIME_FILES = [Path(__file__).with_name(f"_httpd_runtime{suffix}")
                 for suffix in importlib.machinery.EXTENSION_SUFFIXES]

BUILD_HINT = ("apt-get install apache2-dev libapr1-dev libaprutil1-dev, then reinstall "
              "geows (pip install .) to build it")

# The symbols a plugin gets from the runtime and the APR it brings.
RUNTIME_PREFIXES = ("ap_", "apr_", "apu_")

_Sink = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p)


class _ServerFacts(ctypes.Structure):
    """geows_server_facts (runtime.h)."""

    _fields_ = [("hostname", ctypes.c_char_p), ("admin", ctypes.c_char_p),
                ("defn_name", ctypes.c_char_p), ("defn_line", ctypes.c_uint),
                ("port", ctypes.c_uint), ("is_virtual", ctypes.c_int),
                ("log_level", ctypes.c_int), ("timeout", ctypes.c_int64)]


class _RequestFacts(ctypes.Structure):
    """geows_request_facts (runtime.h)."""

    _fields_ = [("method", ctypes.c_char_p), ("target", ctypes.c_char_p),
                ("protocol", ctypes.c_char_p), ("uri", ctypes.c_char_p),
                ("args", ctypes.c_char_p), ("hostname", ctypes.c_char_p),
                ("user", ctypes.c_char_p), ("client_ip", ctypes.c_char_p),
                ("local_ip", ctypes.c_char_p), ("client_port", ctypes.c_uint),
                ("local_port", ctypes.c_uint),
                ("header_names", ctypes.POINTER(ctypes.c_char_p)),
                ("header_values", ctypes.POINTER(ctypes.c_char_p)),
                ("header_count", ctypes.c_int), ("request_time", ctypes.c_int64),
                ("secure", ctypes.c_int)]


# Request headers are latin-1 (geows.http): C gets the bytes the client sent.
WIRE = "latin-1"

_library: ctypes.CDLL | None = None
_servers: dict[ServerNames, int] = {}   # server_rec addresses; the main server's first
_section_vectors: dict[int, int] = {}   # by id() of a LocationSection, lasting as the config


def built() -> Path | None:
    """The runtime's file, if setup.py built it."""
    return next((path for path in RUNTIME_FILES if path.exists()), None)


def start(config: Config) -> None:
    """Load the runtime, once per process, before the config's C plugins (nothing
    happens if it is not built: plugins that need it are refused by `refusal`)."""
    global _library
    path = built()
    if _library is not None or path is None:
        return
    library = ctypes.CDLL(str(path), mode=os.RTLD_NOW | os.RTLD_GLOBAL)
    library.geows_runtime_start.argtypes = [ctypes.c_char_p, _Sink,
                                            ctypes.POINTER(_ServerFacts)]
    library.geows_server_new.argtypes = [ctypes.POINTER(_ServerFacts)]
    library.geows_server_new.restype = ctypes.c_void_p
    library.geows_request_new.argtypes = [ctypes.c_void_p, ctypes.POINTER(_RequestFacts)]
    library.geows_request_new.restype = ctypes.c_void_p
    library.geows_request_destroy.argtypes = [ctypes.c_void_p]
    library.geows_crash_plugin.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    library.geows_crash_report_to.argtypes = [ctypes.c_int, ctypes.c_long, ctypes.c_char_p]
    library.geows_crash_loading.argtypes = [ctypes.c_char_p]
    library.geows_request_merge.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p),
                                            ctypes.c_int]
    level = LOG_LEVELS.index(config.log_level)
    main = _server_facts(config.logs.names, config.file, 0, False, level)
    status = library.geows_runtime_start(config.server_root.encode(), _log_line,
                                         ctypes.byref(main))
    if status:
        raise OSError(status, f"geows' httpd runtime {path} did not start (APR status "
                              f"{status})")
    _servers[config.logs.names] = ctypes.c_void_p.in_dll(library, "ap_server_conf").value
    for vhost in config.virtual_hosts:
        if vhost.logs.names not in _servers:
            facts = _server_facts(vhost.logs.names, vhost.file, vhost.line, True, level)
            _servers[vhost.logs.names] = library.geows_server_new(ctypes.byref(facts))
    _library = library


def report_crashes(config: Config, fd: int, then: str) -> None:
    """Have the runtime say a crash on `fd` (the error log) before the process dies of
    it: which C plugin's code it was in, where, the locations that plugin serves (the
    config's), or the init function running (`crash_loading`), and `then`, what happens
    next. Call it before the plugins load: it starts the runtime. Nothing without the
    runtime: the crash is then known only by the signal the process died of."""
    serving: dict[str, list[str]] = {}
    for settings, name in config.location_names().items():
        if settings.c_plugin:
            serving.setdefault(settings.plugin, []).append(
                f"{name} ({settings.file}:{settings.line})")
    if serving:
        start(config)
    if _library is None:
        return
    if _library.geows_crash_report_to(fd, time.localtime().tm_gmtoff, then.encode()):
        logging.getLogger("geows.plugin").warning(
            "a crash in a C plugin will not be said in the error log: its signal handler "
            "could not be installed (sigaltstack or sigaction failed)")
    for path, names in serving.items():
        _library.geows_crash_plugin(path.encode(), ", ".join(names).encode())


def crash_loading(init: str | None) -> None:
    """Name the plugin init function about to run ("FILE:LINE: WebSocketHandler: init()
    in PATH"), or None once it returned: a crash meanwhile is said as its line's."""
    if _library is not None:
        _library.geows_crash_loading(None if init is None else init.encode())


def loaded() -> ctypes.CDLL | None:
    """The runtime, once `start` loaded it."""
    return _library


def server_for(names: ServerNames | None) -> int:
    """The server_rec of the server with these names (None: the main server)."""
    main = next(iter(_servers.values()))
    return main if names is None else _servers.get(names, main)


def set_section_vector(section: LocationSection, vector: int) -> None:
    """A <Location>'s configuration vector (plugin modules' directives in it): merged into
    the per_dir_config of a request the section applies to."""
    _section_vectors[id(section)] = vector


def _server_facts(names: ServerNames, file: str, line: int, virtual: bool,
                  level: int) -> _ServerFacts:
    return _ServerFacts(names.name.encode(), b"[no address given]", file.encode(), line,
                        names.port or 0, virtual, level, 0)


def refusal(path: str) -> str | None:
    """Why the plugin at `path` cannot load: a symbol it needs that neither the runtime
    (with APR) nor the process nor the libraries it names provide; None if nothing is
    missing, or if its file cannot be read as ELF (dlopen then says why)."""
    try:
        with open(path, "rb") as file:
            needs = dynamic_needs(file.read())
    except (OSError, ValueError):
        return None
    try:
        libraries = [ctypes.CDLL(name, mode=os.RTLD_LAZY | os.RTLD_LOCAL)
                     for name in needs.libraries]
    except OSError:
        return None  # one of them will not load: dlopen's message names it
    everywhere = [ctypes.CDLL(None), *libraries]  # the process and what RTLD_GLOBAL added
    missing = [name for name in needs.symbols
               if not any(_defines(library, name) for library in everywhere)]
    if not missing:
        return None
    # httpd's own functions first: they say most of what the plugin is
    wanted = sorted((name for name in missing if name.startswith(RUNTIME_PREFIXES)),
                    key=lambda name: not name.startswith("ap_"))
    if wanted and _library is None:
        more = f" and {len(wanted) - 3} more" if len(wanted) > 3 else ""
        return (f"it needs geows' httpd runtime ({', '.join(wanted[:3])}{more}), which is "
                f"not built: {BUILD_HINT}")
    if wanted:
        return (f"undefined symbol: {wanted[0]} (geows' httpd runtime does not provide it: "
                f"docs/reference/c-plugins.md lists what it does)")
    return f"undefined symbol: {missing[0]} (no library it loads provides it)"


def _defines(library: ctypes.CDLL, name: str) -> bool:
    try:
        library[name]  # dlsym: functions and data alike
    except AttributeError:
        return False
    return True


# A real lock: request() may be called from the plugin's own threads.
_os_lock = monkey.get_original("_thread", "allocate_lock")


class Request:
    """A connection's request_rec, made on request()'s first call and destroyed by
    `destroy` (after on_disconnect, or once the connection was refused)."""

    __slots__ = ("address", "_began", "_lock")

    def __init__(self) -> None:
        self.address: int | None = None
        self._began = time.time()   # the handshake's time: r->request_time
        self._lock = _os_lock()

    def get(self, handle: WebSocketServer) -> int:
        """The request_rec's address (made on the first call); OSError if the runtime
        is not loaded or APR could not make it."""
        with self._lock:
            return self.address or self._make(handle)

    def _make(self, handle: WebSocketServer) -> int:
        if _library is None:
            raise OSError(f"request() needs geows' httpd runtime, which is not built: "
                          f"{BUILD_HINT}")
        request = handle.request
        names = [name.encode(WIRE) for name, _ in request.headers]
        values = [value.encode(WIRE) for _, value in request.headers]
        client_ip, client_port = handle.remote_addr
        local_ip, local_port = handle.local_addr or ("0.0.0.0", 0)
        facts = _RequestFacts(
            request.method.encode(WIRE), request.target.encode(WIRE),
            request.version.encode(WIRE), request.path.encode("utf-8", "surrogateescape"),
            request.query.encode(WIRE) if request.query else None,
            request.host.encode(WIRE) if request.host else None,
            handle.user.encode("utf-8") if handle.user else None,
            client_ip.encode(), local_ip.encode(), client_port, local_port,
            (ctypes.c_char_p * len(names))(*names), (ctypes.c_char_p * len(values))(*values),
            len(names), int(self._began * 1_000_000), handle.secure)
        address = _library.geows_request_new(server_for(handle.server_names),
                                             ctypes.byref(facts))
        if address is None:
            raise OSError("APR could not make the request's pools")
        vectors = [vector for section in handle.locations
                   if (vector := _section_vectors.get(id(section)))]
        _library.geows_request_merge(address, (ctypes.c_void_p * len(vectors))(*vectors),
                                     len(vectors))
        self.address = address
        return address

    def destroy(self) -> None:
        if self.address is not None and _library is not None:
            _library.geows_request_destroy(self.address)
        self.address = None


# httpd's APLOG_* levels (0 emerg .. 15 trace8) as Python's.
_PYTHON_LEVELS: Mapping[int, int] = {n: LEVELS[name] for n, name in enumerate(LOG_LEVELS)}


@_Sink
def _log_line(level: int, module: bytes | None, line: bytes | None) -> None:
    """An ap_log_* line, from any thread: nothing may raise into C."""
    try:
        logger = logging.getLogger(f"geows.{(module or b'').decode('ascii', 'replace')}")
        logger.log(_PYTHON_LEVELS.get(level, logging.DEBUG),
                   "%s", (line or b"").decode("utf-8", "backslashreplace"))
    except Exception:  # C cannot take an exception: say so where we still can
        logging.getLogger("geows.plugin").error("an ap_log_* line was lost", exc_info=True)
