"""IP addresses and subnets as APR reads and tests them (apr_ipsubnet_create/_test).

httpd hands every address rule (Require ip, Allow/Deny from, RemoteIP*Proxy) to APR, whose
grammar differs from Python's ipaddress: IPv4 octets may have leading zeros ("010" is 10),
a bare prefix "10.1" or "10.1." is the network 10.1.0.0/16, a mask is a bit count
1..32/128 or, for IPv4, a dotted netmask, "/0" is refused, and an IPv4-mapped IPv6
address is refused in a rule but a v4-mapped client matches IPv4 rules.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass

# apr_strerror's wording for the two failures a rule can have.
BAD_IP = "The specified IP address is invalid."
BAD_MASK = "The specified network mask is invalid."

_DIGITS = re.compile(r"[0-9]+")
_BITS = re.compile(r"[ \t\n\v\f\r]*[+-]?[0-9]+")  # what strtol consumes, the whole text


class NotAnAddress(ValueError):
    """The text does not look like an IP address at all (APR's EINVAL): maybe a host name."""


@dataclass(frozen=True)
class Subnet:
    """An address with its mask, both as integers of the family's width."""

    version: int  # 4 or 6
    network: int
    mask: int

    def __contains__(self, address: str) -> bool:
        ip = client_address(address)
        return ip.version == self.version and int(ip) & self.mask == self.network


def client_address(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """A peer's address as APR compares it: an IPv4-mapped IPv6 address is its IPv4 one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def looks_like_ip(text: str) -> bool:
    """APR's test for "meant as an address": any ':' or only digits and dots."""
    return bool(text) and (":" in text or text.strip("0123456789.") == "")


def parse_ipv4(text: str) -> int | None:
    """A full dotted quad as apr_inet_pton reads it (leading zeros allowed), or None."""
    parts = text.split(".")
    if len(parts) != 4 or not all(_DIGITS.fullmatch(p) and int(p) <= 255 for p in parts):
        return None
    return int.from_bytes(bytes(int(p) for p in parts), "big")


def _parse_ipv6(text: str) -> int | None:
    try:
        return int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
    except OSError:
        return None


def _parse_network(text: str) -> Subnet:
    """The legacy prefix form: "10.1" or "10.1." is 10.1.0.0/16."""
    parts = text[:-1].split(".") if text.endswith(".") else text.split(".")
    if len(text) > 15 or len(parts) > 4 or not all(
            _DIGITS.fullmatch(p) and int(p) <= 255 for p in parts):
        raise ValueError(BAD_IP)
    shift = 32 - 8 * len(parts)
    network = sum(int(p) << (24 - 8 * i) for i, p in enumerate(parts))
    return Subnet(4, network, (0xFFFFFFFF >> shift) << shift)


def parse_subnet(address: str, mask: str | None = None) -> Subnet:
    """apr_ipsubnet_create(address, mask): raises NotAnAddress when the text does not look
    like an address, ValueError(BAD_IP or BAD_MASK) when it looks like one but is not."""
    if not looks_like_ip(address):
        raise NotAnAddress(address)
    value = _parse_ipv6(address)
    if value is not None:
        if value >> 32 == 0xFFFF:  # ::ffff:a.b.c.d: APR wants a.b.c.d instead
            raise ValueError(BAD_IP)
        version, width = 6, 128
    else:
        value = parse_ipv4(address)
        if value is None:
            if mask is not None:
                raise ValueError(BAD_IP)
            return _parse_network(address)
        version, width = 4, 32
    if mask is None:
        return Subnet(version, value, (1 << width) - 1)
    if _BITS.fullmatch(mask) and 0 < int(mask) <= width:
        bits = int(mask)
        netmask = ((1 << bits) - 1) << (width - bits)
    elif version == 4 and parse_ipv4(mask) is not None:
        netmask = parse_ipv4(mask)  # type: ignore[assignment]  # checked just above
    else:
        raise ValueError(BAD_MASK)
    return Subnet(version, value & netmask, netmask)


def parse_rule(word: str) -> Subnet:
    """An `address[/mask]` word, split at its first '/' as httpd's modules do."""
    address, slash, mask = word.partition("/")
    return parse_subnet(address, mask if slash else None)
