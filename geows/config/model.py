"""What geows serves, as read from httpd.conf: listeners, locations and their settings."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from geows import limits
from geows.config.vhosts import VirtualHost, VirtualHostTable

WEBSOCKET_HANDLER = "websocket-handler"

# PCRE's (?<name>...) is Python's (?P<name>...); lookbehinds (?<= (?<! stay as they are.
_PCRE_NAMED_GROUP = re.compile(r"(?<!\\)\(\?<(?![=!])")


@dataclass(frozen=True)
class Listener:
    """One `Listen` directive."""

    host: str | None  # None: all addresses; an IPv6 literal without brackets
    port: int
    file: str
    line: int


@dataclass(frozen=True)
class WebSocketSettings:
    """mod_websocket's per-directory config, from one section."""

    plugin: str  # absolute path
    init: str
    file: str    # where the WebSocketHandler directive is
    line: int
    max_message_size: int = limits.MAX_MESSAGE_SIZE
    support_draft75: bool = False
    deflate: bool = True  # geows' WebSocketDeflate: offer permessage-deflate (RFC 7692)


@dataclass(frozen=True)
class LocationSection:
    """One <Location>, <Location ~ re> or <LocationMatch>, of the main server or a vhost."""

    pattern: str   # as written
    regex: bool
    handler: str | None  # SetHandler's value, lowercased ("none" included)
    websocket: WebSocketSettings | None  # set by WebSocketHandler
    file: str      # the section's opening line
    line: int
    vhost: VirtualHost | None = None  # None: the main server's, which every vhost inherits
    # Any of mod_websocket's directives here: the module has no merge function, so this
    # section's config (without a plugin if it has no WebSocketHandler) replaces an earlier's.
    websocket_config: bool = False
    _match: Callable[[str], bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_match", location_matcher(self.pattern, self.regex))

    def matches(self, path: str) -> bool:
        """Whether httpd's location walk applies this section to `path` (decoded URI path)."""
        return self._match(path)


@dataclass(frozen=True)
class Endpoint:
    """What a request path resolves to."""

    section: LocationSection  # the last matching section that set the websocket settings
    settings: WebSocketSettings


@dataclass
class Config:
    """The parts of an httpd.conf geows serves.

    header_timeout_max is infinite when MinRate extends the timeout without a cap, and
    equals header_timeout when it is not extended (header_min_rate 0).
    """

    file: str  # the main config file, absolute
    server_root: str
    listeners: list[Listener]
    log_level: str = "warn"
    module_log_levels: dict[str, str] = field(default_factory=dict)  # "websocket" -> "debug"
    locations: list[LocationSection] = field(default_factory=list)   # in file order
    header_timeout: float = limits.HEADER_TIMEOUT
    header_timeout_max: float = limits.HEADER_TIMEOUT_MAX
    header_min_rate: int = limits.HEADER_MIN_RATE
    modules: frozenset[str] = frozenset()  # both "x_module" and "mod_x.c" spellings
    virtual_hosts: list[VirtualHost] = field(default_factory=list)  # in file order
    _vhost_table: VirtualHostTable | None = field(default=None, init=False, repr=False,
                                                  compare=False)

    def virtual_host(self, host: str | None, port: int,
                     local_ip: str | None = None) -> VirtualHost | None:
        """The <VirtualHost> httpd picks for a request with this Host header that came in
        on local_ip:port (the listening socket's address); None for the main server."""
        if not self.virtual_hosts:
            return None
        if self._vhost_table is None:
            self._vhost_table = VirtualHostTable(self.virtual_hosts)
        return self._vhost_table.select(local_ip, port, host)

    def sections_for(self, path: str, host: str | None = None, port: int | None = None,
                     local_ip: str | None = None) -> list[LocationSection]:
        """The sections httpd merges for `path`, in merge order: the main server's in file
        order, then those of the vhost serving host/port/local_ip (main server: no port)."""
        vhost = None if port is None else self.virtual_host(host, port, local_ip)
        main = [s for s in self.locations if s.vhost is None and s.matches(path)]
        if vhost is None:
            return main
        return main + [s for s in self.locations if s.vhost is vhost and s.matches(path)]

    def resolve(self, path: str, host: str | None = None, port: int | None = None,
                local_ip: str | None = None) -> Endpoint | None:
        """The WebSocket endpoint for `path`, merging sections as httpd does.

        Without port, only the main server's sections apply; with the Host header, the
        local port and address, the vhost's sections apply after them.
        """
        handler = None
        chosen: LocationSection | None = None
        for section in self.sections_for(path, host, port, local_ip):
            if section.handler is not None:
                handler = section.handler
            if section.websocket_config:
                chosen = section  # mod_websocket has no merge function: the last one wins whole
        if handler == WEBSOCKET_HANDLER and chosen is not None and chosen.websocket is not None:
            return Endpoint(chosen, chosen.websocket)
        return None

    def websocket_sections(self) -> list[LocationSection]:
        """Sections that set the websocket-handler or mod_websocket settings."""
        return [section for section in self.locations
                if section.handler == WEBSOCKET_HANDLER or section.websocket_config]


def has_wildcard(pattern: str) -> bool:
    """apr_fnmatch_test: '*', '?', or a '[' closed by a ']'; a backslash escapes."""
    if "*" not in pattern and "?" not in pattern and "]" not in pattern:
        return False  # most paths: none of the characters that can make a wildcard
    chars = iter(pattern)
    bracket = False
    for c in chars:
        if c in "*?" or (c == "]" and bracket):
            return True
        if c == "\\":
            next(chars, None)
        bracket = bracket or c == "["
    return False


# Compiling regexes is most of the cost of loading a big config with many of them, and the
# reader compiles each where it reads it (a bad one is an error there, as in httpd), then
# builds the section at the end: compile each pattern once.
@lru_cache(maxsize=65536)
def location_matcher(pattern: str, regex: bool) -> Callable[[str], bool]:
    """Whether a path matches a section's pattern; re.error for a regex that does not compile."""
    if regex:  # httpd uses PCRE, unanchored
        search = re.compile(_PCRE_NAMED_GROUP.sub("(?P<", pattern)).search
        return lambda path: search(path) is not None
    if has_wildcard(pattern):  # apr_fnmatch with APR_FNM_PATHNAME: the whole path
        fullmatch = re.compile(_glob_regex(pattern)).fullmatch
        return lambda path: fullmatch(path) is not None

    def prefix(path: str) -> bool:
        # A prefix ending on a path segment boundary: /echo matches /echo/x, not /echoes.
        return path.startswith(pattern) and (
            pattern.endswith("/") or len(path) == len(pattern) or path[len(pattern)] == "/")
    return prefix


def _glob_regex(pattern: str) -> str:
    """A regex for an fnmatch pattern in which no wildcard matches '/'."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        i += 1
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\" and i < len(pattern):
            out.append(re.escape(pattern[i]))
            i += 1
        elif c == "[" and (close := _set_end(pattern, i)):
            body = pattern[i:close - 1]
            negate = body[:1] in ("!", "^")
            members = "".join(ch if ch == "-" else re.escape(ch) for ch in body[negate:])
            out.append(f"[^/{members}]" if negate else f"(?!/)[{members}]")
            i = close
        else:
            out.append(re.escape(c))
    return "".join(out)


def _set_end(pattern: str, start: int) -> int:
    """The index after the ']' closing a set that starts at `start`, 0 if none."""
    if pattern[start:start + 1] in ("!", "^"):
        start += 1
    return pattern.find("]", start + 1) + 1  # a ']' first in the set is a member
