"""<VirtualHost> selection as httpd 2.4 does it (server/vhost.c), for one request.

httpd first picks the vhosts bound to the address:port the connection came in on, then, if
more than one vhost shares it, the first whose ServerName or ServerAlias matches the Host
header; when none matches, the first of them in the config is the default.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from geows import limits
from geows.config.access_lines import AccessLine
from geows.config.logs import ServerLogs
from geows.config.paths import Alias, ProxyPass
from geows.config.tls_settings import TlsSettings

ANY_PORT = 0  # a VirtualHost address without a port, or with ":*"


@dataclass(frozen=True)
class RequestLimits:
    """core's LimitRequestLine, LimitRequestFields (0: no limit), LimitRequestFieldsize, as
    geows.http.RequestParser takes them. httpd reads the head before it knows the Host, so
    the limits of the connection's default server for its address:port apply."""

    limit_request_line: int = limits.LIMIT_REQUEST_LINE
    limit_request_fields: int = limits.LIMIT_REQUEST_FIELDS
    limit_request_field_size: int = limits.LIMIT_REQUEST_FIELD_SIZE


@dataclass(frozen=True)
class VirtualHostAddress:
    """One address of a <VirtualHost> line, as httpd resolved it."""

    ip: str | None  # None: the wildcard ("*", "_default_", 0.0.0.0, ::)
    port: int       # ANY_PORT: every port
    text: str       # the host part as written, which a Host header may also name

    def __str__(self) -> str:
        """As a <VirtualHost> line writes it (-S, the snippet, a location's name)."""
        return f"{self.text}:{self.port or '*'}"


@dataclass(frozen=True, kw_only=True)
class VirtualHost:
    """One <VirtualHost> section: its addresses and the names it answers to."""

    addresses: tuple[VirtualHostAddress, ...]
    server_name: str | None   # without scheme and port; inherited from the main server
    aliases: tuple[str, ...]  # ServerAlias names, '*' and '?' wildcards allowed
    file: str
    line: int
    document_root: str | None = None  # None: the main server's
    path_aliases: tuple[Alias, ...] = ()  # its Alias(Match) lines, tried before the main's
    remoteip_lines: tuple[AccessLine, ...] = ()  # mod_remoteip's directives in it
    proxy_passes: tuple[ProxyPass, ...] = ()  # its ProxyPass lines, in file order
    tls: TlsSettings | None = None  # with SSLEngine on (its own or the main server's)
    request_limits: RequestLimits = RequestLimits()  # the main server's where it sets none
    logs: ServerLogs = ServerLogs()  # its access logs (the main server's if it has none)
    _wild: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        wild = tuple(_alias_pattern(alias) for alias in self.aliases if _is_wild(alias))
        object.__setattr__(self, "_wild", wild)

    def answers_to(self, host: str) -> bool:
        """matches_aliases: ServerName or a plain ServerAlias exactly, else a wildcard one
        (host is already lowercased, without port or trailing dot)."""
        if self.server_name is not None and host == self.server_name.lower():
            return True
        if any(host == alias.lower() for alias in self.aliases if not _is_wild(alias)):
            return True
        return any(pattern.fullmatch(host) for pattern in self._wild)


def _is_wild(name: str) -> bool:
    return "*" in name or "?" in name  # ap_is_matchexp


def _alias_pattern(alias: str) -> re.Pattern[str]:
    """ap_strcasecmp_match: '*' any run of characters (dots too), '?' one character."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in alias)
    return re.compile(body, re.IGNORECASE | re.DOTALL)


@dataclass
class _Chain:
    """The vhosts bound to one address:port, in config order (httpd's ipaddr_chain)."""

    entries: list[tuple[VirtualHost, VirtualHostAddress]] = field(default_factory=list)


class VirtualHostTable:
    """Built once from the vhosts in config order; `select` runs per request."""

    def __init__(self, vhosts: Sequence[VirtualHost]):
        self.chains: dict[tuple[str | None, int], _Chain] = {}
        for vhost in vhosts:
            previous: VirtualHostAddress | None = None
            for address in vhost.addresses:
                chain = self.chains.setdefault((address.ip, address.port), _Chain())
                # httpd lists a vhost once per wildcard address:port, but once per IP address.
                if not (address.ip is None and previous is not None and previous.ip is None
                        and previous.port == address.port):
                    chain.entries.append((vhost, address))
                previous = address

    def on_listener(self, ip: str | None, port: int) -> tuple[list[VirtualHost], bool]:
        """The vhosts that may answer on a listening socket (ip None: all addresses), in
        config order, and whether the main server may too (no vhost covers every address
        the socket accepts on)."""
        ip = _normal_ip(ip)
        vhosts: list[VirtualHost] = []
        covered = False
        for (chain_ip, chain_port), chain in self.chains.items():
            if chain_port in (port, ANY_PORT) and (chain_ip is None or ip in (None, chain_ip)):
                covered = covered or chain_ip in (None, ip)
                vhosts += [vhost for vhost, _ in chain.entries if vhost not in vhosts]
        return vhosts, not covered

    def default(self, local_ip: str | None, port: int) -> VirtualHost | None:
        """The server answering on local_ip:port before a Host header is read (httpd's
        ap_update_vhost_given_ip, at the connection's start); None for the main server."""
        chain = self._chain(local_ip, port)
        return None if chain is None else chain.entries[0][0]

    def select(self, local_ip: str | None, port: int, host: str | None) -> VirtualHost | None:
        """The vhost serving a request that came in on local_ip:port with this Host header;
        None for the main server."""
        chain = self._chain(local_ip, port)
        if chain is None:
            return None
        default = chain.entries[0][0]
        name = normal_host(host)
        if len(chain.entries) < 2 or not name:
            return default  # one vhost here is IP-based: no name matching at all
        for vhost, _ in chain.entries:
            if vhost.answers_to(name):
                return vhost
        # Last resort: a Host naming the address as the <VirtualHost> line wrote it.
        for vhost, address in chain.entries:
            if name == address.text.lower():
                return vhost
        return default

    def _chain(self, local_ip: str | None, port: int) -> _Chain | None:
        """The vhosts bound to the address:port, the most specific binding first."""
        ip = _normal_ip(local_ip)
        return (self.chains.get((ip, port)) or self.chains.get((ip, ANY_PORT))
                or self.chains.get((None, port)) or self.chains.get((None, ANY_PORT)))


def _normal_ip(ip: str | None) -> str | None:
    if ip is None:
        return None
    try:
        parsed = ipaddress.ip_address(ip.strip("[]").split("%")[0])
    except ValueError:
        return ip
    mapped = getattr(parsed, "ipv4_mapped", None)  # a v4 client on a dual-stack socket
    return str(mapped or parsed)


def normal_host(host: str | None) -> str:
    """fix_hostname: lowercase, without :port and a trailing dot."""
    if not host:
        return ""
    host = host.strip().lower()
    if host.startswith("["):  # an IPv6 literal: the address without brackets and port
        return host[1:host.find("]")] if "]" in host else host
    host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return host.removesuffix(".")
