"""mod_remoteip (httpd 2.4.71): which address the access rules see as the client.

With RemoteIPHeader set, httpd walks that header (all its fields joined with ", ") from
the right. At each step the address reached so far (first the peer) must be a proxy:
one of RemoteIPTrustedProxy/RemoteIPInternalProxy (first match wins), or anyone when
no proxy directive is given at all. The rightmost entry, stripped of spaces, is then
resolved as httpd resolves it (getaddrinfo: `010.1.1.1` is 8.1.1.1 and a host name is
looked up; `1.2.3.4:80`, `[::1]` or a tab stop the walk) and becomes the client.

Internal proxies may present any address; once the walk passes a trusted (external)
proxy, or when no proxy directive exists, private addresses stop it (10/8, 127/8,
169.254/16, 172.16/12, 192.168/16, and any IPv6 outside 2000::/3, v4-mapped included).
An entry that stops the walk stays in the header. Proxies passed while external are
recorded in the RemoteIPProxiesHeader header (and the note remoteip-proxy-ip-list).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple, Protocol

from geows.access.ipsubnet import (
    NotAnAddress,
    Subnet,
    client_address,
    looks_like_ip,
    parse_subnet,
)
from geows.config.access_lines import AccessLine
from geows.config.lexer import logical_lines, split_words
from geows.errors import ConfigError

_PRIVATE_V4 = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16"))
_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")


@dataclass(frozen=True)
class Proxy:
    subnet: Subnet
    internal: bool


@dataclass(frozen=True)
class RemoteIPConfig:
    header: str | None = None
    proxies_header: str | None = None
    # In the order httpd tries them; empty: no proxy directive, every peer is trusted.
    proxies: tuple[Proxy, ...] = ()


class RemoteIP(NamedTuple):
    """What mod_remoteip leaves: the client address, the proxies it passed as external
    ones (RemoteIPProxiesHeader's value, None if none), and what remains of the header
    (None once every entry was taken, and then httpd removes the header)."""

    client_ip: str
    proxy_ips: str | None
    header: str | None


class HeaderLookup(Protocol):
    def get(self, name: str) -> str | None: ...


def build_remoteip(lines: Sequence[AccessLine], server_root: str,
                   main: Sequence[AccessLine] = ()) -> RemoteIPConfig | None:
    """A server's mod_remoteip configuration from its lines (server or <VirtualHost>
    level), None when no RemoteIPHeader applies. For a virtual host, pass the main
    server's lines as `main`: the header names are inherited unless the host sets its
    own, and the proxy lists are joined, the host's first (as 2.4.71 does, AH10633)."""
    outer = _parse(main, server_root)
    own = _parse(lines, server_root)
    config = RemoteIPConfig(own.header or outer.header,
                            own.proxies_header or outer.proxies_header,
                            own.proxies + outer.proxies)
    return config if config.header else None


def _parse(lines: Sequence[AccessLine], server_root: str) -> RemoteIPConfig:
    config = RemoteIPConfig()
    for line in lines:
        try:
            config = _apply(config, line, server_root)
        except ConfigError as e:
            if e.file is None:
                raise ConfigError(e.message, line.file, line.line) from None
            raise
    return config


_USAGE = {
    "remoteipheader": ("RemoteIPHeader", "Specifies a request header to trust as the "
                       "client IP, e.g. X-Forwarded-For"),
    "remoteipproxiesheader": ("RemoteIPProxiesHeader", "Specifies a request header to "
                              "record proxy IP's, e.g. X-Forwarded-By; if not given then "
                              "do not record"),
    "remoteiptrustedproxy": ("RemoteIPTrustedProxy", "Specifies one or more proxies which "
                             "are trusted to present IP headers"),
    "remoteipinternalproxy": ("RemoteIPInternalProxy", "Specifies one or more internal "
                              "(transparent) proxies which are trusted to present IP headers"),
    "remoteiptrustedproxylist": ("RemoteIPTrustedProxyList", "The filename to read the list "
                                 "of trusted proxies, see the RemoteIPTrustedProxy directive"),
    "remoteipinternalproxylist": ("RemoteIPInternalProxyList", "The filename to read the "
                                  "list of internal proxies, see the RemoteIPInternalProxy "
                                  "directive"),
}


def _apply(config: RemoteIPConfig, line: AccessLine, server_root: str) -> RemoteIPConfig:
    if line.key not in _USAGE:
        if line.key == "remoteipproxyprotocol" and [a.lower() for a in line.args] == ["off"]:
            return config
        raise ConfigError(f"{line.key}: the PROXY protocol is not supported by geows, which "
                          "refuses to start rather than take client addresses from it")
    name, usage = _USAGE[line.key]
    if line.key.endswith("proxy"):
        if not line.args or not line.args[0]:
            raise ConfigError(f"{name} requires at least one argument, {usage}")
        internal = line.key == "remoteipinternalproxy"
        return replace(config, proxies=config.proxies + tuple(
            proxy for word in line.args for proxy in _proxies(word, internal, name)))
    if len(line.args) != 1 or not line.args[0]:
        raise ConfigError(f"{name} takes one argument, {usage}")
    value = line.args[0]
    if line.key == "remoteipheader":
        return replace(config, header=value)
    if line.key == "remoteipproxiesheader":
        return replace(config, proxies_header=value)
    return replace(config, proxies=config.proxies + _proxy_list(
        os.path.join(server_root, value), line.key == "remoteipinternalproxylist", name))


def _proxies(word: str, internal: bool, name: str) -> list[Proxy]:
    """One RemoteIP*Proxy word: an address or subnet, or a host name (all its addresses)."""
    address, slash, mask = word.partition("/")
    if looks_like_ip(address):
        try:
            return [Proxy(parse_subnet(address, mask if slash else None), internal)]
        except NotAnAddress:
            reason = "Invalid argument"
        except ValueError as e:
            reason = str(e)
        raise ConfigError(f"RemoteIP: Error parsing IP {word} ({reason} error) for {name}")
    if slash:
        raise ConfigError(f"RemoteIP: Error parsing IP {word} the subnet /{mask} is invalid "
                          f"for {name}")
    try:
        addresses = _resolve(address)
    except OSError as e:
        raise ConfigError(f"RemoteIP: Error parsing IP {word} ({e.strerror} error) "
                          f"for {name}") from None
    return [Proxy(parse_subnet(a), internal) for a in addresses]


def _proxy_list(path: str, internal: bool, name: str) -> tuple[Proxy, ...]:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(f"{name}: Could not open file {path}: {e.strerror}") from None
    proxies: list[Proxy] = []
    for number, line in logical_lines(text):
        for word in split_words(line):
            if word.startswith("#"):
                break
            try:
                proxies += _proxies(word, internal, name)
            except ConfigError as e:
                raise ConfigError(f"{e.message} at line {number} of {path}") from None
    return tuple(proxies)


def _resolve(host: str) -> list[str]:
    """apr_sockaddr_info_get(host, APR_UNSPEC, APR_IPV4_ADDR_OK): IPv4 addresses if the
    name has any, else IPv6 ones, as getaddrinfo gives them (OSError when neither)."""
    try:
        infos = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)
    except socket.gaierror:
        infos = socket.getaddrinfo(host, None, socket.AF_INET6, socket.SOCK_STREAM)
    return list(dict.fromkeys(str(client_address(info[4][0])) for info in infos))


def _is_private(address: str) -> bool:
    """What a trusted (external) proxy may not present as a client."""
    ip = ipaddress.ip_address(address)
    if ip.version == 4:
        return any(ip in network for network in _PRIVATE_V4)
    return ip not in _GLOBAL_UNICAST


def client_ip(config: RemoteIPConfig, peer_ip: str, headers: HeaderLookup) -> RemoteIP:
    """The client address mod_remoteip sets for a request from `peer_ip` (see the module
    docstring); `headers.get(name)` joins repeated fields with ", " as httpd does."""
    value = headers.get(config.header) if config.header else None
    if value is None:
        return RemoteIP(peer_ip, None, value)
    internal = bool(config.proxies)  # no proxy directive: every proxy counts as external
    current, passed, rest = peer_ip, [], value
    moved = False
    while rest is not None:
        if config.proxies:
            match = next((p for p in config.proxies if current in p.subnet), None)
            if match is None:
                break
            internal = internal and match.internal  # no internal proxy after an external one
        head, comma, entry = rest.rpartition(",")
        entry = entry.lstrip(" ").rstrip(" ")
        address = _header_address(entry)
        if address is None or (not internal and _is_private(address)):
            if entry:  # httpd puts the entry back as far as its trailing spaces
                rest = f"{head}{comma}{rest[len(head) + len(comma):].rstrip(' ')}" \
                    if comma else entry
            break
        if not internal:
            passed.append(current)
        current, moved = address, True
        rest = head if comma else None
    if not moved:
        return RemoteIP(peer_ip, None, value)
    return RemoteIP(current, ", ".join(passed) or None, rest)


def _header_address(entry: str) -> str | None:
    if not entry:
        return None
    try:
        return _resolve(entry)[0]
    except (OSError, UnicodeError, ValueError):
        return None
