"""APR's address rules (apr_ipsubnet_create/_test) and mod_authz_host's name matching."""

from __future__ import annotations

import socket

import pytest

from geows.access.hostnames import double_reverse, in_domain
from geows.access.ipsubnet import BAD_IP, BAD_MASK, NotAnAddress, parse_rule


@pytest.mark.parametrize("rule, inside, outside", [
    ("10.1.2.3", ["10.1.2.3", "::ffff:10.1.2.3"], ["10.1.2.4", "::a01:203"]),
    ("010.001.002.003", ["10.1.2.3"], ["8.1.2.3"]),           # leading zeros are decimal
    ("10.1", ["10.1.0.0", "10.1.255.255"], ["10.2.0.0"]),      # a prefix is a network
    ("10.1.", ["10.1.9.9"], ["10.0.9.9"]),
    ("10", ["10.255.0.1"], ["11.0.0.1"]),
    ("1.2.3.4.", ["1.2.3.4"], ["1.2.3.5"]),
    ("10.1.2.3/8", ["10.200.0.1"], ["11.0.0.1"]),              # host bits are masked off
    ("10.1.2.3/+16", ["10.1.200.1"], ["10.2.0.1"]),            # strtol takes a sign
    ("10.0.0.0/255.0.255.0", ["10.9.0.9"], ["10.0.9.0"]),      # any dotted netmask
    ("::1", ["::1"], ["::2", "127.0.0.1"]),
    ("2001:db8::/32", ["2001:db8:ffff::1"], ["2001:db9::1", "::ffff:32.1.13.184"]),
    ("::/1", ["::2", "7fff::"], ["8000::", "::ffff:1.2.3.4"]),  # v4-mapped: IPv4 rules only
])
def test_subnets(rule, inside, outside):
    subnet = parse_rule(rule)
    assert all(address in subnet for address in inside)
    assert not any(address in subnet for address in outside)


@pytest.mark.parametrize("rule, error", [
    ("10.1/16", BAD_IP),          # with a mask the address must be complete
    ("1.2.3.4.5", BAD_IP),
    ("1.2.3.256", BAD_IP),
    ("10..1", BAD_IP),
    (".", BAD_IP),
    ("::ffff:1.2.3.4", BAD_IP),   # APR wants 1.2.3.4
    ("fe80::1%eth0", BAD_IP),
    ("1::2::3", BAD_IP),
    ("0.0.0.0/0", BAD_MASK),
    ("::/0", BAD_MASK),
    ("10.0.0.0/33", BAD_MASK),
    ("::1/129", BAD_MASK),
    ("::1/255.255.0.0", BAD_MASK),
    ("10.0.0.0/", BAD_MASK),
    ("10.0.0.0/8x", BAD_MASK),
])
def test_bad_rules(rule, error):
    with pytest.raises(ValueError) as caught:
        parse_rule(rule)
    assert str(caught.value) == error and not isinstance(caught.value, NotAnAddress)


@pytest.mark.parametrize("word", ["example.com", "", "foo/8", "localhost"])
def test_not_addresses(word):
    with pytest.raises(NotAnAddress):
        parse_rule(word)


@pytest.mark.parametrize("domain, host, expected", [
    ("example.com", "example.com", True),
    ("example.com", "www.example.com", True),
    (".example.com", "www.example.com", True),
    ("EXAMPLE.com", "www.example.COM", True),
    ("example.com", "badexample.com", False),
    (".example.com", "example.com", False),
    ("www.example.com", "example.com", False),
])
def test_in_domain(domain, host, expected):
    assert in_domain(domain, host) is expected


def test_double_reverse_on_this_machine():
    """With the system's resolver: 127.0.0.1's name where it has one (from /etc/hosts), None
    where it has none; TEST-NET-1 has no reverse entry anywhere."""
    try:
        name = socket.getnameinfo(("127.0.0.1", 0), socket.NI_NAMEREQD)[0].lower()
    except OSError:
        name = None
    assert double_reverse("127.0.0.1") == name
    assert double_reverse("::ffff:127.0.0.1") == name
    assert double_reverse("192.0.2.1") is None


# A resolver the test controls, so that every branch runs on any machine.
REVERSE = {"192.0.2.7": "Host.Example.test", "192.0.2.8": "liar.example.test",
           "2001:db8::7": "six.example.test"}
FORWARD = {"Host.Example.test": ["192.0.2.7"], "liar.example.test": ["192.0.2.99"],
           "six.example.test": ["2001:db8::7"]}


def fake_getnameinfo(sockaddr, flags):
    assert flags == socket.NI_NAMEREQD
    if sockaddr[0] not in REVERSE:
        raise socket.gaierror(socket.EAI_NONAME, "no reverse entry")
    return REVERSE[sockaddr[0]], "0"


def fake_getaddrinfo(name, port):
    if name not in FORWARD:
        raise socket.gaierror(socket.EAI_NONAME, "no such name")
    return [(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "",
             (ip, 0)) for ip in FORWARD[name]]


@pytest.mark.parametrize("ip, expected", [
    ("192.0.2.7", "host.example.test"),          # lowercased
    ("::ffff:192.0.2.7", "host.example.test"),   # a v4-mapped client is its IPv4 address
    ("2001:db8::7", "six.example.test"),
    ("192.0.2.8", None),                         # its name gives another address back
    ("192.0.2.9", None),                         # no reverse entry
])
def test_double_reverse_keeps_a_name_only_when_it_resolves_back(monkeypatch, ip, expected):
    monkeypatch.setattr(socket, "getnameinfo", fake_getnameinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    assert double_reverse(ip) == expected
