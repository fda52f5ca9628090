"""The process directives: Listen and the MPM's (mpm_common's, mod_unixd's User and Group):
where geows listens, how many workers run, as whom, and for how long they may stop.
"""

from __future__ import annotations

import grp
import ipaddress
import logging
import os
import pwd
import re
from collections.abc import Callable, Sequence

from geows import limits
from geows.config import directives
from geows.config.directives import SERVER_ONLY, Spec, table
from geows.config.drafts import ReadState, Scope
from geows.config.model import Listener
from geows.config.tree import Node
from geows.errors import ConfigError

log = logging.getLogger("geows.config")

DIRECTIVES = table(
    Spec("Listen", 1, 2, SERVER_ONLY, "[address:]port and an optional protocol"),
    # The MPM's cap on simultaneous requests (MaxClients: its 2.2 name, which 2.4 takes):
    # in geows, on open connections (mod_websocket held a worker per WebSocket).
    Spec("MaxRequestWorkers", 1, 1, SERVER_ONLY,
         "Maximum number of threads alive at the same time"),
    Spec("MaxClients", 1, 1, SERVER_ONLY, "Maximum number of threads alive at the same time"),
    # The processes: how many workers, where the master's pid goes, whom workers run as,
    # and how long a graceful stop may take.
    Spec("StartServers", 1, 1, SERVER_ONLY,
         "Number of child processes launched at server startup"),
    Spec("PidFile", 1, 1, SERVER_ONLY, "A file for logging the server process ID"),
    Spec("User", 1, 1, SERVER_ONLY, "Effective user id for this server"),
    Spec("Group", 1, 1, SERVER_ONLY, "Effective group id for this server"),
    Spec("GracefulShutdownTimeout", 1, 1, SERVER_ONLY,
         "Maximum time in seconds to wait for child processes to complete transactions "
         "during shutdown"),
)

_LISTEN = re.compile(r"(?:\[([^\]]*)\]|([^:\[\]]*)):([0-9]+)|([0-9]+)")


def parse_listen(args: Sequence[str]) -> tuple[str | None, int, str]:
    """`[host:]port [protocol]` as (host or None for all addresses, port, protocol)."""
    m = _LISTEN.fullmatch(args[0])
    if not m or m[2] == "":
        raise ConfigError(f"Invalid address or port '{args[0]}': expected [address:]port, "
                          "with an IPv6 address in brackets as in [::1]:8080")
    if m[1] is not None:
        if "%" in m[1]:
            raise ConfigError("Scope id is not supported")
        try:
            ipaddress.IPv6Address(m[1])
        except ValueError:
            raise ConfigError(f"Invalid IPv6 address '{m[1]}'") from None
    port = int(m[3] or m[4])
    if not 1 <= port <= 65535:
        raise ConfigError(f"Port {port} is out of range 1-65535")
    protocol = args[1].lower() if len(args) == 2 else "http"  # httpd lowercases it
    if protocol not in ("http", "https"):
        raise ConfigError(f"Listen protocol '{args[1]}': geows serves http and https only")
    host = m[1] if m[1] is not None else m[2]
    return (None if host in (None, "*") else host), port, protocol


def parse_account(kind: str, value: str, lookup: Callable[[str], int]) -> str:
    """User or Group: a name, or #number as httpd allows; ConfigError for an unknown name,
    as httpd refuses one at start."""
    if value.startswith("#") and value[1:].isdigit():
        return value
    try:
        lookup(value)
    except KeyError:
        raise ConfigError(f"bad {kind} name {value}") from None
    return value


class MpmDirectives(ReadState):
    """The process directives' handlers: the listeners and ProcessSettings' fields."""

    def _listen(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        host, port, protocol = parse_listen(args)
        if any((other.host, other.port) == (host, port) for other in self.listeners):
            raise ConfigError("Cannot define multiple Listeners on the same IP:port")
        self.listeners.append(Listener(host, port, node.file, node.line, protocol))

    def _maxrequestworkers(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        # Read with atoi, as the MPM does; it raises a value under its minimum, warning.
        number = directives.atoi(args[0])
        if number < 1:
            log.warning("%s:%d: WARNING: MaxRequestWorkers of %s is less than 1, increasing "
                        "to 1", node.file, node.line, args[0])
        self.max_connections = max(number, 1)

    _maxclients = _maxrequestworkers

    def _startservers(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        number = directives.atoi(args[0])
        if number < 1:
            log.warning("%s:%d: WARNING: StartServers of %s is less than 1, increasing to 1",
                        node.file, node.line, args[0])
        elif number > limits.MAX_WORKERS:
            log.warning("%s:%d: WARNING: StartServers of %s exceeds ServerLimit of %d, "
                        "decreasing to match", node.file, node.line, args[0], limits.MAX_WORKERS)
        self.process["workers"] = min(max(number, 1), limits.MAX_WORKERS)

    def _pidfile(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        self.process["pid_file"] = os.path.join(self.root, args[0])

    def _user(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        self.process["user"] = parse_account("user", args[0],
                                             lambda name: pwd.getpwnam(name).pw_uid)

    def _group(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        self.process["group"] = parse_account("group", args[0],
                                              lambda name: grp.getgrnam(name).gr_gid)

    def _gracefulshutdowntimeout(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        seconds = directives.atoi(args[0])  # as the MPM reads it; 0 (or less): no limit
        self.process["graceful_shutdown_timeout"] = float(seconds) if seconds > 0 else None

