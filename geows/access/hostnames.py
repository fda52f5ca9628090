"""Host-name rules (Require host, Allow/Deny from a name) as httpd checks them."""

from __future__ import annotations

import socket

from geows.access.ipsubnet import client_address


def double_reverse(ip: str) -> str | None:
    """The client's name as httpd's REMOTE_DOUBLE_REV finds it: the reverse lookup's name
    (lowercased), kept only if looking that name up again gives the address back. None
    when either lookup fails. The stdlib resolver functions cooperate under gevent."""
    address = client_address(ip)
    try:
        name = socket.getnameinfo((str(address), 0), socket.NI_NAMEREQD)[0]
        forward = socket.getaddrinfo(name, None)
    except (OSError, UnicodeError):
        return None
    if any(client_address(info[4][0]) == address for info in forward):
        return name.lower()
    return None


def in_domain(domain: str, host: str) -> bool:
    """mod_authz_host's match: `domain` is the end of `host`, cut at a dot boundary, so
    "example.com" and ".example.com" match "www.example.com" but not "badexample.com"."""
    domain, host = domain.lower(), host.lower()
    if not host.endswith(domain):
        return False
    return len(host) == len(domain) or domain.startswith(".") or \
        host[-len(domain) - 1] == "."
