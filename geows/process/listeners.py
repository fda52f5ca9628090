"""The listening sockets of the Listen directives, bound by the master (one per worker
slot) or by the one process of -X; the runtime serves on the sockets it is given."""

from __future__ import annotations

import socket

from geows import limits
from geows.config import Config, Listener
from geows.config.model import host_port
from geows.errors import ConfigError

# Each Listen's listening socket, by its (host, port).
Sockets = dict[tuple[str | None, int], socket.socket]


def bind(listener: Listener, reuse_port: bool = False, listen: bool = True) -> socket.socket:
    """A socket bound for one Listen directive (all addresses: dual-stack), listening unless
    told not to yet; with reuse_port, one of several on the same address, among which the
    kernel spreads the incoming connections (SO_REUSEPORT) once they listen. ConfigError at
    the Listen line, naming the address, when it cannot bind (a port taken)."""
    dualstack = listener.host is None and socket.has_dualstack_ipv6()
    host = "::" if dualstack else listener.host or "0.0.0.0"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if dualstack else 1)
        sock.bind((host, listener.port))
        if listen:
            sock.listen(limits.LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"Listen {host_port(listener.host, listener.port)}: "
                          f"{exc.strerror or exc}", listener.file, listener.line) from exc
    return sock


def bind_all(config: Config) -> Sockets:
    """A listening socket for every Listen of `config` (-X: no master binds them for it)."""
    return {(listener.host, listener.port): bind(listener) for listener in config.listeners}
