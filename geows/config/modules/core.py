"""core's directives that set a server (mod_reqtimeout's RequestReadTimeout beside core's
request limits). Those that act while the config is read (ServerRoot, Include, Define...)
are the reader's own.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Sequence

from geows.config import directives, paths
from geows.config.directives import ANYWHERE, SERVER, SERVER_OR_VHOST, Spec, table
from geows.config.drafts import ReadState, Scope
from geows.config.model import has_wildcard
from geows.config.tree import Node
from geows.errors import ConfigError

log = logging.getLogger("geows.config")

DIRECTIVES = table(
    Spec("LogLevel", 1, None, ANYWHERE, "a level, then optional module:level pairs"),
    # mod_reqtimeout's: how long a request head may take.
    Spec("RequestReadTimeout", 0, None, SERVER_OR_VHOST, "key=value timeout parameters"),
    # How httpd works out the server's port (ap_get_server_port): WebSocketOriginCheck Same's.
    Spec("UseCanonicalName", 1, 1, ANYWHERE,
         "How to work out the ServerName : Port when constructing URLs"),
    Spec("UseCanonicalPhysicalPort", 1, 1, ANYWHERE,
         "Whether to use the physical Port when constructing URLs"),
    # core's request head limits; httpd spells the last one "LimitRequestFieldsize".
    Spec("LimitRequestLine", 1, 1, SERVER_OR_VHOST,
         "Limit on maximum size of an HTTP request line"),
    Spec("LimitRequestFields", 1, 1, SERVER_OR_VHOST,
         "Limit (0 = unlimited) on max number of header fields in a request message"),
    Spec("LimitRequestFieldsize", 1, 1, SERVER_OR_VHOST,
         "Limit on maximum size of an HTTP request header field"),
    Spec("ServerName", 1, 1, SERVER_OR_VHOST, "The hostname and port of the server"),
    Spec("ServerAlias", 0, None, SERVER_OR_VHOST,
         "A name or names alternately used to access the server"),
    # Which file a URI maps to, for the access rules (mod_alias's Alias too).
    Spec("DocumentRoot", 1, 1, SERVER_OR_VHOST, "Root directory of the document tree"),
)

LOG_LEVELS = ("emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
              *(f"trace{n}" for n in range(1, 9)))

_TIMEOUT = re.compile(r"([0-9]+)(?:-([0-9]+))?(?:,minrate=([0-9]+))?", re.IGNORECASE)


def parse_log_level(args: Sequence[str]) -> tuple[str | None, dict[str, str]]:
    """LogLevel's main level (None if not given) and its module:level pairs."""
    main = None
    modules = {}
    for arg in args:
        module, _, level = arg.rpartition(":")
        level = level.lower()
        if level not in LOG_LEVELS:
            raise ConfigError("LogLevel requires level keyword: one of "
                              f"{'/'.join(LOG_LEVELS)}, not '{arg}'")
        if module:
            modules[directives.module_short_name(module)] = level
        else:
            main = level
    return main, modules


def parse_request_read_timeout(args: Sequence[str]) -> tuple[float, float, int] | None:
    """The header stage as (timeout, maximum, MinRate), None if not set; others checked only."""
    header = None
    for arg in args:
        key, equals, value = arg.partition("=")
        if not equals:
            raise ConfigError("Invalid RequestReadTimeout parameter. "
                              "Parameter must be in the form 'key=value'")
        if key.lower() not in ("handshake", "header", "body"):
            raise ConfigError(f"RequestReadTimeout: {arg}: Unknown RequestReadTimeout parameter")
        m = _TIMEOUT.fullmatch(value)
        if not m:
            raise ConfigError(f"RequestReadTimeout: {arg}: expected "
                              "seconds[-maxseconds][,MinRate=bytes-per-second]")
        timeout, maximum, rate = (int(group or 0) for group in m.groups())
        if maximum and m[3] is None:
            raise ConfigError(f"RequestReadTimeout: {arg}: "
                              "Must set MinRate option if using timeout range")
        if m[3] is not None and rate == 0:
            raise ConfigError(f"RequestReadTimeout: {arg}: Minimum data rate must be larger than 0")
        if maximum and timeout >= maximum:
            raise ConfigError(f"RequestReadTimeout: {arg}: "
                              "Maximum timeout must be larger than initial timeout")
        if key.lower() == "header":
            if timeout == 0:  # the server would time out at once; refuse rather than guess
                raise ConfigError(f"RequestReadTimeout: {arg}: turning the header timeout off "
                                  "is not supported by geows; give a number of seconds")
            cap = maximum or (math.inf if rate else timeout)
            header = (float(timeout), float(cap), rate)
    return header


def parse_request_limit(name: str, value: str) -> int:
    """LimitRequestLine, LimitRequestFields or LimitRequestFieldsize, read as core reads
    them: atoi (so "8k" is 8 and "x" is 0), refused only when negative. 0 is taken as it
    is: no request line or header field fits (httpd answers every request 414 or 400),
    except for LimitRequestFields, where 0 means no limit."""
    number = directives.atoi(value)
    if number < 0:
        unlimited = " (0 = no limit)" if name.lower() == "limitrequestfields" else ""
        raise ConfigError(f'{name} "{value}" must be a non-negative integer{unlimited}')
    return number


def parse_server_name(value: str) -> str:
    """ServerName [scheme://]host[:port] as the host httpd compares Host headers with."""
    if has_wildcard(value):
        raise ConfigError(f'Invalid ServerName "{value}" use ServerAlias to set multiple '
                          "server names.")
    host = value.split("://", 1)[1] if "://" in value else value
    host, colon, port = host.partition(":")  # httpd splits at the first ':' and atoi()s
    number = re.match(r"[ \t]*[+-]?[0-9]*", port)[0].strip()  # type: ignore[index]
    if colon and not 1 <= (int(number) if number.lstrip("+-") else 0) <= 65535:
        raise ConfigError(f'The port number "{value}" is outside the appropriate range '
                          "(i.e., 1..65535).")
    return host


def server_name_port(value: str) -> int | None:
    """ServerName's port, as parse_server_name reads it; None without one."""
    host = value.split("://", 1)[1] if "://" in value else value
    _, colon, port = host.partition(":")
    return directives.atoi(port) if colon else None


class CoreDirectives(ReadState):
    """core's handlers: names, limits and DocumentRoot of each server, LogLevel."""

    def _loglevel(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        main, modules = parse_log_level(args)
        if scope.kind == SERVER:  # per-vhost and per-directory levels have nothing to apply to
            self.log_level = main or self.log_level
            self.module_log_levels.update(modules)

    def _usecanonicalname(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        value = args[0].lower()
        if value not in ("on", "off", "dns"):
            raise ConfigError("parameter must be 'on', 'off', or 'dns'")
        if value == "on":  # DNS changes the name only, which the origin takes from the Host
            self.canonical_port = self.canonical_port or node

    def _usecanonicalphysicalport(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        value = args[0].lower()
        if value not in ("on", "off"):
            raise ConfigError("parameter must be 'on' or 'off'")
        if value == "on":
            self.canonical_port = self.canonical_port or node

    def _servername(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        name = parse_server_name(args[0])
        self._log_draft(scope).port = server_name_port(args[0])
        if scope.vhost is not None:
            scope.vhost.server_name = name
        else:
            self.server_name = name

    def _serveralias(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        if scope.vhost is None:
            raise ConfigError("ServerAlias only used in <VirtualHost>")
        scope.vhost.aliases = [*(scope.vhost.aliases or ()), *args]

    def _requestreadtimeout(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        header = parse_request_read_timeout(args)
        if header is not None and scope.kind == SERVER:
            self.header = header

    def _limitrequestline(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        # Named by RequestLimits' (and RequestParser's) arguments: limit_request_line...
        key = {"limitrequestline": "limit_request_line",
               "limitrequestfields": "limit_request_fields",
               "limitrequestfieldsize": "limit_request_field_size"}[node.key]
        value = parse_request_limit(DIRECTIVES[node.key].name, args[0])
        (scope.vhost.request_limits if scope.vhost else self.request_limits)[key] = value

    _limitrequestfields = _limitrequestfieldsize = _limitrequestline

    def _documentroot(self, node: Node, args: Sequence[str], scope: Scope) -> None:
        if scope.vhost is not None:
            scope.vhost.document_root = (node, args[0])
        else:
            self.document_root = (node, args[0])

    def _document_root(self, node: Node, arg: str, virtual: bool) -> str:
        """DocumentRoot against the final ServerRoot (httpd runs it after reading it all); the
        main server's must be a directory, a vhost's only gets a warning."""
        path = paths.canonical(os.path.join(self.root, arg)).rstrip("/") or "/"
        if not os.path.isdir(path):
            if not virtual:
                raise ConfigError(f"DocumentRoot '{os.path.join(self.root, arg)}' is not a "
                                  "directory, or is not readable", node.file, node.line)
            log.warning("%s:%d: Warning: DocumentRoot [%s] does not exist", node.file, node.line,
                        os.path.join(self.root, arg))
        return path

